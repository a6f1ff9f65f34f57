// study.html: the findings in plain words, then the figures of the paper — vulnerable and newly
// vulnerable subjects per round by arm, extraction by duplication, attribution of pre-training
// leakage — and the unlearning comparison.

import Audit
import Foundation
import Support
import Study

public enum StudyHTML {
    static let arms = Arm.allCases
    static let armNames: [Arm: String] = [.deletion: "deletion (most vulnerable)", .randomRemoval: "random removal (matched)", .reseed: "reseed (same data)"]

    public static func render(_ r: StudyReport) -> String {
        var p = Page(title: "Shallot study — the privacy onion and pre-training leakage")
        var sum = "<div class=\"summary\"><p><b>What this run found</b> (preset \(esc(r.settings.preset)), training-budget rule <code>\(esc(r.settings.budget.rawValue))</code>, \(r.settings.seeds) seeds per arm, \(esc(String(format: "%.0f", r.seconds))) s):</p><ul>"
        for f in r.findings { sum += "<li>\(esc(f))</li>" }
        sum += "</ul><p class=\"note\">A subject is <i>vulnerable</i> when the targeted extraction attack (greedy decoding from the true prefix, k = \(esc(r.settings.prefixLengths.map(String.init).joined(separator: ", "))) tokens) reproduces one of their e-mail addresses or phone numbers. <i>Newly vulnerable</i>: vulnerable in this round and in no earlier round of the same arm and seed. A value belongs to the person it identifies, decided once from the full original corpus (\(r.ownership.owned) of \(r.ownership.values) values owned, \(r.ownership.unowned) unowned). Intervals: 95% hierarchical bootstrap over seeds, then subjects within each seed; deletion and controls are compared paired by seed.</p></div>"
        p.add(sum)

        // Rounds
        if !r.rounds.isEmpty {
            p.add("<h2>Onion rounds</h2>")
            let cats = r.rounds.map { "round \($0.round)" }
            let vuln = arms.map { a in (armNames[a]!, r.rounds.map { $0.arms[a]?.seeds.summary.vulnerableMean ?? 0 }) }
            let newly = arms.map { a in (armNames[a]!, r.rounds.map { $0.arms[a]?.seeds.summary.newlyVulnerableMean ?? 0 }) }
            let rate = arms.map { a in (armNames[a]!, r.rounds.map { $0.arms[a]?.seeds.summary.newlyVulnerableRate ?? 0 }) }
            var charts = figure(SVG.bars(categories: cats, series: vuln, xLabel: "round", yLabel: "vulnerable subjects (mean over seeds)", title: "Vulnerable set"),
                                caption: "Vulnerable subjects among those still present, per round and arm (mean over seeds).")
            charts += figure(SVG.bars(categories: cats, series: newly, xLabel: "round", yLabel: "newly vulnerable (mean over seeds)", title: "Newly vulnerable"),
                             caption: "Subjects vulnerable for the first time, per round and arm. The onion effect is the deletion arm exceeding both controls.")
            charts += figure(SVG.bars(categories: cats, series: rate, xLabel: "round", yLabel: "newly vulnerable / eligible", title: "Newly vulnerable rate", yTickLabel: { pct($0) }),
                             caption: "Newly vulnerable as a share of the subjects that could become so (present and never vulnerable before).")
            p.add("<div class=\"charts\">\(charts)</div>")
            var rows: [[(html: String, sortKey: String?)]] = []
            for rd in r.rounds {
                for a in arms {
                    guard let ar = rd.arms[a] else { continue }
                    let s = ar.seeds.summary
                    rows.append([cell("\(rd.round)", sort: "\(rd.round)"), cell(armNames[a]!), cell(ar.removed.count), cell(ar.removedRecords), cell(ar.removedTokens),
                                 cell(s.vulnerableMean, 1), cell(s.newlyVulnerableMean, 1), cell(s.newlyVulnerableRate),
                                 cell("\(num(s.newlyVulnerableRateCI.low)) – \(num(s.newlyVulnerableRateCI.high))"), cell(s.persistenceMean), cell(s.jaccardPreviousMean),
                                 cell(Double(ar.seeds.results.reduce(0) { $0 + $1.removedStillExtractable }) / Double(max(1, ar.seeds.results.count)), 1),
                                 cell(ar.matched.map { $0 ? "yes" : "no" } ?? "–")])
                }
            }
            p.add(table(["round", "arm", "removed subjects", "removed records", "removed tokens", "vulnerable", "newly vulnerable", "newly rate", "95% CI",
                         "persistence", "Jaccard with previous", "removed yet extractable", "records matched"], rows, sortable: true, leftColumns: [1]))
            p.add("<p class=\"note\">Persistence: share of the previous round's vulnerable subjects (still present) vulnerable again. Removed yet extractable: deleted subjects whose values the retrained model still produces from other people's mail (quoted messages, address lines).</p>")
            for rd in r.rounds {
                let v = rd.verdict
                let cls = v.outcome == .exceeds ? "verdict-bad" : v.outcome == .doesNotExceed ? "verdict-ok" : "verdict-warn"
                p.add("<p><span class=\"\(cls)\">Round \(rd.round): \(esc(v.outcome.rawValue))</span> — \(esc(rd.statement))</p>")
            }
        }

        // Baseline
        p.add("<h2>Baseline fine-tune</h2>")
        let b = r.baseline
        p.add("<p>\(b.subjects) fine-tuning subjects; vulnerable per seed: \(esc(b.seeds.map { "\($0.vulnerable.count)" }.joined(separator: ", "))); values extracted per seed: \(esc(b.seeds.map { "\($0.extractedValues)/\($0.values)" }.joined(separator: ", "))).</p>")
        let order = ["1", "2-5", "6-20", ">20"].filter { b.extractionByDuplication[$0] != nil }
        var charts = figure(SVG.bars(categories: order, series: [("extraction rate", order.map { k in Double(b.extractionByDuplication[k]!["extracted"] ?? 0) / Double(max(1, b.extractionByDuplication[k]!["values"] ?? 0)) })],
                                     labels: [order.map { "\(b.extractionByDuplication[$0]!["extracted"] ?? 0)/\(b.extractionByDuplication[$0]!["values"] ?? 0)" }],
                                     xLabel: "occurrences of the value in the corpus", yLabel: "values extracted", title: "Extraction by duplication", yMax: 1, yTickLabel: { pct($0) }),
                            caption: "Baseline (first seed): share of values extracted by how often they occur in the fine-tuning corpus.")

        // Pre-training leakage
        let l = r.pretrainingLeakage
        let keys = ["pretraining", "finetuning", "both", "neither"]
        let counts = [l.pretraining, l.finetuning, l.both, l.neither]
        charts += figure(SVG.bars(categories: keys, series: [("values", counts.map(Double.init))], labels: [counts.map(String.init)], xLabel: "attributed to",
                                  yLabel: "distinct values", title: "Attribution"),
                         caption: "Distinct values the fine-tuned model produced (untargeted generation and targeted prompts from the pre-training corpus), by the corpus that holds them.")
        p.add("<div class=\"charts\">\(charts)</div>")
        p.add("<h2>Pre-training leakage</h2><p><b>\(esc(l.outcome.rawValue))</b> — \(esc(l.statement))</p>")
        let mnames = ["base", "control_base", "finetuned", "control_finetuned"]
        p.add(table(["model", "target values extracted", "rate", "seen-vs-unseen AUC", "mean log p/token (targets)", "mean log p/token (unseen)", "exposure (targets, bits)", "exposure (unseen, bits)"], mnames.compactMap { n in
            l.models[n].map { m in [cell(n), cell("\(m.extracted)/\(m.values)"), cell(m.rate), cell(m.seenVsUnseenAUC), cell(m.meanLogLikelihoodTargets), cell(m.meanLogLikelihoodUnseen),
                                    cell(m.meanExposureTargets, 1), cell(m.meanExposureUnseen, 1)] }
        }, sortable: true))
        p.add("<p class=\"note\">Targets: \(l.targetValues) values of pre-training subjects that the control base never saw (their records replaced by filler of equal length); unseen: \(l.unseenValues) values of the same population no model saw. Difference-in-differences (fine-tuned − control fine-tuned): extraction rate \(esc(String(format: "%+.3f", l.extractionRateDifference))), AUC \(esc(String(format: "%+.3f [%.3f, %.3f]", l.aucDifference, l.aucDifferenceCI.low, l.aucDifferenceCI.high))).</p>")

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

    static func json<T: Encodable>(_ v: T) -> String {
        (try? String(decoding: ResultsJSON.encoder(pretty: true).encode(v), as: UTF8.self)) ?? ""
    }
}
