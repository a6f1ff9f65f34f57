// study.html: the findings in plain words, then the figures of the paper — vulnerable and newly
// vulnerable subjects per round by arm, extraction by duplication, attribution of pre-training
// leakage — and the unlearning comparison.

import Audit
import Foundation
import PII
import Support
import Study

public enum StudyHTML {
    static let arms = Arm.allCases
    static let armNames: [Arm: String] = [.deletion: "deletion (most vulnerable)", .randomRemoval: "random removal (matched)", .reseed: "reseed (same data)"]

    /// What the onion study attacked, in words (`settings.types`; absent: both).
    static func typesAttacked(_ s: StudySettings) -> String {
        let names: [PIIType: String] = [.email: "e-mail addresses", .phone: "phone numbers"]
        return s.attackedTypes.sorted().map { names[$0] ?? $0.rawValue }.joined(separator: " or ")
    }

    public static func render(_ r: StudyReport) -> String {
        var p = Page(title: "Shallot study — the privacy onion and pre-training leakage")
        var sum = "<div class=\"summary\"><p><b>What this run found</b> (preset \(esc(r.settings.preset)), training-budget rule <code>\(esc(r.settings.budget.rawValue))</code>, \(r.settings.seeds) evaluation and \(r.settings.selectionSeeds) selection seeds, Δ = \(esc(num(r.settings.delta))), \(esc(String(format: "%.0f", r.seconds))) s):</p><ul>"
        for f in r.findings { sum += "<li>\(esc(f))</li>" }
        sum += "</ul><p class=\"note\">A subject is <i>vulnerable</i> when the fixed test — greedy decoding from the k = \(esc(r.settings.prefixLengths.map(String.init).joined(separator: ", "))) tokens before an occurrence of one of their \(esc(typesAttacked(r.settings))), and from the position-aligned prefix (the training window's tokens before it), built once from the original corpus and used for every model — reproduces the value. <i>Newly vulnerable</i>: vulnerable under a round's model and not under the same evaluation seed's baseline, among the subjects present in every arm (the analysis set). A value belongs to the person it identifies, decided once from the full original corpus (\(r.ownership.owned) of \(r.ownership.values) values owned, \(r.ownership.unowned) unowned). The deletion targets are ranked on \(r.design.selectionSeeds.count) selection models, apart from the \(r.design.evaluationSeeds.count) evaluation seeds. Intervals: t over evaluation seeds of the paired per-seed difference (docs/methods.md).</p></div>"
        p.add(sum)

        // Rounds
        if let stop = r.design.stopped { p.add("<p class=\"verdict-warn\">\(esc(stop))</p>") }
        if !r.rounds.isEmpty { p.add(rounds(r)) }

        // Baseline
        p.add("<h2>Baseline fine-tune</h2>")
        let b = r.baseline
        let evals = b.models.filter { $0.role == "evaluation" }, sels = b.models.filter { $0.role == "selection" }
        p.add("<p>\(b.subjects) fine-tuning subjects, \(r.design.testableSubjects) owning a value the fixed test prompts for. Vulnerable under each evaluation seed's baseline: \(esc(evals.map { "\($0.vulnerable.count)" }.joined(separator: ", "))); under each selection model: \(esc(sels.map { "\($0.vulnerable.count)" }.joined(separator: ", "))). Values extracted per evaluation seed: \(esc(evals.map { "\($0.extractedValues)/\($0.values)" }.joined(separator: ", "))); by the prefix that extracted them (first seed): \(esc((evals.first?.extractedByPrefix ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", "))). Retraining alone (between evaluation baselines) makes \(esc(num(b.seedChurn))) of the others vulnerable.</p>")
        let order = ["1", "2-5", "6-20", ">20"].filter { b.extractionByDuplication[$0] != nil }
        var charts = figure(SVG.bars(categories: order, series: [("extraction rate", order.map { k in Double(b.extractionByDuplication[k]!["extracted"] ?? 0) / Double(max(1, b.extractionByDuplication[k]!["values"] ?? 0)) })],
                                     labels: [order.map { "\(b.extractionByDuplication[$0]!["extracted"] ?? 0)/\(b.extractionByDuplication[$0]!["values"] ?? 0)" }],
                                     xLabel: "occurrences of the value in the corpus", yLabel: "values extracted", title: "Extraction by duplication", yMax: 1, yTickLabel: { pct($0) }),
                            caption: "Baseline (first seed): share of values extracted by how often they occur in the fine-tuning corpus.")

        // Pre-training leakage
        let l = r.pretrainingLeakage
        let a = l.attribution
        let keys = ["pretraining", "finetuning", "both", "neither"]
        let counts = [a.pretraining, a.finetuning, a.both, a.neither]
        charts += figure(SVG.bars(categories: keys, series: [("values", counts.map(Double.init))], labels: [counts.map(String.init)], xLabel: "attributed to",
                                  yLabel: "distinct values", title: "Attribution"),
                         caption: "Distinct values the fine-tuned model produced (untargeted generation and targeted prompts from its base's pre-training corpus), by the corpus that holds them.")
        p.add("<div class=\"charts\">\(charts)</div>")
        p.add(leakage(l))
        // Unlearning
        if !r.unlearning.isEmpty {
            p.add("<h2>Unlearning the round-1 forget set</h2><p>Original: the baseline model (first seed). Retrain: fine-tuned again without the forget set (the exact method). GA, GD, NPO: approximate methods applied to the original (\(r.settings.unlearning.steps) steps, learning rate \(esc(String(format: "%g", r.settings.unlearning.learningRate))), NPO β \(esc(String(format: "%g", r.settings.unlearning.beta)))).</p>")
            p.add(table(["method", "forget subjects vulnerable", "forget values extracted", "forget best log p/token", "forget MIA AUC", "retain perplexity", "held-out perplexity", "newly vulnerable others"],
                        r.unlearning.map { u in [cell(u.method), cell(u.forgetVulnerable), cell("\(u.forgetExtractedValues)/\(u.forgetValues)"), cell(u.forgetMeanLogLikelihood),
                                                 cell(u.forgetMIAAUC), cell(u.retainPerplexity, 2), cell(u.heldOutPerplexity, 2), cell(u.newlyVulnerableOthers)] }, sortable: true))
            p.add("<p class=\"note\">Forget MIA AUC: loss-based membership score of the forget records against held-out subjects' records; 0.5 means the forget set looks like data never trained on (far below 0.5 means over-forgetting, itself a signal).</p>")
        }
        p.add("<h2>Settings</h2><pre>\(esc(json(r.settings)))</pre><pre>\(esc(json(r.corpus)))</pre>")
        return p.render()
    }

