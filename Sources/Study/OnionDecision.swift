// The privacy-onion verdict, pre-registered: does deleting the most vulnerable subjects make OTHER
// subjects newly vulnerable, more than either control (random removal of as many, stratified by
// activity; reseeding with nothing removed) does?
//
// Pure functions over counts the study has already made; nothing here trains, reads or draws.
//
// The unit of replication is the evaluation seed. Each seed gives, on one analysis set of n_s
// subjects (present in every arm, not vulnerable at that seed's baseline, testable), each
// subject's binary "newly vulnerable" in the deletion arm and in a control arm: paired by subject.
// Per seed, the difference of the two rates d_s is a paired difference of proportions; across
// seeds, the d_s are treated as S independent draws (training randomness differs per seed), so the
// interval is a one-sample t interval on them. Why not a bootstrap or a pooled test:
//   * the between-seed variation of training is the dominant noise (a retrained model's vulnerable
//     set moves), and only the spread of d_s over seeds measures it; pooling subjects across seeds
//     would count it as if it were subject-level noise and give intervals far too narrow;
//   * with S = 3…10 seeds a bootstrap over seeds cannot reach 95% (3 seeds have 10 distinct
//     resamples), while the t interval with S − 1 degrees of freedom is exact for normal d_s and
//     close for binomial-plus-seed-effect d_s (checked by simulation in OnionDecisionTests);
//   * with few seeds the sample variance can be tiny by chance (equal d_s give 0), so it is
//     floored by the within-seed McNemar variance, which is always part of Var(d_s).
//
// The decision rule, with Δ the smallest excess of interest (an absolute difference of
// newly-vulnerable rates, default 0.05):
//   exceeds          the interval lies above 0 (against both controls, for the round);
//   fewer            the interval lies below 0 (deletion protects the others);
//   does_not_exceed  the upper end is below Δ: an excess of Δ or more is ruled out. Never "passes"
//                    on a wide interval that only rules out large effects;
//   inconclusive     anything else, with the reasons (and always when a precondition failed).
// The minimum detectable effect (MDE) says what this run could have detected, so an
// `inconclusive` says how many more seeds it would take rather than merely "cannot tell".

import Audit
import Foundation

// MARK: - Input

/// One evaluation seed's paired counts on its analysis set: the deletion arm against one control.
public struct PairedSeed: Codable, Sendable, Equatable {
    public var seed: UInt64
    /// n_s: the subjects of this seed's analysis set (present in every arm, not vulnerable at this
    /// seed's baseline, testable).
    public var subjects: Int
    /// Newly vulnerable in the deletion arm (among the n_s).
    public var deletionNewly: Int
    /// Newly vulnerable in the control arm (among the same n_s).
    public var controlNewly: Int
    /// Discordant pairs: newly vulnerable in the deletion arm but not in the control.
    public var deletionOnly: Int
    /// Discordant pairs: newly vulnerable in the control but not in the deletion arm.
    public var controlOnly: Int

    public init(seed: UInt64, subjects: Int, deletionNewly: Int, controlNewly: Int, deletionOnly: Int, controlOnly: Int) {
        self.seed = seed; self.subjects = subjects
        self.deletionNewly = deletionNewly; self.controlNewly = controlNewly
        self.deletionOnly = deletionOnly; self.controlOnly = controlOnly
    }

    enum CodingKeys: String, CodingKey {
        case seed, subjects
        case deletionNewly = "deletion_newly", controlNewly = "control_newly"
        case deletionOnly = "deletion_only", controlOnly = "control_only"
    }

