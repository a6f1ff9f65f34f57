// The continuous score of a value, shared by the audit (`AuditRun.valueScores`) and the study's
// pre-training leakage: the mean log-probability per token of the value's tokens after the text
// before one of its occurrences, in nats per token (higher: the model finds the value more likely
// there). Needs prompt log-probabilities (`ModelCapabilities.promptLogprobs`).

import Corpus
import Foundation
import Tokenizer

public enum ValueScores {
    /// The sequence scored for each occurrence — up to `contextTokens` tokens of the text before it
    /// (fewer when the value would not fit the context; <|endoftext|> when there is none), then
    /// the value's tokens as written — and the value's token count.
    public static func sequences(_ occurrences: [PIIOccurrence], tokenizer: any TextTokenizer, contextTokens: Int,
                                 contextLength: Int) -> [(ids: [Int32], valueTokens: Int)] {
        occurrences.map { occ in
            let ctx = Array(tokenizer.encode(occ.left).suffix(contextTokens))
            let v = tokenizer.encode(occ.text)
            let keep = max(1, min(ctx.count, contextLength - v.count))
            return ((ctx.isEmpty ? [tokenizer.endOfText] : Array(ctx.suffix(keep))) + v, v.count)
        }
    }

    /// The score of each sequence from its per-token log-probabilities: the mean over its last
    /// `valueTokens` (the value's).
    public static func perToken(_ logprobs: [[Float]], valueTokens: [Int]) -> [Double] {
        zip(logprobs, valueTokens).map { lp, n in lp.suffix(n).reduce(0.0) { $0 + Double($1) } / Double(max(1, n)) }
    }

    /// The score of each occurrence's value under `model`.
    public static func score(model: any LanguageModel, occurrences: [PIIOccurrence], contextTokens: Int) throws -> [Double] {
        guard model.capabilities.promptLogprobs else {
            throw LanguageModelError.unavailable("value scores need prompt log-probabilities, which this back end does not return")
        }
        let seqs = sequences(occurrences, tokenizer: model.tokenizer, contextTokens: contextTokens, contextLength: model.contextLength)
        return perToken(try model.score(seqs.map(\.ids)).map(\.logprobs), valueTokens: seqs.map(\.valueTokens))
    }
}
