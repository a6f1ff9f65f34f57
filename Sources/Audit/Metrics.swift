// Metrics of membership inference: ROC, AUC, TPR at a fixed low FPR (read off the ROC, never
// interpolated upward), and bootstrap confidence intervals. Pure functions of scores and labels
// (higher score = more likely a member).

import Foundation
import Support

public struct ROCCurve: Codable, Sendable {
    public var fpr: [Double]
    public var tpr: [Double]
}

public struct Interval: Codable, Sendable, Equatable {
    public var low: Double, high: Double
    public init(low: Double, high: Double) { self.low = low; self.high = high }
}

public struct MIAMetrics: Codable, Sendable {
    public var auc: Double
    public var tprAt1pctFPR: Double
    public var tprAt01pctFPR: Double
    public var aucCI: Interval?
    public var tprAt1pctFPRCI: Interval?
    public var tprAt01pctFPRCI: Interval?
    public var members: Int
    public var nonMembers: Int
    /// The ROC curve, thinned to at most 200 points (for plotting; the metrics use the full curve).
    public var roc: ROCCurve?
    enum CodingKeys: String, CodingKey {
        case auc, members, roc
        case tprAt1pctFPR = "tpr_at_1pct_fpr", tprAt01pctFPR = "tpr_at_0.1pct_fpr", aucCI = "auc_ci_95"
        case tprAt1pctFPRCI = "tpr_at_1pct_fpr_ci_95", tprAt01pctFPRCI = "tpr_at_0.1pct_fpr_ci_95", nonMembers = "non_members"
    }
}

public enum Metrics {
    /// ROC points from the highest threshold down; tied scores move together.
    public static func roc(members: [Double], nonMembers: [Double]) -> ROCCurve {
        let all = (members.map { ($0, true) } + nonMembers.map { ($0, false) }).sorted { $0.0 > $1.0 }
        var tp = 0, fp = 0
        var f: [Double] = [0], t: [Double] = [0]
        var i = 0
        while i < all.count {
            let s = all[i].0
            while i < all.count && all[i].0 == s { if all[i].1 { tp += 1 } else { fp += 1 }; i += 1 }
            f.append(nonMembers.isEmpty ? 0 : Double(fp) / Double(nonMembers.count))
            t.append(members.isEmpty ? 0 : Double(tp) / Double(members.count))
        }
        return ROCCurve(fpr: f, tpr: t)
    }

    /// P(score(member) > score(non-member)) + ½ P(tie) (the area under the ROC).
    public static func auc(members: [Double], nonMembers: [Double]) -> Double {
        guard !members.isEmpty, !nonMembers.isEmpty else { return .nan }
        // rank-sum with average ranks for ties
        let all = (members.map { ($0, true) } + nonMembers.map { ($0, false) }).sorted { $0.0 < $1.0 }
        var rankSum = 0.0
        var i = 0
        while i < all.count {
            var j = i
            while j < all.count && all[j].0 == all[i].0 { j += 1 }
            let avg = Double(i + j + 1) / 2  // ranks i+1...j
            for k in i..<j where all[k].1 { rankSum += avg }
            i = j
        }
        let m = Double(members.count), n = Double(nonMembers.count)
        return (rankSum - m * (m + 1) / 2) / (m * n)
    }

    /// The highest TPR among ROC points whose FPR ≤ `fpr` (no interpolation upward).
    public static func tpr(at fpr: Double, _ c: ROCCurve) -> Double {
        var best = 0.0
        for (f, t) in zip(c.fpr, c.tpr) where f <= fpr + 1e-12 { best = max(best, t) }
        return best
    }

    public static func evaluate(members: [Double], nonMembers: [Double], resamples: Int = 1000, seed: UInt64 = 0) -> MIAMetrics {
        let c = roc(members: members, nonMembers: nonMembers)
        var m = MIAMetrics(auc: auc(members: members, nonMembers: nonMembers), tprAt1pctFPR: tpr(at: 0.01, c), tprAt01pctFPR: tpr(at: 0.001, c),
                           members: members.count, nonMembers: nonMembers.count)
        m.roc = thin(c, to: 200)
        guard resamples > 0, !members.isEmpty, !nonMembers.isEmpty else { return m }
        var rng = SplitMix64(auditSeed: seed)
        var aucs: [Double] = [], t1: [Double] = [], t01: [Double] = []
        for _ in 0..<resamples {
            let ms = (0..<members.count).map { _ in members[rng.int(members.count)] }
            let ns = (0..<nonMembers.count).map { _ in nonMembers[rng.int(nonMembers.count)] }
            let rc = roc(members: ms, nonMembers: ns)
            aucs.append(auc(members: ms, nonMembers: ns)); t1.append(tpr(at: 0.01, rc)); t01.append(tpr(at: 0.001, rc))
        }
        m.aucCI = percentileInterval(aucs); m.tprAt1pctFPRCI = percentileInterval(t1); m.tprAt01pctFPRCI = percentileInterval(t01)
        return m
    }

    /// Every `n`-th point of a curve, always keeping the first and last.
    public static func thin(_ c: ROCCurve, to maxPoints: Int) -> ROCCurve {
        guard c.fpr.count > maxPoints, maxPoints >= 2 else { return c }
        let step = Double(c.fpr.count - 1) / Double(maxPoints - 1)
        let idx = (0..<maxPoints).map { Int((Double($0) * step).rounded()) }
        return ROCCurve(fpr: idx.map { c.fpr[$0] }, tpr: idx.map { c.tpr[$0] })
    }

    /// The 2.5th and 97.5th percentiles.
    public static func percentileInterval(_ xs: [Double]) -> Interval {
        let s = xs.sorted()
        func q(_ p: Double) -> Double { s[min(s.count - 1, max(0, Int((p * Double(s.count - 1)).rounded())))] }
        return Interval(low: q(0.025), high: q(0.975))
    }
}