    /// Why these counts cannot come from one 2×2 table of paired outcomes, or nil when they can:
    /// every count within 0…n, the discordant pairs within their arm's count, the concordant
    /// "newly in both" the same from either arm (deletionNewly − deletionOnly = controlNewly −
    /// controlOnly, i.e. deletionNewly − controlNewly = deletionOnly − controlOnly), and at most n
    /// subjects in the three non-empty cells together.
    public var inconsistency: String? {
        let n = subjects
        if n < 0 { return "seed \(seed): \(n) subjects" }
        for (name, k) in [("deletion_newly", deletionNewly), ("control_newly", controlNewly),
                          ("deletion_only", deletionOnly), ("control_only", controlOnly)] where k < 0 || k > n {
            return "seed \(seed): \(name) = \(k) is outside 0…\(n)"
        }
        if deletionNewly - controlNewly != deletionOnly - controlOnly {
            return "seed \(seed): deletion_newly − control_newly = \(deletionNewly - controlNewly) but deletion_only − control_only = \(deletionOnly - controlOnly)"
        }
        if deletionOnly > deletionNewly || controlOnly > controlNewly {
            return "seed \(seed): more discordant pairs than newly vulnerable subjects in an arm"
        }
        if deletionNewly + controlOnly > n {
            return "seed \(seed): \(deletionNewly + controlOnly) subjects newly vulnerable in either arm, more than the \(n) analysed"
        }
        return nil
    }
}

// MARK: - Results

public enum OnionOutcome: String, Codable, Sendable {
    /// Deleting the most vulnerable made others newly vulnerable: the interval lies above 0.
    case exceeds
    /// Deleting them made fewer others newly vulnerable than the control: the interval lies below 0.
    case fewer
    /// An excess of Δ or more is ruled out: the interval's upper end lies below Δ.
    case doesNotExceed = "does_not_exceed"
    /// None of the above, or a precondition failed.
    case inconclusive
}

/// The deletion arm against one control, paired by subject within a seed and by seed across seeds.
public struct OnionComparison: Codable, Sendable, Equatable {
    public var control: Arm
    /// Seeds in the estimate (n_s > 0 and consistent counts).
    public var seedsUsed: Int
    /// Seeds left out because their analysis set was empty (n_s = 0).
    public var seedsDropped: Int
    /// Seeds whose counts are inconsistent (`PairedSeed.inconsistency`): left out of the numbers,
    /// and they make the comparison inconclusive, since the study miscounted somewhere.
    public var invalidSeeds: [UInt64]
    /// Mean over seeds of d_s = (deletionNewly − controlNewly)/n_s (NaN without a seed).
    public var difference: Double
    /// mean ± t₀.₉₇₅,S−1 · standardError; nil with fewer than 2 seeds. Not clipped to [−1, 1].
    public var interval: Interval?
    /// √(v/S), v = max(sample variance of d_s, the McNemar floor); nil with fewer than 2 seeds.
    public var standardError: Double?
    /// Whether the floor was larger than the sample variance (so v is the floor).
    public var varianceFloorUsed: Bool
    /// The smallest true difference this run detects (interval above 0) with 80% power; may be
    /// ≥ 1, which means no effect at all is detectable. nil with fewer than 2 seeds.
    public var minimumDetectableEffect: Double?
    public var outcome: OnionOutcome
    /// The interval's lower end is at least Δ: an excess of at least Δ is shown.
    public var clearsDelta: Bool
    /// The interval's upper end is below Δ: an excess of Δ or more is ruled out.
    public var rulesOutDelta: Bool

    public init(control: Arm, seedsUsed: Int, seedsDropped: Int, invalidSeeds: [UInt64], difference: Double, interval: Interval?,
                standardError: Double?, varianceFloorUsed: Bool, minimumDetectableEffect: Double?, outcome: OnionOutcome,
                clearsDelta: Bool, rulesOutDelta: Bool) {
        self.control = control; self.seedsUsed = seedsUsed; self.seedsDropped = seedsDropped; self.invalidSeeds = invalidSeeds
        self.difference = difference; self.interval = interval; self.standardError = standardError
        self.varianceFloorUsed = varianceFloorUsed; self.minimumDetectableEffect = minimumDetectableEffect
        self.outcome = outcome; self.clearsDelta = clearsDelta; self.rulesOutDelta = rulesOutDelta
    }

    enum CodingKeys: String, CodingKey {
        case control, difference, outcome
        case seedsUsed = "seeds_used", seedsDropped = "seeds_dropped", invalidSeeds = "invalid_seeds"
        case interval = "difference_ci_95", standardError = "standard_error", varianceFloorUsed = "variance_floor_used"
        case minimumDetectableEffect = "minimum_detectable_effect", clearsDelta = "clears_delta", rulesOutDelta = "rules_out_delta"
    }
}

