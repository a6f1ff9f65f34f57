// The onion study's verdict (METHODS.md, "Verdict statistics"): does deleting the most vulnerable
// subjects make more of the others newly vulnerable than either control does?
//
// Unit of analysis: (seed, subject). The deletion arm and each control are compared paired by
// seed (the difference of their newly-vulnerable rates within a seed). Intervals come from a
// hierarchical bootstrap: seeds are resampled with replacement, then the subjects within each
// drawn seed — by a Bayesian bootstrap with a Jeffreys prior, i.e. the seed's rate is drawn from
// Beta(k + ½, n − k + ½), so that zero counts never give a [0, 0] interval. The verdict is
// `exceeds`, `does_not_exceed` or `inconclusive`, with reasons, and the minimum detectable
// effect says how strong an effect a null result rules out. Pure functions: tested with hand-made
// counts whose answers are known.

import Audit
import Foundation
import Support

/// One seed's newly-vulnerable count among the subjects eligible to become so.
public struct SeedCount: Codable, Sendable, Equatable {
    public var newly: Int
    public var eligible: Int
    public init(newly: Int, eligible: Int) { self.newly = newly; self.eligible = eligible }
    var rate: Double? { eligible > 0 ? Double(newly) / Double(eligible) : nil }
}

public enum VerdictOutcome: String, Codable, Sendable {
    case exceeds
    case doesNotExceed = "does_not_exceed"
    case inconclusive
}

/// The deletion arm against one control, paired by seed.
public struct ControlComparison: Codable, Sendable, Equatable {
    public var control: Arm
    /// Mean over seeds of (deletion rate − control rate).
    public var difference: Double
    public var differenceCI: Interval
    /// Smallest difference this run detects with 80% power at α = 0.05.
    public var minimumDetectableEffect: Double
    public var outcome: VerdictOutcome
    enum CodingKeys: String, CodingKey {
        case control, difference, outcome
        case differenceCI = "difference_ci_95", minimumDetectableEffect = "minimum_detectable_effect"
    }
}

public struct RoundVerdict: Codable, Sendable, Equatable {
    public var outcome: VerdictOutcome
    /// Why the verdict is inconclusive (empty otherwise).
    public var reasons: [String]
    public var comparisons: [ControlComparison]
    /// The largest of the comparisons' minimum detectable effects: a null result rules out
    /// effects at least this large.
    public var minimumDetectableEffect: Double
    enum CodingKeys: String, CodingKey { case outcome, reasons, comparisons, minimumDetectableEffect = "minimum_detectable_effect" }
}

/// What the verdict needs to know besides the counts: whether its preconditions hold.
public struct VerdictConditions: Sendable {
    /// Cumulative records removed by the deletion arm and by the random control.
    public var deletionRecords: Int
    public var randomRecords: Int
    /// Mean number of vulnerable subjects in the baseline, and the subjects audited.
    public var baselineVulnerableMean: Double
    public var subjects: Int
    public init(deletionRecords: Int, randomRecords: Int, baselineVulnerableMean: Double, subjects: Int) {
        self.deletionRecords = deletionRecords; self.randomRecords = randomRecords
        self.baselineVulnerableMean = baselineVulnerableMean; self.subjects = subjects
    }
}

