// GELU, tanh approximation (HF `gelu_new`, torch.nn.functional.gelu(approximate="tanh")).
import Foundation
// inp, out: (N). The element loops are sh_gelu_* in CKernels.

import CKernels

public enum GELU {
    public static func forward(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, N: Int) {
        Parallel.forRanges(N, grain: 16384) { r in sh_gelu_forward(out + r.lowerBound, inp + r.lowerBound, r.count) }
    }

    /// dinp += GELU'(inp) · dout
    public static func backward(dinp: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>,
                                dout: UnsafePointer<Float>, N: Int) {
        Parallel.forRanges(N, grain: 16384) { r in
            sh_gelu_backward(dinp + r.lowerBound, inp + r.lowerBound, dout + r.lowerBound, r.count)
        }
    }

    /// Scalar reference (libm tanh), which the fast version is tested against.
    public static func reference(_ x: Float) -> Float {
        0.5 * x * (1 + Float(tanh(Double((2 / Float.pi).squareRoot() * (x + 0.044715 * x * x * x)))))
    }
}
