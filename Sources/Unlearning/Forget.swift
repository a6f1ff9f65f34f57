// Everything "forget" (docs/methods.md, "Unlearning"): which records a request removes (the
// forget/retain split by normalised subject), what the retraining trains on when records are
// removed (the budget rule), exact retraining from the parent (`Retrainer`), and GA / GD / NPO
// (`Unlearner`). `shallot unlearn` and the study both come here; the command line only loads, saves
// and records.

import Corpus
import Foundation
import GPT
import Support
import Tokenizer
import Training

/// How a retraining that removes records keeps (or does not keep) the training budget. The
/// default everywhere is `filler`.
public enum BudgetRule: String, Codable, Sendable, CaseIterable {
    /// Removed records are replaced by as many <|endoftext|> placeholders, which the loss ignores
    /// (data order shallot/2): the same steps, and
    /// every remaining record is seen exactly as often and at the same place in the schedule.
    case filler
    /// The same number of epochs over the smaller corpus (fewer steps).
    case epochs
    /// The same number of steps over the smaller corpus (more passes over each remaining record).
    case steps
}

/// The records a forget request removes, and the rest.
public struct ForgetSplit: Sendable {
    /// The subjects asked for, normalised.
    public let subjects: Set<String>
    /// Every record of those subjects, and every other record, in corpus order.
    public let forget: [Record]
    public let retain: [Record]
    /// Subjects asked for who have no records in the corpus.
    public let missing: Set<String>

    public init(records: [Record], subjects: some Sequence<String>) {
        let s = Set(subjects.map(SubjectID.normalize).filter { !$0.isEmpty })
        self.subjects = s
        forget = records.filter { s.contains($0.subject) }
        retain = records.filter { !s.contains($0.subject) }
        missing = s.subtracting(Set(forget.map(\.subject)))
    }

    public var forgetIds: Set<String> { Set(forget.map(\.id)) }
}

/// Exact unlearning: train the parent again on the corpus without the forget set.
public enum Retrainer {
    /// The token stream a retraining reads under `budget`: the records in order, joined by
    /// <|endoftext|>; `removed` records become masked placeholders of equal length (`filler`) or
    /// are dropped.
    public static func stream(records: [Record], tokens: [[Int32]], removed: Set<String>, budget: BudgetRule,
                              tokenizer: any TextTokenizer) -> [Int32] {
        Filler.packed(tokens, replace: Set(records.indices.filter { removed.contains(records[$0].id) }), keepLength: budget == .filler,
                      endOfText: tokenizer.endOfText)
    }

    /// The training parameters of the retraining: the original ones, with the original run's
    /// step count under `steps` (more passes over what remains).
    public static func parameters(_ original: TrainParameters, budget: BudgetRule, originalSteps: Int?) -> TrainParameters {
        var p = original
        if budget == .steps, let n = originalSteps { p.steps = n }
        p.checkpointEvery = 0
        return p
    }

    /// Trains `model` (a copy of the parent) in place on `stream`, whose placeholders are runs of
    /// `endOfText` (the tokenizer's).
    public static func retrain(_ model: GPT, stream: [Int32], endOfText: Int32, parameters: TrainParameters, progress: ((_ step: Int, _ total: Int, _ loss: Float) -> Void)? = nil) throws -> TrainSummary {
        try Trainer(model: model, data: TokenDataset(tokens: stream, fileSHA256: "retrain", endOfText: endOfText), params: parameters, checkpointPath: nil).run(resume: false) { ev in
            if case .step(let st, let total, let loss, _, _, _) = ev { progress?(st, total, loss) }
        }
    }
}

extension Unlearner {
    /// GA / GD / NPO of `split.forget` from `model` (in place), the model before unlearning as
    /// NPO's reference; the retain stream is the retain records packed as training reads them.
    public static func forget(model: GPT, tokenizer: any TextTokenizer, split: ForgetSplit, settings: UnlearnSettings,
                              progress: ((UnlearnStep) -> Void)? = nil) throws -> [UnlearnStep] {
        var u = settings
        u.context = min(u.context, model.config.nPositions)
        let retainStream = Filler.packed(tokenizer.encodeBatch(split.retain.map(\.text)), keepLength: false, endOfText: tokenizer.endOfText)
        let retain = retainStream.count > u.batchSize * u.context ? TokenDataset(tokens: retainStream, fileSHA256: "retain") : nil
        return try run(model: model, forget: split.forget.map { Array(tokenizer.encode($0.text).prefix(u.context + 1)) }, retain: retain,
                       reference: model.copy(), settings: u, padToken: tokenizer.endOfText, progress: progress)
    }
}
