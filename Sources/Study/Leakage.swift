// Step 5 (pre-training leakage) and step 6 (approximate unlearning against the exact retrain).

import Audit
import Corpus
import Foundation
import GPT
import PII
import Tokenizer
import Training
import Unlearning

extension StudyRunner {
    static let types: Set<PIIType> = [.email, .phone]

    func keys(_ records: [Record]) -> Set<String> {
        Set(PIIIndex.build(records: records, scanner: PIIScanner(types: Self.types)).entries.map { $0.type.rawValue + "\u{1F}" + $0.value })
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

    func pretrainingLeakage(base: GPT, controlBase: GPT, seed: UInt64) throws -> PretrainingLeakage {
        try store.stage("pretraining_leakage") {
            progress(.stage("pre-training leakage"))
            let tuned = try model("round0_seed0") { let m = base.copy(); var p = s.finetune; p.seed = seed; _ = try train(m, stream(fTrain, replace: [], filler: true), p); return m }
            progress(.stage("fine-tuning the control base identically"))
            let controlTuned = try model("control_finetuned") {
                let m = controlBase.copy(); var p = s.finetune; p.seed = seed; _ = try train(m, stream(fTrain, replace: [], filler: true), p); return m
            }
            let fKeys = keys(fTrain)
            let pTargets = P.filter { pTargetIds.contains($0.id) }, pOthers = pTrain.filter { !pTargetIds.contains($0.id) }
            let excluded = keys(pOthers).union(fKeys)
            var targetIndex = PIIIndex.build(records: pTargets, scanner: PIIScanner(types: Self.types))
            targetIndex.entries = targetIndex.entries.filter { !excluded.contains($0.type.rawValue + "\u{1F}" + $0.value) }
            let trainedKeys = keys(pTrain).union(fKeys)
            var unseenIndex = PIIIndex.build(records: pUnseen, scanner: PIIScanner(types: Self.types))
            unseenIndex.entries = unseenIndex.entries.filter { !trainedKeys.contains($0.type.rawValue + "\u{1F}" + $0.value) }
            let byId = Dictionary(uniqueKeysWithValues: P.map { ($0.id, $0) })
            var ex = ExtractionSettings(); ex.prefixLengths = s.prefixLengths
            var models: [String: ModelLeak] = [:]
            for (name, m) in [("base", base), ("control_base", controlBase), ("finetuned", tuned), ("control_finetuned", controlTuned)] {
                progress(.stage("pre-training leakage: \(name)"))
                let r = try TargetedExtraction.run(model: m, tokenizer: tok, index: targetIndex, records: byId, types: Self.types, settings: ex)
                let t = try valueScores(m, targetIndex.entries), u = try valueScores(m, unseenIndex.entries)
                let n = r.filter(\.extracted).count
                models[name] = ModelLeak(extracted: n, values: r.count, rate: r.isEmpty ? 0 : Double(n) / Double(r.count),
                                         seenVsUnseenAUC: Metrics.auc(members: t, nonMembers: u), meanLogLikelihoodTargets: mean(t), meanLogLikelihoodUnseen: mean(u))
            }
            // Attribution of every distinct value the fine-tuned model produces: untargeted
            // generation, plus the targeted attack on all of P's trained values.
            progress(.stage("pre-training leakage: attribution"))
            let pKeys = keys(pTrain)
            var us = UntargetedSettings(); us.prompts = s.untargetedPrompts; us.samplesPerPrompt = 4; us.seed = s.seed; us.newTokens = min(64, s.model.context / 2)
            let hasher = Hasher16(salt: Data("study-attribution".utf8))
            let un = try UntargetedExtraction.run(model: tuned, tokenizer: tok, trainingKeys: fKeys, pretrainingKeys: pKeys, reference: nil, promptText: nil,
                                                  types: Self.types, settings: us, hash: hasher, reveal: false)
            var attributed: [String: String] = [:]
            for c in un.values { attributed[c.id] = c.attribution ?? "neither" }
            let pIndex = PIIIndex.build(records: pTrain, scanner: PIIScanner(types: Self.types))
            let pById = Dictionary(uniqueKeysWithValues: pTrain.map { ($0.id, $0) })
            for r in try TargetedExtraction.run(model: tuned, tokenizer: tok, index: pIndex, records: pById, types: Self.types, settings: ex) where r.extracted {
                let k = r.type.rawValue + "\u{1F}" + r.value
                attributed[hasher(k)] = fKeys.contains(k) ? "both" : "pretraining"
            }
            var counts = ["pretraining": 0, "finetuning": 0, "both": 0, "neither": 0]
            for a in attributed.values { counts[a, default: 0] += 1 }
            let f = models["finetuned"]!, c = models["control_finetuned"]!, b = models["base"]!
            let dRate = f.rate - c.rate, dAUC = f.seenVsUnseenAUC - c.seenVsUnseenAUC
            let verdict = String(format: "Pre-training leakage: the base model reproduces %d of %d pre-training target values and the fine-tuned model %d (the control, never shown them: %d); seen-vs-unseen AUC of their likelihood %.3f after fine-tuning against %.3f for the control (difference %+.3f). Of %d distinct values the fine-tuned model produced, %d come from pre-training only, %d from fine-tuning only, %d from both, %d from neither corpus.",
                                 b.extracted, b.values, f.extracted, c.extracted, f.seenVsUnseenAUC, c.seenVsUnseenAUC, dAUC,
                                 attributed.count, counts["pretraining"]!, counts["finetuning"]!, counts["both"]!, counts["neither"]!)
            return PretrainingLeakage(pretraining: counts["pretraining"]!, finetuning: counts["finetuning"]!, both: counts["both"]!, neither: counts["neither"]!,
                                      total: attributed.count, models: models, extractionRateDifference: dRate, aucDifference: dAUC,
                                      targetValues: targetIndex.entries.count, unseenValues: unseenIndex.entries.count, verdict: verdict)
        }
    }

    func unlearningComparison(forget: Set<String>, seed: UInt64) throws -> [UnlearningRow] {
        guard !forget.isEmpty else { return [] }
        let original = try model("round0_seed0") { fatalError("the round-0 model is saved before unlearning") }
        let forgetRecords = fTrain.filter { forget.contains($0.subject) }
        let retainRecords = fTrain.filter { !forget.contains($0.subject) }
        let originalEval: Evaluation = try store.stage("unlearn_eval_original") { try evaluate(original, forget: forget, forgetRecords: forgetRecords, retain: retainRecords, reference: nil) }
        var rows = [originalEval.row(method: "original", reference: nil)]
        if s.rounds > 0 {
            let retrain = try model("round1_deletion_seed0") { fatalError("the round-1 deletion model is saved by the rounds") }
            let e: Evaluation = try store.stage("unlearn_eval_retrain") { try evaluate(retrain, forget: forget, forgetRecords: forgetRecords, retain: retainRecords, reference: nil) }
            rows.append(e.row(method: "retrain", reference: originalEval))
        }
        for method in s.unlearningMethods where method != .retrain {
            let e: Evaluation = try store.stage("unlearn_\(method.rawValue)") {
                progress(.stage("unlearning: \(method.rawValue)"))
                let m = original.copy()
                var u = s.unlearning; u.method = method; u.seed = seed
                if method == .npo { u.retainWeight = 0 }
                u.context = min(u.context, m.config.nPositions)
                _ = try Unlearner.run(model: m, forget: forgetRecords.map { Array(tokensOf($0).prefix(u.context + 1)) },
                                      retain: TokenDataset(tokens: stream(retainRecords, replace: [], filler: false), fileSHA256: "retain"),
                                      reference: original, settings: u, padToken: tok.endOfText) { st in self.progress(.step(done: st.step, total: u.steps)) }
                var ev = try evaluate(m, forget: forget, forgetRecords: forgetRecords, retain: retainRecords, reference: nil)
                ev.steps = u.steps
                return ev
            }
            rows.append(e.row(method: method.rawValue, reference: originalEval))
        }
        return rows
    }

    struct Evaluation: Codable {
        var vulnerable: [String]
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
        let a = try audit(m, records: fTrain)
        let ctx = m.config.nPositions
        let scorer = Scorer(model: m)
        func losses(_ rs: [Record]) throws -> [Double] {
            try scorer.score(rs.map { Array(tokensOf($0).prefix(ctx)) }.filter { $0.count >= 2 }).map { Double($0.loss) }
        }
        let fl = try losses(forgetRecords), hl = try losses(Array(fHeldOut.prefix(300))), rl = try losses(Array(retain.prefix(300)))
        let scores = forget.compactMap { a.scores[$0] }
        return Evaluation(vulnerable: a.vulnerable.filter { !forget.contains($0) },
                          forgetVulnerable: a.vulnerable.filter { forget.contains($0) }.count,
                          forgetExtracted: a.extractedOwners.filter { forget.contains($0) }.count,
                          forgetValues: a.valueOwners.filter { forget.contains($0) }.count,
                          forgetMeanLL: mean(scores), forgetAUC: Metrics.auc(members: fl.map { -$0 }, nonMembers: hl.map { -$0 }),
                          retainPPL: exp(mean(rl)), heldOutPPL: exp(mean(hl)), steps: nil)
    }
}

func mean(_ xs: [Double]) -> Double { xs.isEmpty ? .nan : xs.reduce(0, +) / Double(xs.count) }
