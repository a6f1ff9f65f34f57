import Audit
import Foundation
import Study
import Testing

/// Known answers for the onion verdict (METHODS.md, "Verdict statistics"): hand-built counts per
/// seed whose verdict is clear, checked exactly.
@Suite struct VerdictTests {
    func c(_ xs: [(Int, Int)]) -> [SeedCount] { xs.map { SeedCount(newly: $0.0, eligible: $0.1) } }
    let ok = VerdictConditions(deletionRecords: 100, randomRecords: 104, baselineVulnerableMean: 30, subjects: 100)

    @Test func aClearExcessExceedsBothControls() {
        let v = VerdictStatistics.decide(deletion: c([(12, 60), (14, 60), (13, 60)]), random: c([(1, 60), (2, 60), (1, 60)]),
                                         reseed: c([(2, 70), (1, 70), (2, 70)]), conditions: ok, resamples: 2000, seed: 1)
        #expect(v.outcome == .exceeds && v.reasons.isEmpty)
        #expect(v.comparisons.allSatisfy { $0.differenceCI.low > 0 && $0.outcome == .exceeds })
        #expect(abs(v.comparisons[0].difference - (39.0 - 4.0) / 180) < 1e-12)
    }

    @Test func fewerNewlyVulnerableThanTheControlsDoesNotExceed() {
        let v = VerdictStatistics.decide(deletion: c([(0, 80), (1, 80), (0, 80)]), random: c([(8, 80), (9, 80), (7, 80)]),
                                         reseed: c([(6, 90), (7, 90), (8, 90)]), conditions: ok, resamples: 2000, seed: 2)
        #expect(v.outcome == .doesNotExceed)
        #expect(v.comparisons.allSatisfy { $0.differenceCI.high <= 0 })
    }

    @Test func equalRatesAtAPrecisionThatRulesOutTheMDEDoNotExceed() {
        // Identical rates on many subjects: the interval sits around 0, below the MDE.
        let same = c([(20, 400), (21, 400), (19, 400)])
        let v = VerdictStatistics.decide(deletion: same, random: same, reseed: same, conditions: ok, resamples: 2000, seed: 3)
        #expect(v.outcome == .doesNotExceed)
        #expect(v.comparisons.allSatisfy { $0.differenceCI.low < 0 && 0 < $0.differenceCI.high && $0.differenceCI.high < $0.minimumDetectableEffect })
    }

    @Test func aNoisyDifferenceIsInconclusiveWithItsReason() {
        let v = VerdictStatistics.decide(deletion: c([(9, 30), (1, 30), (6, 30)]), random: c([(2, 30), (3, 30), (1, 30)]),
                                         reseed: c([(2, 30), (1, 30), (3, 30)]), conditions: ok, resamples: 2000, seed: 4)
        #expect(v.outcome == .inconclusive)
        #expect(v.reasons.contains { $0.contains("cannot tell") })
        #expect(v.minimumDetectableEffect > 0)
    }

    @Test func preconditionsMakeItInconclusiveWhateverTheCounts() {
        let strong = (c([(12, 60), (14, 60), (13, 60)]), c([(1, 60), (2, 60), (1, 60)]))
        func run(_ k: VerdictConditions, eligible: Int = 60) -> RoundVerdict {
            VerdictStatistics.decide(deletion: strong.0.map { SeedCount(newly: $0.newly, eligible: eligible) }, random: strong.1.map { SeedCount(newly: $0.newly, eligible: eligible) },
                                     reseed: strong.1.map { SeedCount(newly: $0.newly, eligible: eligible) }, conditions: k, resamples: 500, seed: 5)
        }
        let unmatched = run(VerdictConditions(deletionRecords: 100, randomRecords: 80, baselineVulnerableMean: 30, subjects: 100))
        #expect(unmatched.outcome == .inconclusive && unmatched.reasons.count == 1 && unmatched.reasons[0].contains("random-removal control removed 80 records"))
        let few = run(ok, eligible: 15)
        #expect(few.outcome == .inconclusive && few.reasons.contains { $0.contains("only 15 subjects were eligible") })
        let none = run(VerdictConditions(deletionRecords: 100, randomRecords: 100, baselineVulnerableMean: 1.3, subjects: 100))
        #expect(none.outcome == .inconclusive && none.reasons.contains { $0.contains("calibrate memorisation") })
        #expect(run(ok).outcome == .exceeds)   // the same counts with the conditions met
    }

    @Test func twoSeedsOrControlsThatDisagreeAreInconclusive() {
        let two = VerdictStatistics.decide(deletion: c([(12, 60), (14, 60)]), random: c([(1, 60), (2, 60)]), reseed: c([(2, 70), (1, 70)]),
                                           conditions: ok, resamples: 500, seed: 8)
        #expect(two.outcome == .inconclusive && two.reasons.contains { $0.contains("only 2 seeds") })
        // Far above random removal, far below reseeding: the controls disagree.
        let mixed = VerdictStatistics.decide(deletion: c([(12, 60), (14, 60), (13, 60)]), random: c([(1, 60), (2, 60), (1, 60)]),
                                             reseed: c([(40, 60), (42, 60), (41, 60)]), conditions: ok, resamples: 2000, seed: 9)
        #expect(mixed.outcome == .inconclusive && mixed.reasons.contains { $0.contains("controls disagree") })
    }

