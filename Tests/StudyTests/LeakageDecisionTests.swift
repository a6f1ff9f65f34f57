import Audit
import Foundation
@testable import Study
import Support
import Testing

/// The pre-training leakage verdict's statistics (Sources/Study/LeakageDecision.swift, Verdict.swift):
/// Welch's interval by hand, the decision rule on constructed scores, and the false-positive
/// rate, coverage and power of the whole verdict measured by simulation (no training).
@Suite struct LeakageDecisionTests {
    // Published t quantiles (ν = 6).
    static let t975df6 = 2.446912, t80df6 = 0.905703

    @Test func welchByHand() {
        // mean 2.5 − 0.8; variances 5/3 and 3.2; SE √(5/12 + 0.64); ν = 6.97 → 6.
        let c = HalfContrast.welch([1, 2, 3, 4], [0, 0, 0, 0, 4])
        let se = (5.0 / 12 + 0.64).squareRoot()
        #expect(abs(c.estimate - 1.7) < 1e-12 && c.valuesA == 4 && c.valuesB == 5)
        #expect(abs(c.standardError! - se) < 1e-12)
        #expect(abs(c.degreesOfFreedom! - 6.96663046241305) < 1e-9)
        #expect(abs(c.interval!.low - (1.7 - Self.t975df6 * se)) < 1e-5 && abs(c.interval!.high - (1.7 + Self.t975df6 * se)) < 1e-5)
        #expect(abs(c.minimumDetectableEffect! - (Self.t975df6 + Self.t80df6) * se) < 1e-5)   // 3.44630
        // Fewer than two values in a half: no interval, never a verdict.
        #expect(HalfContrast.welch([1], [1, 2, 3]).interval == nil)
        // Identical values: a zero-width interval at the difference, not NaN.
        let flat = HalfContrast.welch([2, 2, 2], [1, 1, 1])
        #expect(flat.interval == Interval(low: 1, high: 1))
    }

    @Test func theIntervalRuleIsSharedWithTheOnionVerdict() {
        #expect(IntervalPosition(Interval(low: 0.01, high: 0.5), delta: 0.1) == .aboveZero)
        #expect(IntervalPosition(Interval(low: -0.5, high: -0.01), delta: 0.1) == .belowZero)
        #expect(IntervalPosition(Interval(low: -0.05, high: 0.09), delta: 0.1) == .belowDelta)
        #expect(IntervalPosition(Interval(low: -0.05, high: 0.1), delta: 0.1) == .open)
        #expect(IntervalPosition(Interval(low: .nan, high: 1), delta: 0.1) == .open)
        #expect(OnionStatistics.outcome(Interval(low: -0.05, high: 0.09), delta: 0.1) == .doesNotExceed)
        #expect(OnionStatistics.outcome(Interval(low: 0.01, high: 0.5), delta: 0.1) == .exceeds)
    }

    /// Scores of `n` values per half (A first) under one model: `level` for every value, plus
    /// `shiftA` for half A and a value's own `jitter` · (a fixed pseudo-random number in [−1, 1]).
    static func scores(n: Int, level: Double, shiftA: Double, jitter: Double, salt: UInt64) -> [Double] {
        (0..<(2 * n)).map { v in
            var r = SplitMix64(seed: mix64(UInt64(v) &* 31 &+ salt))
            return level + (v < n ? shiftA : 0) + jitter * (2 * r.nextDouble() - 1)
        }
    }
    static func halves(_ n: Int) -> [LeakageHalf] { Array(repeating: .a, count: n) + Array(repeating: .b, count: n) }

    /// A base that memorised half A (+2 nats/token against the null base) and `pairs` seed pairs
    /// whose main fine-tune keeps `kept` of it.
    static func verdict(n: Int = 20, pairs: Int = 3, baseShift: Double = 2, kept: Double, jitter: Double = 0.3, delta: Double = 0.1) -> LeakageVerdict {
        let base = (main: scores(n: n, level: -3, shiftA: baseShift, jitter: jitter, salt: 1), null: scores(n: n, level: -3, shiftA: 0, jitter: jitter, salt: 2))
        let ps = (0..<pairs).map { s in
            (main: scores(n: n, level: -4, shiftA: kept, jitter: jitter, salt: 10 + UInt64(s)), null: scores(n: n, level: -4, shiftA: 0, jitter: jitter, salt: 20 + UInt64(s)))
        }
        return LeakageStatistics.verdict(base: base, pairs: ps, halves: halves(n), delta: delta)
    }

