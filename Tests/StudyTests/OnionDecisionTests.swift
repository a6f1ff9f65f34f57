import Audit
import Foundation
import Study
import Support
import Testing

/// The onion verdict's statistics (Sources/Study/OnionDecision.swift): known answers computed by
/// hand, the exact distributions against published values, and the decision rule's error rates,
/// coverage and power measured by simulation.
@Suite struct OnionDecisionTests {
    /// A seed from its 2×2 table: `both` newly vulnerable in both arms, `d` in the deletion arm
    /// only, `c` in the control only (so the counts are consistent by construction).
    static func pair(_ seed: UInt64, n: Int, both: Int, d: Int, c: Int) -> PairedSeed {
        PairedSeed(seed: seed, subjects: n, deletionNewly: both + d, controlNewly: both + c, deletionOnly: d, controlOnly: c)
    }
    static func seeds(n: Int, _ tables: [(Int, Int, Int)]) -> [PairedSeed] {
        tables.enumerated().map { pair(UInt64($0.offset + 1), n: n, both: $0.element.0, d: $0.element.1, c: $0.element.2) }
    }
    static let t975df2 = 4.302653, t80df2 = 1.060660, t975df9 = 2.262157

    /// d = 0.15, 0.16, 0.14 on 100 subjects; the spread (sample variance 1e-4) is below the
    /// McNemar floor mean((b + c + 1)/n²) = (20 + 21 + 17)/3 · 1e-4, so the floor is v.
    static let clear = seeds(n: 100, [(3, 17, 2), (4, 18, 2), (4, 15, 1)])
    /// The same differences on 400 subjects (every cell × 4): a narrower interval, above Δ.
    static let clearer = seeds(n: 400, [(12, 68, 8), (16, 72, 8), (16, 60, 4)])
    /// d = 0.10, 0.20, 0.30 on 100: sample variance 0.01, above the floor (15 + 25 + 35)/3 · 1e-4.
    static let noisy = seeds(n: 100, [(2, 12, 2), (2, 22, 2), (2, 32, 2)])
    /// Ten seeds of 1000 with d = 0 exactly (10 discordant pairs each way).
    static let flat = seeds(n: 1000, Array(repeating: (40, 10, 10), count: 10))

    // MARK: One comparison, by hand

