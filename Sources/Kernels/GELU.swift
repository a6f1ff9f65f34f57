// GELU, tanh approximation (HF `gelu_new`, torch.nn.functional.gelu(approximate="tanh")).
// inp, out: (N)

import Foundation

public enum GELU {
    static let s: Float = (2 / Float.pi).squareRoot()

    public static func forward(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, N: Int) {
        Parallel.forRanges(N, grain: 16384) { r in
            for i in r {
                let x = inp[i]
                out[i] = 0.5 * x * (1 + tanhf(s * (x + 0.044715 * x * x * x)))
            }
        }
    }

    /// dinp += GELU'(inp) · dout
    public static func backward(dinp: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>,
                                dout: UnsafePointer<Float>, N: Int) {
        Parallel.forRanges(N, grain: 16384) { r in
            for i in r {
                let x = inp[i]
                let u = s * (x + 0.044715 * x * x * x)
                let t = tanhf(u)
                let sech2 = 1 - t * t
                let g = 0.5 * (1 + t) + 0.5 * x * sech2 * s * (1 + 3 * 0.044715 * x * x)
                dinp[i] += g * dout[i]
            }
        }
    }
}
