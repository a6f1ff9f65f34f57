// Exposure (Carlini et al. 2019, "The Secret Sharer"): how much more likely the model finds the
// true secret than other candidates of the same format in the same context.
//   exposure = log2 |R| − log2 rank(secret)
// When R is too large to enumerate, candidates are sampled: the rank-based exposure claims no
// more than the sample shows (a bound, with its interval), and the normal fit to the
// candidates' log-likelihoods extrapolates beyond it (the estimate).

import Foundation
import Support
import GPT
import Tokenizer

public struct ExposureResult: Codable, Sendable {
    /// log p(secret | context), summed over the secret's tokens.
    public var logLikelihood: Double
    /// 1 + the number of sampled candidates the model finds more likely.
    public var rankAmongSampled: Int
    public var sampledCandidates: Int
    /// Size of the candidate space R.
    public var spaceSize: Double
    /// Rank-based exposure as far as the sample shows: log2 |R| − log2 of the estimated rank
    /// |R|·(h + 1)/(n + 1), i.e. log2((n + 1)/(h + 1)) with h of n candidates ranked above the
    /// secret. Beating all n candidates shows a rank of at most about |R|/(n + 1): about
    /// log2(n + 1) bits, never the maximum log2 |R|.
    public var exposure: Double
    /// 95% interval of the rank-based exposure (Wilson interval of the share of R ranked above
    /// the secret, floored at one candidate); its upper end is log2 |R| when no candidate won.
    public var exposureCI: Interval
    /// The estimate (Secret Sharer's extrapolation): −log2 P(candidate ≥ secret) under a normal
    /// fit to the candidates' log-likelihoods, capped at log2 |R|.
    public var exposureNormalFit: Double
    enum CodingKeys: String, CodingKey {
        case exposure
        case logLikelihood = "log_likelihood", rankAmongSampled = "rank_among_sampled", sampledCandidates = "sampled_candidates"
        case spaceSize = "space_size", exposureNormalFit = "exposure_normal_fit", exposureCI = "exposure_ci_95"
    }
    /// No sampled candidate was more likely than the secret.
    public var beatAllSampled: Bool { rankAmongSampled == 1 && sampledCandidates > 0 }
}

public enum Exposure {
    /// Log-likelihood of each continuation after `context` (summed over its tokens).
    public static func logLikelihoods(scorer: Scorer, tokenizer: any TextTokenizer, context: String, continuations: [String], maxContextTokens: Int) throws -> [Double] {
        try logLikelihoods(model: LocalModel(scorer: scorer, tokenizer: tokenizer), tokenizer: tokenizer, context: context, continuations: continuations, maxContextTokens: maxContextTokens)
    }

    public static func logLikelihoods(model scorer: any LanguageModel, tokenizer: any TextTokenizer, context: String, continuations: [String], maxContextTokens: Int) throws -> [Double] {
        var ctx = tokenizer.encode(context)
        if ctx.isEmpty { ctx = [tokenizer.endOfText] }
        let limit = scorer.contextLength
        let conts = continuations.map { tokenizer.encode($0) }
        let maxCont = conts.map(\.count).max() ?? 0
        guard maxCont < limit else { throw AttackContextError(attack: "exposure", needed: maxCont + 1, context: limit) }
        ctx = Array(ctx.suffix(max(1, min(maxContextTokens, limit - maxCont))))
        let seqs = conts.map { ctx + $0 }
        let scores = try scorer.score(seqs)
        return zip(scores, conts).map { s, c in s.logprobs.suffix(c.count).reduce(0.0) { $0 + Double($1) } }
    }

    /// Exposure of `secret` among `candidates` drawn uniformly from a space of `spaceSize` values.
    public static func compute(scorer: Scorer, tokenizer: any TextTokenizer, context: String, secret: String, candidates: [String],
                               spaceSize: Double, maxContextTokens: Int = 64) throws -> ExposureResult {
        try compute(model: LocalModel(scorer: scorer, tokenizer: tokenizer), tokenizer: tokenizer, context: context, secret: secret,
                    candidates: candidates, spaceSize: spaceSize, maxContextTokens: maxContextTokens)
    }

