// The one seeded source of randomness (SplitMix64) and the two shuffles built on it. Everything
// that draws (data order, sampling, candidate generation, bootstrap, synthetic corpora) uses these,
// so the same seed gives the same draws in every target. A generator's whole state is one UInt64
// that checkpoints can store.

/// SplitMix64 finaliser: a bijective 64-bit mix with good avalanche.
@inlinable @inline(__always)
public func mix64(_ x: UInt64) -> UInt64 {
    var z = x &+ 0x9E37_79B9_7F4A_7C15
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
}

/// FNV-1a of a string's UTF-8 bytes: a stable 64-bit hash (Swift's `Hasher` changes from run to
/// run), for seeding a draw by the value it is for, whatever else is drawn.
public func fnv1a64(_ s: String) -> UInt64 {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for b in s.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
    return h
}

/// A seedable, copyable generator (SplitMix64). Its whole state is `state`.
public struct SplitMix64: RandomNumberGenerator, Sendable, Codable, Equatable {
    public var state: UInt64
    @inlinable public init(seed: UInt64) { state = seed }
    /// The audit's seeding convention (a fixed offset, so audit streams differ from training ones).
    public init(auditSeed seed: UInt64) { self.init(seed: seed ^ 0xA0D1_75EE_D000_0001) }
    @inlinable public mutating func next() -> UInt64 {
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
    /// Uniform in 0..<n (modulo reduction; n ≥ 1).
    public mutating func int(_ n: Int) -> Int { Int(next() % UInt64(max(1, n))) }
    public mutating func double() -> Double { nextDouble() }
}

extension Array {
    /// Fisher–Yates from the end: for i = n−1 … 1, swap a[i] with a[next() mod (i+1)].
    public mutating func seededShuffle(using rng: inout SplitMix64) {
        guard count > 1 else { return }
        for i in stride(from: count - 1, to: 0, by: -1) { swapAt(i, Int(rng.next() % UInt64(i + 1))) }
    }

    public func seededShuffled(using rng: inout SplitMix64) -> [Element] {
        var a = self
        a.seededShuffle(using: &rng)
        return a
    }

    /// The first `n` elements of a forward partial Fisher–Yates shuffle (for i = 0 … n−1, swap
    /// a[i] with a[i + next() mod (count − i)]): a uniform sample of `n` without replacement, in
    /// draw order.
    public func seededSample(_ n: Int, using rng: inout SplitMix64) -> [Element] {
        var a = self
        let n = Swift.min(Swift.max(0, n), count)
        for i in 0..<n { a.swapAt(i, i + rng.int(count - i)) }
        return Array(a.prefix(n))
    }
}
