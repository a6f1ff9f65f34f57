import Audit
import Foundation
@testable import Study
import Support
import Testing

/// The onion round's analysis chain — target ranking, the stratified random control, one analysis
/// set per seed, the paired comparison and the verdict — run on simulated worlds whose answer is
/// known: a planted onion effect (light members become vulnerable once their heavy namesake is
/// deleted) and its null twin (they do not). No training: each model is a draw of who is
/// vulnerable, so hundreds of studies run in a second and the rates are measured, not asserted.
@Suite struct PlantedWorldTests {
    /// A world of members with tokens written and a chance of being vulnerable under any one model.
    struct World {
        var tokens: [String: Int] = [:]
        var vulnerability: [String: Double] = [:]
        /// Light member → their heavy namesake.
        var heavyOf: [String: String] = [:]
        var heavies: [String] = []
        /// A light member's chance of being vulnerable once their heavy member is gone (planted),
        /// or always (null: no shadowing, the heavy member's presence changes nothing).
        var surfaced = 0.8
        var planted = true
        var members: Set<String> { Set(tokens.keys) }

        /// 120 members with Zipf-like activity; 6 heavy members with 3 light namesakes each. In
        /// the `spread` layout the heavy members sit among peers of the same activity, two to each
        /// of the top three deciles (ranks 2, 9, 16, …, 37); otherwise they are the 6 most active.
        static func make(planted: Bool, spread: Bool) -> World {
            var w = World()
            w.planted = planted
            let n = 120
            for i in 0..<n {
                let id = "m\(i)"
                w.tokens[id] = Int(20_000 / pow(Double(i + 1), 0.7))
                // The active fifth is usually vulnerable; the rest rarely (training noise).
                w.vulnerability[id] = i < 24 ? 0.85 : 0.03
            }
            let heavyRanks = spread ? [2, 9, 16, 23, 30, 37] : [0, 1, 2, 3, 4, 5]
            for (g, r) in heavyRanks.enumerated() {
                let h = "m\(r)"
                w.heavies.append(h)
                w.vulnerability[h] = 0.97
                // Light members: low activity, shadowed while their heavy member is present.
                for j in 0..<3 {
                    let l = "m\(60 + 3 * g + j)"
                    w.heavyOf[l] = h
                    w.vulnerability[l] = planted ? 0 : 0.03
                }
            }
            return w
        }

        /// Who is vulnerable under one model trained without `removed`.
        func model(without removed: Set<String>, _ rng: inout SplitMix64) -> TestOutcome {
            var vulnerable: [String] = [], scores: [String: Double] = [:]
            for s in members.subtracting(removed).sorted() {
                var p = vulnerability[s]!
                if planted, let h = heavyOf[s], removed.contains(h) { p = surfaced }
                let hit = rng.nextDouble() < p
                if hit { vulnerable.append(s) }
                // Heavy members score highest: this world assumes the ranking can find them (in real
                // corpora it found 3–5 of 6: BENCHMARKS.md); what is tested is everything after it.
                scores[s] = hit ? (heavies.contains(s) ? -0.01 : -0.05 - 0.1 * rng.nextDouble()) : -1 - rng.nextDouble()
            }
            var o = TestOutcome(results: [], scores: scores)
            o.vulnerable = vulnerable
            return o
        }
    }

    struct SimStudy { var verdict: OnionVerdict; var overlap: Double; var heaviesDeleted: Int }

