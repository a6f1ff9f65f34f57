// The statistics both verdicts share: where an interval lies against 0 and the smallest effect of
// interest Δ (the rule each verdict reads its outcome from), Welch's two-sample t interval with
// its minimum detectable effect, and means. The onion verdict is OnionDecision.swift (t over
// seeds); the pre-training leakage verdict is LeakageDecision.swift (Welch over values). The
// distributions (t quantiles, Clopper–Pearson) are in OnionStatistics.

import Audit
import Foundation

/// Where a 95% interval of an effect lies, read in this order.
public enum IntervalPosition: Sendable, Equatable {
    /// The lower end is above 0: an effect is shown.
    case aboveZero
    /// The upper end is below 0: the effect goes the other way (which also rules out Δ).
    case belowZero
    /// The upper end is below Δ: an effect of Δ or more is ruled out.
    case belowDelta
    /// None of these: the interval holds 0 and reaches Δ, or is not finite.
    case open

    public init(_ ci: Interval, delta: Double) {
        guard ci.low.isFinite && ci.high.isFinite else { self = .open; return }
        self = ci.low > 0 ? .aboveZero : ci.high < 0 ? .belowZero : ci.high < delta ? .belowDelta : .open
    }
}

/// mean(A) − mean(B) of two independent samples, with Welch's t interval (unequal variances,
/// Welch–Satterthwaite degrees of freedom, rounded down so the interval errs wide).
public struct HalfContrast: Codable, Sendable, Equatable {
    public var estimate: Double
    public var meanA: Double
    public var meanB: Double
    public var valuesA: Int
    public var valuesB: Int
    /// √(s²_A/n_A + s²_B/n_B); nil with fewer than 2 values in a half.
    public var standardError: Double?
    public var degreesOfFreedom: Double?
    /// estimate ± t₀.₉₇₅,ν · SE.
    public var interval: Interval?
    /// (t₀.₉₇₅,ν + t₀.₈₀,ν) · SE: the smallest true difference this test detects (interval above 0)
    /// with 80% power.
    public var minimumDetectableEffect: Double?

    enum CodingKeys: String, CodingKey {
        case estimate
        case meanA = "mean_a", meanB = "mean_b", valuesA = "values_a", valuesB = "values_b", standardError = "standard_error"
        case degreesOfFreedom = "degrees_of_freedom", interval = "ci_95", minimumDetectableEffect = "minimum_detectable_effect"
    }

    /// Welch's interval of mean(a) − mean(b); non-finite values are left out.
    public static func welch(_ a: [Double], _ b: [Double], power: Double = OnionStatistics.defaultPower) -> HalfContrast {
        let a = a.filter(\.isFinite), b = b.filter(\.isFinite)
        let ma = mean(a), mb = mean(b)
        var c = HalfContrast(estimate: ma - mb, meanA: ma, meanB: mb, valuesA: a.count, valuesB: b.count, standardError: nil,
                             degreesOfFreedom: nil, interval: nil, minimumDetectableEffect: nil)
        guard a.count >= 2, b.count >= 2 else { return c }
        let qa = sampleVariance(a) / Double(a.count), qb = sampleVariance(b) / Double(b.count)
        let se = (qa + qb).squareRoot(), df = degreesOfFreedom(qa, qb, a.count, b.count)
        let half = OnionStatistics.tQuantile(0.975, degreesOfFreedom: max(1, Int(df.rounded(.down)))) * se
        c.standardError = se; c.degreesOfFreedom = df
        c.interval = Interval(low: c.estimate - half, high: c.estimate + half)
        c.minimumDetectableEffect = mde(se: se, degreesOfFreedom: df, power: power)
        return c
    }

    /// Welch–Satterthwaite degrees of freedom of s²_A/n_A = qa and s²_B/n_B = qb; both 0
    /// (identical values): the pooled n_A + n_B − 2, for an interval of width 0.
    static func degreesOfFreedom(_ qa: Double, _ qb: Double, _ na: Int, _ nb: Int) -> Double {
        qa + qb > 0 ? (qa + qb) * (qa + qb) / (qa * qa / Double(na - 1) + qb * qb / Double(nb - 1)) : Double(na + nb - 2)
    }

    /// (t₀.₉₇₅,ν + t_power,ν)·SE with ν the degrees of freedom rounded down (at least 1).
    static func mde(se: Double, degreesOfFreedom df: Double, power: Double) -> Double {
        let nu = max(1, Int(df.rounded(.down)))
        return (OnionStatistics.tQuantile(0.975, degreesOfFreedom: nu) + OnionStatistics.tQuantile(power, degreesOfFreedom: nu)) * se
    }

    /// The MDE this test will have on n_A and n_B values whose per-value numbers have standard
    /// deviation σ in both halves — the prospective power of the leakage verdict, before anything
    /// is trained: (t₀.₉₇₅,ν + t_power,ν)·σ·√(1/n_A + 1/n_B), ν Welch's (here n_A + n_B − 2 for
    /// equal halves) rounded down. nil with fewer than 2 values in a half (no interval).
    public static func prospectiveMDE(valuesA na: Int, valuesB nb: Int, sd: Double, power: Double = OnionStatistics.defaultPower) -> Double? {
        guard na >= 2, nb >= 2, sd.isFinite, sd >= 0 else { return nil }
        let qa = sd * sd / Double(na), qb = sd * sd / Double(nb)
        return mde(se: (qa + qb).squareRoot(), degreesOfFreedom: degreesOfFreedom(qa, qb, na, nb), power: power)
    }
}

/// The arithmetic mean (NaN for none).
func mean(_ xs: [Double]) -> Double { xs.isEmpty ? .nan : xs.reduce(0, +) / Double(xs.count) }

/// The sample variance (n − 1; 0 for fewer than 2).
func sampleVariance(_ xs: [Double]) -> Double {
    guard xs.count >= 2 else { return 0 }
    let m = mean(xs)
    return xs.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(xs.count - 1)
}