public enum VerdictStatistics {
    public static let minimumEligible = 20
    public static let matchTolerance = 0.10
    /// The baseline needs at least this share of subjects (and at least 2) vulnerable.
    public static let minimumBaselineVulnerableShare = 0.05
    static let z975 = 1.959963984540054, z80 = 0.8416212335729143
    /// Fewer seeds than this cannot estimate the between-seed variance: inconclusive.
    public static let minimumSeeds = 3
    /// Student t quantiles 0.975 and 0.80 for 1…30 degrees of freedom (normal beyond).
    static let t975: [Double] = [12.706205, 4.302653, 3.182446, 2.776445, 2.570582, 2.446912, 2.364624, 2.306004, 2.262157, 2.228139,
                                 2.200985, 2.178813, 2.160369, 2.144787, 2.131450, 2.119905, 2.109816, 2.100922, 2.093024, 2.085963,
                                 2.079614, 2.073873, 2.068658, 2.063899, 2.059539, 2.055529, 2.051831, 2.048407, 2.045230, 2.042272]
    static let t80: [Double] = [1.376382, 1.060660, 0.978472, 0.940965, 0.919544, 0.905703, 0.896030, 0.888890, 0.883404, 0.879058,
                                0.875530, 0.872609, 0.870152, 0.868055, 0.866245, 0.864667, 0.863279, 0.862049, 0.860951, 0.859964,
                                0.859074, 0.858266, 0.857530, 0.856855, 0.856236, 0.855665, 0.855137, 0.854647, 0.854192, 0.853767]
    /// (t₀.₉₇₅ + t₀.₈) with S − 1 degrees of freedom.
    static func powerMultiplier(seeds S: Int) -> Double {
        let df = S - 1
        return df >= 1 && df <= t975.count ? t975[df - 1] + t80[df - 1] : z975 + z80
    }

    /// Matched within tolerance: |random − deletion| ≤ 10% of the deletion's records.
    public static func matched(deletion: Int, random: Int) -> Bool {
        Double(abs(random - deletion)) <= matchTolerance * Double(deletion)
    }

    /// The hierarchical bootstrap of a statistic over seeds: each replicate draws seeds with
    /// replacement and, for each drawn seed, one rate per arm from Beta(k + ½, n − k + ½).
    static func replicates(_ arms: [[SeedCount]], resamples: Int, seed: UInt64, statistic: ([[Double]]) -> Double) -> [Double] {
        let S = arms.map(\.count).min() ?? 0
        guard S > 0 else { return [] }
        var rng = SplitMix64(seed: mix64(seed ^ 0xB007_57A7))
        var out: [Double] = []
        out.reserveCapacity(resamples)
        for _ in 0..<max(1, resamples) {
            var draws = [[Double]](repeating: [], count: arms.count)
            for _ in 0..<S {
                let i = Int(rng.next() % UInt64(S))
                for (a, counts) in arms.enumerated() {
                    let c = counts[i]
                    draws[a].append(Beta.sample(Double(c.newly) + 0.5, Double(c.eligible - c.newly) + 0.5, &rng))
                }
            }
            out.append(statistic(draws))
        }
        return out
    }

    /// 95% interval of an arm's mean newly-vulnerable rate over seeds.
    public static func rateInterval(_ counts: [SeedCount], resamples: Int, seed: UInt64) -> Interval {
        let usable = counts.filter { $0.eligible > 0 }
        guard !usable.isEmpty else { return Interval(low: .nan, high: .nan) }
        return Metrics.percentileInterval(replicates([usable], resamples: resamples, seed: seed) { mean($0[0]) })
    }

    /// Mean over seeds of the within-seed difference, and its 95% interval.
    public static func pairedDifference(deletion: [SeedCount], control: [SeedCount], resamples: Int, seed: UInt64) -> (Double, Interval) {
        let pairs = zip(deletion, control).filter { $0.0.eligible > 0 && $0.1.eligible > 0 }
        guard !pairs.isEmpty else { return (.nan, Interval(low: .nan, high: .nan)) }
        let d = pairs.map(\.0), c = pairs.map(\.1)
        let observed = mean(zip(d, c).map { $0.rate! - $1.rate! })
        let reps = replicates([d, c], resamples: resamples, seed: seed) { mean(zip($0[0], $0[1]).map { $0 - $1 }) }
        return (observed, Metrics.percentileInterval(reps))
    }

