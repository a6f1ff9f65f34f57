// Step 4 of the study (DESIGN.md): onion rounds. Each round plans the removals of the three arms
// (the K most vulnerable subjects; never-vulnerable subjects matched on the deletion arm's
// cumulative records; nothing), retrains every arm with every seed, audits, and decides the
// round's verdict (Verdict.swift). Vulnerability is always judged by the ownership fixed before
// any deletion.

import Audit
import Foundation
import Support
import GPT

/// Everything the rounds carry from one to the next.
struct OnionState {
    let seeds: [UInt64]
    let baseline: [StudyRunner.RunRecord]
    /// Subjects removed so far, and their records, per arm.
    var removed: [Arm: Set<String>]
    var cumulativeRecords: [Arm: Int]
    /// Per arm and seed: the vulnerable set of every round so far (round 0 first).
    var history: [Arm: [[Set<String>]]]
    /// The previous round's runs per arm (seed order).
    var previous: [Arm: [StudyRunner.RunRecord]]
    /// The subjects the deletion arm removed in round 1: the unlearning comparison forgets them.
    var forgetSet: Set<String> = []

    init(baseline: [StudyRunner.RunRecord], seeds: [UInt64]) {
        self.seeds = seeds; self.baseline = baseline
        removed = Dictionary(uniqueKeysWithValues: Arm.allCases.map { ($0, []) })
        cumulativeRecords = Dictionary(uniqueKeysWithValues: Arm.allCases.map { ($0, 0) })
        history = Dictionary(uniqueKeysWithValues: Arm.allCases.map { a in (a, baseline.map { [Set($0.outcome.vulnerable)] }) })
        previous = Dictionary(uniqueKeysWithValues: Arm.allCases.map { ($0, baseline) })
    }
}

extension StudyRunner {
    func recordCount(_ subjects: [String]) -> Int { subjects.reduce(0) { $0 + (recordsOf[$1]?.count ?? 0) } }

    func present(_ st: OnionState, _ arm: Arm) -> Set<String> { Set(recordsOf.keys).subtracting(st.removed[arm]!) }

    /// Every arm of round r retrains with the same fresh seed (seed + 1000·r): within a seed the
    /// arms differ only in their data, so the deletion arm's newly vulnerable subjects carry the
    /// same retraining noise as the reseed arm's, and the comparison is paired.
    func runSeed(_ st: OnionState, _ arm: Arm, _ i: Int, round: Int) -> UInt64 { st.seeds[i] &+ UInt64(1000 * round) }

    /// The K most vulnerable present subjects: vulnerable in most seeds of the previous round,
    /// then by mean score, then by id.
    func planDeletion(_ st: OnionState) -> [String] {
        let prev = st.previous[.deletion]!
        func votes(_ a: String) -> Int { prev.filter { $0.outcome.vulnerable.contains(a) }.count }
        func score(_ a: String) -> Double { prev.compactMap { $0.outcome.scores[a] }.reduce(0, +) / Double(max(1, prev.count)) }
        let ranked = present(st, .deletion).sorted { a, b in
            let (va, vb) = (votes(a), votes(b))
            if va != vb { return va > vb }
            let (sa, sb) = (score(a), score(b))
            return sa != sb ? sa > sb : a < b
        }
        return Array(ranked.prefix(s.removePerRound))
    }

    /// Random removal: present subjects never vulnerable in any seed of this arm, in a seeded
    /// order, matched on `target` records; when they run out, the least exposed of the rest (lowest
    /// mean baseline score over seeds).
    func planRandom(_ st: OnionState, target: Int, round: Int) -> RecordMatching.Choice {
        let everVulnerable = st.history[.randomRemoval]!.reduce(Set<String>()) { acc, rounds in rounds.reduce(acc) { $0.union($1) } }
        let pool = present(st, .randomRemoval)
        let preferred = seededShuffle(pool.subtracting(everVulnerable).sorted(), seed: s.seed &+ UInt64(round) &* 7919)
        func baselineScore(_ a: String) -> Double {
            let xs = st.baseline.compactMap { $0.outcome.scores[a] }
            return xs.isEmpty ? -.infinity : xs.reduce(0, +) / Double(xs.count)
        }
        let fallback = pool.intersection(everVulnerable).sorted { (baselineScore($0), $0) < (baselineScore($1), $1) }
        return RecordMatching.pick(target: target, preferred: preferred.map { ($0, recordsOf[$0]!.count) },
                                   fallback: fallback.map { ($0, recordsOf[$0]!.count) })
    }

