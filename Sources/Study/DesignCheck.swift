// The design before and after round 0 (docs/methods.md, "Statistics"): the seeds, the feasibility
// check and the prospective minimum detectable effect printed before anything is trained, the
// same re-estimated from round 0's models, and the calibration stop — a baseline where almost
// nobody is vulnerable ends the study after round 0 instead of deleting people who are not.

import Foundation
import Support

extension StudyRunner {
    /// Fewer subjects than this in a seed's analysis set decide nothing (their rate moves by
    /// 5 points with every subject).
    static let minimumAnalysisSet = 20

    /// Evaluation seeds: the fine-tune seed + i; selection seeds: + 500 + j (never the same).
    func seeds() -> (evaluation: [UInt64], selection: [UInt64]) {
        ((0..<s.seeds).map { s.finetune.seed &+ UInt64($0) }, (0..<s.selectionSeeds).map { s.finetune.seed &+ 500 &+ UInt64($0) })
    }

    /// The design, checked on the corpus before anything is trained, with its prospective power.
    func checkDesign() throws -> StudyDesign {
        let (evaluation, selection) = seeds()
        let testable = fixedTest.testable.intersection(corpora.members).count
        let removedAtMost = 2 * s.removePerRound * s.rounds
        if s.rounds > 0 {
            guard s.seeds >= 1, s.selectionSeeds >= 1, s.removePerRound >= 1 else {
                throw StudyError.corpus("the onion rounds need at least 1 evaluation seed, 1 selection seed and 1 subject removed per round (--seeds, --selection-seeds, --remove-per-round)")
            }
            guard testable - removedAtMost >= 1 else {
                throw StudyError.corpus("the design is infeasible on this corpus: \(testable) fine-tuning subjects own a value the fixed test can prompt for, and \(s.rounds) round(s) of \(s.removePerRound) deletions and as many random removals leave none to compare (lower --remove-per-round or --rounds, or use a larger corpus)")
            }
            if s.selectionSeeds < 3 {
                report(.stage("warning: \(s.selectionSeeds) selection model(s): targets ranked on fewer than 3 models are chosen partly by one seed's noise"))
            }
            if testable - removedAtMost < Self.minimumAnalysisSet {
                report(.stage("warning: about \(testable - removedAtMost) subjects can be compared per seed (fewer than \(Self.minimumAnalysisSet)): the verdict will be inconclusive"))
            }
        }
        let n = max(0, Int(Double(testable) * (1 - s.prospective.vulnerableShare)) - removedAtMost)
        let mde = OnionStatistics.prospectiveMDE(seeds: evaluation.count, subjects: n, baselineNewlyRate: s.prospective.newlyRate,
                                                 betweenSeedSD: s.prospective.betweenSeedSD)
        let unavailable = mde == nil ? OnionStatistics.prospectiveUnavailable(seeds: evaluation.count, subjects: n) ?? "not computable" : nil
        if s.rounds > 0 {
            let power = mde.map { String(format: "%.3f (Δ = %.3f)%@", $0, s.delta, $0 > s.delta ? " — an effect of Δ is not decidable at this size" : "") }
                ?? "\(unavailable!) — the verdict will be inconclusive"
            report(.stage(String(format: "design: %d evaluation + %d selection seeds, %d deletions per round, about %d subjects compared per seed; prospective minimum detectable effect %@",
                                 evaluation.count, selection.count, s.removePerRound, n, power)))
        }
        return StudyDesign(evaluationSeeds: evaluation, selectionSeeds: selection, delta: s.delta, strata: s.strata, testValues: fixedTest.entries.count,
                           testPrompts: fixedTest.promptsByPrefix, testableSubjects: testable,
                           power: PowerAnalysis(prospective: mde, prospectiveUnavailable: unavailable, prospectiveSubjects: n, afterRound0: nil, final: nil), stopped: nil)
    }

    /// Between evaluation baselines: the share of testable members not vulnerable under seed i
    /// that are vulnerable under seed j (i ≠ j), averaged over pairs — what retraining alone does.
    func seedChurn(_ baseline: [TestOutcome]) -> Double? {
        let pool = fixedTest.testable.intersection(corpora.members)
        var rates: [Double] = []
        for i in baseline.indices {
            let free = pool.subtracting(baseline[i].vulnerable)
            guard !free.isEmpty else { continue }
            for j in baseline.indices where j != i {
                rates.append(Double(free.intersection(baseline[j].vulnerable).count) / Double(free.count))
            }
        }
        return rates.isEmpty ? nil : mean(rates)
    }

    /// The MDE re-estimated after round 0: the analysis sets' expected sizes and the churn.
    func powerAfterRound0(_ st: OnionState, churn: Double?) -> Double? {
        guard s.rounds > 0, let churn else { return nil }
        let pool = fixedTest.testable.intersection(corpora.members)
        let n = mean(st.baseline.map { Double(pool.subtracting($0.vulnerable).count) }) - Double(2 * s.removePerRound)
        guard let mde = OnionStatistics.prospectiveMDE(seeds: st.evaluationSeeds.count, subjects: max(0, Int(n)), baselineNewlyRate: churn,
                                                       betweenSeedSD: s.prospective.betweenSeedSD) else { return nil }
        report(.stage(String(format: "after round 0: about %.0f subjects per seed, retraining alone makes %.3f newly vulnerable; minimum detectable effect %.3f (Δ = %.3f)", n, churn, mde, s.delta)))
        return mde
    }

    /// Why the rounds must not run (nil when they may): the selection models find fewer
    /// vulnerable subjects than a round would delete.
    func calibration(_ st: OnionState) -> String? {
        guard s.rounds > 0 else { return nil }
        let found = TargetSelection.meanVulnerable(present: corpora.members, selection: st.selection)
        guard found < Double(s.removePerRound) else { return nil }
        return String(format: "Stopped after round 0 — calibrate memorisation first: the selection models found %.1f vulnerable subjects on average, fewer than the %d a round deletes, so the deletion arm would remove people who are not vulnerable and test nothing (train longer, raise the learning rate, or lower --remove-per-round).", found, s.removePerRound)
    }

    /// Round 0 as study.json reports it.
    func baselineResult(_ runs: [RunRecord], design: StudyDesign) -> StudyBaseline {
        let E = design.evaluationSeeds.count
        let models = runs.enumerated().map { k, rr in
            let sel = k >= E
            return BaselineModel(role: sel ? "selection" : "evaluation", index: sel ? k - E : k, trainingSeed: sel ? design.selectionSeeds[k - E] : design.evaluationSeeds[k],
                                 vulnerable: rr.outcome.vulnerable.filter(corpora.members.contains).map(key).sorted(), extractedValues: rr.outcome.extractedValues,
                                 values: rr.outcome.values, extractedByPrefix: rr.outcome.extractedByPrefix, unownedExtracted: rr.outcome.unownedExtracted,
                                 trainSteps: rr.steps, finalLoss: rr.loss)
        }
        let pool = fixedTest.testable.intersection(corpora.members)
        let share = mean(runs.prefix(E).map { pool.isEmpty ? 0 : Double(pool.intersection($0.outcome.vulnerable).count) / Double(pool.count) })
        return StudyBaseline(models: models, extractionByDuplication: runs[0].outcome.byDuplication, subjects: corpora.members.count, vulnerableShare: share,
                             seedChurn: seedChurn(runs.prefix(E).map(\.outcome)))
    }
}