/// The round's verdict against both controls.
public struct OnionVerdict: Codable, Sendable, Equatable {
    public var outcome: OnionOutcome
    /// Why it is inconclusive: the failed preconditions first, then what the numbers leave open.
    /// Empty for the other outcomes.
    public var reasons: [String]
    /// Against random removal, then against reseeding.
    public var comparisons: [OnionComparison]
    public var delta: Double
    /// `exceeds` and both lower ends at least Δ: an excess of at least Δ is shown against both.
    public var clearsDelta: Bool
    /// The larger of the comparisons' MDEs (nil when a comparison has none). Each is at 80% power
    /// for its own comparison; `exceeds` needs both, so at that effect the round's power is lower
    /// (65–69% in OnionDecisionTests' simulation with 3–10 seeds).
    public var minimumDetectableEffect: Double?
    /// The verdict in one sentence, with the numbers.
    public var summary: String

    enum CodingKeys: String, CodingKey {
        case outcome, reasons, comparisons, delta, summary
        case clearsDelta = "clears_delta", minimumDetectableEffect = "minimum_detectable_effect"
    }
}

/// The secondary, continuous endpoint: the mean paired change in a subject's extraction score
/// (score in the deletion arm − score in the control, log-likelihood per token of the subject's
/// values) over the analysis set, with the same t(S − 1) interval over seeds. Reported beside the
/// verdict; it decides nothing (it was not pre-registered as the decision).
public struct OnionScoreChange: Codable, Sendable, Equatable {
    public var control: Arm
    /// Seeds with at least one subject difference (empty seeds are dropped, and counted).
    public var seedsUsed: Int
    public var seedsDropped: Int
    /// Mean over seeds of the per-seed mean paired change.
    public var estimate: Double
    /// nil with fewer than 2 seeds.
    public var interval: Interval?
    public var standardError: Double?
    public var varianceFloorUsed: Bool

    enum CodingKeys: String, CodingKey {
        case control, estimate, interval = "estimate_ci_95"
        case seedsUsed = "seeds_used", seedsDropped = "seeds_dropped", standardError = "standard_error", varianceFloorUsed = "variance_floor_used"
    }
}

// MARK: - Statistics

public enum OnionStatistics {
    /// The smallest excess of interest, an absolute difference of newly-vulnerable rates.
    public static let defaultDelta = 0.05
    /// The power the minimum detectable effects are computed at.
    public static let defaultPower = 0.80

    // MARK: Primary comparison