    /// The pre-training leakage verdict, the contrasts it rests on, and every model's row.
    static func leakage(_ l: PretrainingLeakage) -> String {
        let v = l.verdict, d = l.design
        func iv(_ c: HalfContrast) -> String { c.interval.map { String(format: "[%.3f, %.3f]", $0.low, $0.high) } ?? "n/a" }
        let cls = v.outcome == .leaks ? "verdict-bad" : v.outcome == .inconclusive ? "verdict-warn" : "verdict-ok"
        var out = "<h2>Does the fine-tuned model still leak what its base memorised?</h2><p><span class=\"\(cls)\">\(esc(v.outcome.rawValue))</span> — \(esc(v.summary))</p>"
        let contrasts: [(String, HalfContrast)] = [("fine-tuned: log-likelihood per token (the verdict's)", v.finetuned), ("bases: log-likelihood per token (precondition)", v.base),
                                                   ("fine-tuned: exposure, bits (secondary)", l.exposure.finetuned), ("bases: exposure, bits (secondary)", l.exposure.base)]
        out += table(["contrast (main − null, half A − half B)", "estimate", "95% CI (Welch, values)", "MDE", "values A + B"], contrasts.map { name, c in
            [cell(name), cell(String(format: "%+.3f", c.estimate)), cell(iv(c)), cell(c.minimumDetectableEffect), cell("\(c.valuesA) + \(c.valuesB)")]
        }, leftColumns: [0])
        out += "<p class=\"note\">Target values: \(d.targets.a) in half A (kept in the base's pre-training corpus) and \(d.targets.b) in half B (replaced in both bases: the placebo), "
            + "e-mail addresses and phone numbers of the pre-training corpus's subjects found nowhere in the fine-tuning corpus (\(d.excludedInFinetuning) more were, and are left out). "
            + "Scored: \(d.scored.a) + \(d.scored.b), each at its first occurrence whose scored prefix holds no target value and no name replaced for another value"
            + (d.withoutCleanPrefix.a + d.withoutCleanPrefix.b > 0 ? " (\(d.withoutCleanPrefix.a) + \(d.withoutCleanPrefix.b) have none and are left out)" : "") + ". "
            + "Surrogates: \(esc(d.surrogates.rawValue))\(d.null ? "; a <b>null run</b>: the base had half A replaced too" : ""). Δ = \(esc(num(v.delta))) nats/token; "
            + "minimum detectable effect before training \(esc(d.prospectiveMDE.map { num($0) } ?? "not computable")) (SD of d_v assumed \(esc(num(d.prospectiveSD, 2))))"
            + ((d.prospectiveMDE ?? .infinity) > v.delta ? " — <b>a leak of Δ cannot be ruled out at this size</b>" : "") + ". "
            + "Per seed pair (\(d.seedPairs)): \(esc(v.perSeed.map { String(format: "%+.3f", $0) }.joined(separator: ", "))), sd \(esc(num(v.seedSD))). "
            + "Score: log-likelihood per token of the value after up to \(d.contextTokens) tokens of its true prefix; exposure against \(l.exposure.candidates) candidates drawn like the value, in the same context.</p>"
        out += table(["model", "role", "seed", "mean log p/token A", "B", "exposure A (bits)", "B", "extracted A", "B"], l.models.map { m in
            [cell(m.id), cell(m.role.rawValue), cell(m.trainingSeed.map { "\($0)" } ?? "—"), cell(m.meanScoreA), cell(m.meanScoreB), cell(m.meanExposureA, 1),
             cell(m.meanExposureB, 1), cell(m.extracted.a), cell(m.extracted.b)]
        }, sortable: true)
        return out
    }

