// One round's comparison (docs/methods.md, "One analysis set"): per evaluation seed one analysis set,
// every arm scored on it; the paired counts against each control; the control's balance
// (tokens removed, activity strata, collateral removal); the verdict, its sensitivity analysis on
// subjects without collateral removal, and the secondary endpoint (change in extraction score).

import Audit
import Corpus
import Foundation
import Support

extension StudyRunner {
    /// Tokens written by `subjects` (their records among the fine-tuning members).
    func tokenCount(_ subjects: Set<String>) -> Int { corpora.records(of: subjects).reduce(0) { $0 + tokensOf($1).count } }

    func roundResult(_ r: Int, targets: [String], draws: [ActivityStrata.Draw], runs: [Arm: [RunRecord]], state st: OnionState) -> StudyRound {
        let S = st.evaluationSeeds.count
        let analyses = (0..<S).map { i in
            SeedAnalysis(testable: fixedTest.testable, members: corpora.members, removed: [.deletion: st.deleted, .randomRemoval: st.random[i], .reseed: []],
                         baseline: st.baseline[i], outcomes: runs.mapValues { $0[i].outcome })
        }
        let removedIds: [[Arm: Set<String>]] = (0..<S).map { i in
            Dictionary(uniqueKeysWithValues: Arm.allCases.map { a in (a, Set(corpora.records(of: st.removed(a, seed: i)).map(\.id))) })
        }
        func collateral(_ x: String, _ a: Arm, _ i: Int) -> Int { fixedTest.collateral(of: x, removedRecords: removedIds[i][a]!) }
        let controls: [Arm] = [.randomRemoval, .reseed]
        var paired: [Arm: [PairedSeed]] = [:]
        for c in controls { paired[c] = analyses.indices.map { analyses[$0].paired(c, seed: UInt64($0)) } }
        // Sensitivity: subjects from whom neither compared arm removed any occurrence of their values.
        let clean = analyses.indices.map { i in analyses[i].analysisSet.filter { collateral($0, .deletion, i) == 0 && collateral($0, .randomRemoval, i) == 0 } }
        let withoutCollateral = controls.map { c in
            OnionStatistics.compare(analyses.indices.map { analyses[$0].paired(c, seed: UInt64($0), within: Set(clean[$0])) }, control: c, delta: s.delta)
        }
        let balance = controlBalance(st, draws: draws, analyses: analyses, collateral: collateral)
        let verdict = OnionStatistics.decide(random: OnionStatistics.compare(paired[.randomRemoval]!, control: .randomRemoval, delta: s.delta),
                                             reseed: OnionStatistics.compare(paired[.reseed]!, control: .reseed, delta: s.delta),
                                             delta: s.delta, preconditions: preconditions(balance, analyses: analyses))
        let scoreChange = controls.map { scoreComparison($0, analyses: analyses, runs: runs) }
        var arms: [Arm: ArmRound] = [:]
        for a in Arm.allCases {
            let seeds = (0..<S).map { i in seedResult(a, i, r, st, analysis: analyses[i], run: runs[a]![i], collateral: collateral) }
            let removedPerSeed: [[String]] = a == .deletion ? [targets.map(key).sorted()]
                : a == .randomRemoval ? draws.map { $0.chosen.map(key).sorted() } : []
            arms[a] = ArmRound(removedPerSeed: removedPerSeed, seeds: seeds, summary: summarize(seeds))
        }
        let round = StudyRound(round: r, primary: r == 1, deletionTargets: targets.map(key).sorted(), selectionModels: st.selection.count, arms: arms,
                               balance: balance, paired: paired, verdict: verdict, withoutCollateral: withoutCollateral, scoreChange: scoreChange, statement: "")
        var out = round
        out.statement = statement(round)
        return out
    }

    func scoreComparison(_ c: Arm, analyses: [SeedAnalysis], runs: [Arm: [RunRecord]]) -> OnionScoreChange {
        OnionStatistics.scoreChange(analyses.indices.map { i in analyses[i].scoreChanges(c, runs.mapValues { $0[i].outcome }) }, control: c)
    }

    /// The random control's balance against the deletion arm.
    func controlBalance(_ st: OnionState, draws: [ActivityStrata.Draw], analyses: [SeedAnalysis], collateral: (String, Arm, Int) -> Int) -> ControlBalance {
        let deletedTokens = Double(tokenCount(st.deleted))
        let ratios = st.random.map { deletedTokens > 0 ? Double(tokenCount($0)) / deletedTokens : .nan }
        let sorted = ratios.filter(\.isFinite).sorted()
        let median = sorted.isEmpty ? .nan : sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
        var share: [Arm: Double] = [:]
        for a in Arm.allCases {
            let xs = analyses.indices.map { i -> Double in
                let set = analyses[i].analysisSet
                return set.isEmpty ? 0 : Double(set.filter { collateral($0, a, i) > 0 }.count) / Double(set.count)
            }
            share[a] = xs.isEmpty ? 0 : xs.reduce(0, +) / Double(xs.count)
        }
        let overlap = st.random.map { Double($0.intersection(st.deleted).count) / Double(max(1, st.deleted.count)) }
        return ControlBalance(tokenRatios: ratios, medianTokenRatio: median, matched: median.isFinite && median >= 0.67 && median <= 1.5,
                              outOfStratum: draws.reduce(0) { $0 + $1.outOfStratum }, unmatched: draws.reduce(0) { $0 + $1.unmatched },
                              overlapWithTargets: overlap.isEmpty ? 0 : mean(overlap), collateralShare: share)
    }

