// Softmax cross-entropy over the vocabulary, fused. Reference: torch.nn.functional.cross_entropy
// with ignore_index = -100 (any negative target is ignored here).
// logits: (N, V); targets: (N); losses: (N); lse: (N) = log Σ exp(logits) per row

import Foundation

public enum CrossEntropy {
    /// log Σ_v exp(x_v), stable.
    @inline(__always)
    public static func logSumExp(_ x: UnsafePointer<Float>, _ V: Int) -> Float {
        let maxv = vmax(x, V)
        return maxv + logf(vexpSum(x, V, minus: maxv))
    }

    /// losses[n] = lse[n] − logits[n, target[n]] (0 where the target is ignored).
    public static func forward(losses: UnsafeMutablePointer<Float>, lse: UnsafeMutablePointer<Float>,
                               logits: UnsafePointer<Float>, targets: UnsafePointer<Int32>, N: Int, V: Int) {
        Parallel.forRanges(N) { rows in
            for n in rows {
                let x = logits + n * V
                let l = logSumExp(x, V)
                lse[n] = l
                let t = Int(targets[n])
                losses[n] = t >= 0 ? l - x[t] : 0
            }
        }
    }

    /// dlogits[n, v] = (softmax_v − [v == target]) · dloss[n]. Overwrites; `dlogits` may alias
    /// `logits` (element-wise). Rows with ignored targets get zero gradient.
    public static func backward(dlogits: UnsafeMutablePointer<Float>, logits: UnsafePointer<Float>,
                                lse: UnsafePointer<Float>, targets: UnsafePointer<Int32>,
                                dloss: UnsafePointer<Float>, N: Int, V: Int) {
        Parallel.forRanges(N) { rows in
            for n in rows {
                let x = logits + n * V, d = dlogits + n * V
                let t = Int(targets[n])
                if t < 0 { d.update(repeating: 0, count: V); continue }
                let l = lse[n], g = dloss[n]
                vexpScaled(d, x, V, minus: l, times: g)
                d[t] -= g
            }
        }
    }
}
