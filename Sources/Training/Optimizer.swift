// AdamW over the model's flat parameter buffer with global-norm gradient clipping and the
// warm-up + cosine learning-rate schedule. Weight decay applies to 2-D tensors only.

import Foundation
import GPT
import Kernels

public struct LRSchedule: Codable, Sendable, Equatable {
    public var maxLR: Float
    /// Linear warm-up from maxLR/warmup to maxLR over this many steps.
    public var warmupSteps: Int
    public var totalSteps: Int
    /// Floor of the cosine decay, as a fraction of maxLR.
    public var minLRFraction: Float = 0.1

    public init(maxLR: Float, warmupSteps: Int, totalSteps: Int, minLRFraction: Float = 0.1) {
        self.maxLR = maxLR; self.warmupSteps = warmupSteps; self.totalSteps = totalSteps; self.minLRFraction = minLRFraction
    }

    /// Learning rate of step `step` (0-based).
    public func lr(at step: Int) -> Float {
        let minLR = maxLR * minLRFraction
        if step < warmupSteps { return maxLR * Float(step + 1) / Float(warmupSteps) }
        if step >= totalSteps { return minLR }
        let span = max(1, totalSteps - warmupSteps)
        let ratio = Double(step - warmupSteps) / Double(span)
        let coeff = 0.5 * (1 + cos(Double.pi * ratio))
        return minLR + Float(coeff) * (maxLR - minLR)
    }
}

public final class Optimizer: @unchecked Sendable {
    public let hp: AdamWParameters
    public let m: FloatBuffer
    public let v: FloatBuffer
    /// Number of updates taken so far.
    public var step = 0
    let table: ParameterTable

    public init(table: ParameterTable, hp: AdamWParameters) {
        self.hp = hp
        self.table = table
        m = FloatBuffer(count: table.count)
        v = FloatBuffer(count: table.count)
    }

    /// Global L2 norm of the gradients (summed in a fixed order, so deterministic).
    public static func gradNorm(_ grads: FloatBuffer) -> Float {
        let chunk = 1 << 16
        let n = (grads.count + chunk - 1) / chunk
        var parts = [Double](repeating: 0, count: n)
        parts.withUnsafeMutableBufferPointer { pb in
            let out = UncheckedSendable(pb.baseAddress!)
            Parallel.forRanges(n) { r in
                for i in r {
                    let lo = i * chunk
                    out.value[i] = sumOfSquares(grads.ptr + lo, min(chunk, grads.count - lo))
                }
            }
        }
        return Float(parts.reduce(0, +).squareRoot())
    }

    /// Clips the gradients to `maxNorm` (if > 0) and applies one AdamW update. Returns the norm
    /// before clipping.
    @discardableResult
    public func update(params: FloatBuffer, grads: FloatBuffer, lr: Float, clip: Float) -> Float {
        let norm = Optimizer.gradNorm(grads)
        if clip > 0 && norm > clip {
            // torch.nn.utils.clip_grad_norm_: g *= max_norm / (norm + 1e-6)
            let s = clip / (norm + 1e-6)
            Parallel.forRanges(grads.count, grain: 65536) { r in for i in r { grads.ptr[i] *= s } }
        }
        step += 1
        for e in table.entries {
            AdamW.update(params: params.ptr + e.offset, grads: grads.ptr + e.offset, m: m.ptr + e.offset, v: v.ptr + e.offset,
                         N: e.count, lr: lr, step: step, decay: e.decays, hp: hp)
        }
        return norm
    }
}
