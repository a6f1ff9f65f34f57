// Residual connection. out = a + b; the backward pass is the identity on both inputs (callers
// add the incoming gradient to both branches).
// a, b, out: (N)

public enum Residual {
    public static func forward(out: UnsafeMutablePointer<Float>, a: UnsafePointer<Float>, b: UnsafePointer<Float>, N: Int) {
        Parallel.forRanges(N, grain: 16384) { r in for i in r { out[i] = a[i] + b[i] } }
    }
}