    func seedResult(_ st: OnionState, _ arm: Arm, _ i: Int, _ rr: RunRecord, round: Int) -> SeedResult {
        let presentNow = present(st, arm)
        let v = Set(rr.outcome.vulnerable).intersection(presentNow)
        let earlier = st.history[arm]![i].reduce(Set<String>()) { $0.union($1) }
        let prev = st.history[arm]![i].last!.intersection(presentNow)
        let newly = v.subtracting(earlier)
        let removedOwners = rr.outcome.extractedOwners.filter { st.removed[arm]!.contains($0) }
        return SeedResult(seed: runSeed(st, arm, i, round: round), vulnerable: v.map(key).sorted(), newlyVulnerable: newly.map(key).sorted(),
                          persistence: prev.isEmpty ? nil : Double(v.intersection(prev).count) / Double(prev.count),
                          jaccardPrevious: jaccard(v, prev), jaccardEarlier: jaccard(v, earlier.intersection(presentNow)),
                          eligible: presentNow.intersection(rr.outcome.testable).subtracting(earlier).count, extractedValues: rr.outcome.extractedValues, values: rr.outcome.values,
                          removedStillExtractable: Set(removedOwners).count, removedStillExtractableValues: removedOwners.count,
                          unownedExtracted: rr.outcome.unownedExtracted,
                          heldOutOwnedExtracted: rr.outcome.extractedOwners.filter { recordsOf[$0] == nil }.count, trainSteps: rr.steps, finalLoss: rr.loss)
    }

    /// The fine-tune of `arm`, seed `i` in round `r`, with the arm's removals so far.
    func roundSpec(_ st: OnionState, _ arm: Arm, _ i: Int, round r: Int, base: TrainSpec.Base) -> TrainSpec {
        finetuneSpec("round\(r)_\(arm.rawValue)_seed\(i)", base: base, removed: st.removed[arm]!, seed: runSeed(st, arm, i, round: r),
                     baselineSteps: st.baseline[0].steps, arm: arm.rawValue, round: r)
    }

    /// Starts every round's reseeded fine-tunes and their audits in the background: the reseed
    /// arm removes nothing, so they depend on no audit; the rounds then find them done (or wait
    /// for them).
    func startReseeded(_ st: OnionState, base: TrainSpec.Base) throws -> [JobFuture<RunRecord>] {
        guard s.rounds > 0 else { return [] }
        let specs = (1...s.rounds).flatMap { r in st.seeds.indices.map { roundSpec(st, .reseed, $0, round: r, base: base) } }
        for sp in specs { try register(sp) }
        try planBook.write()
        return specs.map { sp in scheduler.spawn(priority: JobScheduler.background) { try self.fineTuneAndAudit(sp, removed: []) } }
    }

    func onionRound(_ r: Int, base: TrainSpec.Base, state st: inout OnionState) throws -> StudyRound {
        let del = planDeletion(st)
        if r == 1 { st.forgetSet = Set(del) }
        let target = st.cumulativeRecords[.deletion]! + recordCount(del)
        let rand = planRandom(st, target: target - st.cumulativeRecords[.randomRemoval]!, round: r)
        let plans: [Arm: [String]] = [.deletion: del, .randomRemoval: rand.chosen, .reseed: []]
        // The round's removals are decided: every arm and seed is a job, all planned now and run
        // concurrently (they depend only on the previous round's audits).
        for arm in Arm.allCases {
            st.removed[arm]!.formUnion(plans[arm]!)
            st.cumulativeRecords[arm]! += recordCount(plans[arm]!)
        }
        let frozen = st
        let specs = Arm.allCases.flatMap { arm in frozen.seeds.indices.map { i in (arm, roundSpec(frozen, arm, i, round: r, base: base)) } }
        for (_, sp) in specs { try register(sp) }
        planBook.round(r, planned: true, waitsFor: [], jobs: specs.map(\.1.id))
        try planBook.write()
        report(.stage("round \(r): \(specs.count) fine-tunes + audits (\(Arm.allCases.count) arms × \(st.seeds.count) seeds)"))
        let all = try scheduler.run(specs.map { arm, sp in { try self.fineTuneAndAudit(sp, removed: frozen.removed[arm]!) } })
        var arms: [Arm: ArmRound] = [:]
        var counts: [Arm: [SeedCount]] = [:]
        for (a, arm) in Arm.allCases.enumerated() {
            let results = Array(all[(a * st.seeds.count)..<((a + 1) * st.seeds.count)])
            let seedResults = results.indices.map { seedResult(st, arm, $0, results[$0], round: r) }
            for i in results.indices { st.history[arm]![i].append(Set(results[i].outcome.vulnerable).intersection(present(st, arm))) }
            counts[arm] = seedResults.map { SeedCount(newly: $0.newlyVulnerable.count, eligible: $0.eligible) }
            let removedRecords = plans[arm]!.flatMap { recordsOf[$0] ?? [] }
            arms[arm] = ArmRound(removed: plans[arm]!.map(key).sorted(), removedTotal: st.removed[arm]!.count, removedRecords: removedRecords.count,
                                 removedTokens: removedRecords.reduce(0) { $0 + tokensOf($1).count }, cumulativeRecords: st.cumulativeRecords[arm]!,
                                 recordsToMatch: arm == .randomRemoval ? target : nil,
                                 matched: arm == .randomRemoval ? VerdictStatistics.matched(deletion: target, random: st.cumulativeRecords[arm]!) : nil,
                                 fallbackSubjects: arm == .randomRemoval ? rand.fallbackUsed : nil,
                                 vulnerable: seedResults[0].vulnerable, newlyVulnerable: seedResults[0].newlyVulnerable,
                                 seeds: ArmSeeds(results: seedResults, summary: summarize(seedResults, counts[arm]!, arm: arm, round: r)))
            st.previous[arm] = results
        }
        let conditions = VerdictConditions(deletionRecords: st.cumulativeRecords[.deletion]!, randomRecords: st.cumulativeRecords[.randomRemoval]!,
                                           baselineVulnerableMean: mean(st.baseline.map { Double($0.outcome.vulnerable.count) }), subjects: recordsOf.count)
        let verdict = VerdictStatistics.decide(deletion: counts[.deletion]!, random: counts[.randomRemoval]!, reseed: counts[.reseed]!, conditions: conditions,
                                               resamples: s.bootstrapResamples, seed: s.seed ^ UInt64(r) &* 0x51ED)
        return StudyRound(round: r, arms: arms, verdict: verdict, statement: statement(r, arms, verdict))
    }

