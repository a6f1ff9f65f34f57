// Step 5 (pre-training leakage) and step 6 (approximate unlearning against the exact retrain).

import Audit
import Corpus
import Foundation
import Support
import GPT
import PII
import Tokenizer
import Training
import Unlearning

extension StudyRunner {
    static let types: Set<PIIType> = [.email, .phone]

    func keys(_ records: [Record]) -> Set<PIIKey> {
        Set(PIIIndex.build(records: records, scanner: PIIScanner(types: Self.types)).entries.map(\.key))
    }

    /// Mean log-probability per token of each value after (up to 64 tokens of) its first occurrence's left context.
    func valueScores(_ m: GPT, _ entries: [PIIIndexEntry]) throws -> [Double] {
        var seqs: [[Int32]] = [], lens: [Int] = []
        for e in entries {
            let v = tok.encode(e.places[0].text)
            let ctx = Array(tok.encode(e.places[0].left).suffix(max(1, min(64, m.config.nPositions - v.count))))
            seqs.append((ctx.isEmpty ? [tok.endOfText] : ctx) + v); lens.append(v.count)
        }
        return try Scorer(model: m).score(seqs).enumerated().map { i, sc in sc.logprobs.suffix(lens[i]).reduce(0.0) { $0 + Double($1) } / Double(max(1, lens[i])) }
    }

    /// Mean normal-fit exposure (bits) of up to `limit` values against sampled candidates of the
    /// same format in the same context (Secret Sharer's estimate; see Audit/Exposure.swift).
    func meanExposure(_ m: GPT, _ entries: [PIIIndexEntry], pool: [String], limit: Int = 64, candidates: Int = 32) throws -> Double {
        var rng = SplitMix64(auditSeed: s.seed ^ 0xE7)
        let scorer = Scorer(model: m)
        var xs: [Double] = []
        for e in entries.prefix(limit) {
            let occ = e.places[0]
            let (cands, space) = e.type == .email ? Exposure.emailCandidates(like: e.value, pool: pool, count: candidates, rng: &rng)
                : Exposure.digitCandidates(like: occ.text, count: candidates, rng: &rng)
            guard !cands.isEmpty else { continue }
            let x = try Exposure.compute(scorer: scorer, tokenizer: tok, context: occ.left, secret: e.type == .email ? e.value : occ.text,
                                         candidates: cands, spaceSize: space)
            xs.append(x.exposureNormalFit)
        }
        return mean(xs)
    }

    /// The seen-vs-unseen comparison of one model: greedy extraction of the targets, the AUC of
    /// their likelihood against the unseen values', and exposure.
    func leak(_ m: GPT, targets: PIIIndex, unseen: PIIIndex, byId: [String: Record], pool: [String]) throws -> (ModelLeak, [Double], [Double]) {
        var ex = ExtractionSettings(); ex.prefixLengths = s.prefixLengths
        let r = try TargetedExtraction.run(model: m, tokenizer: tok, index: targets, records: byId, types: Self.types, settings: ex)
        let t = try valueScores(m, targets.entries), u = try valueScores(m, unseen.entries)
        let n = r.filter(\.extracted).count
        let leak = ModelLeak(extracted: n, values: r.count, rate: r.isEmpty ? 0 : Double(n) / Double(r.count),
                             seenVsUnseenAUC: Metrics.auc(members: t, nonMembers: u), meanLogLikelihoodTargets: mean(t), meanLogLikelihoodUnseen: mean(u),
                             meanExposureTargets: try meanExposure(m, targets.entries, pool: pool), meanExposureUnseen: try meanExposure(m, unseen.entries, pool: pool))
        return (leak, t, u)
    }

    /// Difference-in-differences of the seen-vs-unseen AUC (fine-tuned − control fine-tuned) with
    /// a bootstrap over values: targets and unseen values resampled, the same resample for both
    /// models. Returns the interval and its minimum detectable effect (2.80 × bootstrap SE).
    func aucDifferenceInterval(f: ([Double], [Double]), c: ([Double], [Double])) -> (Interval, Double) {
        guard !f.0.isEmpty, !f.1.isEmpty else { return (Interval(low: .nan, high: .nan), .nan) }
        var rng = SplitMix64(seed: mix64(s.seed ^ 0xD1D))
        var reps: [Double] = []
        for _ in 0..<max(1, s.bootstrapResamples) {
            let ti = f.0.indices.map { _ in Int(rng.next() % UInt64(f.0.count)) }, ui = f.1.indices.map { _ in Int(rng.next() % UInt64(f.1.count)) }
            let af = Metrics.auc(members: ti.map { f.0[$0] }, nonMembers: ui.map { f.1[$0] })
            let ac = Metrics.auc(members: ti.map { c.0[$0] }, nonMembers: ui.map { c.1[$0] })
            reps.append(af - ac)
        }
        let m = mean(reps)
        let sd = (reps.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(max(1, reps.count - 1))).squareRoot()
        return (Metrics.percentileInterval(reps), (VerdictStatistics.z975 + VerdictStatistics.z80) * sd)
    }

