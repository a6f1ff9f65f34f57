// Layer normalisation over the last dimension. Reference: torch.nn.LayerNorm (biased variance).
// inp, out: (N, C); weight, bias: (C); mean, rstd: (N)

import Foundation

public enum LayerNorm {
    public static func forward(out: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>?,
                               rstd: UnsafeMutablePointer<Float>?, inp: UnsafePointer<Float>,
                               weight: UnsafePointer<Float>, bias: UnsafePointer<Float>,
                               N: Int, C: Int, eps: Float) {
        Parallel.forRanges(N, grain: 8) { rows in
            for n in rows {
                let x = inp + n * C, y = out + n * C
                var s: Float = 0
                for i in 0..<C { s += x[i] }
                let m = s / Float(C)
                var v: Float = 0
                for i in 0..<C { let d = x[i] - m; v += d * d }
                let r = 1 / (v / Float(C) + eps).squareRoot()
                for i in 0..<C { y[i] = (x[i] - m) * r * weight[i] + bias[i] }
                mean?[n] = m
                rstd?[n] = r
            }
        }
    }

    /// Accumulates dinp, dweight, dbias (`+=`).
    public static func backward(dinp: UnsafeMutablePointer<Float>, dweight: UnsafeMutablePointer<Float>,
                                dbias: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>,
                                inp: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                                mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>, N: Int, C: Int) {
        // dinp: independent per row.
        Parallel.forRanges(N, grain: 8) { rows in
            for n in rows {
                let x = inp + n * C, dy = dout + n * C, dx = dinp + n * C
                let m = mean[n], r = rstd[n]
                var dnormMean: Float = 0, dnormNormMean: Float = 0
                for i in 0..<C {
                    let norm = (x[i] - m) * r
                    let dnorm = weight[i] * dy[i]
                    dnormMean += dnorm
                    dnormNormMean += dnorm * norm
                }
                dnormMean /= Float(C)
                dnormNormMean /= Float(C)
                for i in 0..<C {
                    let norm = (x[i] - m) * r
                    let dnorm = weight[i] * dy[i]
                    dx[i] += (dnorm - dnormMean - norm * dnormNormMean) * r
                }
            }
        }
        // dweight, dbias: reduce over rows, parallel over column blocks (order fixed per column).
        let blocks = (C + 127) / 128
        Parallel.forRanges(blocks) { br in
            for b in br {
                let lo = b * 128, hi = min(C, lo + 128)
                for n in 0..<N {
                    let x = inp + n * C, dy = dout + n * C
                    let m = mean[n], r = rstd[n]
                    for i in lo..<hi {
                        dbias[i] += dy[i]
                        dweight[i] += (x[i] - m) * r * dy[i]
                    }
                }
            }
        }
    }
}
