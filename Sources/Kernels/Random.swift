// Deterministic random numbers. Dropout uses a counter-based hash (the mask of element i depends
// only on (seed, stream, i)), so masks are identical whatever the thread split and can be
// regenerated on resume. Sampling and shuffling use SplitMix64 streams whose state is a UInt64
// that checkpoints store.

/// SplitMix64 finaliser: a bijective 64-bit mix with good avalanche.
@inline(__always)
public func mix64(_ x: UInt64) -> UInt64 {
    var z = x &+ 0x9E37_79B9_7F4A_7C15
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
}

/// A seedable, copyable generator (SplitMix64). Its whole state is `state`.
public struct SplitMix64: RandomNumberGenerator, Sendable, Codable, Equatable {
    public var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [0, 1) with 24 bits.
    public mutating func nextFloat() -> Float { Float(next() >> 40) * (1.0 / 16_777_216.0) }
    /// Uniform in [0, 1) with 53 bits.
    public mutating func nextDouble() -> Double { Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0) }
}

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
