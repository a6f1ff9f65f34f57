// Membership inference: per-record signals from the audited model (and optionally a reference
// model), then every score of MIAScore evaluated on members vs non-members.

import Foundation
import GPT
import Tokenizer

public enum MembershipInference {
    /// Signals for texts (truncated to the model's context). `reference` adds the reference loss.
    public static func signals(model: GPT, tokenizer: any TextTokenizer, texts: [String], reference: GPT? = nil,
                               progress: ((Int) -> Void)? = nil) throws -> [RecordSignals] {
        try signals(model: LocalModel(model, tokenizer: tokenizer), tokenizer: tokenizer, texts: texts,
                    reference: reference.map { LocalModel($0, tokenizer: tokenizer) }, progress: progress)
    }

    /// Needs prompt log-probabilities; without `capabilities.distribution` the Min-K%++ signal
    /// is missing (its score is then left out by `evaluate`), as is the reference loss when the
    /// reference cannot score.
    public static func signals(model: any LanguageModel, tokenizer: any TextTokenizer, texts: [String], reference: (any LanguageModel)? = nil,
                               progress: ((Int) -> Void)? = nil) throws -> [RecordSignals] {
        let maxT = model.contextLength
        let seqs = texts.map { Array(tokenizer.encode($0).prefix(maxT)) }
        let lower = texts.map { Array(tokenizer.encode($0.lowercased()).prefix(maxT)) }
        let scorer = model
        let main = try scorer.score(seqs, distribution: model.capabilities.distribution) { progress?($0) }
        let low = try scorer.score(lower)
        let ref = try reference.flatMap { r in r.capabilities.promptLogprobs ? try r.score(seqs.map { Array($0.prefix(r.contextLength)) }) : nil }
        return texts.indices.map { i in
            RecordSignals(logprobs: main[i].logprobs, mean: main[i].mean, std: main[i].std,
                          lowercaseLoss: Double(low[i].loss), referenceLoss: ref.map { Double($0[i].loss) },
                          zlibBits: 8 * Zlib.compressedSize(texts[i]))
        }
    }

    public static func evaluate(members: [RecordSignals], nonMembers: [RecordSignals], resamples: Int = 1000, seed: UInt64 = 0) -> [String: MIAMetrics] {
        var out: [String: MIAMetrics] = [:]
        for s in MIAScore.allCases {
            let m = members.compactMap { s.score($0) }, n = nonMembers.compactMap { s.score($0) }
            guard m.count == members.count, n.count == nonMembers.count, !m.isEmpty, !n.isEmpty else { continue }
            out[s.rawValue] = Metrics.evaluate(members: m, nonMembers: n, resamples: resamples, seed: seed)
        }
        return out
    }
}