    /// The deletion arm against one control (pre-registered; see the file's header).
    ///
    ///     d_s   = (deletionNewly_s − controlNewly_s) / n_s            seeds with n_s = 0 dropped
    ///     floor = mean_s (b_s + c_s + 1) / n_s²                       b, c the discordant pairs
    ///     v     = max(sample variance of d_s (S − 1), floor)
    ///     CI    = mean d_s ± t₀.₉₇₅,S−1 · √(v/S)
    ///
    /// (b + c)/n² is the McNemar variance of a paired difference of proportions, a part of every
    /// seed's Var(d_s) whatever the seeds do; its mean over seeds therefore bounds v from below, so
    /// equal d_s (sample variance 0) cannot give a zero-width interval. The +1 keeps it above 0
    /// when no pair is discordant (0 of n is not "exactly 0": it is < 3/n at 95%).
    /// The outcome: `exceeds` if low > 0, `fewer` if high < 0, `does_not_exceed` if high < Δ,
    /// else `inconclusive`; fewer than 2 seeds, or any inconsistent seed, is `inconclusive`.
    public static func compare(_ seeds: [PairedSeed], control: Arm, delta: Double = defaultDelta) -> OnionComparison {
        var invalid: [UInt64] = []
        var seen = Set<UInt64>()
        var used: [PairedSeed] = []
        var dropped = 0
        for s in seeds {
            if s.inconsistency != nil || !seen.insert(s.seed).inserted { invalid.append(s.seed); continue }
            if s.subjects == 0 { dropped += 1; continue }
            used.append(s)
        }
        let S = used.count
        let d = used.map { Double($0.deletionNewly - $0.controlNewly) / Double($0.subjects) }
        let m = S > 0 ? d.reduce(0, +) / Double(S) : .nan
        guard S >= 2 else {
            return OnionComparison(control: control, seedsUsed: S, seedsDropped: dropped, invalidSeeds: invalid, difference: m,
                                   interval: nil, standardError: nil, varianceFloorUsed: false, minimumDetectableEffect: nil,
                                   outcome: .inconclusive, clearsDelta: false, rulesOutDelta: false)
        }
        let sampleVariance = d.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(S - 1)
        let floor = used.reduce(0.0) { acc, s in
            let n = Double(s.subjects)
            return acc + Double(s.deletionOnly + s.controlOnly + 1) / (n * n)
        } / Double(S)
        let v = max(sampleVariance, floor)
        let se = (v / Double(S)).squareRoot()
        let half = tQuantile(0.975, degreesOfFreedom: S - 1) * se
        let interval = Interval(low: m - half, high: m + half)
        let meanInverseN = used.reduce(0) { $0 + 1 / Double($1.subjects) } / Double(S)
        let mde = minimumDetectableEffect(variance: v, meanInverseSubjects: meanInverseN, seeds: S)
        let result = invalid.isEmpty ? outcome(interval, delta: delta) : .inconclusive
        return OnionComparison(control: control, seedsUsed: S, seedsDropped: dropped, invalidSeeds: invalid, difference: m,
                               interval: interval, standardError: se, varianceFloorUsed: floor > sampleVariance,
                               minimumDetectableEffect: mde, outcome: result,
                               clearsDelta: invalid.isEmpty && interval.low >= delta, rulesOutDelta: invalid.isEmpty && interval.high < delta)
    }

    /// One comparison's outcome from its interval (the order matters: an interval below 0 is
    /// `fewer`, which also rules out Δ).
    public static func outcome(_ ci: Interval, delta: Double) -> OnionOutcome {
        switch IntervalPosition(ci, delta: delta) {
        case .aboveZero: return .exceeds
        case .belowZero: return .fewer
        case .belowDelta: return .doesNotExceed
        case .open: return .inconclusive
        }
    }

    /// The minimum detectable effect of the test actually run (two-sided 95%, power 80%), from the
    /// paired differences, at the alternative:
    ///
    ///     MDE = (t₀.₉₇₅,S−1 + t₀.₈₀,S−1) · √(v_alt / S),   v_alt = v + MDE · mean_s(1/n_s)
    ///
    /// solved by fixed-point iteration from MDE₀ = (t₀.₉₇₅ + t₀.₈₀)·√(v/S). A true excess δ adds
    /// about δ·n_s discordant pairs to a seed, i.e. about δ/n_s to Var(d_s) (the floor's
    /// (b + c + 1 + δ·n_s)/n_s²); it is added to v whichever of the sample variance and the floor
    /// v is, because at the alternative both grow by it. (Adding it to the floor only, inside the
    /// max, ignores it whenever the sample variance is larger: in simulation that MDE gave 72–77%
    /// power instead of 80%.) The map m ↦ M·√((v + m·k)/S) has slope k·M²/(2S·m) ≤ ½ at its fixed
    /// point, so the iteration converges geometrically. Not capped at 1: an MDE ≥ 1 means the run
    /// cannot detect any effect (a rate difference is at most 1), and the reasons say so.
    public static func minimumDetectableEffect(variance v: Double, meanInverseSubjects k: Double, seeds S: Int,
                                               power: Double = defaultPower) -> Double? {
        guard S >= 2, v.isFinite, k.isFinite, v >= 0, k >= 0 else { return nil }
        let M = powerMultiplier(seeds: S, power: power)
        return fixedPoint(start: M * (v / Double(S)).squareRoot()) { M * ((v + $0 * k) / Double(S)).squareRoot() }
    }

