// Token + position embedding. Reference: HF GPT2Model (`wte(input_ids) + wpe(position_ids)`).
// tokens: (N); positions: (N); wte: (V, C); wpe: (maxT, C); out: (N, C)

public enum Encoder {
    public static func forward(out: UnsafeMutablePointer<Float>, tokens: UnsafePointer<Int32>,
                               positions: UnsafePointer<Int32>, wte: UnsafePointer<Float>,
                               wpe: UnsafePointer<Float>, N: Int, C: Int) {
        Parallel.forRanges(N, grain: 32) { rows in
            for n in rows {
                let o = out + n * C, a = wte + Int(tokens[n]) * C, p = wpe + Int(positions[n]) * C
                for i in 0..<C { o[i] = a[i] + p[i] }
            }
        }
    }

    /// Accumulates dwte and dwpe (`+=`), parallel over channel blocks so that each gradient
    /// element is summed in token order by one thread.
    public static func backward(dwte: UnsafeMutablePointer<Float>, dwpe: UnsafeMutablePointer<Float>,
                                dout: UnsafePointer<Float>, tokens: UnsafePointer<Int32>,
                                positions: UnsafePointer<Int32>, N: Int, C: Int) {
        let blocks = (C + 63) / 64
        Parallel.forRanges(blocks) { br in
            for b in br {
                let lo = b * 64, w = min(C, lo + 64) - lo
                for n in 0..<N {
                    let d = dout + n * C + lo
                    vadd(dwte + Int(tokens[n]) * C + lo, d, w)
                    vadd(dwpe + Int(positions[n]) * C + lo, d, w)
                }
            }
        }
    }
}
