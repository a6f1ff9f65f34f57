import ArgumentParser
import Corpus
import Foundation
import GPT
import Kernels
import Ledger
import SafeTensors
import Support
import Tokenizer
import Training
import Unlearning

extension UnlearnMethod: ExpressibleByArgument {}
extension BudgetRule: ExpressibleByArgument {}

struct UnlearnCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unlearn",
        abstract: "Remove subjects' data from a model: exact retraining from its parent, or GA / GD / NPO.",
        discussion: """
        The forget set is every record of the given subjects in --data; the retain set is the rest.
        retrain: fine-tunes the parent recorded in MODEL/shallot.json again, with the same training
        settings and seed, without the forget set (--budget filler, the default as in the study:
        forget records replaced by PII-free filler of equal length, so every other record is seen
        as often as before; epochs: the same epochs over fewer records; steps: the same steps).
        ga: gradient ascent on the forget set; gd: ascent on forget plus descent on retain; npo:
        negative preference optimisation against MODEL (METHODS.md).
        OUT/shallot.json records the method, its settings, the parent and the number of forgotten
        subjects; with --ledger also their keyed pseudonyms (HMAC-SHA-256 under the ledger's key, as
        in the ledger), which nobody without the key can test a guessed address against. Without a
        ledger no pseudonym is written: a plain hash of an address anyone can guess would say who
        asked for erasure.
        """)
    @Option(help: "The model to unlearn from.") var model: String
    @Option(help: "The corpus it was trained on (JSONL records with subjects).") var data: String
    @Option(parsing: .upToNextOption, help: "Subjects to forget (trimmed and lower-cased, as corpus subjects are).") var forget: [String] = []
    @Option(help: "File with one subject to forget per line.") var forgetFile: String?
    @Option(help: "retrain | ga | gd | npo") var method: UnlearnMethod
    @Option(help: "retrain: filler (default) | epochs | steps.") var budget: BudgetRule = .filler
    @Option(help: "ga/gd/npo: optimisation steps (default 40).") var steps: Int?
    @Option(help: "ga/gd/npo: learning rate (default 2e-4).") var lr: Float?
    @Option(help: "ga/gd/npo: batch size (default 8).") var batch: Int?
    @Option(help: "ga/gd/npo: tokens per row (default 128, at most the model's context).") var context: Int?
    @Option(help: "npo: β (default 0.1).") var beta: Float?
    @Option(help: "Weight of the retain NLL (default: gd 1, npo 0; npo adds the term when > 0).") var retainWeight: Float?
    @Option(help: "Seed (default 0).") var seed: UInt64?
    @Option(help: "Output model directory.") var out: String
    @Option(help: "Worker threads (default: all cores).") var threads: Int?
    @Option(help: "Record the action and the new model in this ledger.") var ledger: String?
    @Option(parsing: .upToNextOption, help: "With --ledger: the erasure requests this action answers (R-3 or 3).") var request: [String] = []

    func run() throws {
        if let threads { Parallel.threads = threads; BLAS.setThreads(threads) }
        var subjects = Set(forget.map(SubjectID.normalize).filter { !$0.isEmpty })
        if let f = forgetFile {
            guard let t = try? String(contentsOfFile: f, encoding: .utf8) else { fail("\(f): cannot read") }
            subjects.formUnion(t.split(whereSeparator: \.isNewline).map { SubjectID.normalize(String($0)) }.filter { !$0.isEmpty })
        }
        guard !subjects.isEmpty else { throw ValidationError("give the subjects to forget (--forget or --forget-file)") }
        if !request.isEmpty && ledger == nil { throw ValidationError("--request needs --ledger") }
        // The ledger and its requests are checked before any training.
        let ledgerAndRequests = ledger.map { lp -> (Ledger, [String]) in
            let l = reporting { try Ledger(path: lp) }
            let keys = Set(subjects.map(l.subjectKey))
            let ids = request.map { id -> String in
                let r = reporting { try l.request(id) }
                if !keys.contains(r.subjectKey) { fail("\(lp): request \(r.requestID)'s subject is not among the subjects to forget") }
                return r.requestID
            }
            return (l, ids)
        }
        let m = reporting { try GPT.load(directory: model) }
        let tok = reporting { try TokenizerFiles.load(directory: model) }
        let records = readCorpus(data)
        let split = ForgetSplit(records: records, subjects: subjects)
        if split.forget.isEmpty { fail("\(data): none of the \(subjects.count) subjects has records (subjects are matched on the \"subject\" field, trimmed and lower-cased)") }
        if !split.missing.isEmpty { FileHandle.standardError.write(Data("warning: \(split.missing.count) of the subjects have no records in \(data)\n".utf8)) }
        let parentProv = Provenance.read(directory: model)
        // Every method forgets from the corpus the model was trained on, so that what the new
        // model records as its data (and a later verification) is that corpus, not a cut-down file.
        if let c = parentProv?.corpus, !c.fileSHA256.isEmpty, let h = try? sha256(file: data), h != c.fileSHA256 {
            fail("\(data): not the corpus \(model) was trained on (SHA-256 \(h.prefix(12))…, shallot.json records \(c.fileSHA256.prefix(12))…)")
        }
        var extra: [String: String] = ["unlearning.method": method.rawValue, "unlearning.forget_records": "\(split.forget.count)",
                                       "unlearning.forget_subjects": "\(subjects.count - split.missing.count)",
                                       "unlearning.unlearned_from": model]
        if let (l, _) = ledgerAndRequests {
            // Keyed pseudonyms only: shallot.json travels with the model, the key stays with the ledger.
            extra["unlearning.forget_subject_keys"] = subjects.subtracting(split.missing).sorted().map(l.subjectKey).sorted().joined(separator: ",")
            extra["unlearning.forget_subject_keys_scheme"] = "hmac-sha256 under the key of ledger " + l.path
        }
        let result: GPT
        var training: TrainParameters?
        var corpusTokens = 0
        if method == .retrain {
            guard let prov = parentProv, let parent = prov.parent, let original = prov.training else {
                fail("\(model)/shallot.json: no parent model and training settings recorded; exact retraining needs the model's parent (train it with `shallot train --init PARENT`)")
            }
            let base = reporting { try GPT.load(directory: parent.path) }
            let stream = Retrainer.stream(records: records, tokens: tok.encodeBatch(records.map(\.text)), removed: split.forgetIds, budget: budget,
                                          tokenizer: tok, seed: seed ?? 0)
            let p = Retrainer.parameters(original, budget: budget, originalSteps: original.steps ?? prov.summary?.steps)
            corpusTokens = stream.count
            FileHandle.standardError.write(Data("retraining \(parent.path) on \(split.retain.count) records (\(split.forget.count) forgotten), budget \(budget.rawValue)\n".utf8))
            var bar = ProgressBar(total: 1, label: "retrain", unit: "steps")
            _ = reporting {
                try Retrainer.retrain(base, stream: stream, parameters: p) { st, total, loss in
                    if bar.total != total { bar = ProgressBar(total: total, label: "retrain", unit: "steps") }
                    bar.update(st, extra: String(format: "loss %.4f", loss))
                }
            }
            result = base; training = p
            extra["unlearning.budget"] = budget.rawValue
            extra["unlearning.parent"] = parent.path
        } else {
            var u = UnlearnSettings()
            u.method = method
            if let steps { u.steps = steps }
            if let lr { u.learningRate = lr }
            if let batch { u.batchSize = batch }
            if let context { u.context = context }
            if let beta { u.beta = beta }
            if let seed { u.seed = seed }
            u.retainWeight = retainWeight
            var bar = ProgressBar(total: u.steps, label: method.rawValue, unit: "steps")
            let log = reporting {
                try Unlearner.forget(model: m, tokenizer: tok, split: split, settings: u) { st in
                    bar.update(st.step, extra: String(format: "forget NLL %.3f", st.forgetLoss) + (st.retainLoss.map { String(format: " retain NLL %.3f", $0) } ?? ""))
                }
            }
            result = m
            u.context = min(u.context, m.config.nPositions)
            extra["unlearning.settings"] = String(decoding: (try? JSONEncoder().encode(u)) ?? Data(), as: UTF8.self)
            extra["unlearning.retain_weight"] = String(format: "%g", u.effectiveRetainWeight)
            if let first = log.first, let last = log.last { extra["unlearning.forget_nll"] = String(format: "%.4f → %.4f", first.forgetLoss, last.forgetLoss) }
        }
        let retain = split.retain, forgetRecords = split.forget, missing = split.missing
        reporting {
            try result.save(directory: out)
            try tok.save(to: out)
            let prov = Provenance(weightsSHA256: try sha256(file: out + "/model.safetensors"),
                                  parent: Provenance.ParentModel(path: method == .retrain ? (parentProv?.parent?.path ?? model) : model,
                                                                 weightsSHA256: method == .retrain ? (parentProv?.parent?.weightsSHA256 ?? "") : ((try? sha256(file: model + "/model.safetensors")) ?? "")),
                                  corpus: Provenance.Corpus(path: data, fileSHA256: (try? sha256(file: data)) ?? "", records: retain.count, tokens: corpusTokens,
                                                            manifestSHA256: sha256(retain.map(\.id).sorted().joined(separator: "\n"))),
                                  tokenizer: parentProv?.tokenizer ?? "", training: training, summary: nil, extra: extra)
            try prov.write(directory: out)
        }
        if let lr = ledgerAndRequests {
            let (l, requestIDs) = lr
            let a = reporting { try l.append(.action, ["method": method.rawValue, "requests": requestIDs, "forget_subject_keys": subjects.sorted().map(l.subjectKey),
                                                    "forget_records": forgetRecords.count, "input_path": model,
                                                    "input_weights_sha256": (try? sha256(file: model + "/model.safetensors")) ?? "",
                                                    "output_path": out, "output_weights_sha256": (try? sha256(file: out + "/model.safetensors")) ?? ""]) }
            FileHandle.standardError.write(Data("ledger: action \(a.id)\n".utf8))
            announceHead(a, l)
            try registerModel(l, model: out, data: data, records: retain, extra: ["produced_by_action": a.id])
        }
        print("\(method.rawValue): forgot \(forgetRecords.count) records of \(subjects.count - missing.count) subjects → \(out)")
    }
}