    @Test func theRuleOnKnownScores() {
        let leaks = Self.verdict(kept: 0.8)
        #expect(leaks.outcome == .leaks && leaks.reasons.isEmpty, "\(leaks.summary)")
        #expect(abs(leaks.finetuned.estimate - 0.8) < 0.2 && leaks.perSeed.count == 3 && leaks.seedSD != nil)
        #expect(!leaks.summary.contains("smaller than Δ"))
        // `leaks` does not depend on Δ: a small, tightly measured leak leaks, and says it may be below Δ.
        let small = Self.verdict(kept: 0.06, jitter: 0.02)
        #expect(small.outcome == .leaks && small.finetuned.interval!.low < 0.1 && small.summary.contains("may be smaller than Δ"), "\(small.summary)")
        // Nothing kept, values tightly measured: a leak of Δ is ruled out.
        let none = Self.verdict(kept: 0, jitter: 0.05)
        #expect(none.outcome == .noLeakAboveDelta, "\(none.summary)")
        #expect(none.finetuned.interval!.high < 0.1 && none.finetuned.minimumDetectableEffect! <= 0.1)
        // Nothing kept but noisy values: the interval reaches Δ, or the test could not see Δ.
        let noisy = Self.verdict(kept: 0, jitter: 2)
        #expect(noisy.outcome == .inconclusive && noisy.reasons.contains { $0.contains("underpowered") || $0.contains("reaches Δ") })
    }

    @Test func preconditionsMakeItInconclusiveWhateverTheNumbers() {
        // The base shows no memorisation of A: nothing for fine-tuning to carry, even if the
        // fine-tuned contrast is clearly above 0.
        let blind = Self.verdict(baseShift: 0, kept: 0.8)
        #expect(blind.outcome == .inconclusive && blind.reasons.contains { $0.contains("the base itself shows no memorisation of half A") })
        #expect(blind.finetuned.interval!.low > 0)
        let twoSeeds = Self.verdict(pairs: 2, kept: 0.8)
        #expect(twoSeeds.outcome == .inconclusive && twoSeeds.reasons.contains { $0.contains("only 2 fine-tuning seeds per arm") })
        let few = Self.verdict(n: 9, kept: 0.8)
        #expect(few.outcome == .inconclusive && few.reasons.contains { $0.contains("only 9 and 9 values") })
        let pair: (main: [Double], null: [Double]) = (Array(repeating: -1.0, count: 40), Array(repeating: -2.0, count: 40))
        let nan = LeakageStatistics.verdict(base: ([.nan] + Array(repeating: -1.0, count: 39), Array(repeating: -3.0, count: 40)),
                                            pairs: Array(repeating: pair, count: 3), halves: Self.halves(20))
        #expect(nan.outcome == .inconclusive && nan.reasons.contains("a score is not finite"))
    }

    // MARK: Simulation

    struct Draws {
        var rng: SplitMix64
        mutating func uniform() -> Double { (Double(rng.next() >> 11) + 0.5) * 0x1p-53 }
        mutating func normal() -> Double { (-2 * log(uniform())).squareRoot() * cos(2 * Double.pi * uniform()) }
    }

    /// One run of the experiment under a known truth: n values per half and S seed pairs. A value's
    /// difference between the fine-tunes is d_{v,s} = τ·[v ∈ A] + u_v + e_{v,s} + c_s, with u_v the
    /// value's own (half A more variable than B: σ 0.6 against 0.3, so Welch matters), e_{v,s}
    /// training noise (σ 0.4) and c_s a shift of every value of the seed (σ 0.5). The bases differ
    /// by 2 nats/token on A (the precondition holds).
    static func run(_ w: inout Draws, n: Int, seeds S: Int, tau: Double) -> LeakageVerdict {
        let u = (0..<(2 * n)).map { v in (v < n ? 0.6 : 0.3) * w.normal() }
        let baseNull = (0..<(2 * n)).map { _ in -3 + w.normal() }
        let baseMain = baseNull.enumerated().map { v, x in x + (v < n ? 2 : 0) + 0.3 * w.normal() }
        let pairs = (0..<S).map { _ -> (main: [Double], null: [Double]) in
            let c = 0.5 * w.normal()
            let null = (0..<(2 * n)).map { _ in -4 + w.normal() }
            return (null.enumerated().map { v, x in x + (v < n ? tau : 0) + u[v] + 0.4 * w.normal() + c }, null)
        }
        return LeakageStatistics.verdict(base: (baseMain, baseNull), pairs: pairs, halves: halves(n))
    }

