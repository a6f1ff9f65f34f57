// Step 6 (approximate unlearning against the exact retrain): GA, GD and NPO applied to the first
// evaluation seed's baseline, compared with the deletion arm's round-1 model of that seed.

import Audit
import Corpus
import Foundation
import GPT
import Support
import Training
import Unlearning

extension StudyRunner {
    func unlearningComparison(forget: Set<String>, seed: UInt64) throws -> [UnlearningRow] {
        guard !forget.isEmpty else { return [] }
        let original = try saved(.baseline(seed: 0))
        let forgetRecords = corpora.fTrain.filter { forget.contains($0.subject) }
        let retainRecords = corpora.fTrain.filter { !forget.contains($0.subject) }
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
                    _ = try Unlearner.forget(model: m, tokenizer: self.tok, split: ForgetSplit(records: self.corpora.fTrain, subjects: forget), settings: u) { st in
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
        let fl = try losses(forgetRecords), hl = try losses(Array(corpora.fHeldOut.prefix(300))), rl = try losses(Array(retain.prefix(300)))
        let scores = forget.sorted().compactMap { a.scores[$0] }   // in a fixed order: a Set's order changes from run to run, and so would the last bit of the mean
        return Evaluation(vulnerable: a.vulnerable.filter { corpora.members.contains($0) && !forget.contains($0) },
                          forgetVulnerable: a.vulnerable.filter { forget.contains($0) }.count,
                          forgetExtracted: a.extractedOwners.filter { forget.contains($0) }.count,
                          forgetValues: a.valueOwners.filter { forget.contains($0) }.count,
                          forgetMeanLL: mean(scores), forgetAUC: Metrics.auc(members: fl.map { -$0 }, nonMembers: hl.map { -$0 }),
                          retainPPL: exp(mean(rl)), heldOutPPL: exp(mean(hl)), steps: nil)
    }
}
