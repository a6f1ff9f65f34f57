// The onion rounds (docs/methods.md, "The onion study"). A round ranks the deletion targets on
// the selection models, draws the random control's subjects per evaluation seed from the deleted
// subjects' activity strata, retrains every arm with every evaluation seed (and the deletion arm
// with the selection seeds, which rank the next round's targets), runs the fixed test on every
// model, and compares the arms on one analysis set per seed (OnionDesign.swift, OnionDecision.swift).

import Audit
import Foundation
import Support

/// What the rounds carry from one to the next.
struct OnionState {
    let evaluationSeeds: [UInt64]
    let selectionSeeds: [UInt64]
    /// Each evaluation seed's baseline (round 0) result.
    let baseline: [TestOutcome]
    /// The models the next targets are ranked on: round 0's selection models, then the deletion
    /// arm's selection models of the round before.
    var selection: [TestOutcome]
    /// The deletion arm's removals so far, and the random control's per evaluation seed.
    var deleted: Set<String> = []
    var random: [Set<String>]
    /// The subjects the deletion arm removed in round 1: the unlearning comparison forgets them.
    var forgetSet: Set<String> = []

    init(baseline: [TestOutcome], selection: [TestOutcome], evaluationSeeds: [UInt64], selectionSeeds: [UInt64]) {
        self.baseline = baseline; self.selection = selection
        self.evaluationSeeds = evaluationSeeds; self.selectionSeeds = selectionSeeds
        random = evaluationSeeds.map { _ in [] }
    }

    func removed(_ arm: Arm, seed i: Int) -> Set<String> {
        switch arm {
        case .deletion: return deleted
        case .randomRemoval: return random[i]
        case .reseed: return []
        }
    }
}

extension StudyRunner {

    /// Every arm of round r retrains with the same fresh seed per evaluation seed (seed + 1000·r):
    /// within a seed the arms differ only in their data, so the comparison is paired.
    func trainingSeed(_ base: UInt64, round r: Int) -> UInt64 { base &+ UInt64(1000 * r) }

    func evaluationSpec(_ st: OnionState, _ arm: Arm, _ i: Int, round r: Int, base: TrainSpec.Base, removed: Set<String>) -> TrainSpec {
        finetuneSpec(.arm(arm, round: r, seed: i), base: base, removed: removed, seed: trainingSeed(st.evaluationSeeds[i], round: r),
                     baselineSteps: baselineSteps)
    }

    /// Evaluation seed i's baseline: the unchanged corpus, the seed itself.
    func baselineSpec(_ st: OnionState, _ i: Int, base: TrainSpec.Base) -> TrainSpec {
        finetuneSpec(.baseline(seed: i), base: base, removed: [], seed: st.evaluationSeeds[i], baselineSteps: nil)
    }

    func selectionSpec(_ st: OnionState, _ j: Int, round r: Int, base: TrainSpec.Base, removed: Set<String>) -> TrainSpec {
        finetuneSpec(.selection(round: r, index: j), base: base, removed: removed, seed: trainingSeed(st.selectionSeeds[j], round: r), baselineSteps: baselineSteps)
    }

    /// Starts every round's reseeded fine-tunes and their tests in the background: the reseed
    /// arm removes nothing, so they depend on no result; the rounds find them done (or wait).
    func startReseeded(_ st: OnionState, base: TrainSpec.Base) throws -> [JobFuture<RunRecord>] {
        guard s.rounds > 0 else { return [] }
        let specs = (1...s.rounds).flatMap { r in st.evaluationSeeds.indices.map { evaluationSpec(st, .reseed, $0, round: r, base: base, removed: []) } }
        for sp in specs { try register(sp) }
        try planBook.write()
        return specs.map { sp in scheduler.spawn(priority: JobScheduler.background) { try self.fineTuneAndTest(sp) } }
    }

    /// Round r's removals, decided from the selection models: the deletion targets and, per
    /// evaluation seed, the random control's draws.
    func planRemovals(_ st: OnionState, round r: Int) -> (targets: [String], draws: [ActivityStrata.Draw]) {
        let targets = TargetSelection.rank(present: corpora.members.subtracting(st.deleted), selection: st.selection, k: s.removePerRound)
        let draws = st.evaluationSeeds.indices.map { i in
            strata.draw(for: targets, pool: corpora.members.subtracting(st.random[i]), seed: s.seed ^ UInt64(r) &* 0x9E37_79B9 ^ UInt64(i) &* 0xC2B2_AE35)
        }
        return (targets, draws)
    }

    func onionRound(_ r: Int, base: TrainSpec.Base, state st: inout OnionState) throws -> StudyRound? {
        let (targets, draws) = planRemovals(st, round: r)
        // No one left whom the selection models find vulnerable: a round would remove nothing.
        guard !targets.isEmpty else { return nil }
        if r == 1 { st.forgetSet = Set(targets) }
        st.deleted.formUnion(targets)
        for i in draws.indices { st.random[i].formUnion(draws[i].chosen) }
        let frozen = st
        let S = st.evaluationSeeds.count
        var specs = Arm.allCases.flatMap { arm in (0..<S).map { i in evaluationSpec(frozen, arm, i, round: r, base: base, removed: frozen.removed(arm, seed: i)) } }
        let selecting = r < s.rounds
        if selecting { specs += st.selectionSeeds.indices.map { selectionSpec(frozen, $0, round: r, base: base, removed: frozen.deleted) } }
        for sp in specs { try register(sp) }
        planBook.round(r, planned: true, waitsFor: [], jobs: specs.map(\.id))
        try planBook.write()
        report(.stage("round \(r): \(specs.count) fine-tunes + tests (\(Arm.allCases.count) arms × \(S) evaluation seeds\(selecting ? " + \(st.selectionSeeds.count) selection models" : ""))"))
        let all = try scheduler.run(specs.map { sp in { try self.fineTuneAndTest(sp) } })
        if selecting { st.selection = all.suffix(st.selectionSeeds.count).map(\.outcome) }
        var runs: [Arm: [RunRecord]] = [:]
        for (a, arm) in Arm.allCases.enumerated() { runs[arm] = Array(all[(a * S)..<((a + 1) * S)]) }
        return roundResult(r, targets: targets, draws: draws, runs: runs, state: frozen)
    }
}