    @Test func underTheNullExceedsIsRare() {
        // Deletion and controls drawn alike (true rate 0.08 on 60 subjects, with between-seed
        // variation of the rate): "exceeds" in at most a few of 100 simulated rounds.
        var rng = SplitMix(state: 21)
        var exceeds = 0
        for k in 0..<100 {
            func arm() -> [SeedCount] {
                (0..<3).map { _ in
                    let p = 0.08 * (0.5 + rng.unit())
                    return SeedCount(newly: (0..<60).filter { _ in rng.unit() < p }.count, eligible: 60)
                }
            }
            let v = VerdictStatistics.decide(deletion: arm(), random: arm(), reseed: arm(), conditions: ok, resamples: 300, seed: UInt64(k))
            if v.outcome == .exceeds { exceeds += 1 }
        }
        #expect(exceeds <= 5, "exceeds in \(exceeds) of 100 null rounds")
    }

    @Test func zeroCountsNeverGiveAZeroWidthInterval() {
        let i = VerdictStatistics.rateInterval(c([(0, 50), (0, 50), (0, 50)]), resamples: 2000, seed: 6)
        #expect(i.low >= 0 && i.high > 0.001 && i.high < 0.05)
        let (d, ci) = VerdictStatistics.pairedDifference(deletion: c([(0, 50), (0, 50)]), control: c([(0, 50), (0, 50)]), resamples: 2000, seed: 7)
        #expect(d == 0 && ci.low < 0 && ci.high > 0)
    }

    @Test func theIntervalCoversTheTruthAtAboutItsLevel() {
        // Simulated seeds with a true rate of 0.1 on 100 subjects: the 95% interval of the mean
        // rate over 3 seeds covers 0.1 in most of 200 simulated studies.
        var rng = SplitMix(state: 11)
        var covered = 0
        for k in 0..<200 {
            let counts = (0..<3).map { _ in SeedCount(newly: (0..<100).filter { _ in rng.unit() < 0.1 }.count, eligible: 100) }
            let i = VerdictStatistics.rateInterval(counts, resamples: 400, seed: UInt64(k))
            if i.low <= 0.1 && 0.1 <= i.high { covered += 1 }
        }
        #expect(covered >= 176, "covered \(covered) of 200")   // ≥ 88%
    }

    @Test func theMinimumDetectableEffectShrinksWithMoreSubjects() {
        let small = VerdictStatistics.minimumDetectableEffect(deletion: c([(2, 40), (2, 40), (2, 40)]), control: c([(2, 40), (2, 40), (2, 40)]))
        let large = VerdictStatistics.minimumDetectableEffect(deletion: c([(20, 400), (20, 400), (20, 400)]), control: c([(20, 400), (20, 400), (20, 400)]))
        // Binomial floor at the pooled Jeffreys rate p = 120.5/2401: (t₀.₉₇₅ + t₀.₈ with 2 df)·sqrt(2·p(1−p)/n/3).
        let expectedLarge = (4.302653 + 1.060660) * (2 * (120.5 / 2401.0) * (1 - 120.5 / 2401.0) / 400 / 3).squareRoot()
        #expect(abs(large - expectedLarge) < 1e-6)
        #expect(small > 3 * large)
    }
}

@Suite struct RecordMatchingTests {
    @Test func theNeverVulnerableComeFirstThenTheLeastExposed() {
        let c = RecordMatching.pick(target: 10, preferred: [("a", 3), ("b", 4)], fallback: [("x", 3), ("y", 5)])
        #expect(c.chosen == ["a", "b", "x"] && c.records == 10 && c.fallbackUsed == 1)
        #expect(VerdictStatistics.matched(deletion: 10, random: c.records))
    }

    @Test func noFallbackWhenThePreferredMatch() {
        let c = RecordMatching.pick(target: 7, preferred: [("a", 3), ("b", 4), ("c", 9)], fallback: [("x", 1)])
        #expect(c.chosen == ["a", "b"] && c.fallbackUsed == 0)
    }

    @Test func matchingIsCumulativeAcrossRounds() {
        // Round 1 overshoots (12 for 10); round 2's deletion brings the total to 20, so the
        // control is asked for 8 more, not 10, and ends matched on the cumulative count.
        let r1 = RecordMatching.pick(target: 10, preferred: [("a", 6), ("b", 6)], fallback: [])
        #expect(r1.records == 12)
        let r2 = RecordMatching.pick(target: 20 - r1.records, preferred: [("c", 5), ("d", 3), ("e", 6)], fallback: [])
        #expect(r2.chosen == ["c", "d"] && r1.records + r2.records == 20)
    }

    @Test func anUnmatchableControlIsReportedUnmatched() {
        let c = RecordMatching.pick(target: 50, preferred: [("a", 5)], fallback: [("x", 10)])
        #expect(c.records == 15 && !VerdictStatistics.matched(deletion: 50, random: c.records))
    }
}

struct SplitMix {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func unit() -> Double { Double(next() >> 11) / 9_007_199_254_740_992 }
}
