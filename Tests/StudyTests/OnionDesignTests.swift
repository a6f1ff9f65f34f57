import Audit
import Foundation
@testable import Study
import Testing

/// The onion round's pure stages (OnionDesign.swift): who is deleted, whom the random control
/// removes, and what each evaluation seed compares — with answers known by construction of the input.
@Suite struct OnionDesignTests {
    func outcome(_ vulnerable: [String], scores: [String: Double] = [:]) -> TestOutcome {
        var o = TestOutcome(results: [], scores: scores)
        o.vulnerable = vulnerable.sorted()
        return o
    }

    @Test func targetsAreRankedOnTheSelectionModelsAlone() {
        let sel = [outcome(["a", "b", "c"], scores: ["a": -1, "b": -0.5, "c": -2]), outcome(["a", "b"], scores: ["a": -1, "b": -0.2]), outcome(["b", "d"])]
        // b: 3 votes; a: 2; c, d: 1 each — c's mean score −2 against d's none (−∞).
        #expect(TargetSelection.rank(present: ["a", "b", "c", "d", "e"], selection: sel, k: 3) == ["b", "a", "c"])
        // Removed subjects are never targets; subjects vulnerable under no selection model are not either.
        #expect(TargetSelection.rank(present: ["a", "c", "e"], selection: sel, k: 5) == ["a", "c"])
        #expect(TargetSelection.meanVulnerable(present: ["a", "b"], selection: sel) == 5.0 / 3)
    }

    @Test func strataAreDecilesOfTokensWritten() {
        let tokens = Dictionary(uniqueKeysWithValues: (0..<100).map { ("s\($0)", 1000 + $0) })
        let st = ActivityStrata(tokens: tokens, strata: 10)
        #expect(st.stratum["s0"] == 0 && st.stratum["s9"] == 0 && st.stratum["s10"] == 1 && st.stratum["s99"] == 9)
        #expect(Set(st.stratum.values).count == 10)
    }

    @Test func theRandomControlDrawsFromEachDeletedSubjectsStratumAfreshPerSeed() {
        let tokens = Dictionary(uniqueKeysWithValues: (0..<200).map { ("s\($0)", $0 * 13 % 997) })
        let st = ActivityStrata(tokens: tokens, strata: 10)
        let deleted = ["s5", "s17", "s150", "s199", "s3"]
        let pool = Set(tokens.keys)
        var draws: [[String]] = []
        for seed in 0..<20 as Range<UInt64> {
            let d = st.draw(for: deleted, pool: pool, seed: seed)
            #expect(d.chosen.count == deleted.count && Set(d.chosen).count == deleted.count && d.outOfStratum == 0)
            // Balance: the multiset of strata drawn is the deleted subjects' multiset.
            #expect(d.chosen.map { st.stratum[$0]! }.sorted() == deleted.map { st.stratum[$0]! }.sorted())
            draws.append(d.chosen.sorted())
        }
        #expect(Set(draws).count > 15, "the draws are not fresh per seed")
        // The pool includes the deletion targets: over many seeds some draw picks one.
        #expect(draws.contains { !Set($0).isDisjoint(with: deleted) })
        // Deterministic per seed.
        #expect(st.draw(for: deleted, pool: pool, seed: 7) == st.draw(for: deleted, pool: pool, seed: 7))
    }

    @Test func anEmptyStratumSendsTheDrawToTheNearestAndSaysSo() {
        let st = ActivityStrata(tokens: ["a": 1, "b": 2, "c": 3, "d": 4], strata: 4)
        let d = st.draw(for: ["d"], pool: ["a", "c"], seed: 1)
        #expect(d.chosen == ["c"] && d.outOfStratum == 1)
    }

    @Test func oneAnalysisSetPerSeedPairedPerSubject() {
        let members: Set<String> = ["a", "b", "c", "d", "e", "f", "g", "h"]
        let testable: Set<String> = ["a", "b", "c", "d", "e", "f", "g"]            // h owns no prompted value
        let baseline = outcome(["a"])                                                 // a is vulnerable at baseline
        let removed: [Arm: Set<String>] = [.deletion: ["b"], .randomRemoval: ["c"], .reseed: []]
        let outs: [Arm: TestOutcome] = [.deletion: outcome(["a", "d", "e"]), .randomRemoval: outcome(["d", "f", "b"]), .reseed: outcome(["g"])]
        let s = SeedAnalysis(testable: testable, members: members, removed: removed, baseline: baseline, outcomes: outs)
        #expect(s.analysisSet == ["d", "e", "f", "g"])
        #expect(s.newly[.deletion] == ["d", "e"] && s.newly[.randomRemoval] == ["d", "f"] && s.newly[.reseed] == ["g"])
        let p = s.paired(.randomRemoval, seed: 3)
        #expect(p == PairedSeed(seed: 3, subjects: 4, deletionNewly: 2, controlNewly: 2, deletionOnly: 1, controlOnly: 1))
        #expect(s.paired(.reseed, seed: 3, within: ["d", "g", "h"]) == PairedSeed(seed: 3, subjects: 2, deletionNewly: 1, controlNewly: 1, deletionOnly: 1, controlOnly: 1))
        #expect(p.inconsistency == nil)
    }
}
