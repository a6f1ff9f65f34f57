// audit.html: a plain-language summary first, then the charts and tables behind it.

import Audit
import Foundation
import Support

public enum AuditHTML {
    static let duplicationOrder = ["1", "2-5", "6-20", ">20"]

    public static func render(_ r: AuditReport) -> String {
        var p = Page(title: "Shallot audit — what this model leaks")
        // Counts (whole numbers by type; `shallot report` has refused absurd ones already).
        let values = r.summary.values, extracted = r.summary.extractedValues
        let subjects = r.summary.subjects, vulnerable = r.summary.vulnerableSubjects

        // Summary for a non-specialist.
        var sum = "<div class=\"summary\">"
        let h = r.headline ?? r.assessHeadline()
        let cls = ["leak": "verdict-bad", "signal": "verdict-warn", "no_leak_found": "verdict-ok", "inconclusive": "verdict-warn"][h.level.rawValue]!
        let lead = h.level == .leak ? "\(vulnerable) of \(subjects) people have personal data this model reproduces."
            : h.level == .signal ? "No value was reproduced word for word, but the model is not leak-free."
            : h.level == .inconclusive ? "Inconclusive: not every attack was run." : "No attack found a leak."
        sum += "<p><span class=\"\(cls)\">\(esc(lead))</span></p><ul>" + h.findings.map { "<li>\(esc($0))</li>" }.joined() + "</ul>"
        if r.settings.attacks.contains(.extraction) {
            sum += "<p>The audit prompted the model with the text that preceded each e-mail address or phone number in its training data. "
            sum += "It wrote out <b>\(extracted) of \(values)</b> such values (\(pct(values == 0 ? 0 : Double(extracted) / Double(values)))) on its own.</p>"
            let byDup = duplicationOrder.compactMap { k in r.extractionByDuplication[k].map { (k, $0["extracted"] ?? 0, $0["values"] ?? 0) } }
            if let most = byDup.last, let once = byDup.first, byDup.count > 1 {
                sum += "<p>Values that appear often are the most exposed: \(most.1) of \(most.2) values seen \(esc(most.0)) times leaked, against \(once.1) of \(once.2) seen \(esc(once.0 == "1" ? "once" : once.0 + " times")).</p>"
            }
        }
        if let mia = r.membershipInference, let best = mia.max(by: { $0.value.auc < $1.value.auc }) {
            sum += "<p>Given a record, an attacker can tell whether it was used for training with an accuracy measure (AUC) of <b>\(num(best.value.auc))</b> "
            sum += "(0.5 means guessing, 1 means always right; best score: \(esc(best.key))).</p>"
        }
        if let l = r.targetedLineage {
            sum += "<p>Compared with the base model: \(l["finetuning"] ?? 0) leaked values come from fine-tuning alone, \(l["both"] ?? 0) the base model leaks too.</p>"
        }
        sum += "<p class=\"note\">Values are shown masked\(r.settings.revealPII ? " (this audit was run with --reveal-pii: identifiers are in the clear)" : "; subjects are salted hashes"). "
        sum += "Model \(esc(r.model["path"] ?? "")), corpus \(esc(r.corpus["path"] ?? "")) (\(esc(r.corpus["records"] ?? "?")) records), created \(esc(r.created)).</p></div>"
        p.add(sum)

        // Targeted extraction
        if !r.extractionByDuplication.isEmpty {
            p.add("<h2>Targeted extraction</h2><p>Prompt: the \(esc(r.settings.extraction.prefixLengths.map(String.init).joined(separator: ", "))) tokens before an occurrence; greedy decoding\(r.settings.extraction.samples > 0 ? " and \(r.settings.extraction.samples) top-\(r.settings.extraction.topK) samples" : ""). A hit is the exact value in the continuation.</p>")
            let cats = duplicationOrder.filter { r.extractionByDuplication[$0] != nil }
            let rates = cats.map { k -> Double in let d = r.extractionByDuplication[k]!; return Double(d["extracted"] ?? 0) / Double(max(1, d["values"] ?? 0)) }
            let labels = cats.map { k -> String in let d = r.extractionByDuplication[k]!; return "\(d["extracted"] ?? 0)/\(d["values"] ?? 0)" }
            var charts = figure(SVG.bars(categories: cats, series: [("extraction rate", rates)], labels: [labels], xLabel: "occurrences of the value in the corpus",
                                         yLabel: "values extracted", title: "Extraction rate by duplication", yMax: 1, yTickLabel: { pct($0) }),
                                caption: "Share of values extracted, by how often the value occurs in the training corpus (labels: extracted/values).")
            let ks = r.settings.extraction.prefixLengths
            if ks.count > 1 {
                let byK = ks.map { k in Double(r.values.filter { ($0.smallestExtractingK ?? Int.max) <= k }.count) / Double(max(1, r.values.count)) }
                charts += figure(SVG.bars(categories: ks.map { "k=\($0)" }, series: [("extracted with prefix ≤ k", byK)], xLabel: "prefix length (tokens)",
                                          yLabel: "values extracted", title: "Extraction by prefix length", yMax: 1, yTickLabel: { pct($0) }),
                                 caption: "Share of values reproduced greedily by a prefix of at most k tokens.")
            }
            p.add("<div class=\"charts\">\(charts)</div>")
            if let l = r.targetedLineage {
                p.add("<p>Lineage (same attack on the base model): " + ["finetuning", "both", "pretraining", "neither"].map { "\(esc($0)) \(l[$0] ?? 0)" }.joined(separator: ", ") + ".</p>")
            }
        }

        // Membership inference
        if let mia = r.membershipInference, !mia.isEmpty {
            let names = mia.keys.sorted()
            p.add("<h2>Membership inference</h2><p>\(mia[names[0]]!.members) members against \(mia[names[0]]!.nonMembers) held-out non-members. Intervals: 95% percentile bootstrap (\(r.settings.bootstrapResamples) resamples).</p>")
            let series = names.compactMap { n in mia[n]!.roc.map { Series(name: "\(n) (AUC \(num(mia[n]!.auc)))", x: $0.fpr, y: $0.tpr) } }
            var charts = figure(SVG.lines(series, xLabel: "false positive rate", yLabel: "true positive rate", title: "ROC", diagonal: true),
                                caption: "ROC curves of each membership score (dashed: chance).")
            charts += figure(SVG.lines(series, xLabel: "false positive rate (log)", yLabel: "true positive rate", title: "ROC, log scale", diagonal: true, logX: true),
                             caption: "The same curves with a logarithmic FPR axis: the low-FPR regime where an attack is convincing.")
            p.add("<div class=\"charts\">\(charts)</div>")
            p.add(table(["score", "AUC", "AUC 95% CI", "TPR @ 1% FPR", "TPR @ 0.1% FPR"], names.map { n in
                let m = mia[n]!
                return [cell(n), cell(m.auc), cell(m.aucCI.map { "\(num($0.low)) – \(num($0.high))" } ?? "–"), cell(m.tprAt1pctFPR), cell(m.tprAt01pctFPR)]
            }, sortable: true))
        }

        // Exposure
        let exposures = r.values.compactMap { $0.exposure?.exposure }
        if !exposures.isEmpty || !(r.canaries ?? []).isEmpty {
            p.add("<h2>Exposure</h2><p>Rank of each true value's likelihood, in its context, among format-matched candidates, in bits (log₂ of the candidate space minus log₂ of the rank; high = memorised).</p>")
            var ser: [(name: String, values: [Double])] = []
            if !exposures.isEmpty { ser.append(("PII values", exposures)) }
            var charts = ser.isEmpty ? "" : figure(SVG.histogram(ser, xLabel: "exposure (bits)", title: "Exposure of PII values"), caption: "Exposure of the measured PII values.")
            if let cs = r.canaries, !cs.isEmpty {
                let reps = Array(Set(cs.map(\.repeats))).sorted()
                let member = reps.map { k in mean(cs.filter { $0.member && $0.repeats == k }.map(\.exposure.exposure)) }
                let non = reps.map { k in mean(cs.filter { !$0.member && $0.repeats == k }.map(\.exposure.exposure)) }
                charts += figure(SVG.bars(categories: reps.map { "×\($0)" }, series: [("inserted in training", member), ("held out", non)], xLabel: "canary repetitions",
                                          yLabel: "mean exposure (bits)", title: "Canary exposure"),
                                 caption: "Mean exposure of injected canaries by repetition count, for canaries in the training data and held-out ones.")
                p.add("<div class=\"charts\">\(charts)</div>")
                p.add(table(["canary (hash)", "repeats", "in training", "extracted", "exposure shown by the sample (bits, 95% interval)", "normal-fit estimate (bits)"], cs.map { c in
                    [cell(c.secretHash), cell(c.repeats), cell(c.member ? "yes" : "no"), cell(c.extracted ? "yes" : "no"), cell("\(num(c.exposure.exposure, 1)) [\(num(c.exposure.exposureCI.low, 1)), \(num(c.exposure.exposureCI.high, 1))]"), cell(c.exposure.exposureNormalFit, 1)]
                }, sortable: true))
            } else {
                p.add("<div class=\"charts\">\(charts)</div>")
            }
        }

        // Untargeted
        if let u = r.untargeted {
            p.add("<h2>Untargeted extraction</h2><p>\(u.generations) generations from prompts that carry no PII; \(u.distinctValues) distinct values found, \(u.distinctTrainingValues) of them in the training data.</p>")
            let ms = u.settings.topM
            p.add(table(["ranking"] + ms.map { "precision top-\($0)" }, u.precisionAtM.keys.sorted().map { k in
                [cell(k)] + ms.map { cell(u.precisionAtM[k]?["\($0)"]) }
            }, sortable: true))
            if let a = u.attribution {
                let keys = ["finetuning", "pretraining", "both", "neither"]
                p.add("<div class=\"charts\">" + figure(SVG.bars(categories: keys, series: [("values", keys.map { Double(a[$0] ?? 0) })], labels: [keys.map { "\(a[$0] ?? 0)" }],
                                                                 xLabel: "attributed to", yLabel: "distinct values", title: "Attribution"),
                                                        caption: "Distinct generated values by origin: fine-tuning corpus, pre-training (its corpus or the base model produces it), both, neither (hallucinated).") + "</div>")
            }
        }

        // Association
        if let a = r.association {
            p.add("<h2>Association</h2><p>For \(a.pairs) (name, address) pairs, the name was put in templates; the model produced the address for <b>\(a.associated)</b>.</p>")
            p.add(table(["template or setting", "addresses produced"], (a.associatedBySetting.sorted { $0.key < $1.key } + a.hitsByTemplate.sorted { $0.key < $1.key }).map { [cell($0.key), cell($0.value)] }, sortable: true))
        }

        // Subjects
        p.add("<h2>Subjects</h2><p>One row per data subject; click a header to sort. Score: the highest mean log-probability per token of any of the subject's values after its true prefix (higher = more exposed); it ranks subjects after the vulnerable flag.</p>")
        p.add(table(["subject", "masked", "records", "values", "extracted", "vulnerable", "score", "max exposure (bits)"], r.subjects.map { s in
            [cell(s.subject), cell(s.masked), cell(s.records), cell(s.values), cell(s.extractedValues), cell(s.vulnerable ? "yes" : "no"), cell(s.score), cell(s.maxExposure, 1)]
        }, sortable: true, leftColumns: [0, 1, 5]))

        // Values (most frequent first, capped)
        let shown = r.values.prefix(2000)
        p.add("<h2>Values</h2><p>\(shown.count) of \(r.values.count) values, most frequent first\(r.settings.revealPII ? "" : ", masked").</p>")
        p.add(table(["value", "type", "owner", "occurrences", "extracted", "smallest k", "log p / token", "exposure, sample bound (bits)", "exposure, normal-fit estimate (bits)", "lineage"], shown.map { v in
            [cell(v.value ?? v.masked), cell(v.type), cell(v.owner ?? "unowned"), cell(v.occurrences), cell(v.extracted.map { $0 ? "yes" : "no" } ?? "–"),
             cell(v.smallestExtractingK.map(Double.init), 0), cell(v.logLikelihoodPerToken), cell(v.exposure?.exposure, 1), cell(v.exposure?.exposureNormalFit, 1), cell(v.lineage ?? "–")]
        }, sortable: true, leftColumns: [0, 1, 2, 4, 8]))

        p.add("<h2>Settings</h2><pre>\(esc(settingsText(r)))</pre>")
        return p.render()
    }

    static func settingsText(_ r: AuditReport) -> String {
        let e = ResultsJSON.encoder(pretty: true)
        struct Shown: Encodable { let settings: AuditSettings; let model: [String: String]; let corpus: [String: String]; let software: String }
        return (try? String(decoding: e.encode(Shown(settings: r.settings, model: r.model, corpus: r.corpus, software: r.software)), as: UTF8.self)) ?? ""
    }
}

func mean(_ xs: [Double]) -> Double { xs.isEmpty ? .nan : xs.reduce(0, +) / Double(xs.count) }
