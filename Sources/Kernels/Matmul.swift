// Linear layers. Reference: torch.addmm as used by HF `Conv1D` and `nn.Linear`.
//
// HF GPT-2 stores `c_attn`, `c_proj`, `c_fc` as Conv1D with weight (in, out) = (C, OC): we keep
// that layout in memory so checkpoints round-trip byte for byte, and pick the GEMM transpose
// flags per call. The tied `lm_head` uses `wte` (V, C), i.e. the nn.Linear (out, in) layout.
//
// inp: (N, C); weight: (C, OC) for .inOut or (OC, C) for .outIn; bias: (OC); out: (N, OC)

public enum WeightLayout: Sendable {
    /// (in, out), as HF Conv1D.
    case inOut
    /// (out, in), as nn.Linear and the tied embedding.
    case outIn
}

public enum Matmul {
    /// out = inp · W + bias (overwrites `out`).
    public static func forward(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>,
                               weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                               N: Int, C: Int, OC: Int, layout: WeightLayout = .inOut) {
        if let bias {
            Parallel.forRanges(N, grain: 64) { rows in
                for n in rows { (out + n * OC).update(from: bias, count: OC) }
            }
        }
        let beta: Float = bias == nil ? 0 : 1
        switch layout {
        case .inOut:  // (N,C) x (C,OC)
            BLAS.sgemm(.none, .none, m: N, n: OC, k: C, a: inp, lda: C, b: weight, ldb: OC, beta: beta, c: out, ldc: OC)
        case .outIn:  // (N,C) x (OC,C)^T
            BLAS.sgemm(.none, .transposed, m: N, n: OC, k: C, a: inp, lda: C, b: weight, ldb: C, beta: beta, c: out, ldc: OC)
        }
    }

    /// Accumulates the gradients: dinp += dout · Wᵀ, dweight += inpᵀ · dout (in the weight's
    /// layout), dbias += column sums of dout. `dinp` may be nil when the input needs no gradient.
    public static func backward(dinp: UnsafeMutablePointer<Float>?, dweight: UnsafeMutablePointer<Float>,
                                dbias: UnsafeMutablePointer<Float>?, dout: UnsafePointer<Float>,
                                inp: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                                N: Int, C: Int, OC: Int, layout: WeightLayout = .inOut) {
        switch layout {
        case .inOut:
            if let dinp {  // (N,OC) x (C,OC)^T
                BLAS.sgemm(.none, .transposed, m: N, n: C, k: OC, a: dout, lda: OC, b: weight, ldb: OC, beta: 1, c: dinp, ldc: C)
            }
            // (C,N) = inp^T, times (N,OC)
            BLAS.sgemm(.transposed, .none, m: C, n: OC, k: N, a: inp, lda: C, b: dout, ldb: OC, beta: 1, c: dweight, ldc: OC)
        case .outIn:
            if let dinp {  // (N,OC) x (OC,C)
                BLAS.sgemm(.none, .none, m: N, n: C, k: OC, a: dout, lda: OC, b: weight, ldb: C, beta: 1, c: dinp, ldc: C)
            }
            // (OC,N) = dout^T, times (N,C)
            BLAS.sgemm(.transposed, .none, m: OC, n: C, k: N, a: dout, lda: OC, b: inp, ldb: C, beta: 1, c: dweight, ldc: C)
        }
        if let dbias { columnSums(into: dbias, dout, rows: N, cols: OC) }
    }

    /// acc[j] += Σ_i x[i, j], parallel over column blocks (deterministic: each column is summed
    /// over rows in order by one thread).
    public static func columnSums(into acc: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, rows: Int, cols: Int) {
        let blocks = (cols + 255) / 256
        Parallel.forRanges(blocks) { br in
            for b in br {
                let lo = b * 256, hi = min(cols, lo + 256)
                for i in 0..<rows { vadd(acc + lo, x + i * cols + lo, hi - lo) }
            }
        }
    }

    // MARK: naive references (the fast versions are tested against these)

    public static func forwardNaive(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>,
                                    weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                                    N: Int, C: Int, OC: Int, layout: WeightLayout = .inOut) {
        for n in 0..<N {
            for o in 0..<OC {
                var s: Double = bias.map { Double($0[o]) } ?? 0
                for c in 0..<C {
                    let w = layout == .inOut ? weight[c * OC + o] : weight[o * C + c]
                    s += Double(inp[n * C + c]) * Double(w)
                }
                out[n * OC + o] = Float(s)
            }
        }
    }

    public static func backwardNaive(dinp: UnsafeMutablePointer<Float>?, dweight: UnsafeMutablePointer<Float>,
                                     dbias: UnsafeMutablePointer<Float>?, dout: UnsafePointer<Float>,
                                     inp: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                                     N: Int, C: Int, OC: Int, layout: WeightLayout = .inOut) {
        for n in 0..<N {
            for o in 0..<OC {
                let d = dout[n * OC + o]
                dbias?[o] += d
                for c in 0..<C {
                    let wi = layout == .inOut ? c * OC + o : o * C + c
                    dinp?[n * C + c] += d * weight[wi]
                    dweight[wi] += d * inp[n * C + c]
                }
            }
        }
    }
}