    /// One round-1 study: 3 selection models rank 6 targets; 5 evaluation seeds, each with its own
    /// baseline, a deletion arm, a random control drawn from the targets' strata and a reseed arm.
    static func study(_ w: World, seed: UInt64) -> SimStudy {
        var rng = SplitMix64(seed: mix64(seed))
        let members = w.members
        let selection = (0..<3).map { _ in w.model(without: [], &rng) }
        let targets = TargetSelection.rank(present: members, selection: selection, k: 6)
        let strata = ActivityStrata(tokens: w.tokens, strata: 10)
        var paired: [Arm: [PairedSeed]] = [.randomRemoval: [], .reseed: []]
        var overlap = 0.0
        for i in 0..<5 {
            let drawn = Set(strata.draw(for: targets, pool: members, seed: seed &* 31 &+ UInt64(i)).chosen)
            overlap += Double(drawn.intersection(targets).count) / Double(targets.count) / 5
            let removed: [Arm: Set<String>] = [.deletion: Set(targets), .randomRemoval: drawn, .reseed: []]
            let baseline = w.model(without: [], &rng)
            // In a fixed arm order: the draws must not depend on a dictionary's iteration order.
            var outcomes: [Arm: TestOutcome] = [:]
            for arm in Arm.allCases { outcomes[arm] = w.model(without: removed[arm]!, &rng) }
            let a = SeedAnalysis(testable: members, members: members, removed: removed, baseline: baseline, outcomes: outcomes)
            for c in [Arm.randomRemoval, .reseed] { paired[c]!.append(a.paired(c, seed: UInt64(i))) }
        }
        let verdict = OnionStatistics.decide(random: OnionStatistics.compare(paired[.randomRemoval]!, control: .randomRemoval),
                                             reseed: OnionStatistics.compare(paired[.reseed]!, control: .reseed))
        return SimStudy(verdict: verdict, overlap: overlap, heaviesDeleted: Set(targets).intersection(w.heavies).count)
    }

    struct Rates { var exceeds = 0.0, fewer = 0.0, overlap = 0.0, heavies = 0.0, vsRandom = 0.0, vsReseed = 0.0 }

    static func rates(_ w: World, runs: Int = 300) -> Rates {
        var r = Rates()
        let n = Double(runs)
        for k in 0..<runs {
            let s = study(w, seed: UInt64(k) &+ 1)
            if s.verdict.outcome == .exceeds { r.exceeds += 1 / n }
            if s.verdict.outcome == .fewer { r.fewer += 1 / n }
            r.overlap += s.overlap / n; r.heavies += Double(s.heaviesDeleted) / n
            r.vsRandom += s.verdict.comparisons[0].difference / n; r.vsReseed += s.verdict.comparisons[1].difference / n
        }
        return r
    }

    /// Planted, with the heavy members among peers of their activity: the study finds the effect
    /// in at least 80% of runs; its null twin gives `exceeds` and `fewer` in at most 5% each.
    @Test func aPlantedEffectIsFoundAndItsNullTwinIsNot() {
        let planted = Self.rates(World.make(planted: true, spread: true))
        #expect(planted.heavies > 5, "the blind ranking deletes the heavy members (\(planted.heavies) of 6)")
        #expect(planted.overlap < 0.25, "the random control rarely draws a target (\(planted.overlap))")
        #expect(planted.exceeds >= 0.8, "planted → exceeds in \(planted.exceeds) of runs")
        let null = Self.rates(World.make(planted: false, spread: true))
        #expect(null.exceeds <= 0.05, "null → exceeds in \(null.exceeds) of runs")
        #expect(null.fewer <= 0.05, "null → fewer in \(null.fewer) of runs")
    }

    /// When the heavy members are the corpus's most active people by far, the control drawn from
    /// their activity decile removes many of them too, and that share of the effect is no longer
    /// attributed to deleting the most vulnerable: the excess over the random control shrinks to
    /// about (1 − overlap) of the excess over reseeding. Why the validation plant keeps its heavy
    /// members among peers (docs/namesakes.md); the control does its job.
    @Test func aPlantThatIsTheTopDecileIsPartlyAbsorbedByTheRandomControl() {
        let dominant = Self.rates(World.make(planted: true, spread: false))
        #expect(dominant.overlap > 0.45, "the control draws the targets themselves (\(dominant.overlap))")
        let kept = dominant.vsRandom / dominant.vsReseed
        #expect(abs(kept - (1 - dominant.overlap)) < 0.12, "kept \(kept) of the effect with overlap \(dominant.overlap)")
        let spread = Self.rates(World.make(planted: true, spread: true))
        #expect(spread.vsRandom > dominant.vsRandom + 0.03, "spread \(spread.vsRandom) vs dominant \(dominant.vsRandom)")
    }
}