    /// Needs prompt log-probabilities (`model.capabilities.promptLogprobs`).
    public static func compute(model scorer: any LanguageModel, tokenizer: any TextTokenizer, context: String, secret: String, candidates: [String],
                               spaceSize: Double, maxContextTokens: Int = 64) throws -> ExposureResult {
        let cands = candidates.filter { $0 != secret }
        let ll = try logLikelihoods(model: scorer, tokenizer: tokenizer, context: context, continuations: [secret] + cands, maxContextTokens: maxContextTokens)
        let truth = ll[0], others = Array(ll.dropFirst())
        let higher = others.filter { $0 > truth }.count
        let rank = 1 + higher
        let n = Double(others.count), h = Double(higher)
        let point = min(log2(spaceSize), log2((n + 1) / (h + 1)))
        // Wilson interval of the share q of R ranked above the secret; exposure = −log2 q.
        let z = 1.959963984540054, z2 = z * z
        let phat = n > 0 ? h / n : 1
        let centre = (phat + z2 / (2 * n)) / (1 + z2 / n), half = z / (1 + z2 / n) * (phat * (1 - phat) / n + z2 / (4 * n * n)).squareRoot()
        let floor = 1 / spaceSize
        let ci = n > 0 ? Interval(low: min(log2(spaceSize), -log2(min(1, max(floor, centre + half)))), high: min(log2(spaceSize), -log2(max(floor, centre - half))))
            : Interval(low: 0, high: log2(spaceSize))
        let mu = others.reduce(0, +) / Double(max(1, others.count))
        let sd = (others.reduce(0) { $0 + ($1 - mu) * ($1 - mu) } / Double(max(1, others.count - 1))).squareRoot()
        let zs = sd > 0 ? (truth - mu) / sd : 0
        let tail = max(0.5 * erfc(zs / 2.0.squareRoot()), 1 / spaceSize)
        return ExposureResult(logLikelihood: truth, rankAmongSampled: rank, sampledCandidates: others.count, spaceSize: spaceSize,
                              exposure: point, exposureCI: ci, exposureNormalFit: min(log2(spaceSize), -log2(tail)))
    }

    /// Random candidates with the layout of `value`: every digit replaced by a random digit
    /// (phone numbers, numeric secrets). Space size = 10^digits.
    public static func digitCandidates(like value: String, count: Int, rng: inout SplitMix64) -> (candidates: [String], space: Double) {
        let digits = value.filter(\.isNumber).count
        let cands = (0..<count).map { _ in String(value.map { $0.isNumber ? Character(String(rng.int(10))) : $0 }) }
        return (cands, pow(10, Double(digits)))
    }

    /// E-mail candidates: local parts of other addresses combined with domains of other
    /// addresses (the corpus's own values and their recombinations). Space = locals × domains.
    public static func emailCandidates(like value: String, pool: [String], count: Int, rng: inout SplitMix64) -> (candidates: [String], space: Double) {
        // sorted: a Set's order changes from run to run, and the candidates must not
        let locals = Set(pool.compactMap { $0.split(separator: "@").first.map(String.init) }).sorted()
        let domains = Set(pool.compactMap { $0.split(separator: "@").last.map(String.init) }).sorted()
        guard !locals.isEmpty, !domains.isEmpty else { return ([], 1) }
        var out = Set<String>()
        var tries = 0
        while out.count < count && tries < count * 20 {
            tries += 1
            let c = "\(locals[rng.int(locals.count)])@\(domains[rng.int(domains.count)])"
            if c != value { out.insert(c) }
        }
        return (out.sorted(), Double(locals.count * domains.count))
    }
}