    /// Conditions under which the numbers, whatever they are, decide nothing.
    func preconditions(_ b: ControlBalance, analyses: [SeedAnalysis]) -> [String] {
        var out: [String] = []
        // An instrument that makes no one newly vulnerable in any arm — not even by retraining
        // alone — saw nothing, and cannot say that deletion exposed no one.
        if analyses.allSatisfy({ a in a.newly.values.allSatisfy(\.isEmpty) }) {
            out.append("the instrument saw nothing: no subject became newly vulnerable in any arm or seed, not even by retraining alone")
        }
        let smallest = analyses.map(\.analysisSet.count).min() ?? 0
        if smallest < Self.minimumAnalysisSet {
            out.append("too few subjects compared: \(smallest) in the smallest analysis set (at least \(Self.minimumAnalysisSet) are needed)")
        }
        if s.budget != .filler {
            out.append("not comparable: under the `\(s.budget.rawValue)` budget removing records moves every later window, so the fixed test's prompts no longer sit where the models saw them (only `filler` keeps them fixed)")
        }
        if b.unmatched > 0 {
            out.append("control unmatched: \(b.unmatched) draw(s) found no present subject to remove")
        }
        if !b.matched {
            out.append(String(format: "control unmatched: the random control removed %.2f× the deletion arm's tokens (median over seeds; [0.67, 1.5] is required)", b.medianTokenRatio))
        }
        return out
    }

    func seedResult(_ a: Arm, _ i: Int, _ r: Int, _ st: OnionState, analysis: SeedAnalysis, run rr: RunRecord, collateral: (String, Arm, Int) -> Int) -> SeedResult {
        let removed = st.removed(a, seed: i)
        let present = corpora.members.subtracting(removed)
        let o = rr.outcome
        let newly = analysis.newly[a]!
        let coll = analysis.analysisSet.map { collateral($0, a, i) }
        let removedOwners = o.extractedOwners.filter(removed.contains)
        let recs = corpora.records(of: removed)
        return SeedResult(evaluationSeed: i, trainingSeed: trainingSeed(st.evaluationSeeds[i], round: r), vulnerable: o.vulnerable.filter(present.contains).map(key).sorted(),
                          newlyVulnerable: newly.map(key).sorted(), analysisSet: analysis.analysisSet.count,
                          newlyVulnerableRate: analysis.analysisSet.isEmpty ? nil : Double(newly.count) / Double(analysis.analysisSet.count),
                          removedSubjects: removed.count, removedRecords: recs.count, removedTokens: recs.reduce(0) { $0 + tokensOf($1).count },
                          collateralSubjects: coll.filter { $0 > 0 }.count, collateralOccurrences: coll.reduce(0, +),
                          extractedValues: o.extractedValues, values: o.values, extractedByPrefix: o.extractedByPrefix,
                          removedStillExtractable: Set(removedOwners).count, removedStillExtractableValues: removedOwners.count,
                          unownedExtracted: o.unownedExtracted, heldOutOwnedExtracted: o.extractedOwners.filter { corpora.recordsOf[$0] == nil }.count,
                          trainSteps: rr.steps, finalLoss: rr.loss)
    }

    func summarize(_ rs: [SeedResult]) -> ArmSummary {
        let n = Double(max(1, rs.count))
        let rates = rs.compactMap(\.newlyVulnerableRate)
        let coll = rs.map { $0.analysisSet > 0 ? Double($0.collateralSubjects) / Double($0.analysisSet) : 0 }
        return ArmSummary(vulnerableMean: Double(rs.reduce(0) { $0 + $1.vulnerable.count }) / n,
                          newlyVulnerableMean: Double(rs.reduce(0) { $0 + $1.newlyVulnerable.count }) / n,
                          newlyVulnerableRate: rates.isEmpty ? .nan : mean(rates), analysisSetMean: Double(rs.reduce(0) { $0 + $1.analysisSet }) / n,
                          collateralShare: coll.isEmpty ? 0 : mean(coll))
    }

    func statement(_ rd: StudyRound) -> String {
        let v = rd.verdict
        func rate(_ a: Arm) -> String { String(format: "%.3f", rd.arms[a]?.summary.newlyVulnerableRate ?? .nan) }
        var out = "Round \(rd.round)\(rd.primary ? " (primary endpoint)" : " (secondary)") — \(v.outcome.rawValue)\(v.outcome == .exceeds && v.clearsDelta ? ", by at least Δ" : ""): deleting the \(rd.deletionTargets.count) most vulnerable subjects (ranked on \(rd.selectionModels) selection models) "
        out += "left \(rate(.deletion)) of the others newly vulnerable, against \(rate(.randomRemoval)) after removing as many subjects of the same activity at random "
        out += "and \(rate(.reseed)) from retraining alone (mean over \(rd.arms[.deletion]?.seeds.count ?? 0) evaluation seeds, \(String(format: "%.0f", rd.arms[.deletion]?.summary.analysisSetMean ?? 0)) subjects each). "
        out += v.summary
        out += String(format: " Minimum detectable effect %@ (Δ = %.3f). Control balance: the random control removed %.2f× the deletion arm's tokens (median over seeds) and %.0f%% of its draws were deletion targets too", v.minimumDetectableEffect.map { String(format: "%.3f", $0) } ?? "n/a", v.delta, rd.balance.medianTokenRatio, 100 * rd.balance.overlapWithTargets)
        if rd.balance.outOfStratum > 0 { out += ", \(rd.balance.outOfStratum) draws outside their stratum" }
        out += "."
        return out
    }
}