    @Test(arguments: [(20, 3), (60, 3), (30, 5)])
    func simulatedFalsePositiveRateCoverageAndPower(n: Int, seeds S: Int) {
        var w = Draws(rng: SplitMix64(seed: mix64(UInt64(n * 100 + S))))
        let R = 2000
        var falseLeaks = 0, covered0 = 0, coveredEffect = 0, detected = 0
        var mdes: [Double] = []
        for _ in 0..<R {
            let v = Self.run(&w, n: n, seeds: S, tau: 0)
            if v.outcome == .leaks { falseLeaks += 1 }
            if let ci = v.finetuned.interval, ci.low <= 0, ci.high >= 0 { covered0 += 1 }
            mdes.append(v.finetuned.minimumDetectableEffect!)
        }
        let mde = mdes.sorted()[R / 2]
        for _ in 0..<R {
            let v = Self.run(&w, n: n, seeds: S, tau: mde)
            if let ci = v.finetuned.interval, ci.low <= mde, ci.high >= mde { coveredEffect += 1 }
            if v.outcome == .leaks { detected += 1 }
        }
        let fpr = Double(falseLeaks) / Double(R), cov0 = Double(covered0) / Double(R), cov = Double(coveredEffect) / Double(R), power = Double(detected) / Double(R)
        print("leakage verdict simulation n=\(n) S=\(S): false leaks \(fpr), coverage \(cov0) at 0 and \(cov) at the MDE \(String(format: "%.3f", mde)), power \(power)")
        // One-sided: 2.5% nominal; 3.6% is about 3 standard errors of 2000 runs above it.
        #expect(fpr <= 0.036)
        #expect(cov0 >= 0.935 && cov0 <= 0.965 && cov >= 0.935 && cov <= 0.965)
        #expect(power >= 0.74 && power <= 0.86)
    }

    /// The sharp null with values far from normal: fixed, skewed differences (a few values move a
    /// lot, most little) and only the split into halves drawn at random, as the design draws it.
    /// The interval then must still exclude 0 from above in about 2.5% of splits.
    @Test func randomSplitsOfSkewedDifferencesRarelyLeak() {
        var w = Draws(rng: SplitMix64(seed: 77))
        let n = 20
        let d = (0..<(2 * n)).map { _ -> Double in let e = -log(w.uniform()); return w.uniform() < 0.1 ? 3 * e : 0.2 * e }
        var above = 0
        let R = 4000
        for _ in 0..<R {
            var order = Array(d.indices)
            order.seededShuffle(using: &w.rng)
            let c = HalfContrast.welch(order.prefix(n).map { d[$0] }, order.suffix(n).map { d[$0] })
            if c.interval!.low > 0 { above += 1 }
        }
        print("random splits of skewed differences: interval above 0 in \(Double(above) / Double(R))")
        #expect(Double(above) / Double(R) <= 0.035)
    }

    // MARK: Prospective power (issue 21 review, M2)