    /// t₀.₉₇₅,S−1 + t_power,S−1: a two-sided 95% t test on S paired differences has the given
    /// power against a true mean of (this) · (standard error).
    public static func powerMultiplier(seeds S: Int, power: Double = defaultPower) -> Double {
        tQuantile(0.975, degreesOfFreedom: S - 1) + tQuantile(power, degreesOfFreedom: S - 1)
    }

    // MARK: Prospective power

    /// The MDE a design will have, before anything is trained: S seeds of n analysed subjects, a
    /// baseline newly-vulnerable rate p0 and a committed between-seed SD τ of the per-seed
    /// difference d_s (beyond subject-level noise; if the two arms' rates vary independently over
    /// seeds with SD σ, τ ≈ σ√2). Per-seed variance of d_s:
    ///
    ///     Var(d_s) = τ² + (2·p0(1 − p0) + MDE) / n
    ///
    /// two arms' binomial noise as if unpaired (pairing only lowers it, so this errs on the side
    /// of more seeds), plus the discordance the effect itself adds. MDE = (t₀.₉₇₅,S−1 +
    /// t_power,S−1)·√(Var/S) by fixed-point iteration, as for `minimumDetectableEffect`.
    /// nil for S < 2 or n < 1: no test is possible, so there is no MDE (`prospectiveUnavailable`
    /// says why in words).
    public static func prospectiveMDE(seeds S: Int, subjects n: Int, baselineNewlyRate p0: Double, betweenSeedSD tau: Double,
                                      power: Double = defaultPower) -> Double? {
        guard S >= 2, n >= 1 else { return nil }
        let base = tau * tau + 2 * p0 * (1 - p0) / Double(n)
        return minimumDetectableEffect(variance: base, meanInverseSubjects: 1 / Double(n), seeds: S, power: power)
    }

    /// Why `prospectiveMDE` has no value for S seeds of n subjects (nil when it has one).
    public static func prospectiveUnavailable(seeds S: Int, subjects n: Int) -> String? {
        if S < 2 { return "not computable: \(S) evaluation seed\(S == 1 ? "" : "s") (a t interval over seeds needs at least 2)" }
        if n < 1 { return "not computable: no subject is expected in the analysis set" }
        return nil
    }

    /// The fewest seeds (2…100) whose prospective MDE is at most Δ, or nil when 100 are not enough.
    public static func seedsNeeded(delta: Double = defaultDelta, subjects n: Int, baselineNewlyRate p0: Double, betweenSeedSD tau: Double,
                                   power: Double = defaultPower) -> Int? {
        (2...100).first { (prospectiveMDE(seeds: $0, subjects: n, baselineNewlyRate: p0, betweenSeedSD: tau, power: power) ?? .infinity) <= delta }
    }

    // MARK: The round's verdict

