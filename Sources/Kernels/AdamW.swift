// AdamW with decoupled weight decay. Reference: torch.optim.AdamW (foreach=False) step:
//   p ← p − lr·wd·p;  m ← β1 m + (1−β1) g;  v ← β2 v + (1−β2) g²
//   p ← p − (lr / (1−β1ᵗ)) · m / (sqrt(v) / sqrt(1−β2ᵗ) + eps)
// params, grads, m, v: (N)

import Foundation

public struct AdamWParameters: Codable, Sendable, Equatable {
    public var beta1: Float = 0.9
    public var beta2: Float = 0.999
    public var eps: Float = 1e-8
    /// Applied to 2-D weights only (matrices and embeddings), as nanoGPT; never to biases or
    /// layer-norm parameters.
    public var weightDecay: Float = 0.0
    public init(beta1: Float = 0.9, beta2: Float = 0.999, eps: Float = 1e-8, weightDecay: Float = 0) {
        self.beta1 = beta1; self.beta2 = beta2; self.eps = eps; self.weightDecay = weightDecay
    }
}

public enum AdamW {
    /// One step over a contiguous parameter range. `step` counts from 1.
    public static func update(params: UnsafeMutablePointer<Float>, grads: UnsafePointer<Float>,
                              m: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>, N: Int,
                              lr: Float, step: Int, decay: Bool, hp: AdamWParameters) {
        let bc1 = 1 - powf(hp.beta1, Float(step))
        let bc2 = 1 - powf(hp.beta2, Float(step))
        let stepSize = lr / bc1
        let bc2Sqrt = bc2.squareRoot()
        let wdFactor: Float = decay ? 1 - lr * hp.weightDecay : 1
        let b1 = hp.beta1, b2 = hp.beta2, eps = hp.eps
        Parallel.forRanges(N, grain: 32768) { r in
            for i in r {
                let g = grads[i]
                let mi = b1 * m[i] + (1 - b1) * g
                let vi = b2 * v[i] + (1 - b2) * g * g
                m[i] = mi
                v[i] = vi
                let denom = vi.squareRoot() / bc2Sqrt + eps
                params[i] = params[i] * wdFactor - stepSize * mi / denom
            }
        }
    }
}