    func pretrainingLeakage(base: GPT, controlBase: GPT, seed: UInt64) throws -> PretrainingLeakage {
        try store.stage(JobID.pretrainingLeakage.description) {
            report(.stage("pre-training leakage"))
            let tuned = try saved(.baseline(seed: 0)), controlTuned = try saved(.controlFinetuned)
            // Targets: values only the target subjects' records hold; unseen: values of the
            // subjects held out of P that no training record holds (same generator and population).
            let fKeys = keys(fTrain)
            let pTargets = P.filter { pTargetIds.contains($0.id) }, pOthers = pTrain.filter { !pTargetIds.contains($0.id) }
            let excluded = keys(pOthers).union(fKeys)
            var targetIndex = PIIIndex.build(records: pTargets, scanner: PIIScanner(types: Self.types))
            targetIndex.entries = targetIndex.entries.filter { !excluded.contains($0.key) }
            let trainedKeys = keys(pTrain).union(fKeys)
            var unseenIndex = PIIIndex.build(records: pUnseen, scanner: PIIScanner(types: Self.types))
            unseenIndex.entries = unseenIndex.entries.filter { !trainedKeys.contains($0.key) }
            let byId = Dictionary(uniqueKeysWithValues: P.map { ($0.id, $0) })
            let pool = (targetIndex.entries + unseenIndex.entries).filter { $0.type == .email }.map(\.value)
            var models: [String: ModelLeak] = [:]
            var scores: [String: ([Double], [Double])] = [:]
            // The four models' measurements and the attribution are independent: run concurrently.
            let named = [("base", base), ("control_base", controlBase), ("finetuned", tuned), ("control_finetuned", controlTuned)]
            var tasks: [() throws -> Any] = named.map { name, m in
                { self.report(.stage("pre-training leakage: \(name)")); return try self.leak(m, targets: targetIndex, unseen: unseenIndex, byId: byId, pool: pool) }
            }
            tasks.append { try self.attribution(tuned, fKeys: fKeys) }
            let out = try scheduler.run(tasks)
            for (i, (name, _)) in named.enumerated() {
                let (l, t, u) = out[i] as! (ModelLeak, [Double], [Double])
                models[name] = l; scores[name] = (t, u)
            }
            let (attributed, generations, distinct) = out[named.count] as! ([String: String], Int, Int)
            var counts = ["pretraining": 0, "finetuning": 0, "both": 0, "neither": 0]
            for a in attributed.values { counts[a, default: 0] += 1 }
            let f = models["finetuned"]!, c = models["control_finetuned"]!
            let (ci, mde) = aucDifferenceInterval(f: scores["finetuned"]!, c: scores["control_finetuned"]!)
            let dAUC = f.seenVsUnseenAUC - c.seenVsUnseenAUC
            var reasons: [String] = []
            if targetIndex.entries.count < VerdictStatistics.minimumEligible || unseenIndex.entries.count < VerdictStatistics.minimumEligible {
                reasons.append("only \(targetIndex.entries.count) target and \(unseenIndex.entries.count) unseen values (at least \(VerdictStatistics.minimumEligible) of each are needed)")
            }
            var outcome: VerdictOutcome = ci.low > 0 ? .exceeds : (ci.high <= 0 || ci.high < mde) ? .doesNotExceed : .inconclusive
            if !ci.low.isFinite || !ci.high.isFinite { outcome = .inconclusive; reasons.append("no interval could be computed") }
            if !reasons.isEmpty { outcome = .inconclusive }
            else if outcome == .inconclusive {
                reasons.append(String(format: "the interval [%.3f, %.3f] includes 0 and effects up to the minimum detectable effect %.3f", ci.low, ci.high, mde))
            }
            let statement = leakageStatement(models: models, dAUC: dAUC, ci: ci, mde: mde, outcome: outcome, reasons: reasons, attributed: attributed.count,
                                             counts: counts, generations: generations, distinct: distinct)
            return PretrainingLeakage(pretraining: counts["pretraining"]!, finetuning: counts["finetuning"]!, both: counts["both"]!, neither: counts["neither"]!,
                                      total: attributed.count, models: models, extractionRateDifference: f.rate - c.rate, aucDifference: dAUC,
                                      aucDifferenceCI: ci, aucDifferenceMDE: mde, outcome: outcome, reasons: reasons,
                                      targetValues: targetIndex.entries.count, unseenValues: unseenIndex.entries.count,
                                      generations: generations, distinctGenerations: distinct, statement: statement)
        }
    }

