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
        forget records replaced by as many <|endoftext|> placeholders, left out of the loss, so every other record is seen
        as often as before; epochs: the same epochs over fewer records; steps: the same steps).
        ga: gradient ascent on the forget set; gd: ascent on forget plus descent on retain; npo:
        negative preference optimisation against MODEL (docs/methods.md, "Unlearning").
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
    @Option(help: "retrain: filler | epochs | steps.") var budget: BudgetRule = UnlearningAction(modelDirectory: "", dataPath: "", method: .retrain).budget
    @Option(help: "ga/gd/npo: optimisation steps (default \(UnlearnSettings().steps)).") var steps: Int?
    @Option(help: "ga/gd/npo: learning rate (default \(UnlearnSettings().learningRate)).") var lr: Float?
    @Option(help: "ga/gd/npo: batch size (default \(UnlearnSettings().batchSize)).") var batch: Int?
    @Option(help: "ga/gd/npo: tokens per row (default \(UnlearnSettings().context), at most the model's context).") var context: Int?
    @Option(help: "npo: β (default \(UnlearnSettings().beta)).") var beta: Float?
    @Option(help: "Weight of the retain NLL (default: gd 1, npo 0; npo adds the term when > 0).") var retainWeight: Float?
    @Option(help: "Seed of ga, gd and npo (default \(UnlearnSettings().seed)); retrain uses the parent's.") var seed: UInt64?
    @Option(help: "Output model directory.") var out: String
    @OptionGroup var threads: ThreadOptions
    @Option(help: "Record the action and the new model in this ledger.") var ledger: String?
    @Option(parsing: .upToNextOption, help: "With --ledger: the erasure requests this action answers (R-3 or 3).") var request: [String] = []

    func run() throws {
        threads.apply()
        let subjects = try forgetSubjects()
        if !request.isEmpty && ledger == nil { throw ValidationError("--request needs --ledger") }
        let ledgerAndRequests = ledger.map { openLedger($0, subjects: subjects) }
        let m = reporting { try GPT.load(directory: model) }
        let tok = reporting { try TokenizerFiles.load(directory: model) }
        let records = readCorpus(data)
        let split = ForgetSplit(records: records, subjects: subjects)
        if split.forget.isEmpty { fail("\(data): none of the \(subjects.count) subjects has records (subjects are matched on the \"subject\" field, trimmed and lower-cased)") }
        if !split.missing.isEmpty { FileHandle.standardError.write(Data("warning: \(split.missing.count) of the subjects have no records in \(data)\n".utf8)) }
        let parentProv = Provenance.read(directory: model)
        let action = self.action()
        var outcome = reporting { try action.perform(model: m, tokenizer: tok, records: records, split: split, provenance: parentProv, progress: progressPrinter()) }
        if let (l, _) = ledgerAndRequests {
            // Keyed pseudonyms only: shallot.json travels with the model, the key stays with the ledger.
            outcome.details["unlearning.forget_subject_keys"] = subjects.subtracting(split.missing).sorted().map(l.subjectKey).sorted().joined(separator: ",")
            outcome.details["unlearning.forget_subject_keys_scheme"] = "hmac-sha256 under the key of ledger " + l.path
        }
        reporting {
            try outcome.model.save(directory: out)
            try tok.save(to: out)
            let prov = Provenance(weightsSHA256: try sha256(file: out + "/model.safetensors"), parent: outcome.parent,
                                  corpus: Provenance.Corpus(path: data, fileSHA256: (try? sha256(file: data)) ?? "", records: split.retain.count, tokens: outcome.corpusTokens,
                                                            manifestSHA256: sha256(split.retain.map(\.id).sorted().joined(separator: "\n"))),
                                  tokenizer: parentProv?.tokenizer ?? "", training: outcome.training, summary: nil, extra: outcome.details)
            try prov.write(directory: out)
        }
        if let (l, requestIDs) = ledgerAndRequests { try record(in: l, requests: requestIDs, subjects: subjects, split: split) }
        print("\(method.rawValue): forgot \(split.forget.count) records of \(subjects.count - split.missing.count) subjects → \(out)")
    }

    /// --forget and --forget-file, normalised.
    func forgetSubjects() throws -> Set<String> {
        var subjects = Set(forget.map(SubjectID.normalize).filter { !$0.isEmpty })
        if let f = forgetFile {
            guard let t = try? String(contentsOfFile: f, encoding: .utf8) else { fail("\(f): cannot read") }
            subjects.formUnion(t.split(whereSeparator: \.isNewline).map { SubjectID.normalize(String($0)) }.filter { !$0.isEmpty })
        }
        guard !subjects.isEmpty else { throw ValidationError("give the subjects to forget (--forget or --forget-file)") }
        return subjects
    }

    /// The ledger and the requests this action answers, checked before any training.
    func openLedger(_ path: String, subjects: Set<String>) -> (Ledger, [String]) {
        let l = reporting { try Ledger(path: path) }
        let keys = Set(subjects.map(l.subjectKey))
        let ids = request.map { id -> String in
            let r = reporting { try l.request(id) }
            if !keys.contains(r.subjectKey) { fail("\(path): request \(r.requestID)'s subject is not among the subjects to forget") }
            return r.requestID
        }
        return (l, ids)
    }

    /// The options mapped onto the library's action (unset options keep its defaults).
    func action() -> UnlearningAction {
        var a = UnlearningAction(modelDirectory: model, dataPath: data, method: method)
        a.budget = budget
        if let steps { a.settings.steps = steps }
        if let lr { a.settings.learningRate = lr }
        if let batch { a.settings.batchSize = batch }
        if let context { a.settings.context = context }
        if let beta { a.settings.beta = beta }
        if let seed { a.settings.seed = seed }
        a.settings.retainWeight = retainWeight
        return a
    }

    func progressPrinter() -> (UnlearningProgress) -> Void {
        let steps = action().settings.steps, label = method.rawValue
        var bar = ProgressBar(total: steps, label: label, unit: "steps")
        return { ev in
            switch ev {
            case .retraining(let parent, let retained, let forgotten, let budget):
                FileHandle.standardError.write(Data("retraining \(parent) on \(retained) records (\(forgotten) forgotten), budget \(budget.rawValue)\n".utf8))
            case .retrainStep(let st, let total, let loss):
                if bar.total != total { bar = ProgressBar(total: total, label: "retrain", unit: "steps") }
                bar.update(st, extra: String(format: "loss %.4f", loss))
            case .step(let st):
                bar.update(st.step, extra: String(format: "forget NLL %.3f", st.forgetLoss) + (st.retainLoss.map { String(format: " retain NLL %.3f", $0) } ?? ""))
            }
        }
    }

    /// The action and the new model in the ledger.
    func record(in l: Ledger, requests requestIDs: [String], subjects: Set<String>, split: ForgetSplit) throws {
        let a = reporting { try l.append(.action, ["method": method.rawValue, "requests": requestIDs, "forget_subject_keys": subjects.sorted().map(l.subjectKey),
                                                "forget_records": split.forget.count, "input_path": model,
                                                "input_weights_sha256": (try? sha256(file: model + "/model.safetensors")) ?? "",
                                                "output_path": out, "output_weights_sha256": (try? sha256(file: out + "/model.safetensors")) ?? ""]) }
        FileHandle.standardError.write(Data("ledger: action \(a.id)\n".utf8))
        announceHead(a, l)
        try registerModel(l, model: out, data: data, records: split.retain, extra: ["produced_by_action": a.id])
    }
}