    /// The prospective MDE by hand: 20 + 20 values of SD 0.6 give SE = 0.6·√(2/20), ν = 38
    /// (published t₀.₉₇₅,₃₈ = 2.024394, t₀.₈₀,₃₈ = 0.851183); more values, a smaller MDE.
    @Test func theProspectiveMDEByHand() throws {
        let m = try #require(HalfContrast.prospectiveMDE(valuesA: 20, valuesB: 20, sd: 0.6))
        #expect(abs(m - (2.024394 + 0.851183) * 0.6 * (2.0 / 20).squareRoot()) < 1e-5, "\(m)")
        #expect(try #require(HalfContrast.prospectiveMDE(valuesA: 160, valuesB: 160, sd: 0.6)) < m)
        #expect(try #require(HalfContrast.prospectiveMDE(valuesA: 20, valuesB: 20, sd: 0.3)) < m)
        #expect(HalfContrast.prospectiveMDE(valuesA: 1, valuesB: 20, sd: 0.6) == nil)
        // Δ = 0.1 at SD 0.6 needs about 2·(2.8·6)² ≈ 570 values per half.
        #expect(try #require(HalfContrast.prospectiveMDE(valuesA: 560, valuesB: 560, sd: 0.6)) > 0.1)
        #expect(try #require(HalfContrast.prospectiveMDE(valuesA: 600, valuesB: 600, sd: 0.6)) < 0.1)
    }

    /// It means what it says: values of SD σ with a true A − B of the prospective MDE give `leaks`
    /// about 80% of the time (2,000 simulated runs, 20 values per half, 3 seed pairs).
    @Test func theProspectiveMDEHasItsPower() throws {
        var w = Draws(rng: SplitMix64(seed: 2121))
        let n = 20, sd = 0.6, R = 2000
        let mde = try #require(HalfContrast.prospectiveMDE(valuesA: n, valuesB: n, sd: sd))
        var detected = 0
        for _ in 0..<R {
            let base = (main: (0..<(2 * n)).map { v in (v < n ? 2 : 0) + 0.3 * w.normal() }, null: Array(repeating: 0.0, count: 2 * n))
            // d_v has SD σ after averaging over the 3 pairs: per pair σ·√3.
            let pairs = (0..<3).map { _ in (main: (0..<(2 * n)).map { v in (v < n ? mde : 0) + sd * 3.0.squareRoot() * w.normal() }, null: Array(repeating: 0.0, count: 2 * n)) }
            if LeakageStatistics.verdict(base: base, pairs: pairs, halves: Self.halves(n)).outcome == .leaks { detected += 1 }
        }
        let power = Double(detected) / Double(R)
        print("prospective MDE \(mde) at SD \(sd), n = \(n): power \(power)")
        #expect(power >= 0.76 && power <= 0.84)
    }

    /// The verdict says plainly when Δ cannot be ruled out at this size: as a reason when it is
    /// inconclusive, in the summary when it leaks; never when the prospective MDE is at most Δ.
    @Test func theVerdictSaysWhenDeltaCannotBeRuledOutAtThisSize() {
        func run(kept: Double, jitter: Double, prospective: Double?) -> LeakageVerdict {
            let n = 20
            let base = (main: Self.scores(n: n, level: -3, shiftA: 2, jitter: 0.3, salt: 1), null: Self.scores(n: n, level: -3, shiftA: 0, jitter: 0.3, salt: 2))
            let ps = (0..<3).map { s in (main: Self.scores(n: n, level: -4, shiftA: kept, jitter: jitter, salt: 10 + UInt64(s)),
                                         null: Self.scores(n: n, level: -4, shiftA: 0, jitter: jitter, salt: 20 + UInt64(s))) }
            return LeakageStatistics.verdict(base: base, pairs: ps, halves: Self.halves(n), prospectiveMDE: prospective)
        }
        let phrase = "cannot be ruled out at this size"
        let open = run(kept: 0, jitter: 2, prospective: 0.5)
        #expect(open.outcome == .inconclusive && open.reasons.contains { $0.contains(phrase) && $0.contains("20 + 20 values") && $0.contains("0.500") })
        #expect(open.summary.contains(phrase))
        let leaks = run(kept: 0.8, jitter: 0.3, prospective: 0.5)
        #expect(leaks.outcome == .leaks && leaks.reasons.isEmpty && leaks.summary.contains(phrase))
        #expect(!run(kept: 0, jitter: 2, prospective: 0.05).summary.contains(phrase) && !run(kept: 0, jitter: 2, prospective: nil).summary.contains(phrase))
        // A run that did rule Δ out says so, not the prospective warning.
        let none = run(kept: 0, jitter: 0.05, prospective: 0.5)
        #expect(none.outcome == .noLeakAboveDelta && !none.summary.contains(phrase))
    }

}