    /// Every distinct value the fine-tuned model produces — untargeted generation from distinct
    /// 10-token windows of the pre-training corpus, plus the targeted attack on all of P's
    /// trained values — by the corpus that holds it.
    func attribution(_ tuned: GPT, fKeys: Set<PIIKey>) throws -> ([String: String], Int, Int) {
        report(.stage("pre-training leakage: attribution"))
        var ex = ExtractionSettings(); ex.prefixLengths = s.prefixLengths
        let pKeys = keys(pTrain)
        var us = UntargetedSettings(); us.prompts = s.untargetedPrompts; us.samplesPerPrompt = 4; us.seed = s.seed; us.newTokens = min(64, s.model.context / 2)
        let hasher = Hasher16(salt: Data("study-attribution".utf8))
        // Windows of pre-training mail with every line that holds PII left out: a prompt must not
        // carry a value's own prefix (that would be the targeted attack).
        let scanner = PIIScanner(types: Self.types)
        let promptText = seededShuffle(pTrain.map(\.text), seed: s.seed ^ 0x7E).prefix(200).map { t in
            t.split(separator: "\n", omittingEmptySubsequences: false).filter { scanner.scan(String($0)).isEmpty }.joined(separator: "\n")
        }.joined(separator: "\n\n")
        let un = try UntargetedExtraction.run(model: tuned, tokenizer: tok, trainingKeys: fKeys, pretrainingKeys: pKeys, reference: nil, promptText: promptText,
                                              types: Self.types, settings: us, hash: hasher, reveal: false)
        var attributed: [String: String] = [:]
        for c in un.values { attributed[c.id] = c.attribution ?? "neither" }
        let pIndex = PIIIndex.build(records: pTrain, scanner: PIIScanner(types: Self.types))
        let pById = Dictionary(uniqueKeysWithValues: pTrain.map { ($0.id, $0) })
        for r in try TargetedExtraction.run(model: tuned, tokenizer: tok, index: pIndex, records: pById, types: Self.types, settings: ex) where r.extracted {
            let k = PIIKey(r.type, r.value)
            attributed[hasher(k.string)] = fKeys.contains(k) ? "both" : "pretraining"
        }
        return (attributed, un.generations, un.distinctGenerations)
    }

    func leakageStatement(models: [String: ModelLeak], dAUC: Double, ci: Interval, mde: Double, outcome: VerdictOutcome, reasons: [String], attributed: Int,
                          counts: [String: Int], generations: Int, distinct: Int) -> String {
        let b = models["base"]!, f = models["finetuned"]!, c = models["control_finetuned"]!
        var out = String(format: "Pre-training leakage: the base model reproduces %d of %d pre-training target values and the fine-tuned model %d (the control, never shown them: %d); seen-vs-unseen AUC of their likelihood %.3f after fine-tuning against %.3f for the control (difference %+.3f, 95%% interval [%.3f, %.3f], minimum detectable effect %.3f; verdict: %@); mean exposure of the targets %.1f bits after fine-tuning against %.1f for the control.",
                         b.extracted, b.values, f.extracted, c.extracted, f.seenVsUnseenAUC, c.seenVsUnseenAUC, dAUC, ci.low, ci.high, mde, outcome.rawValue,
                         f.meanExposureTargets, c.meanExposureTargets)
        if !reasons.isEmpty { out += " (" + reasons.joined(separator: "; ") + ")" }
        out += " Of \(attributed) distinct values the fine-tuned model produced (\(distinct) distinct of \(generations) untargeted generations), \(counts["pretraining"]!) come from pre-training only, \(counts["finetuning"]!) from fine-tuning only, \(counts["both"]!) from both, \(counts["neither"]!) from neither corpus."
        return out
    }

