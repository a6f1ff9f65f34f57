// Causal multi-head self-attention over packed q, k, v. Reference: HF GPT2Attention (eager):
// softmax(q kᵀ / sqrt(hs) + causal mask) then attention dropout on the probabilities, then · v.
// qkv: (B, T, 3C) with q, k, v each (NH, hs) per token; out: (B, T, C)
// att: (B, NH, T, T) softmax probabilities; mask: (B, NH, T, T) dropout multipliers or nil

import Foundation

public enum Attention {
    public static func forward(out: UnsafeMutablePointer<Float>, att: UnsafeMutablePointer<Float>,
                               mask: UnsafePointer<Float>?, qkv: UnsafePointer<Float>,
                               B: Int, T: Int, C: Int, NH: Int) {
        let hs = C / NH, C3 = 3 * C
        let scale = 1 / Float(hs).squareRoot()
        Parallel.forRanges(B * NH * T, grain: 16) { range in
            for idx in range {
                let t = idx % T, bh = idx / T
                let h = bh % NH, b = bh / NH
                let q = qkv + (b * T + t) * C3 + h * hs
                let row = att + (bh * T + t) * T
                var maxv = -Float.greatestFiniteMagnitude
                for t2 in 0...t {
                    let k = qkv + (b * T + t2) * C3 + C + h * hs
                    let s = vdot(q, k, hs) * scale
                    row[t2] = s
                    if s > maxv { maxv = s }
                }
                let sum = vexpScaled(row, row, t + 1, minus: maxv, times: 1)
                let inv = 1 / sum
                for t2 in 0...t { row[t2] *= inv }
                for t2 in (t + 1)..<T { row[t2] = 0 }
                let o = out + (b * T + t) * C + h * hs
                o.update(repeating: 0, count: hs)
                let mrow = mask.map { $0 + (bh * T + t) * T }
                for t2 in 0...t {
                    let w = mrow.map { row[t2] * $0[t2] } ?? row[t2]
                    vaxpy(o, w, qkv + (b * T + t2) * C3 + 2 * C + h * hs, hs)
                }
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
            for bh in range {
                let h = bh % NH, b = bh / NH
                for t in 0..<T {
                    let row = att + (bh * T + t) * T
                    let drow = scratch + (bh * T + t) * T
                    let mrow = mask.map { $0 + (bh * T + t) * T }
                    let dO = dout + (b * T + t) * C + h * hs
                    // datt[t2] = dO · v[t2] (times dropout mask); dv[t2] += attUsed[t2] * dO
                    for t2 in 0...t {
                        let v = qkv + (b * T + t2) * C3 + 2 * C + h * hs
                        let dv = dqkv + (b * T + t2) * C3 + 2 * C + h * hs
                        let m = mrow?[t2] ?? 1
                        drow[t2] = vdot(dO, v, hs) * m
                        vaxpy(dv, row[t2] * m, dO, hs)
                    }
                    // softmax backward: dpre = p * (datt - Σ p·datt)
                    var dotp: Float = 0
                    for t2 in 0...t { dotp += row[t2] * drow[t2] }
                    let q = qkv + (b * T + t) * C3 + h * hs
                    let dq = dqkv + (b * T + t) * C3 + h * hs
                    for t2 in 0...t {
                        let dpre = row[t2] * (drow[t2] - dotp) * scale
                        let k = qkv + (b * T + t2) * C3 + C + h * hs
                        let dk = dqkv + (b * T + t2) * C3 + C + h * hs
                        vaxpy(dq, dpre, k, hs)
                        vaxpy(dk, dpre, q, hs)
                    }
                }
            }
        }
    }
}
