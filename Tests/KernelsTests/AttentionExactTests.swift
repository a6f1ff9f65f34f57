// The attention kernels (C, a (batch, head) pair per call, keys side by side) against the
// row-at-a-time formulation they replaced (kept here as the reference): every output must be
// the same bit for bit, so that a study's numbers do not move with the rewrite. Shapes cover
// head sizes below, at and above sh_dot's 16 partial sums, with a tail, and sequence lengths
// that are not a multiple of the 16 keys computed together.

import Foundation
import Kernels
import Support
import Testing

/// The previous kernels, verbatim in their arithmetic (sh_dot per score, sh_axpy per row).
enum RowAttention {
    static func forward(out: UnsafeMutablePointer<Float>, att: UnsafeMutablePointer<Float>, mask: UnsafePointer<Float>?,
                        qkv: UnsafePointer<Float>, B: Int, T: Int, C: Int, NH: Int) {
        let hs = C / NH, C3 = 3 * C
        let scale = 1 / Float(hs).squareRoot()
        for idx in 0..<(B * NH * T) {
            let t = idx % T, bh = idx / T
            let h = bh % NH, b = bh / NH
            let q = qkv + (b * T + t) * C3 + h * hs
            let row = att + (bh * T + t) * T
            var maxv = -Float.greatestFiniteMagnitude
            for t2 in 0...t {
                let s = vdot(q, qkv + (b * T + t2) * C3 + C + h * hs, hs) * scale
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

    static func backward(dqkv: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>,
                         qkv: UnsafePointer<Float>, att: UnsafePointer<Float>, mask: UnsafePointer<Float>?, B: Int, T: Int, C: Int, NH: Int) {
        let hs = C / NH, C3 = 3 * C
        let scale = 1 / Float(hs).squareRoot()
        for bh in 0..<(B * NH) {
            let h = bh % NH, b = bh / NH
            for t in 0..<T {
                let row = att + (bh * T + t) * T
                let drow = scratch + (bh * T + t) * T
                let mrow = mask.map { $0 + (bh * T + t) * T }
                let dO = dout + (b * T + t) * C + h * hs
                for t2 in 0...t {
                    let m = mrow?[t2] ?? 1
                    drow[t2] = vdot(dO, qkv + (b * T + t2) * C3 + 2 * C + h * hs, hs) * m
                    vaxpy(dqkv + (b * T + t2) * C3 + 2 * C + h * hs, row[t2] * m, dO, hs)
                }
                var dotp: Float = 0
                for t2 in 0...t { dotp += row[t2] * drow[t2] }
                let q = qkv + (b * T + t) * C3 + h * hs
                let dq = dqkv + (b * T + t) * C3 + h * hs
                for t2 in 0...t {
                    let dpre = row[t2] * (drow[t2] - dotp) * scale
                    vaxpy(dq, dpre, qkv + (b * T + t2) * C3 + C + h * hs, hs)
                    vaxpy(dqkv + (b * T + t2) * C3 + C + h * hs, dpre, q, hs)
                }
            }
        }
    }
}

@Suite struct AttentionExactTests {
    static let shapes: [(B: Int, T: Int, C: Int, NH: Int)] = [
        (2, 37, 64, 2),   // hs 32: two chunks of 16; T with a partial key block
        (1, 16, 24, 3),   // hs 8: tail only
        (1, 20, 48, 1),   // hs 48: three chunks
        (2, 33, 40, 2),   // hs 20: one chunk and a tail of 4
        (1, 1, 16, 1),    // one token
        (1, 130, 128, 2), // hs 64, T past 128
    ]

    /// Elements whose bits differ.
    func differing(_ a: [Float], _ b: [Float]) -> Int { zip(a, b).filter { $0.bitPattern != $1.bitPattern }.count }

    @Test(arguments: [false, true])
    func sameBitsAsTheRowKernels(dropout: Bool) {
        for (i, sh) in Self.shapes.enumerated() {
            let (B, T, C, NH) = sh
            let seed = UInt64(100 + i)
            let qkv = Buf(B * T * 3 * C, seed: seed, scale: 2)
            let dout = Buf(B * T * C, seed: seed + 1)
            var mask: Buf? = nil
            if dropout {
                var r = SplitMix64(seed: seed + 2)
                let m = Buf(zeros: B * NH * T * T)
                for j in m.a.indices { m.a[j] = r.nextFloat() < 0.1 ? 0 : 1 / 0.9 }
                mask = m
            }
            let mp = mask.map { UnsafePointer($0.p) }
            let out1 = Buf(zeros: B * T * C), att1 = Buf(zeros: B * NH * T * T)
            let out2 = Buf(zeros: B * T * C), att2 = Buf(zeros: B * NH * T * T)
            Attention.forward(out: out1.p, att: att1.p, mask: mp, qkv: qkv.p, B: B, T: T, C: C, NH: NH)
            RowAttention.forward(out: out2.p, att: att2.p, mask: mp, qkv: qkv.p, B: B, T: T, C: C, NH: NH)
            #expect(differing(out1.a, out2.a) == 0, "forward output, shape \(sh), dropout \(dropout)")
            #expect(differing(att1.a, att2.a) == 0, "probabilities, shape \(sh), dropout \(dropout)")
            // dqkv accumulates: start both from the same non-zero gradient.
            let d1 = Buf(B * T * 3 * C, seed: seed + 3), d2 = Buf(B * T * 3 * C, seed: seed + 3)
            let s1 = Buf(zeros: B * NH * T * T), s2 = Buf(zeros: B * NH * T * T)
            Attention.backward(dqkv: d1.p, scratch: s1.p, dout: dout.p, qkv: qkv.p, att: att1.p, mask: mp, B: B, T: T, C: C, NH: NH)
            RowAttention.backward(dqkv: d2.p, scratch: s2.p, dout: dout.p, qkv: qkv.p, att: att2.p, mask: mp, B: B, T: T, C: C, NH: NH)
            #expect(differing(d1.a, d2.a) == 0, "dqkv of \(d1.a.count) elements, shape \(sh), dropout \(dropout)")
        }
    }
}
