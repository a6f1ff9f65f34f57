// Causal multi-head self-attention over packed q, k, v. Reference: HF GPT2Attention (eager):
// softmax(q kᵀ / sqrt(hs) + causal mask) then attention dropout on the probabilities, then · v.
// qkv: (B, T, 3C) with q, k, v each (NH, hs) per token; out: (B, T, C)
// att: (B, NH, T, T) softmax probabilities; mask: (B, NH, T, T) dropout multipliers or nil
//
// The arithmetic is in C (sh_attention_forward_head / _backward_head), one (batch, head) pair per
// call: scores as sh_dot's 16 partial sums, computed 16 keys side by side from a transposed copy
// of the keys; weighted sums of value (and key, query) rows accumulated in registers in key order.

import CKernels
import Foundation

public enum Attention {
    /// Scratch floats one (batch, head) call needs for its transposed keys or values.
    static func transposeScratch(T: Int, hs: Int) -> Int { (T + 15) / 16 * 16 * hs }

    public static func forward(out: UnsafeMutablePointer<Float>, att: UnsafeMutablePointer<Float>,
                               mask: UnsafePointer<Float>?, qkv: UnsafePointer<Float>,
                               B: Int, T: Int, C: Int, NH: Int) {
        let hs = C / NH, C3 = 3 * C
        let scale = 1 / Float(hs).squareRoot()
        Parallel.forRanges(B * NH) { range in
            let kT = UnsafeMutablePointer<Float>.allocate(capacity: transposeScratch(T: T, hs: hs))
            defer { kT.deallocate() }
            for bh in range {
                let h = bh % NH, b = bh / NH
                sh_attention_forward_head(out + b * T * C, att + bh * T * T, mask.map { $0 + bh * T * T }, qkv + b * T * C3,
                                          T, C, h, hs, scale, kT)
            }
        }
    }

    /// Accumulates dqkv (`+=`). `scratch` holds T floats per (b, h, t) row: (B, NH, T, T).
    public static func backward(dqkv: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>,
                                dout: UnsafePointer<Float>, qkv: UnsafePointer<Float>, att: UnsafePointer<Float>,
                                mask: UnsafePointer<Float>?, B: Int, T: Int, C: Int, NH: Int) {
        let hs = C / NH, C3 = 3 * C
        let scale = 1 / Float(hs).squareRoot()
        // One (b, h) pair per task: dk and dv of a head collect from every later query, so the
        // writes of different tasks never overlap.
        Parallel.forRanges(B * NH) { range in
            let vT = UnsafeMutablePointer<Float>.allocate(capacity: transposeScratch(T: T, hs: hs))
            defer { vT.deallocate() }
            for bh in range {
                let h = bh % NH, b = bh / NH
                sh_attention_backward_head(dqkv + b * T * C3, scratch + bh * T * T, dout + b * T * C, qkv + b * T * C3, att + bh * T * T,
                                           mask.map { $0 + bh * T * T }, T, C, h, hs, scale, vT)
            }
        }
    }
}