    func statement(_ r: Int, _ arms: [Arm: ArmRound], _ v: RoundVerdict) -> String {
        let d = arms[.deletion]!, c = arms[.randomRemoval]!
        func rate(_ a: ArmRound) -> String {
            let s = a.seeds.summary
            return String(format: "%.3f [%.3f, %.3f]", s.newlyVulnerableRate, s.newlyVulnerableRateCI.low, s.newlyVulnerableRateCI.high)
        }
        var out = "Round \(r): newly vulnerable rate \(rate(d)) after deleting the \(d.removed.count) most vulnerable subjects (\(d.cumulativeRecords) records removed so far), "
        out += "against \(rate(c)) after random removal of \(c.cumulativeRecords) records and \(rate(arms[.reseed]!)) from reseeding alone. Paired by seed: "
        out += v.comparisons.map { String(format: "deletion − %@ %+.3f [%.3f, %.3f]", $0.control.rawValue, $0.difference, $0.differenceCI.low, $0.differenceCI.high) }.joined(separator: ", ")
        out += String(format: "; minimum detectable effect %.3f. Verdict: %@", v.minimumDetectableEffect, v.outcome.rawValue)
        out += v.reasons.isEmpty ? "." : " — " + v.reasons.joined(separator: "; ") + "."
        if let f = c.fallbackSubjects, f > 0 {
            out += " The random control ran out of never-vulnerable subjects and also removed the \(f) least exposed of the others."
        }
        return out
    }

    func jaccard(_ a: Set<String>, _ b: Set<String>) -> Double? {
        let u = a.union(b).count
        return u == 0 ? nil : Double(a.intersection(b).count) / Double(u)
    }

    /// Means over seeds; the newly-vulnerable rate's interval from the hierarchical bootstrap.
    func summarize(_ rs: [SeedResult], _ counts: [SeedCount], arm: Arm, round: Int) -> ArmSummary {
        let n = Double(rs.count)
        let rates = counts.compactMap(\.rate)
        let ps = rs.compactMap(\.persistence), js = rs.compactMap(\.jaccardPrevious)
        let seed = s.seed ^ UInt64(round) &* 31 ^ UInt64(Arm.allCases.firstIndex(of: arm)! + 1) &* 0x9E37
        return ArmSummary(vulnerableMean: Double(rs.reduce(0) { $0 + $1.vulnerable.count }) / n,
                          newlyVulnerableMean: Double(rs.reduce(0) { $0 + $1.newlyVulnerable.count }) / n,
                          newlyVulnerableRate: rates.isEmpty ? .nan : mean(rates),
                          newlyVulnerableRateCI: VerdictStatistics.rateInterval(counts, resamples: s.bootstrapResamples, seed: seed),
                          persistenceMean: ps.isEmpty ? nil : mean(ps), jaccardPreviousMean: js.isEmpty ? nil : mean(js))
    }
}