    /// The round's verdict against both controls, in this order:
    ///   * any precondition (the caller's reasons, e.g. "control unmatched", "budget not
    ///     comparable", "calibrate memorisation first") → `inconclusive`, whatever the numbers;
    ///   * `exceeds` when both intervals lie above 0 (`clearsDelta` when both lower ends are ≥ Δ);
    ///   * `fewer` when both lie below 0;
    ///   * `does_not_exceed` when both upper ends are below Δ (one may be below 0): an excess of Δ
    ///     or more is ruled out against both controls;
    ///   * otherwise `inconclusive`, with per comparison why, "underpowered" when the larger MDE
    ///     exceeds Δ, and whether the controls disagree (one exceeds, the other does not).
    /// Both controls are required because each rules out a different explanation: random removal
    /// any removal of data, reseeding the retraining alone.
    public static func decide(random: OnionComparison, reseed: OnionComparison, delta: Double = defaultDelta,
                              preconditions: [String] = []) -> OnionVerdict {
        let cs = [random, reseed]
        let mdes = cs.map(\.minimumDetectableEffect)
        let mde: Double? = mdes.contains(where: { $0 == nil }) ? nil : mdes.compactMap { $0 }.max()
        let numeric: OnionOutcome
        if cs.allSatisfy({ $0.outcome == .exceeds }) { numeric = .exceeds }
        else if cs.allSatisfy({ $0.outcome == .fewer }) { numeric = .fewer }
        // A null result needs the power to see Δ: with near-zero counts the floor alone can squeeze
        // an interval below Δ while the test could not have detected it (a missed plant).
        else if cs.allSatisfy({ $0.invalidSeeds.isEmpty && ($0.interval.map { $0.high < delta } ?? false) }), let m = mde, m <= delta { numeric = .doesNotExceed }
        else { numeric = .inconclusive }

        var reasons = preconditions
        if numeric == .inconclusive {
            for c in cs { reasons += why(c, delta: delta) }
            if let mde, mde > delta {
                reasons.append(mde >= 1
                    ? "underpowered: this run cannot detect any effect (its minimum detectable effect is \(f3(mde)) ≥ 1); more seeds or subjects are needed"
                    : "underpowered: this run could only detect ≥ \(f3(mde)) (Δ = \(fd(delta))); more seeds or subjects are needed")
            }
            let exceeding = cs.filter { $0.outcome == .exceeds }
            if exceeding.count == 1 {
                let other = cs.first { $0.outcome != .exceeds }!
                reasons.append("the controls disagree: the deletion arm exceeds \(name(exceeding[0].control)) but not \(name(other.control)) (\(other.outcome.rawValue))")
            }
        }
        let outcome: OnionOutcome = preconditions.isEmpty ? numeric : .inconclusive
        let clears = outcome == .exceeds && cs.allSatisfy(\.clearsDelta)
        return OnionVerdict(outcome: outcome, reasons: outcome == .inconclusive ? reasons : [], comparisons: cs, delta: delta,
                            clearsDelta: clears, minimumDetectableEffect: mde,
                            summary: summary(outcome, cs, delta: delta, clears: clears, reasons: reasons))
    }

    /// Why one comparison leaves the verdict open (empty when it decides by itself).
    static func why(_ c: OnionComparison, delta: Double) -> [String] {
        var out: [String] = []
        if !c.invalidSeeds.isEmpty {
            out.append("against \(name(c.control)) the counts of seed\(c.invalidSeeds.count == 1 ? "" : "s") \(c.invalidSeeds.map { String($0) }.joined(separator: ", ")) are inconsistent (left out): the study miscounted")
        }
        guard let ci = c.interval else {
            out.append("against \(name(c.control)) only \(c.seedsUsed) seed\(c.seedsUsed == 1 ? "" : "s") had subjects to analyse\(c.seedsDropped > 0 ? " (\(c.seedsDropped) dropped with none)" : ""); an interval needs at least 2")
            return out
        }
        if c.invalidSeeds.isEmpty && c.outcome == .inconclusive {
            out.append("against \(name(c.control)) the difference \(signed(c.difference)) \(bracket(ci)) includes 0 and reaches Δ = \(fd(delta)): the run cannot tell an excess of Δ from none")
        }
        return out
    }

    static func summary(_ outcome: OnionOutcome, _ cs: [OnionComparison], delta: Double, clears: Bool, reasons: [String]) -> String {
        let numbers = cs.map { c -> String in
            let ci = c.interval.map { " " + bracket($0) } ?? " (no interval: \(c.seedsUsed) seed\(c.seedsUsed == 1 ? "" : "s"))"
            return "\(signed(c.difference))\(ci) against \(name(c.control))"
        }.joined(separator: " and ")
        let d = fd(delta)
        switch outcome {
        case .exceeds:
            let clearing = cs.filter(\.clearsDelta)
            let tail = clears ? "both exceed Δ"
                : clearing.isEmpty ? "an excess of Δ or more is not shown"
                : "an excess of Δ or more is shown only against \(name(clearing[0].control))"
            return "Deleting the most vulnerable made others newly vulnerable: \(numbers) (Δ = \(d); \(tail))."
        case .fewer:
            return "Deleting the most vulnerable made fewer others newly vulnerable than either control: \(numbers) (Δ = \(d))."
        case .doesNotExceed:
            return "Deleting the most vulnerable did not make others newly vulnerable by as much as Δ = \(d): \(numbers) rule out an excess of \(d) or more."
        case .inconclusive:
            return "The run cannot say whether deleting the most vulnerable made others newly vulnerable: \(numbers) (Δ = \(d)); \(reasons.joined(separator: "; "))."
        }
    }