    /// The rounds: the verdict first, then what it rests on.
    static func rounds(_ r: StudyReport) -> String {
        var out = "<h2>Does deleting the most vulnerable expose others?</h2>"
        for rd in r.rounds {
            let v = rd.verdict
            // A null result is drawn as one only when it rules out the default Δ or less.
            let cls = v.outcome == .exceeds ? "verdict-bad" : v.outcome == .inconclusive || v.delta > 0.05 ? "verdict-warn" : "verdict-ok"
            out += "<p><span class=\"\(cls)\">Round \(rd.round)\(rd.primary ? " (primary endpoint)" : " (secondary)"): \(esc(v.outcome.rawValue))</span> — \(esc(rd.statement))</p>"
            out += comparisons(rd, r.design)
        }
        let cats = r.rounds.map { "round \($0.round)" }
        let rate = arms.map { a in (armNames[a]!, r.rounds.map { $0.arms[a]?.summary.newlyVulnerableRate ?? 0 }) }
        out += "<div class=\"charts\">" + figure(SVG.bars(categories: cats, series: rate, xLabel: "round", yLabel: "newly vulnerable / analysis set", title: "Newly vulnerable rate", yTickLabel: { pct($0) }),
                                                 caption: "Share of the analysis set (subjects present in every arm, not vulnerable at their seed's baseline) vulnerable after the round, per arm; mean over evaluation seeds.") + "</div>"
        var rows: [[(html: String, sortKey: String?)]] = []
        for rd in r.rounds {
            for a in arms {
                guard let ar = rd.arms[a] else { continue }
                let sm = ar.summary, seeds = ar.seeds
                func avg(_ f: (SeedResult) -> Int) -> Double { Double(seeds.reduce(0) { $0 + f($1) }) / Double(max(1, seeds.count)) }
                rows.append([cell("\(rd.round)", sort: "\(rd.round)"), cell(armNames[a]!), cell(avg(\.removedSubjects), 1), cell(avg(\.removedTokens), 0),
                             cell(sm.analysisSetMean, 1), cell(sm.newlyVulnerableMean, 2), cell(sm.newlyVulnerableRate), cell(sm.collateralShare), cell(avg(\.removedStillExtractable), 1)])
            }
        }
        out += table(["round", "arm", "removed subjects", "removed tokens", "analysis set", "newly vulnerable", "newly rate", "collateral share", "removed yet extractable"], rows, sortable: true, leftColumns: [1])
        out += "<p class=\"note\">Collateral share: analysis-set subjects some of whose own values sat in records the arm removed (the sensitivity analysis repeats the comparison without them). Removed yet extractable: deleted subjects whose values the retrained model still produces from other people's mail.</p>"
        return out
    }

    /// Each comparison's interval, Δ and MDE; the balance of the control; the sensitivity analysis.
    static func comparisons(_ rd: StudyRound, _ d: StudyDesign) -> String {
        func iv(_ i: Interval?) -> String { i.map { "[\(num($0.low)), \(num($0.high))]" } ?? "n/a" }
        var rows: [[(html: String, sortKey: String?)]] = []
        for c in rd.verdict.comparisons {
            let sens = rd.withoutCollateral.first { $0.control == c.control }
            let sc = rd.scoreChange.first { $0.control == c.control }
            rows.append([cell(armNames[c.control]!), cell(String(format: "%+.3f", c.difference)), cell(iv(c.interval)), cell(c.minimumDetectableEffect),
                         cell(c.outcome.rawValue), cell(sens.map { String(format: "%+.3f %@", $0.difference, iv($0.interval)) } ?? "n/a"),
                         cell(sc.map { String(format: "%+.3f %@", $0.estimate, iv($0.interval)) } ?? "n/a")])
        }
        var out = table(["deletion against", "difference of newly rates", "95% CI (t, seeds)", "MDE", "outcome", "without collateral removal", "score change (nats/token)"], rows, leftColumns: [0])
        let b = rd.balance
        out += "<p class=\"note\">Δ = \(esc(num(d.delta))) (pre-registered). Minimum detectable effect: \(esc(d.power.prospective.map { num($0) } ?? "not computable")) before training, \(esc(num(d.power.afterRound0))) after round 0, \(esc(num(rd.verdict.minimumDetectableEffect))) with the result. Control balance: random removal took \(esc(num(b.medianTokenRatio, 2)))× the deletion arm's tokens (median over seeds; per seed \(esc(b.tokenRatios.map { num($0, 2) }.joined(separator: ", "))))\(b.matched ? "" : " — unmatched"); \(esc(pct(b.overlapWithTargets))) of its draws were deletion targets too (its pool holds every present subject)\(b.outOfStratum > 0 ? ", \(b.outOfStratum) draws outside their stratum" : "").</p>"
        return out
    }

    static func json<T: Encodable>(_ v: T) -> String {
        (try? String(decoding: ResultsJSON.encoder(pretty: true).encode(v), as: UTF8.self)) ?? ""
    }
}