    func unlearningComparison(forget: Set<String>, seed: UInt64) throws -> [UnlearningRow] {
        guard !forget.isEmpty else { return [] }
        let original = try saved(.baseline(seed: 0))
        let forgetRecords = fTrain.filter { forget.contains($0.subject) }
        let retainRecords = fTrain.filter { !forget.contains($0.subject) }
        // The original's and the exact retrain's evaluations and every method are independent jobs.
        var tasks: [() throws -> (String, Evaluation)] = [{
            ("original", try self.subjectStage("unlearn_eval_original") { try self.evaluate(original, forget: forget, forgetRecords: forgetRecords, retain: retainRecords, reference: nil) })
        }]
        if s.rounds > 0 {
            tasks.append {
                let retrain = try self.saved(.arm(.deletion, round: 1, seed: 0))
                return ("retrain", try self.subjectStage("unlearn_eval_retrain") { try self.evaluate(retrain, forget: forget, forgetRecords: forgetRecords, retain: retainRecords, reference: nil) })
            }
        }
        for method in s.unlearningMethods where method != .retrain {
            tasks.append {
                let e: Evaluation = try self.subjectStage("unlearn_\(method.rawValue)") {
                    self.report(.stage("unlearning: \(method.rawValue)"))
                    let m = original.copy()
                    var u = self.s.unlearning; u.method = method; u.seed = seed
                    _ = try Unlearner.forget(model: m, tokenizer: self.tok, split: ForgetSplit(records: self.fTrain, subjects: forget), settings: u) { st in
                        if self.execution.jobs == 1 { self.report(.step(done: st.step, total: u.steps)) }
                    }
                    var ev = try self.evaluate(m, forget: forget, forgetRecords: forgetRecords, retain: retainRecords, reference: nil)
                    ev.steps = u.steps
                    return ev
                }
                return (method.rawValue, e)
            }
        }
        let evals = try scheduler.run(tasks)
        let originalEval = evals[0].1
        let rows = evals.map { $0.0 == "original" ? $0.1.row(method: "original", reference: nil) : $0.1.row(method: $0.0, reference: originalEval) }
        return rows
    }

    struct Evaluation: Codable, SubjectKeyedStage {
        var vulnerable: [String]
        func mapSubjects(_ f: (String) -> String?) -> Evaluation? {
            let v = vulnerable.compactMap(f)
            guard v.count == vulnerable.count else { return nil }
            var r = self; r.vulnerable = v; return r
        }
        var forgetVulnerable: Int, forgetExtracted: Int, forgetValues: Int
        var forgetMeanLL: Double, forgetAUC: Double, retainPPL: Double, heldOutPPL: Double
        var steps: Int?
        func row(method: String, reference: Evaluation?) -> UnlearningRow {
            let before = Set(reference?.vulnerable ?? vulnerable)
            return UnlearningRow(method: method, forgetVulnerable: forgetVulnerable, forgetExtractedValues: forgetExtracted, forgetValues: forgetValues,
                                 forgetMeanLogLikelihood: forgetMeanLL, forgetMIAAUC: forgetAUC, retainPerplexity: retainPPL, heldOutPerplexity: heldOutPPL,
                                 newlyVulnerableOthers: Set(vulnerable).subtracting(before).count, steps: steps)
        }
    }

    func evaluate(_ m: GPT, forget: Set<String>, forgetRecords: [Record], retain: [Record], reference: GPT?) throws -> Evaluation {
        let a = try test(LocalModel(m, tokenizer: tok))
        let ctx = m.config.nPositions
        let scorer = Scorer(model: m)
        func losses(_ rs: [Record]) throws -> [Double] {
            try scorer.score(rs.map { Array(tokensOf($0).prefix(ctx)) }.filter { $0.count >= 2 }).map { Double($0.loss) }
        }
        let fl = try losses(forgetRecords), hl = try losses(Array(fHeldOut.prefix(300))), rl = try losses(Array(retain.prefix(300)))
        let scores = forget.sorted().compactMap { a.scores[$0] }   // in a fixed order: a Set's order changes from run to run, and so would the last bit of the mean
        return Evaluation(vulnerable: a.vulnerable.filter { members.contains($0) && !forget.contains($0) },
                          forgetVulnerable: a.vulnerable.filter { forget.contains($0) }.count,
                          forgetExtracted: a.extractedOwners.filter { forget.contains($0) }.count,
                          forgetValues: a.valueOwners.filter { forget.contains($0) }.count,
                          forgetMeanLL: mean(scores), forgetAUC: Metrics.auc(members: fl.map { -$0 }, nonMembers: hl.map { -$0 }),
                          retainPPL: exp(mean(rl)), heldOutPPL: exp(mean(hl)), steps: nil)
    }
}

func mean(_ xs: [Double]) -> Double { xs.isEmpty ? .nan : xs.reduce(0, +) / Double(xs.count) }