    static func name(_ a: Arm) -> String {
        switch a {
        case .randomRemoval: return "random removal"
        case .reseed: return "reseeding"
        case .deletion: return "deletion"
        }
    }
    static func f3(_ x: Double) -> String { String(format: "%.3f", x) }
    static func signed(_ x: Double) -> String { x.isNaN ? "nan" : String(format: "%+.3f", x) }
    static func bracket(_ i: Interval) -> String { "[\(f3(i.low)), \(f3(i.high))]" }
    static func fd(_ x: Double) -> String { String(format: "%g", x) }

    // MARK: Secondary endpoint

    /// The secondary endpoint from each seed's subject-level paired changes (score_deletion −
    /// score_control for each subject of that seed's analysis set, log-likelihood per token).
    /// Seeds with no subject are dropped and counted; non-finite changes are ignored. The
    /// estimate is the mean over seeds of the per-seed means; the interval, as for the primary,
    /// mean ± t₀.₉₇₅,S−1·√(v/S) with v = max(sample variance of the per-seed means, mean_s of
    /// (within-seed variance / n_s)) — the same floor idea: the subject-level sampling variance of
    /// a seed's mean is part of its variance, so equal seed means do not give a zero width.
    public static func scoreChange(_ perSeedSubjectChanges: [[Double]], control: Arm) -> OnionScoreChange {
        let seeds = perSeedSubjectChanges.map { $0.filter(\.isFinite) }
        let usable = seeds.filter { !$0.isEmpty }
        let means = usable.map { $0.reduce(0, +) / Double($0.count) }
        let floor = usable.isEmpty ? 0 : zip(usable, means).reduce(0.0) { acc, pair in
            let (xs, m) = pair
            let w = xs.count > 1 ? xs.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(xs.count - 1) : 0
            return acc + w / Double(xs.count)
        } / Double(usable.count)
        return scoreChange(seedMeans: means, floor: floor, dropped: seeds.count - usable.count, control: control)
    }

    /// The same from per-seed means alone (no within-seed floor: the sample variance only).
    public static func scoreChange(seedMeans: [Double], control: Arm) -> OnionScoreChange {
        let finite = seedMeans.filter(\.isFinite)
        return scoreChange(seedMeans: finite, floor: 0, dropped: seedMeans.count - finite.count, control: control)
    }

    static func scoreChange(seedMeans xs: [Double], floor: Double, dropped: Int, control: Arm) -> OnionScoreChange {
        let S = xs.count
        let m = S > 0 ? xs.reduce(0, +) / Double(S) : .nan
        guard S >= 2 else {
            return OnionScoreChange(control: control, seedsUsed: S, seedsDropped: dropped, estimate: m, interval: nil, standardError: nil,
                                    varianceFloorUsed: false)
        }
        let sv = xs.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(S - 1)
        let se = (max(sv, floor) / Double(S)).squareRoot()
        let half = tQuantile(0.975, degreesOfFreedom: S - 1) * se
        return OnionScoreChange(control: control, seedsUsed: S, seedsDropped: dropped, estimate: m,
                                interval: Interval(low: m - half, high: m + half), standardError: se, varianceFloorUsed: floor > sv)
    }

    // MARK: Exact distributions

    /// The exact (Clopper–Pearson) interval of a binomial proportion: the lower end solves
    /// P(X ≥ k | p) = α/2, i.e. I_p(k, n − k + 1) = α/2, the upper P(X ≤ k | p) = α/2, i.e.
    /// I_p(k + 1, n − k) = 1 − α/2 (0 and 1 at k = 0 and k = n), each by bisection on the
    /// regularized incomplete beta function. [0, 1] for n = 0.
    public static func clopperPearson(successes k: Int, trials n: Int, level: Double = 0.95) -> Interval {
        precondition(n >= 0 && k >= 0 && k <= n && level > 0 && level < 1, "clopperPearson: need 0 ≤ k ≤ n and 0 < level < 1")
        guard n > 0 else { return Interval(low: 0, high: 1) }
        let alpha = 1 - level
        let a = Double(k), b = Double(n - k)
        let low = k == 0 ? 0 : bisect(0, 1) { regularizedIncompleteBeta($0, a, b + 1) - alpha / 2 }
        let high = k == n ? 1 : bisect(0, 1) { regularizedIncompleteBeta($0, a + 1, b) - (1 - alpha / 2) }
        return Interval(low: low, high: high)
    }

