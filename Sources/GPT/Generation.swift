// Text generation with the KV cache: prompts of different lengths are prefilled together, then
// decoded one token per step for every unfinished sequence. Greedy, temperature, top-k and
// top-p sampling (HF's order: temperature, then top-k, then top-p). Sequence i samples from its
// own stream seeded by (seed, i), so results do not depend on thread count or timing.

import Foundation
import Support
import Kernels

public struct SamplingParameters: Codable, Sendable, Equatable {
    public var maxNewTokens: Int = 64
    /// 0 = greedy decoding.
    public var temperature: Float = 1
    /// Keep the k most likely tokens (0 = no limit).
    public var topK: Int = 0
    /// Keep the smallest set of most likely tokens whose probability reaches p (1 = no limit).
    public var topP: Float = 1
    public var seed: UInt64 = 0
    /// Stop a sequence when it emits `<|endoftext|>` (the token is kept in the output).
    public var stopAtEndOfText: Bool = true

    public init(maxNewTokens: Int = 64, temperature: Float = 1, topK: Int = 0, topP: Float = 1, seed: UInt64 = 0, stopAtEndOfText: Bool = true) {
        self.maxNewTokens = maxNewTokens; self.temperature = temperature; self.topK = topK
        self.topP = topP; self.seed = seed; self.stopAtEndOfText = stopAtEndOfText
    }

    public static func greedy(_ n: Int) -> SamplingParameters { SamplingParameters(maxNewTokens: n, temperature: 0) }
    public var isGreedy: Bool { temperature == 0 }
}

public enum Sampler {
    /// Index of the largest logit (the first one on ties, as torch.argmax).
    public static func argmax(_ x: UnsafePointer<Float>, _ V: Int) -> Int32 {
        var best = 0
        var bv = x[0]
        for i in 1..<V where x[i] > bv { bv = x[i]; best = i }
        return Int32(best)
    }

    public static func sample(_ x: UnsafePointer<Float>, _ V: Int, _ p: SamplingParameters, _ rng: inout SplitMix64) -> Int32 {
        if p.isGreedy { return argmax(x, V) }
        // Candidates sorted by logit, descending (lower id first on ties).
        var cand: [(Float, Int32)]
        if p.topK > 0 && p.topK < V {
            cand = topK(x, V, p.topK)
        } else {
            cand = (0..<V).map { (x[$0], Int32($0)) }
            cand.sort { $0.0 > $1.0 || ($0.0 == $1.0 && $0.1 < $1.1) }
        }
        let maxv = cand[0].0
        var probs = cand.map { expf(($0.0 - maxv) / p.temperature) }
        var total = probs.reduce(0, +)
        if p.topP < 1 {
            var cum: Float = 0, keep = probs.count
            for (i, q) in probs.enumerated() {
                cum += q / total
                if cum >= p.topP { keep = i + 1; break }
            }
            probs.removeLast(probs.count - keep)
            total = probs.reduce(0, +)
        }
        let u = Float(rng.nextDouble()) * total
        var acc: Float = 0
        for (i, q) in probs.enumerated() {
            acc += q
            if u < acc { return cand[i].1 }
        }
        return cand[probs.count - 1].1
    }

    /// The k largest logits, sorted descending.
    static func topK(_ x: UnsafePointer<Float>, _ V: Int, _ k: Int) -> [(Float, Int32)] {
        var best: [(Float, Int32)] = (0..<k).map { (x[$0], Int32($0)) }
        best.sort { $0.0 > $1.0 || ($0.0 == $1.0 && $0.1 < $1.1) }
        var floor = best[k - 1].0
        for i in k..<V where x[i] > floor {
            // insertion into the sorted list
            var j = k - 1
            while j > 0 && best[j - 1].0 < x[i] { best[j] = best[j - 1]; j -= 1 }
            best[j] = (x[i], Int32(i))
            floor = best[k - 1].0
        }
        return best
    }
}

