// Batched scoring: the log-probability of every next token of given sequences, as HF
// `log_softmax(model(ids).logits)[:, :-1].gather(ids[:, 1:])` (no BOS added). Optionally the
// mean and standard deviation of log p(v) under the model's own next-token distribution at each
// position (what Min-K%++ needs). Every attack calls this.

import Foundation
import Kernels

public struct SequenceScore: Sendable, Codable, Equatable {
    /// log p(x_t | x_<t) for t = 1..n-1 (n−1 values for n tokens).
    public var logprobs: [Float]
    /// E_{v∼p}[log p(v)] per position (when requested).
    public var mean: [Float]?
    /// sqrt(Var_{v∼p}[log p(v)]) per position (when requested).
    public var std: [Float]?
    public init(logprobs: [Float], mean: [Float]? = nil, std: [Float]? = nil) { self.logprobs = logprobs; self.mean = mean; self.std = std }
    public var tokenCount: Int { logprobs.count + 1 }
    /// Mean negative log-likelihood over the predicted tokens (0 for a one-token sequence).
    public var loss: Float { logprobs.isEmpty ? 0 : -logprobs.reduce(0, +) / Float(logprobs.count) }
}

public final class Scorer: @unchecked Sendable {
    public let model: GPT
    /// Tokens per forward batch.
    public let batchTokens: Int
    var session: InferenceSession?

    public init(model: GPT, batchTokens: Int = 2048) {
        self.model = model
        self.batchTokens = batchTokens
    }

    /// Scores sequences in order. `progress` receives the number of sequences done.
    /// `startPositions[i]` (default 0) is the position of sequence i's first token, with nothing
    /// before it (HF's `position_ids` starting there).
    public func score(_ sequences: [[Int32]], startPositions: [Int]? = nil, distribution: Bool = false,
                      progress: ((Int) -> Void)? = nil) throws -> [SequenceScore] {
        let maxT = model.config.nPositions
        let starts = startPositions ?? [Int](repeating: 0, count: sequences.count)
        guard starts.count == sequences.count else { throw GPTError.invalidInput("\(starts.count) start positions for \(sequences.count) sequences") }
        for (i, s) in sequences.enumerated() where starts[i] < 0 || starts[i] + s.count > maxT {
            throw GPTError.invalidInput("sequence \(i) has \(s.count) tokens from position \(starts[i]); the model's context is \(maxT)")
        }
        var results = [SequenceScore?](repeating: nil, count: sequences.count)
        var i = 0
        while i < sequences.count {
            // Pack sequences until the token budget is used (always at least one).
            var j = i, total = 0
            while j < sequences.count, j == i || total + sequences[j].count <= batchTokens { total += sequences[j].count; j += 1 }
            try scoreBatch(sequences, starts, i..<j, distribution: distribution, into: &results)
            i = j
            progress?(i)
        }
        return results.map { $0! }
    }

    func scoreBatch(_ seqs: [[Int32]], _ starts: [Int], _ range: Range<Int>, distribution: Bool, into results: inout [SequenceScore?]) throws {
        let maxLen = max(1, range.map { seqs[$0].count + starts[$0] }.max() ?? 1)
        if session == nil || session!.slots < range.count || session!.maxLength < maxLen {
            session = try InferenceSession(model: model, slots: max(range.count, session?.slots ?? 0),
                                           maxLength: max(maxLen, session?.maxLength ?? 0), maxTokens: 512)
        }
        try session!.setFirstPositions(range.map { starts[$0] })
        var tokens: [Int32] = [], slotOf: [Int] = [], positions: [Int] = []
        var want: [Int] = [], targets: [Int32] = []
        for (slot, s) in range.enumerated() {
            for (p, t) in seqs[s].enumerated() {
                if p + 1 < seqs[s].count {
                    want.append(tokens.count); targets.append(seqs[s][p + 1])
                }
                tokens.append(t); slotOf.append(slot); positions.append(starts[s] + p)
            }
        }
        var lp = [Float](repeating: 0, count: want.count)
        var mu = [Float](repeating: 0, count: distribution ? want.count : 0)
        var sd = [Float](repeating: 0, count: distribution ? want.count : 0)
        let V = model.config.vocabSize
        try lp.withUnsafeMutableBufferPointer { lpb in
            try mu.withUnsafeMutableBufferPointer { mub in
                try sd.withUnsafeMutableBufferPointer { sdb in
                    let out = UncheckedSendable((lpb.baseAddress!, mub.baseAddress, sdb.baseAddress))
                    try targets.withUnsafeBufferPointer { tb in
                        let tb = UncheckedSendable(tb.baseAddress!)
                        try session!.forward(tokens: tokens, slotOf: slotOf, positions: positions, logitsFor: want) { rows, logits in
                            let lg = UncheckedSendable(logits)
                            Parallel.forRanges(rows.count) { rr in
                                for k in rr {
                                    let x = lg.value + k * V
                                    let r = rows.lowerBound + k
                                    let lse = CrossEntropy.logSumExp(x, V)
                                    out.value.0[r] = x[Int(tb.value[r])] - lse
                                    if distribution {
                                        let (m, m2) = logSoftmaxMoments(x, V, lse: lse)
                                        out.value.1![r] = Float(m)
                                        out.value.2![r] = Float(max(0, m2 - m * m).squareRoot())
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        var k = 0
        for s in range {
            let n = max(0, seqs[s].count - 1)
            results[s] = SequenceScore(logprobs: Array(lp[k..<(k + n)]),
                                       mean: distribution ? Array(mu[k..<(k + n)]) : nil,
                                       std: distribution ? Array(sd[k..<(k + n)]) : nil)
            k += n
        }
    }
}