    /// (t₀.₉₇₅ + t₀.₈, S − 1 degrees of freedom)·SE of the mean paired difference, SE from the
    /// control's per-seed rate variance: the larger of its between-seed sample variance and the
    /// binomial variance at the pooled (Jeffreys-smoothed) rate of both arms; the paired
    /// difference of two such rates has twice that variance.
    public static func minimumDetectableEffect(deletion: [SeedCount], control: [SeedCount]) -> Double {
        let c = control.filter { $0.eligible > 0 }, d = deletion.filter { $0.eligible > 0 }
        let S = min(c.count, d.count)
        guard S > 0 else { return .nan }
        let rates = c.map { $0.rate! }
        let m = mean(rates)
        let between = rates.count > 1 ? rates.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(rates.count - 1) : 0
        let k = Double((c + d).reduce(0) { $0 + $1.newly }), n = Double((c + d).reduce(0) { $0 + $1.eligible })
        let p = (k + 0.5) / (n + 1)
        let meanEligible = n / Double(c.count + d.count)
        let binomial = p * (1 - p) / meanEligible
        let se = (2 * max(between, binomial) / Double(S)).squareRoot()
        return min(1, powerMultiplier(seeds: S) * se)   // a difference of rates is at most 1
    }

    /// One comparison's outcome: `exceeds` when the interval lies above 0; `does_not_exceed`
    /// when its upper end lies at or below 0 or below the minimum detectable effect; otherwise
    /// `inconclusive`. The round: `exceeds` when both comparisons exceed, `does_not_exceed` when
    /// both do not, otherwise (or when a precondition fails) `inconclusive` with the reasons.
    public static func compare(deletion: [SeedCount], control: [SeedCount], arm: Arm, resamples: Int, seed: UInt64) -> ControlComparison {
        let (diff, ci) = pairedDifference(deletion: deletion, control: control, resamples: resamples, seed: seed)
        let mde = minimumDetectableEffect(deletion: deletion, control: control)
        let outcome: VerdictOutcome
        if !ci.low.isFinite || !ci.high.isFinite { outcome = .inconclusive }
        else if ci.low > 0 { outcome = .exceeds }
        else if ci.high <= 0 || ci.high < mde { outcome = .doesNotExceed }
        else { outcome = .inconclusive }
        return ControlComparison(control: arm, difference: diff, differenceCI: ci, minimumDetectableEffect: mde, outcome: outcome)
    }

    /// The round's verdict against both controls.
    public static func decide(deletion: [SeedCount], random: [SeedCount], reseed: [SeedCount], conditions: VerdictConditions,
                              resamples: Int, seed: UInt64) -> RoundVerdict {
        let comparisons = [compare(deletion: deletion, control: random, arm: .randomRemoval, resamples: resamples, seed: seed ^ 1),
                           compare(deletion: deletion, control: reseed, arm: .reseed, resamples: resamples, seed: seed ^ 2)]
        var reasons: [String] = []
        if !matched(deletion: conditions.deletionRecords, random: conditions.randomRecords) {
            reasons.append("the random-removal control removed \(conditions.randomRecords) records against the deletion arm's \(conditions.deletionRecords) (more than 10% off), so it does not control for the amount of data removed")
        }
        let seeds = min(deletion.count, random.count, reseed.count)
        if seeds < minimumSeeds {
            reasons.append("only \(seeds) seed\(seeds == 1 ? "" : "s") per arm (at least \(minimumSeeds) are needed to estimate how much retraining alone moves the vulnerable set)")
        }
        let minEligible = (deletion + random + reseed).map(\.eligible).min() ?? 0
        if minEligible < minimumEligible {
            reasons.append("only \(minEligible) subjects were eligible to become newly vulnerable in some arm and seed (at least \(minimumEligible) are needed)")
        }
        let needed = max(2, minimumBaselineVulnerableShare * Double(conditions.subjects))
        if conditions.baselineVulnerableMean < needed {
            reasons.append(String(format: "the baseline has %.1f vulnerable subjects on average (at least %.0f needed): the deletion arm removes no one the attack found; calibrate memorisation first (more fine-tuning epochs, a higher learning rate, or --rounds 0)", conditions.baselineVulnerableMean, needed.rounded(.up)))
        }
        let mde = comparisons.map(\.minimumDetectableEffect).filter(\.isFinite).max() ?? .nan
        if !reasons.isEmpty { return RoundVerdict(outcome: .inconclusive, reasons: reasons, comparisons: comparisons, minimumDetectableEffect: mde) }
        let outcome: VerdictOutcome
        if comparisons.allSatisfy({ $0.outcome == .exceeds }) { outcome = .exceeds }
        else if comparisons.allSatisfy({ $0.outcome == .doesNotExceed }) { outcome = .doesNotExceed }
        else { outcome = .inconclusive }
        if outcome == .inconclusive {
            for c in comparisons where c.outcome == .inconclusive {
                reasons.append(String(format: "against %@ the paired difference's interval [%.3f, %.3f] includes 0 and effects up to the minimum detectable effect %.3f: the run cannot tell", c.control.rawValue, c.differenceCI.low, c.differenceCI.high, c.minimumDetectableEffect))
            }
            if comparisons.contains(where: { $0.outcome == .exceeds }) && comparisons.contains(where: { $0.outcome == .doesNotExceed }) {
                reasons.append("the controls disagree: the deletion arm exceeds " + comparisons.filter { $0.outcome == .exceeds }.map(\.control.rawValue).joined(separator: ", ")
                               + " but not " + comparisons.filter { $0.outcome == .doesNotExceed }.map(\.control.rawValue).joined(separator: ", "))
            }
        }
        return RoundVerdict(outcome: outcome, reasons: reasons, comparisons: comparisons, minimumDetectableEffect: mde)
    }
}

