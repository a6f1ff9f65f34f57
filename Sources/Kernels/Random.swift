// Deterministic random numbers. Dropout uses a counter-based hash (the mask of element i depends
// only on (seed, stream, i)), so masks are identical whatever the thread split and can be
// regenerated on resume. Sampling and shuffling use SplitMix64 streams whose state is a UInt64
// that checkpoints store (both in Support).

import Support

public enum Dropout {
    /// Writes the dropout multipliers (0 or 1/(1-p)) for `N` elements of stream `stream`.
    public static func makeMask(_ mask: UnsafeMutablePointer<Float>, N: Int, p: Float, seed: UInt64, stream: UInt64) {
        let keep = 1 / (1 - p)
        let threshold = UInt64(Double(p) * 16_777_216.0)
        let base = mix64(seed ^ mix64(stream))
        Parallel.forRanges(N, grain: 16384) { r in
            for i in r {
                let u = mix64(base &+ UInt64(i)) >> 40
                mask[i] = u < threshold ? 0 : keep
            }
        }
    }

    /// x *= mask (in place).
    public static func apply(_ x: UnsafeMutablePointer<Float>, mask: UnsafePointer<Float>, N: Int) {
        Parallel.forRanges(N, grain: 16384) { r in
            for i in r { x[i] *= mask[i] }
        }
    }
}
