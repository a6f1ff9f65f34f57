// One unlearning action on a saved model, as `shallot unlearn` runs it: exact retraining from the
// model's recorded parent without the forget set (under a budget rule), or an approximate method
// (GA / GD / NPO) on the model itself. The command line maps its options onto `UnlearningAction`
// and writes what `perform` returns; every decision is here.

import Corpus
import Foundation
import GPT
import Support
import Tokenizer
import Training

public enum UnlearningActionError: Error, CustomStringConvertible {
    case corpusMismatch(data: String, model: String, fileSHA256: String, recorded: String)
    case noParent(model: String)
    public var description: String {
        switch self {
        case .corpusMismatch(let d, let m, let h, let r):
            return "\(d): not the corpus \(m) was trained on (SHA-256 \(h.prefix(12))…, shallot.json records \(r.prefix(12))…)"
        case .noParent(let m):
            return "\(m)/shallot.json: no parent model and training settings recorded; exact retraining needs the model's parent (train it with `shallot train --init PARENT`)"
        }
    }
}

public enum UnlearningProgress {
    /// Exact retraining is starting from `parent`.
    case retraining(parent: String, retained: Int, forgotten: Int, budget: BudgetRule)
    case retrainStep(step: Int, total: Int, loss: Float)
    case step(UnlearnStep)
}

public struct UnlearningAction {
    public var modelDirectory: String
    public var dataPath: String
    public var method: UnlearnMethod
    /// Exact retraining: how the training budget is kept when records are removed.
    public var budget: BudgetRule = .filler
    /// Approximate methods' settings (`method` is set from the action's).
    public var settings = UnlearnSettings()
    public init(modelDirectory: String, dataPath: String, method: UnlearnMethod) {
        self.modelDirectory = modelDirectory; self.dataPath = dataPath; self.method = method
    }

    public struct Outcome {
        public var model: GPT
        /// Exact retraining: the parameters it trained with.
        public var training: TrainParameters?
        /// Tokens of the corpus the new model was trained on (0 for approximate methods).
        public var corpusTokens: Int
        /// The model the new one descends from in its provenance: the parent for exact
        /// retraining, the unlearned model otherwise.
        public var parent: Provenance.ParentModel
        /// What shallot.json records about the action (keys "unlearning.*").
        public var details: [String: String]
    }

    /// Every method forgets from the corpus the model was trained on, so that what the new model
    /// records as its data (and a later verification) is that corpus, not a cut-down file.
    public func checkCorpus(provenance: Provenance?) throws {
        if let c = provenance?.corpus, !c.fileSHA256.isEmpty, let h = try? sha256(file: dataPath), h != c.fileSHA256 {
            throw UnlearningActionError.corpusMismatch(data: dataPath, model: modelDirectory, fileSHA256: h, recorded: c.fileSHA256)
        }
    }

    public func perform(model: GPT, tokenizer: any TextTokenizer, records: [Record], split: ForgetSplit, provenance: Provenance?,
                        progress: ((UnlearningProgress) -> Void)? = nil) throws -> Outcome {
        try checkCorpus(provenance: provenance)
        var details = ["unlearning.method": method.rawValue, "unlearning.forget_records": "\(split.forget.count)",
                       "unlearning.forget_subjects": "\(split.subjects.count - split.missing.count)", "unlearning.unlearned_from": modelDirectory]
        if method == .retrain {
            guard let prov = provenance, let parent = prov.parent, let original = prov.training else { throw UnlearningActionError.noParent(model: modelDirectory) }
            let base = try GPT.load(directory: parent.path)
            let stream = Retrainer.stream(records: records, tokens: tokenizer.encodeBatch(records.map(\.text)), removed: split.forgetIds, budget: budget,
                                          tokenizer: tokenizer)
            let p = Retrainer.parameters(original, budget: budget, originalSteps: original.steps ?? prov.summary?.steps)
            progress?(.retraining(parent: parent.path, retained: split.retain.count, forgotten: split.forget.count, budget: budget))
            _ = try Retrainer.retrain(base, stream: stream, endOfText: tokenizer.endOfText, parameters: p) { progress?(.retrainStep(step: $0, total: $1, loss: $2)) }
            details["unlearning.budget"] = budget.rawValue
            details["unlearning.parent"] = parent.path
            return Outcome(model: base, training: p, corpusTokens: stream.count, parent: parent, details: details)
        }
        var u = settings
        u.method = method
        let log = try Unlearner.forget(model: model, tokenizer: tokenizer, split: split, settings: u) { progress?(.step($0)) }
        u.context = min(u.context, model.config.nPositions)
        // Sorted keys: an unsorted encoder orders keys differently from run to run.
        details["unlearning.settings"] = String(decoding: (try? ResultsJSON.encoder().encode(u)) ?? Data(), as: UTF8.self)
        details["unlearning.retain_weight"] = String(format: "%g", u.effectiveRetainWeight)
        if let first = log.first, let last = log.last { details["unlearning.forget_nll"] = String(format: "%.4f → %.4f", first.forgetLoss, last.forgetLoss) }
        let parent = Provenance.ParentModel(path: modelDirectory, weightsSHA256: (try? sha256(file: modelDirectory + "/model.safetensors")) ?? "")
        return Outcome(model: model, training: nil, corpusTokens: 0, parent: parent, details: details)
    }
}