/// Choosing the random-removal control's subjects: as many records as the deletion arm removed,
/// cumulatively over rounds.
public enum RecordMatching {
    public struct Choice: Sendable, Equatable {
        public var chosen: [String]
        public var records: Int
        /// How many of the chosen came from the fallback (least-exposed) list.
        public var fallbackUsed: Int
    }

    /// Walks `preferred` (subjects never vulnerable, in a seeded random order) taking a subject
    /// whenever it brings the total closer to `target`; if that ends more than 10% off, goes on
    /// with `fallback` (the least exposed of the rest, lowest score first) the same way.
    public static func pick(target: Int, preferred: [(subject: String, records: Int)], fallback: [(subject: String, records: Int)]) -> Choice {
        var c = Choice(chosen: [], records: 0, fallbackUsed: 0)
        func walk(_ list: [(subject: String, records: Int)], fallback: Bool) {
            for (s, n) in list {
                if c.records == target { return }
                if abs(c.records + n - target) < abs(c.records - target) {
                    c.chosen.append(s); c.records += n
                    if fallback { c.fallbackUsed += 1 }
                }
            }
        }
        walk(preferred, fallback: false)
        if !VerdictStatistics.matched(deletion: target, random: c.records) { walk(fallback, fallback: true) }
        return c
    }
}

/// Beta and Gamma variates (Marsaglia and Tsang 2000), from a SplitMix64 stream.
enum Beta {
    static func sample(_ a: Double, _ b: Double, _ rng: inout SplitMix64) -> Double {
        let x = gamma(a, &rng), y = gamma(b, &rng)
        return x + y > 0 ? x / (x + y) : 0.5
    }

    static func uniform(_ rng: inout SplitMix64) -> Double { (Double(rng.next() >> 11) + 0.5) / 9_007_199_254_740_992 }

    static func normal(_ rng: inout SplitMix64) -> Double {
        (-2 * log(uniform(&rng))).squareRoot() * cos(2 * Double.pi * uniform(&rng))
    }

    static func gamma(_ shape: Double, _ rng: inout SplitMix64) -> Double {
        if shape < 1 { return gamma(shape + 1, &rng) * pow(uniform(&rng), 1 / shape) }
        let d = shape - 1.0 / 3, c = 1 / (9 * d).squareRoot()
        while true {
            var x = 0.0, v = 0.0
            repeat { x = normal(&rng); v = 1 + c * x } while v <= 0
            v = v * v * v
            let u = uniform(&rng)
            if u < 1 - 0.0331 * x * x * x * x || log(u) < 0.5 * x * x + d * (1 - v + log(v)) { return d * v }
        }
    }
}
