// The model as the attacks see it: score token sequences, generate continuations, a tokenizer
// and a context length. `LocalModel` runs Shallot's own engine in-process; other back ends (an
// OpenAI-compatible server, target `Endpoint`) implement the same protocol, and the attacks do
// not change. Calls are synchronous and made one at a time by an attack; a back end may run
// many requests in flight inside one call.

import Foundation
import GPT
import Tokenizer

/// What a back end can provide beyond generation.
public struct ModelCapabilities: Sendable, Equatable {
    /// log p(x_t | x_<t) of given tokens (scoring: continuous scores, exposure, membership
    /// inference, untargeted rankings). An OpenAI-compatible server gives them with
    /// `echo: true, logprobs`; some servers do not.
    public var promptLogprobs: Bool
    /// E and sd of log p(v) over the whole vocabulary at each position (Min-K%++).
    public var distribution: Bool
    /// A sequence can start at a given position with nothing before it (the `startPositions`
    /// calls): Shallot's engine can; an OpenAI-compatible server always starts at 0.
    public var positionOffsets: Bool
    public init(promptLogprobs: Bool, distribution: Bool, positionOffsets: Bool = false) {
        self.promptLogprobs = promptLogprobs; self.distribution = distribution; self.positionOffsets = positionOffsets
    }
}

public enum LanguageModelError: Error, CustomStringConvertible {
    case unavailable(String)
    case backend(String)
    public var description: String {
        switch self {
        case .unavailable(let s): return "unavailable: \(s)"
        case .backend(let s): return s
        }
    }
}

public protocol LanguageModel: AnyObject, Sendable {
    /// The tokenizer whose ids `score` and `generate` take and return.
    var tokenizer: any TextTokenizer { get }
    /// Longest sequence (prompt plus generated tokens) the model takes.
    var contextLength: Int { get }
    var capabilities: ModelCapabilities { get }
    /// Per-token log-probabilities of each sequence (as `Scorer.score`): n − 1 values for n
    /// tokens; `mean`/`std` only when `distribution` is asked and `capabilities.distribution`.
    /// Throws `LanguageModelError.unavailable` when the back end cannot score.
    func score(_ sequences: [[Int32]], distribution: Bool, progress: ((Int) -> Void)?) throws -> [SequenceScore]
    /// New tokens after each prompt (as `Generator.generate`): greedy when `p.temperature == 0`,
    /// otherwise sampled with a seed derived from `p.seed` and the prompt's position.
    func generate(prompts: [[Int32]], _ p: SamplingParameters, endOfText: Int32?) throws -> [[Int32]]
    /// The same, sequence i starting at position `startPositions[i]` with nothing before it.
    /// Back ends without `capabilities.positionOffsets` accept only zeros.
    func score(_ sequences: [[Int32]], startPositions: [Int], distribution: Bool, progress: ((Int) -> Void)?) throws -> [SequenceScore]
    func generate(prompts: [[Int32]], startPositions: [Int], _ p: SamplingParameters, endOfText: Int32?) throws -> [[Int32]]
}

extension LanguageModel {
    public func score(_ sequences: [[Int32]]) throws -> [SequenceScore] { try score(sequences, distribution: false, progress: nil) }

    public func score(_ sequences: [[Int32]], startPositions: [Int], distribution: Bool, progress: ((Int) -> Void)?) throws -> [SequenceScore] {
        try requireZero(startPositions)
        return try score(sequences, distribution: distribution, progress: progress)
    }

    public func generate(prompts: [[Int32]], startPositions: [Int], _ p: SamplingParameters, endOfText: Int32?) throws -> [[Int32]] {
        try requireZero(startPositions)
        return try generate(prompts: prompts, p, endOfText: endOfText)
    }

    func requireZero(_ starts: [Int]) throws {
        guard starts.allSatisfy({ $0 == 0 }) else {
            throw LanguageModelError.unavailable("this back end starts every sequence at position 0; it cannot place a prompt at its trained position")
        }
    }
}

/// Shallot's engine in-process: exactly the `Scorer` and `Generator` calls the attacks made
/// before the protocol existed (same batching, same numerics).
public final class LocalModel: LanguageModel, @unchecked Sendable {
    public let model: GPT
    public let tokenizer: any TextTokenizer
    let scorer: Scorer
    let generator: Generator
    let lock = NSLock()

    public init(_ model: GPT, tokenizer: any TextTokenizer) {
        self.model = model; self.tokenizer = tokenizer
        scorer = Scorer(model: model); generator = Generator(model: model)
    }

    /// Shares an existing scorer (its session) with the caller.
    public init(scorer: Scorer, tokenizer: any TextTokenizer) {
        self.model = scorer.model; self.tokenizer = tokenizer
        self.scorer = scorer; generator = Generator(model: scorer.model)
    }

    public var contextLength: Int { model.config.nPositions }
    public var capabilities: ModelCapabilities { ModelCapabilities(promptLogprobs: true, distribution: true, positionOffsets: true) }

    public func score(_ sequences: [[Int32]], distribution: Bool, progress: ((Int) -> Void)?) throws -> [SequenceScore] {
        lock.lock(); defer { lock.unlock() }
        return try scorer.score(sequences, distribution: distribution, progress: progress)
    }

    public func generate(prompts: [[Int32]], _ p: SamplingParameters, endOfText: Int32?) throws -> [[Int32]] {
        try generator.generate(prompts: prompts, p, endOfText: endOfText)
    }

    public func score(_ sequences: [[Int32]], startPositions: [Int], distribution: Bool, progress: ((Int) -> Void)?) throws -> [SequenceScore] {
        lock.lock(); defer { lock.unlock() }
        return try scorer.score(sequences, startPositions: startPositions, distribution: distribution, progress: progress)
    }

    public func generate(prompts: [[Int32]], startPositions: [Int], _ p: SamplingParameters, endOfText: Int32?) throws -> [[Int32]] {
        try generator.generate(prompts: prompts, startPositions: startPositions, p, endOfText: endOfText)
    }
}