    /// The p-quantile of Student's t with ν degrees of freedom (ν ≥ 1, 0 < p < 1), by bisection on
    /// its CDF: for t ≥ 0, P(T ≤ t) = 1 − ½·I_{ν/(ν+t²)}(ν/2, ½). Exact to ~1e-12 for every ν,
    /// so no table and no normal approximation beyond some ν.
    public static func tQuantile(_ p: Double, degreesOfFreedom df: Int) -> Double {
        precondition(df >= 1 && p > 0 && p < 1, "tQuantile: need df ≥ 1 and 0 < p < 1")
        if p == 0.5 { return 0 }
        if p < 0.5 { return -tQuantile(1 - p, degreesOfFreedom: df) }
        let nu = Double(df)
        func cdf(_ t: Double) -> Double { 1 - 0.5 * regularizedIncompleteBeta(nu / (nu + t * t), nu / 2, 0.5) }
        var hi = 1.0
        while cdf(hi) < p { hi *= 2 }
        return bisect(0, hi) { cdf($0) - p }
    }

    /// The regularized incomplete beta function I_x(a, b) (a, b > 0, 0 ≤ x ≤ 1), by its continued
    /// fraction (modified Lentz), on the side x < (a + 1)/(a + b + 2) where it converges fast and
    /// by I_x(a, b) = 1 − I_{1−x}(b, a) on the other.
    public static func regularizedIncompleteBeta(_ x: Double, _ a: Double, _ b: Double) -> Double {
        precondition(a > 0 && b > 0, "regularizedIncompleteBeta: need a, b > 0")
        if x <= 0 { return 0 }
        if x >= 1 { return 1 }
        let front = exp(lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log1p(-x))
        if x < (a + 1) / (a + b + 2) { return front * betaContinuedFraction(x, a, b) / a }
        return 1 - front * betaContinuedFraction(1 - x, b, a) / b
    }

    static func betaContinuedFraction(_ x: Double, _ a: Double, _ b: Double) -> Double {
        let tiny = 1e-300, eps = 1e-15
        var c = 1.0, d = 1 - (a + b) * x / (a + 1)
        if abs(d) < tiny { d = tiny }
        d = 1 / d
        var h = d
        for m in 1...10_000 {
            let m = Double(m), m2 = 2 * m
            var num = m * (b - m) * x / ((a + m2 - 1) * (a + m2))
            d = 1 + num * d; if abs(d) < tiny { d = tiny }
            c = 1 + num / c; if abs(c) < tiny { c = tiny }
            d = 1 / d; h *= d * c
            num = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1))
            d = 1 + num * d; if abs(d) < tiny { d = tiny }
            c = 1 + num / c; if abs(c) < tiny { c = tiny }
            d = 1 / d
            let delta = d * c
            h *= delta
            if abs(delta - 1) < eps { break }
        }
        return h
    }

    /// The root of an increasing f on [lo, hi] (f(lo) ≤ 0 ≤ f(hi)), to the last bits.
    static func bisect(_ lo: Double, _ hi: Double, _ f: (Double) -> Double) -> Double {
        var lo = lo, hi = hi
        for _ in 0..<200 {
            let mid = 0.5 * (lo + hi)
            if mid <= lo || mid >= hi { break }
            if f(mid) < 0 { lo = mid } else { hi = mid }
        }
        return 0.5 * (lo + hi)
    }

    /// Iterates x ← g(x) until it stops moving (relative 1e-13) or 1000 steps.
    static func fixedPoint(start: Double, _ g: (Double) -> Double) -> Double {
        var x = start
        for _ in 0..<1000 {
            let next = g(x)
            if abs(next - x) <= 1e-13 * max(1, abs(next)) { return next }
            x = next
        }
        return x
    }
}
