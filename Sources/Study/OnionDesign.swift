// The onion round's design as pure stages (docs/methods.md, "The onion study"): who is deleted
// (ranked on selection models, never on the evaluation seeds), who the random-removal control
// removes (one subject of the same activity stratum per deleted subject, drawn afresh for every
// evaluation seed), and what each evaluation seed contributes to the comparison (one analysis set,
// paired per subject). No state, no files: values in, values out.

import Foundation
import Support

/// Ranks the deletion targets on the selection models.
enum TargetSelection {
    /// The `k` most vulnerable of `present`: vulnerable under most selection models, then by mean
    /// extraction score over them, then by id. Subjects never vulnerable under any selection
    /// model are not targets (deleting them tests nothing); fewer than `k` may come back.
    static func rank(present: Set<String>, selection: [TestOutcome], k: Int) -> [String] {
        var votes: [String: Int] = [:]
        for o in selection { for s in o.vulnerable where present.contains(s) { votes[s, default: 0] += 1 } }
        func score(_ s: String) -> Double {
            let xs = selection.compactMap { $0.scores[s] }
            return xs.isEmpty ? -.infinity : xs.reduce(0, +) / Double(xs.count)
        }
        let ranked = votes.keys.sorted { a, b in
            let (va, vb) = (votes[a]!, votes[b]!)
            if va != vb { return va > vb }
            let (sa, sb) = (score(a), score(b))
            return sa != sb ? sa > sb : a < b
        }
        return Array(ranked.prefix(k))
    }

    /// Mean number of subjects (of `present`) vulnerable per selection model.
    static func meanVulnerable(present: Set<String>, selection: [TestOutcome]) -> Double {
        guard !selection.isEmpty else { return 0 }
        return Double(selection.reduce(0) { $0 + $1.vulnerable.filter(present.contains).count }) / Double(selection.count)
    }
}

/// Activity strata of the fine-tuning members: deciles of the tokens they wrote. The random
/// control removes, for every deleted subject, one subject of the same stratum — the control of
/// Carlini et al. (2022, random points of the same count) made fair for people who write very
/// different amounts.
struct ActivityStrata: Sendable {
    /// Subject → stratum (0 = least active).
    let stratum: [String: Int]
    let count: Int

    init(tokens: [String: Int], strata: Int = 10) {
        let ordered = tokens.keys.sorted { (tokens[$0]!, $0) < (tokens[$1]!, $1) }
        let n = max(1, ordered.count), q = max(1, strata)
        var m: [String: Int] = [:]
        for (i, s) in ordered.enumerated() { m[s] = min(q - 1, i * q / n) }
        stratum = m; count = q
    }

    struct Draw: Sendable, Equatable {
        var chosen: [String]
        /// Deleted subjects whose stratum had no present subject left: matched from the nearest
        /// stratum instead (reported; the token ratio then decides whether the control is matched).
        var outOfStratum: Int
        /// Deleted subjects for whom no present subject was left at all (the control removes fewer).
        var unmatched = 0
    }

    /// One subject per deleted subject, from `pool` (every present subject of the control arm,
    /// vulnerable or not, the deletion targets included), same stratum, without replacement, in an
    /// order seeded by `seed`.
    func draw(for deleted: [String], pool: Set<String>, seed: UInt64) -> Draw {
        var rng = SplitMix64(seed: mix64(seed ^ 0x57A7_A0DE))
        var byStratum: [Int: [String]] = [:]
        for s in pool.sorted() { if let k = stratum[s] { byStratum[k, default: []].append(s) } }
        var out = Draw(chosen: [], outOfStratum: 0)
        for d in deleted.sorted() {
            let want = stratum[d] ?? 0
            // Nearest strata first; between two equally near, a seeded coin (no drift to either side).
            let coin = rng.next() & 1 == 0
            let order = (0..<count).sorted { (abs($0 - want), coin ? $0 : -$0) < (abs($1 - want), coin ? $1 : -$1) }
            guard let k = order.first(where: { !(byStratum[$0] ?? []).isEmpty }) else { out.unmatched += 1; continue }
            if k != want { out.outOfStratum += 1 }
            let j = Int(rng.next() % UInt64(byStratum[k]!.count))
            out.chosen.append(byStratum[k]!.remove(at: j))
        }
        return out
    }
}

/// One evaluation seed of one round, every arm scored on the same analysis set.
struct SeedAnalysis: Sendable {
    /// Subjects present in every arm, not vulnerable under this seed's baseline (round 0) model,
    /// and testable (owning a value the fixed test prompts for).
    let analysisSet: Set<String>
    /// Per arm: the analysis subjects vulnerable in this round (newly vulnerable).
    let newly: [Arm: Set<String>]

    init(testable: Set<String>, members: Set<String>, removed: [Arm: Set<String>], baseline: TestOutcome, outcomes: [Arm: TestOutcome]) {
        let present = removed.values.reduce(members) { $0.subtracting($1) }
        analysisSet = present.intersection(testable).subtracting(baseline.vulnerable)
        let set = analysisSet
        newly = outcomes.mapValues { Set($0.vulnerable).intersection(set) }
    }

    /// The paired counts of the deletion arm against `control` on `subjects` (the analysis set,
    /// or a subset of it: the sensitivity analysis).
    func paired(_ control: Arm, seed: UInt64, within subjects: Set<String>? = nil) -> PairedSeed {
        let a = subjects.map { $0.intersection(analysisSet) } ?? analysisSet
        let d = newly[.deletion]!.intersection(a), c = newly[control]!.intersection(a)
        return PairedSeed(seed: seed, subjects: a.count, deletionNewly: d.count, controlNewly: c.count,
                          deletionOnly: d.subtracting(c).count, controlOnly: c.subtracting(d).count)
    }

    /// Each analysis-set subject's change in extraction score, deletion − control, in subject
    /// order (subjects without a score in either arm are left out).
    func scoreChanges(_ control: Arm, _ outcomes: [Arm: TestOutcome]) -> [Double] {
        analysisSet.sorted().compactMap { s -> Double? in
            guard let a = outcomes[.deletion]?.scores[s], let b = outcomes[control]?.scores[s], a.isFinite, b.isFinite else { return nil }
            return a - b
        }
    }
}