    /// A guard on the committed constants only: the default preset's prospective values, on its
    /// synthetic corpus as measured (159 testable subjects; 8 deletions and as many random draws
    /// leave the analysis set), promise an MDE of at most Δ. It cannot see a change of training
    /// (epochs, learning rate) that moves the real vulnerable share — only a measured run can
    /// (BENCHMARKS.md: realised MDE 0.035) — but a change of the seeds, deletions or prospective
    /// values that breaks the promise fails here.
    @Test func theDefaultPresetsCommittedValuesPromiseDelta() throws {
        let s = try #require(StudySettings.preset("default"))
        let n = Int(159 * (1 - s.prospective.vulnerableShare)) - 2 * s.removePerRound
        let mde = try #require(OnionStatistics.prospectiveMDE(seeds: s.seeds, subjects: n, baselineNewlyRate: s.prospective.newlyRate,
                                                             betweenSeedSD: s.prospective.betweenSeedSD))
        #expect(mde <= OnionStatistics.defaultDelta, "default: prospective MDE \(mde)")
    }

    @Test func theFloorSetsTheIntervalWhenTheSeedsAgreeTooWell() {
        let c = OnionStatistics.compare(Self.clear, control: .randomRemoval, delta: 0.05)
        let floor = (20.0 + 21 + 17) / 3 / 10_000, se = (floor / 3).squareRoot()
        #expect(c.seedsUsed == 3 && c.seedsDropped == 0 && c.invalidSeeds.isEmpty)
        #expect(abs(c.difference - 0.15) < 1e-12)
        #expect(c.varianceFloorUsed)
        #expect(abs(c.standardError! - se) < 1e-12)
        #expect(abs(c.interval!.low - (0.15 - Self.t975df2 * se)) < 1e-6)    // 0.040773
        #expect(abs(c.interval!.high - (0.15 + Self.t975df2 * se)) < 1e-6)   // 0.259227
        #expect(c.outcome == .exceeds && !c.clearsDelta && !c.rulesOutDelta)
        // MDE: the fixed point of m = M·√((v + m/n)/S), i.e. the positive root of
        // m² − (M²/(S·n))·m − M²·v/S = 0, with M = t₀.₉₇₅,₂ + t₀.₈₀,₂.
        let M = Self.t975df2 + Self.t80df2, a = M * M / (3 * 100), b = M * M * floor / 3
        let mde = (a + (a * a + 4 * b).squareRoot()) / 2
        #expect(abs(c.minimumDetectableEffect! - mde) < 1e-5)
        #expect(abs(OnionStatistics.powerMultiplier(seeds: 3) - M) < 1e-6)
    }

    @Test func theSampleVarianceSetsTheIntervalWhenTheSeedsDisagree() {
        let c = OnionStatistics.compare(Self.noisy, control: .reseed, delta: 0.05)
        let se = (0.01 / 3).squareRoot()
        #expect(!c.varianceFloorUsed)
        #expect(abs(c.difference - 0.2) < 1e-12)
        #expect(abs(c.standardError! - se) < 1e-12)
        #expect(abs(c.interval!.low - (0.2 - Self.t975df2 * se)) < 1e-6)     // −0.048414: includes 0
        #expect(c.outcome == .inconclusive && !c.clearsDelta && !c.rulesOutDelta)
        let M = Self.t975df2 + Self.t80df2, a = M * M * 0.01 / 3, b = M * M * 0.01 / 3
        #expect(abs(c.minimumDetectableEffect! - (a + (a * a + 4 * b).squareRoot()) / 2) < 1e-5)   // 0.36128
    }

    @Test func identicalDifferencesNeverGiveAZeroWidthInterval() {
        let c = OnionStatistics.compare(Self.flat, control: .reseed, delta: 0.05)
        let se = (21.0 / 1_000_000 / 10).squareRoot()
        #expect(c.difference == 0 && c.varianceFloorUsed)
        #expect(abs(c.interval!.high - Self.t975df9 * se) < 1e-6)   // 0.003278
        #expect(c.interval!.high - c.interval!.low > 0.006)
        // No discordant pair at all: the +1 still gives a width.
        let none = OnionStatistics.compare(Self.seeds(n: 50, [(0, 0, 0), (0, 0, 0), (0, 0, 0)]), control: .reseed, delta: 0.05)
        #expect(none.interval!.high - none.interval!.low > 0)
        #expect(abs(none.standardError! - (1.0 / 2500 / 3).squareRoot()) < 1e-12)
        #expect(c.outcome == .doesNotExceed && c.rulesOutDelta)
    }

    @Test func emptySeedsAreDroppedAndInconsistentOnesReported() {
        let withEmpty = [Self.pair(9, n: 0, both: 0, d: 0, c: 0)] + Self.clear
        let c = OnionStatistics.compare(withEmpty, control: .randomRemoval, delta: 0.05)
        #expect(c.seedsUsed == 3 && c.seedsDropped == 1 && c.outcome == .exceeds)
        #expect(abs(c.difference - 0.15) < 1e-12)

        let bad = PairedSeed(seed: 7, subjects: 100, deletionNewly: 20, controlNewly: 5, deletionOnly: 10, controlOnly: 2)
        #expect(bad.inconsistency?.contains("deletion_only − control_only = 8") == true)
        #expect(PairedSeed(seed: 8, subjects: 10, deletionNewly: 11, controlNewly: 1, deletionOnly: 10, controlOnly: 0).inconsistency != nil)
        #expect(PairedSeed(seed: 8, subjects: 10, deletionNewly: 9, controlNewly: 6, deletionOnly: 6, controlOnly: 3).inconsistency != nil)   // 9 + 3 > 10 in either arm
        #expect(Self.clear.allSatisfy { $0.inconsistency == nil })
        let withBad = OnionStatistics.compare(Self.clear + [bad], control: .randomRemoval, delta: 0.05)
        #expect(withBad.invalidSeeds == [7] && withBad.seedsUsed == 3 && withBad.outcome == .inconclusive)
        let duplicated = OnionStatistics.compare(Self.clear + [Self.clear[0]], control: .randomRemoval, delta: 0.05)
        #expect(duplicated.invalidSeeds == [1] && duplicated.outcome == .inconclusive)
        let v = OnionStatistics.decide(random: withBad, reseed: OnionStatistics.compare(Self.clear, control: .reseed), delta: 0.05, preconditions: [])
        #expect(v.outcome == .inconclusive && v.reasons.contains { $0.contains("seed 7 are inconsistent") })
    }

    // MARK: The round's verdict, by hand

    @Test func anExcessAgainstBothControlsExceeds() {
        let v = OnionStatistics.decide(random: OnionStatistics.compare(Self.clear, control: .randomRemoval),
                                       reseed: OnionStatistics.compare(Self.clear, control: .reseed), delta: 0.05, preconditions: [])
        #expect(v.outcome == .exceeds && v.reasons.isEmpty && !v.clearsDelta)
        #expect(v.summary.hasSuffix("(Δ = 0.05; an excess of Δ or more is not shown)."))

        let w = OnionStatistics.decide(random: OnionStatistics.compare(Self.clearer, control: .randomRemoval),
                                       reseed: OnionStatistics.compare(Self.clearer, control: .reseed), delta: 0.05, preconditions: [])
        #expect(w.outcome == .exceeds && w.clearsDelta && w.comparisons.allSatisfy(\.clearsDelta))
        #expect(w.comparisons.map(\.control) == [.randomRemoval, .reseed])
        #expect(w.summary == "Deleting the most vulnerable made others newly vulnerable: +0.150 [0.096, 0.204] against random removal and +0.150 [0.096, 0.204] against reseeding (Δ = 0.05; both exceed Δ).")
        #expect(abs(w.minimumDetectableEffect! - w.comparisons[0].minimumDetectableEffect!) < 1e-15)
    }

    @Test func fewerAgainstBothControlsIsFewer() {
        let mirrored = Self.clear.map { PairedSeed(seed: $0.seed, subjects: $0.subjects, deletionNewly: $0.controlNewly, controlNewly: $0.deletionNewly,
                                                   deletionOnly: $0.controlOnly, controlOnly: $0.deletionOnly) }
        let r = OnionStatistics.compare(mirrored, control: .randomRemoval), s = OnionStatistics.compare(mirrored, control: .reseed)
        #expect(r.outcome == .fewer && r.interval!.high < 0 && r.rulesOutDelta)
        let v = OnionStatistics.decide(random: r, reseed: s, delta: 0.05, preconditions: [])
        #expect(v.outcome == .fewer && v.reasons.isEmpty)
        #expect(v.summary.hasPrefix("Deleting the most vulnerable made fewer others newly vulnerable than either control: -0.150 [-0.259, -0.041] against random removal"))
    }

    @Test func aBlindRunDoesNotRuleOutDelta() {
        // Nobody newly vulnerable in either arm, 3 seeds of 100: the floor alone makes the
        // interval ±0.025, below Δ, but the test could only have detected ≈0.1. Not a null result.
        let zero = (0..<3).map { PairedSeed(seed: UInt64($0), subjects: 100, deletionNewly: 0, controlNewly: 0, deletionOnly: 0, controlOnly: 0) }
        let r = OnionStatistics.compare(zero, control: .randomRemoval), s = OnionStatistics.compare(zero, control: .reseed)
        #expect(r.interval!.high < 0.05 && r.minimumDetectableEffect! > 0.05)
        let v = OnionStatistics.decide(random: r, reseed: s, delta: 0.05, preconditions: [])
        #expect(v.outcome == .inconclusive && v.reasons.contains { $0.hasPrefix("underpowered") })
    }

    @Test func upperEndsBelowDeltaAgainstBothDoNotExceed() {
        // Against reseeding the difference alternates 0.00 / 0.01: a small excess, shown above 0
        // but with the upper end below Δ, so an excess of Δ or more is still ruled out.
        let small = Self.seeds(n: 1000, (0..<10).map { $0 % 2 == 0 ? (40, 10, 10) : (40, 20, 10) })
        let r = OnionStatistics.compare(Self.flat, control: .randomRemoval), s = OnionStatistics.compare(small, control: .reseed)
        #expect(r.outcome == .doesNotExceed && s.outcome == .exceeds && s.interval!.high < 0.05)
        let v = OnionStatistics.decide(random: r, reseed: s, delta: 0.05, preconditions: [])
        #expect(v.outcome == .doesNotExceed && v.reasons.isEmpty)
        #expect(v.summary.hasPrefix("Deleting the most vulnerable did not make others newly vulnerable by as much as Δ = 0.05: +0.000 [-0.003, 0.003] against random removal and +0.005"))
        #expect(v.summary.hasSuffix("rule out an excess of 0.05 or more."))
        // Below Δ but only because Δ is large: with Δ = 0.004 the same numbers do not rule it out.
        let strict = OnionStatistics.decide(random: OnionStatistics.compare(Self.flat, control: .randomRemoval, delta: 0.004),
                                            reseed: OnionStatistics.compare(small, control: .reseed, delta: 0.004), delta: 0.004, preconditions: [])
        #expect(strict.outcome == .inconclusive)
    }

    @Test func anIntervalStraddlingZeroAndReachingDeltaIsInconclusiveAndUnderpowered() throws {
        let v = OnionStatistics.decide(random: OnionStatistics.compare(Self.noisy, control: .randomRemoval),
                                       reseed: OnionStatistics.compare(Self.noisy, control: .reseed), delta: 0.05, preconditions: [])
        #expect(v.outcome == .inconclusive)
        try #require(v.reasons.count == 3)
        #expect(v.reasons[0].hasPrefix("against random removal the difference +0.200 [-0.048, 0.448] includes 0 and reaches Δ = 0.05"))
        #expect(v.reasons[1].hasPrefix("against reseeding the difference"))
        #expect(v.reasons[2].hasPrefix("underpowered: this run could only detect ≥ 0.361 (Δ = 0.05)"))
        #expect(v.summary.hasPrefix("The run cannot say whether deleting the most vulnerable made others newly vulnerable: +0.200 [-0.048, 0.448] against random removal"))
        #expect(!v.clearsDelta && abs(v.minimumDetectableEffect! - 0.36128) < 1e-4)
    }

    @Test func anMDEOfOneOrMoreSaysNothingIsDetectable() {
        let tiny = Self.seeds(n: 4, [(0, 1, 0), (0, 0, 1)])   // d = +0.25, −0.25 on 4 subjects, 2 seeds
        let c = OnionStatistics.compare(tiny, control: .reseed)
        #expect(c.minimumDetectableEffect! > 1)   // not capped
        let v = OnionStatistics.decide(random: c, reseed: c, delta: 0.05, preconditions: [])
        #expect(v.reasons.contains { $0.hasPrefix("underpowered: this run cannot detect any effect") })
    }

    @Test func controlsThatDisagreeAreInconclusive() {
        let excess = Self.seeds(n: 1000, Array(repeating: (40, 110, 10), count: 10))   // d = 0.1
        let r = OnionStatistics.compare(excess, control: .randomRemoval), s = OnionStatistics.compare(Self.flat, control: .reseed)
        #expect(r.outcome == .exceeds && r.clearsDelta && s.outcome == .doesNotExceed)
        let v = OnionStatistics.decide(random: r, reseed: s, delta: 0.05, preconditions: [])
        #expect(v.outcome == .inconclusive && !v.clearsDelta)
        #expect(v.reasons == ["the controls disagree: the deletion arm exceeds random removal but not reseeding (does_not_exceed)"])
        // One exceeds, the other cannot tell: both reasons.
        let w = OnionStatistics.decide(random: r, reseed: OnionStatistics.compare(Self.noisy, control: .reseed), delta: 0.05, preconditions: [])
        #expect(w.outcome == .inconclusive)
        #expect(w.reasons.contains { $0.hasPrefix("against reseeding the difference +0.200") })
        #expect(w.reasons.contains { $0.hasPrefix("underpowered") })
        #expect(w.reasons.last == "the controls disagree: the deletion arm exceeds random removal but not reseeding (inconclusive)")
    }

    @Test(arguments: ["control unmatched", "budget not comparable", "calibrate memorisation first"])
    func eachPreconditionMakesItInconclusiveWhateverTheNumbers(_ precondition: String) {
        let r = OnionStatistics.compare(Self.clearer, control: .randomRemoval), s = OnionStatistics.compare(Self.clearer, control: .reseed)
        let v = OnionStatistics.decide(random: r, reseed: s, delta: 0.05, preconditions: [precondition])
        #expect(v.outcome == .inconclusive && v.reasons == [precondition] && !v.clearsDelta)
        #expect(v.comparisons.allSatisfy { $0.outcome == .exceeds })   // the numbers are still reported
        #expect(v.summary.hasSuffix("(Δ = 0.05); \(precondition)."))
        #expect(OnionStatistics.decide(random: r, reseed: s, delta: 0.05, preconditions: []).outcome == .exceeds)
    }

    @Test func preconditionsComeBeforeTheNumbersReasons() throws {
        let v = OnionStatistics.decide(random: OnionStatistics.compare(Self.noisy, control: .randomRemoval),
                                       reseed: OnionStatistics.compare(Self.noisy, control: .reseed), delta: 0.05,
                                       preconditions: ["control unmatched", "budget not comparable"])
        try #require(v.reasons.count == 5)
        #expect(Array(v.reasons.prefix(2)) == ["control unmatched", "budget not comparable"])
        #expect(v.reasons[2].hasPrefix("against random removal"))
    }

    @Test func oneSeedHasNoInterval() {
        let one = OnionStatistics.compare([Self.clear[0]], control: .randomRemoval)
        #expect(one.seedsUsed == 1 && one.interval == nil && one.standardError == nil && one.minimumDetectableEffect == nil)
        #expect(one.outcome == .inconclusive && abs(one.difference - 0.15) < 1e-12)
        let v = OnionStatistics.decide(random: one, reseed: OnionStatistics.compare([Self.clear[0]], control: .reseed), delta: 0.05, preconditions: [])
        #expect(v.outcome == .inconclusive && v.minimumDetectableEffect == nil)
        #expect(v.reasons == ["against random removal only 1 seed had subjects to analyse; an interval needs at least 2",
                              "against reseeding only 1 seed had subjects to analyse; an interval needs at least 2"])
        #expect(v.summary.contains("+0.150 (no interval: 1 seed) against random removal"))
        let none = OnionStatistics.compare([Self.pair(1, n: 0, both: 0, d: 0, c: 0)], control: .reseed)
        #expect(none.seedsUsed == 0 && none.seedsDropped == 1 && none.difference.isNaN && none.outcome == .inconclusive)
    }

    @Test func theVerdictEncodesWithTheSchemaKeys() throws {
        let v = OnionStatistics.decide(random: OnionStatistics.compare(Self.clear, control: .randomRemoval),
                                       reseed: OnionStatistics.compare(Self.flat, control: .reseed), delta: 0.05, preconditions: [])
        let data = try JSONEncoder().encode(v)
        let text = String(decoding: data, as: UTF8.self)
        for key in ["\"difference_ci_95\"", "\"seeds_used\"", "\"seeds_dropped\"", "\"invalid_seeds\"", "\"standard_error\"", "\"variance_floor_used\"",
                    "\"minimum_detectable_effect\"", "\"clears_delta\"", "\"rules_out_delta\"", "\"random_removal\"", "\"does_not_exceed\"", "\"summary\""] {
            #expect(text.contains(key), "\(key)")
        }
        #expect(try JSONDecoder().decode(OnionVerdict.self, from: data) == v)
        let seed = try JSONEncoder().encode(Self.clear[0])
        #expect(String(decoding: seed, as: UTF8.self).contains("\"deletion_only\""))
    }

    // MARK: Secondary endpoint

    @Test func theScoreChangeHasTheSameTInterval() {
        let s = OnionStatistics.scoreChange([[0.15, 0.25], [0.25, 0.35], [0.35, 0.45], []], control: .reseed)
        #expect(s.seedsUsed == 3 && s.seedsDropped == 1)
        #expect(abs(s.estimate - 0.3) < 1e-12)
        let se = (0.01 / 3).squareRoot()   // seed means 0.2, 0.3, 0.4 (variance 0.01); floor mean(0.005/2) = 0.0025
        #expect(!s.varianceFloorUsed && abs(s.standardError! - se) < 1e-12)
        #expect(abs(s.interval!.low - (0.3 - Self.t975df2 * se)) < 1e-6)
        let equal = OnionStatistics.scoreChange([[0, 1], [0, 1], [0, 1]], control: .reseed)
        #expect(equal.varianceFloorUsed && abs(equal.standardError! - (0.25 / 3).squareRoot()) < 1e-12)
        let means = OnionStatistics.scoreChange(seedMeans: [0.2, 0.3, 0.4], control: .reseed)
        #expect(abs(means.standardError! - se) < 1e-12 && means.seedsUsed == 3)
        #expect(OnionStatistics.scoreChange(seedMeans: [0.2], control: .reseed).interval == nil)
    }

    // MARK: Exact distributions

    @Test func tQuantilesMatchTheTables() {
        for (p, df, t) in [(0.975, 1, 12.706205), (0.975, 2, 4.302653), (0.975, 4, 2.776445), (0.975, 9, 2.262157),
                           (0.975, 30, 2.042272), (0.975, 1000, 1.962339), (0.80, 2, 1.060660), (0.80, 9, 0.883404), (0.025, 4, -2.776445)] {
            #expect(abs(OnionStatistics.tQuantile(p, degreesOfFreedom: df) - t) < 1e-6, "t(\(p), \(df))")
        }
    }

    @Test func clopperPearsonMatchesKnownValues() {
        func near(_ i: Interval, _ lo: Double, _ hi: Double) -> Bool { abs(i.low - lo) < 5e-5 && abs(i.high - hi) < 5e-5 }
        #expect(near(OnionStatistics.clopperPearson(successes: 0, trials: 10, level: 0.95), 0, 0.3085))
        #expect(abs(OnionStatistics.clopperPearson(successes: 0, trials: 10).high - (1 - pow(0.025, 0.1))) < 1e-10)
        #expect(near(OnionStatistics.clopperPearson(successes: 8, trials: 10, level: 0.95), 0.4439, 0.9748))
        #expect(near(OnionStatistics.clopperPearson(successes: 5, trials: 10), 0.1871, 0.8129))
        #expect(near(OnionStatistics.clopperPearson(successes: 10, trials: 10), 0.6915, 1))
        #expect(near(OnionStatistics.clopperPearson(successes: 1, trials: 20), 0.001265, 0.248733))
        #expect(OnionStatistics.clopperPearson(successes: 0, trials: 0) == Interval(low: 0, high: 1))
        // I_½(2, 3) = P(Binomial(4, ½) ≥ 2) = 11/16.
        #expect(abs(OnionStatistics.regularizedIncompleteBeta(0.5, 2, 3) - 11.0 / 16) < 1e-14)
    }

    // MARK: Prospective power

    @Test func theProspectiveMDESolvesItsEquation() throws {
        let (S, n, p0, tau) = (5, 150, 0.08, 0.04)
        func mde(_ S: Int, _ n: Int, _ tau: Double) -> Double? { OnionStatistics.prospectiveMDE(seeds: S, subjects: n, baselineNewlyRate: p0, betweenSeedSD: tau) }
        let m = try #require(mde(S, n, tau))
        let M = 2.776445 + 0.940965   // t₀.₉₇₅,₄ + t₀.₈₀,₄
        let a = M * M / Double(S * n), b = M * M * (tau * tau + 2 * p0 * (1 - p0) / Double(n)) / Double(S)
        #expect(abs(m - (a + (a * a + 4 * b).squareRoot()) / 2) < 1e-5)
        // More seeds, more subjects or less seed noise: a smaller MDE.
        #expect(try #require(mde(10, n, tau)) < m)
        #expect(try #require(mde(S, 600, tau)) < m)
        #expect(try #require(mde(S, n, 0.01)) < m)
        // No test is possible with one seed or nobody to compare: no MDE, and a reason.
        #expect(mde(1, n, tau) == nil && mde(S, 0, tau) == nil)
        #expect(OnionStatistics.prospectiveUnavailable(seeds: 1, subjects: n)?.contains("1 evaluation seed") == true)
        #expect(OnionStatistics.prospectiveUnavailable(seeds: S, subjects: 0) != nil && OnionStatistics.prospectiveUnavailable(seeds: S, subjects: n) == nil)

        let need = try #require(OnionStatistics.seedsNeeded(delta: 0.05, subjects: n, baselineNewlyRate: p0, betweenSeedSD: tau))
        #expect(try #require(mde(need, n, tau)) <= 0.05)
        #expect(try #require(mde(need - 1, n, tau)) > 0.05)
        #expect(OnionStatistics.seedsNeeded(delta: 0.01, subjects: n, baselineNewlyRate: p0, betweenSeedSD: 0.2) == nil)
        #expect(OnionStatistics.seedsNeeded(delta: 0.5, subjects: 1000, baselineNewlyRate: 0.01, betweenSeedSD: 0) == 2)
    }

    // MARK: Simulation

    /// Seeds of the onion experiment under a known truth. Each arm at each seed gets its own
    /// training effect u ~ N(0, 0.57²) on the logit of its rate (between-seed SD of an arm's
    /// rate ≈ 0.03); each subject of a seed a propensity z ~ N(0, 2.2²) shared by the three arms
    /// (outcomes correlated across arms, φ ≈ 0.3); a subject is newly vulnerable in an arm with
    /// probability logistic(−4 + u + z) (mean rate ≈ 0.083). An effect δ: in the deletion arm each
    /// subject is also made newly vulnerable with probability q = δ/(1 − p̄), so that the
    /// expected rate difference is exactly δ.
    struct World {
        static let mu = -4.0, seedSD = 0.57, subjectSD = 2.2, subjects = 150
        var rng: SplitMix64
        mutating func uniform() -> Double { (Double(rng.next() >> 11) + 0.5) * 0x1p-53 }
        mutating func normal() -> Double { (-2 * log(uniform())).squareRoot() * cos(2 * Double.pi * uniform()) }
        static func logistic(_ x: Double) -> Double { 1 / (1 + exp(-x)) }

        /// One seed: the deletion arm against random removal and against reseeding.
        mutating func seed(_ s: UInt64, extra q: Double) -> (random: PairedSeed, reseed: PairedSeed) {
            let uD = Self.seedSD * normal(), uR = Self.seedSD * normal(), uS = Self.seedSD * normal()
            var tR = (0, 0, 0), tS = (0, 0, 0)   // both, deletion only, control only
            for _ in 0..<Self.subjects {
                let z = Self.subjectSD * normal()
                let d = uniform() < Self.logistic(Self.mu + uD + z) || uniform() < q
                let r = uniform() < Self.logistic(Self.mu + uR + z), t = uniform() < Self.logistic(Self.mu + uS + z)
                if d && r { tR.0 += 1 } else if d { tR.1 += 1 } else if r { tR.2 += 1 }
                if d && t { tS.0 += 1 } else if d { tS.1 += 1 } else if t { tS.2 += 1 }
            }
            return (OnionDecisionTests.pair(s, n: Self.subjects, both: tR.0, d: tR.1, c: tR.2), OnionDecisionTests.pair(s, n: Self.subjects, both: tS.0, d: tS.1, c: tS.2))
        }

        /// E f(x), x ~ N(0, 1), by the trapezoid rule on [−8, 8].
        static func gaussian(_ f: (Double) -> Double) -> Double {
            let h = 0.01
            var sum = 0.0, weight = 0.0
            for i in -800...800 {
                let x = Double(i) * h, w = exp(-x * x / 2)
                sum += w * f(x); weight += w
            }
            return sum / weight
        }
        /// The mean rate p̄ and the between-seed SD of an arm's expected rate.
        static func truth() -> (mean: Double, seedSD: Double) {
            let grid = stride(from: -6.0, through: 6.0, by: 0.05).map { u in (u, exp(-u * u / 2)) }
            let rates = grid.map { u in (gaussian { logistic(mu + seedSD * u.0 + subjectSD * $0) }, u.1) }
            let total = rates.reduce(0) { $0 + $1.1 }
            let m = rates.reduce(0) { $0 + $1.0 * $1.1 } / total
            let v = rates.reduce(0) { $0 + ($1.0 - m) * ($1.0 - m) * $1.1 } / total
            return (m, v.squareRoot())
        }
    }

    struct Batch {
        var runs = 0, covered = [0, 0], exceeds = [0, 0], fewer = [0, 0], verdictExceeds = 0, verdictFewer = 0
        var mdeSum = 0.0
        func rate(_ k: Int) -> Double { Double(k) / Double(runs) }
    }

    static func simulate(seeds S: Int, replicates: Int, effect: Double, pBar: Double, rngSeed: UInt64) -> Batch {
        var world = World(rng: SplitMix64(seed: rngSeed))
        var b = Batch()
        let q = effect / (1 - pBar)
        for _ in 0..<replicates {
            var random: [PairedSeed] = [], reseed: [PairedSeed] = []
            for s in 0..<S {
                let (r, t) = world.seed(UInt64(s + 1), extra: q)
                random.append(r); reseed.append(t)
            }
            let cs = [OnionStatistics.compare(random, control: .randomRemoval, delta: 0.05),
                      OnionStatistics.compare(reseed, control: .reseed, delta: 0.05)]
            let v = OnionStatistics.decide(random: cs[0], reseed: cs[1], delta: 0.05, preconditions: [])
            b.runs += 1
            for (i, c) in cs.enumerated() {
                if c.interval!.low <= effect && effect <= c.interval!.high { b.covered[i] += 1 }
                if c.outcome == .exceeds { b.exceeds[i] += 1 }
                if c.outcome == .fewer { b.fewer[i] += 1 }
            }
            if v.outcome == .exceeds { b.verdictExceeds += 1 }
            if v.outcome == .fewer { b.verdictFewer += 1 }
            b.mdeSum += cs[0].minimumDetectableEffect!
        }
        return b
    }

    /// Coverage, false `exceeds`/`fewer` under the null, and power at the MDE the null runs
    /// computed (their average): the interval and the MDE mean what they say.
    @Test(arguments: [3, 5, 10])
    func simulatedCoverageErrorRatesAndPower(seeds S: Int) {
        let truth = World.truth()
        #expect(abs(truth.seedSD - 0.03) < 0.003)
        let reps = 2000
        let null = Self.simulate(seeds: S, replicates: reps, effect: 0, pBar: truth.mean, rngSeed: 0x0_0410 &+ UInt64(S))
        let mde = null.mdeSum / Double(reps)
        let alt = Self.simulate(seeds: S, replicates: reps, effect: mde, pBar: truth.mean, rngSeed: 0xA17 &+ UInt64(S))
        // The prospective MDE from the model's own parameters (τ = √2 · the arm's between-seed SD).
        let prospective = OnionStatistics.prospectiveMDE(seeds: S, subjects: World.subjects, baselineNewlyRate: truth.mean,
                                                         betweenSeedSD: 2.0.squareRoot() * truth.seedSD) ?? .nan
        print(String(format: "OnionDecision simulation S=%d (n=%d, p̄=%.3f, seed SD of a rate %.4f, %d replicates each): "
                     + "coverage null %.4f/%.4f, at MDE %.4f/%.4f (random/reseed); null exceeds %.4f/%.4f, fewer %.4f/%.4f, "
                     + "verdict exceeds %.4f, verdict fewer %.4f; mean MDE %.4f (prospective %.4f); power at MDE %.4f/%.4f, verdict %.4f",
                     S, World.subjects, truth.mean, truth.seedSD, reps,
                     null.rate(null.covered[0]), null.rate(null.covered[1]), alt.rate(alt.covered[0]), alt.rate(alt.covered[1]),
                     null.rate(null.exceeds[0]), null.rate(null.exceeds[1]), null.rate(null.fewer[0]), null.rate(null.fewer[1]),
                     null.rate(null.verdictExceeds), null.rate(null.verdictFewer), mde, prospective,
                     alt.rate(alt.exceeds[0]), alt.rate(alt.exceeds[1]), alt.rate(alt.verdictExceeds)))
        for i in 0..<2 {
            #expect(null.rate(null.covered[i]) >= 0.93)
            #expect(alt.rate(alt.covered[i]) >= 0.93)
            #expect(null.rate(null.exceeds[i]) <= 0.035)
            #expect(null.rate(null.fewer[i]) <= 0.035)
            #expect(alt.rate(alt.exceeds[i]) >= 0.65 && alt.rate(alt.exceeds[i]) <= 0.95)
        }
        #expect(null.rate(null.verdictExceeds) <= 0.05)
        #expect(null.rate(null.verdictFewer) <= 0.05)
        #expect(abs(prospective / mde - 1) < 0.25)
    }
}