public final class Generator: @unchecked Sendable {
    public let model: GPT
    public init(model: GPT) { self.model = model }

    /// Generates up to `maxNewTokens` tokens after each prompt. Returns only the new tokens.
    /// A sequence also stops when the model's context is full. `startPositions[i]` (default 0)
    /// is the position of prompt i's first token, with nothing before it (a prompt placed where
    /// its tokens stood in a training window). `onStep` receives the number of tokens generated
    /// so far over all sequences.
    public func generate(prompts: [[Int32]], startPositions: [Int]? = nil, _ p: SamplingParameters, endOfText: Int32?,
                         onStep: ((Int) -> Void)? = nil) throws -> [[Int32]] {
        let c = model.config
        guard !prompts.isEmpty else { return [] }
        let starts = startPositions ?? [Int](repeating: 0, count: prompts.count)
        guard starts.count == prompts.count else { throw GPTError.invalidInput("\(starts.count) start positions for \(prompts.count) prompts") }
        for (i, pr) in prompts.enumerated() {
            guard !pr.isEmpty else { throw GPTError.invalidInput("prompt \(i) is empty (start it with <|endoftext|> to generate from nothing)") }
            guard starts[i] >= 0, starts[i] + pr.count < c.nPositions else {
                throw GPTError.invalidInput("prompt \(i) has \(pr.count) tokens from position \(starts[i]); the model's context is \(c.nPositions)")
            }
        }
        let maxLen = min(c.nPositions, zip(prompts, starts).map { $0.count + $1 }.max()! + p.maxNewTokens)
        let session = try InferenceSession(model: model, slots: prompts.count, maxLength: maxLen, maxTokens: 512)
        try session.setFirstPositions(starts)
        var rngs = prompts.indices.map { SplitMix64(seed: mix64(p.seed &+ UInt64($0))) }
        var out = [[Int32]](repeating: [], count: prompts.count)
        var lengths = zip(prompts, starts).map { $0.count + $1 }
        var active = prompts.indices.filter { _ in p.maxNewTokens > 0 }
        // Prefill: every prompt token, logits for each prompt's last token only.
        var tokens: [Int32] = [], slotOf: [Int] = [], positions: [Int] = [], last: [Int] = []
        for (s, pr) in prompts.enumerated() {
            for (i, t) in pr.enumerated() { tokens.append(t); slotOf.append(s); positions.append(starts[s] + i) }
            last.append(tokens.count - 1)
        }
        var generated = 0
        while !active.isEmpty {
            var next = [Int32](repeating: 0, count: active.count)
            try next.withUnsafeMutableBufferPointer { nb in
                let nb = UncheckedSendable(nb.baseAddress!)
                try rngs.withUnsafeMutableBufferPointer { rb in
                    let rb = UncheckedSendable(rb.baseAddress!)
                    let act = active
                    try session.forward(tokens: tokens, slotOf: slotOf, positions: positions, logitsFor: last) { rows, logits in
                        let lg = UncheckedSendable(logits)
                        Parallel.forRanges(rows.count) { rr in
                            for k in rr {
                                let r = rows.lowerBound + k
                                nb.value[r] = Sampler.sample(lg.value + k * c.vocabSize, c.vocabSize, p, &rb.value[act[r]])
                            }
                        }
                    }
                }
            }
            tokens = []; slotOf = []; positions = []; last = []
            var still: [Int] = []
            for (k, s) in active.enumerated() {
                out[s].append(next[k])
                generated += 1
                let done = out[s].count >= p.maxNewTokens || lengths[s] + 1 >= maxLen
                    || (p.stopAtEndOfText && endOfText == next[k])
                if !done {
                    tokens.append(next[k]); slotOf.append(s); positions.append(lengths[s])
                    last.append(tokens.count - 1)
                    still.append(s)
                }
                lengths[s] += 1
            }
            active = still
            onStep?(generated)
        }
        return out
    }
}
