// The batching inference loop behind the server. One thread owns one `InferenceSession` (a KV
// cache of `maxBatch` slots × the model's context) and runs continuous batching: requests that
// arrive within `batchWindow` of each other start together, and new sequences join the running
// batch between decoding steps as slots free up. Each step is one ragged forward pass over every
// prompt being prefilled and every sequence being decoded, so concurrent clients share passes.
//
// Numerics are those of the in-process engine: the same `InferenceSession.forward`, the same
// `Sampler.sample` (sequence i of a request samples from SplitMix64(mix64(seed + i)), as
// `Generator` does for its i-th prompt), and log-probabilities computed as `Scorer` does:
// log p(t) = logit[t] − logsumexp(logits), natural log, full vocabulary, temperature 1
// (whatever temperature / top-k / top-p the sampling used).

import Foundation
import Support
import GPT
import Kernels
import Tokenizer

/// One sequence to run: a prompt, then up to `maxNewTokens` sampled tokens.
struct SequenceJob: Sendable {
    var prompt: [Int32]
    var sampling: SamplingParameters
    /// Sampling stream index (as the i-th prompt given to `Generator`).
    var streamIndex: Int
    /// Log-probabilities of the prompt's own tokens (echo).
    var scorePrompt: Bool
    /// Alternatives per position (nil: no log-probabilities at all; 0: only the chosen token's).
    var topLogprobs: Int?
    var stop: [String]
}

struct TokenLogprob: Sendable {
    var logprob: Float
    /// The `top` most likely tokens at this position with their log-probabilities, most likely first.
    var top: [(Int32, Float)]
}

struct SequenceResult: Sendable {
    var prompt: [Int32]
    /// Entry i (i ≥ 1) is log p(prompt_i | prompt_<i); entry 0 is nil. Empty unless the prompt was scored.
    var promptLogprobs: [TokenLogprob?] = []
    var generated: [Int32] = []
    var generatedLogprobs: [TokenLogprob] = []
    /// "stop" (end of text or a stop string) or "length".
    var finishReason = "length"
    /// The generated text, cut before a stop string when one was produced (nil: no cut).
    var stopCut: String?
}

public struct EngineSettings: Sendable {
    /// Sequences decoded together (KV-cache slots).
    public var maxBatch = 8
    /// How long an idle engine waits for more requests before starting a batch.
    public var batchWindow: TimeInterval = 0.005
    /// Sequences waiting for a slot; a request that would queue more is answered 429.
    public var maxQueued = 1024
    public init(maxBatch: Int = 8, batchWindow: TimeInterval = 0.005, maxQueued: Int = 1024) {
        self.maxBatch = maxBatch; self.batchWindow = batchWindow; self.maxQueued = maxQueued
    }
}

final class BatchEngine: @unchecked Sendable {
    let model: GPT
    let tokenizer: any TextTokenizer
    let settings: EngineSettings

    private let cond = NSCondition()
    private var pending: [(job: SequenceJob, group: Group, index: Int)] = []
    private var stopping = false
    private var thread: Thread?
    /// Sequences in slots, finished, and dropped because their client went away (for tests).
    private var activeCount = 0, finishedCount = 0, droppedCount = 0

    /// The sequences of one request; answered when all are done.
    final class Group: @unchecked Sendable {
        var results: [SequenceResult?]
        var remaining: Int
        var continuation: CheckedContinuation<[SequenceResult], any Error>?
        var failed = false
        /// The client went away: the group's sequences leave the queue and their slots.
        var abandoned = false
        init(count: Int) { results = .init(repeating: nil, count: count); remaining = count }
    }

    init(model: GPT, tokenizer: any TextTokenizer, settings: EngineSettings) {
        self.model = model; self.tokenizer = tokenizer
        self.settings = EngineSettings(maxBatch: max(1, settings.maxBatch), batchWindow: max(0, settings.batchWindow),
                                       maxQueued: max(1, settings.maxQueued))
    }

    func start() {
        cond.lock(); defer { cond.unlock() }
        guard thread == nil else { return }
        let t = Thread { [self] in self.loop() }
        t.name = "shallot-serve-engine"
        thread = t
        t.start()
    }

    /// Stops the loop after the current step; queued and running requests fail.
    func shutdown() {
        cond.lock(); stopping = true; cond.broadcast(); cond.unlock()
    }

    /// Runs the jobs (batched with whatever else is running) and returns their results in order:
    /// 429 when the queue cannot take them. `onAbandon` receives a function to call when the
    /// client goes away; the jobs then leave the engine and the call fails.
    func run(_ jobs: [SequenceJob], onAbandon: (@escaping @Sendable () -> Void) -> Void = { _ in }) async throws -> [SequenceResult] {
        if jobs.isEmpty { return [] }
        let group = Group(count: jobs.count)
        let abandon: @Sendable () -> Void = { [self] in self.abandon(group) }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { cont in
                cond.lock()
                if let refusal = refusal(adding: jobs.count) {
                    cond.unlock()
                    cont.resume(throwing: refusal)
                    return
                }
                group.continuation = cont
                for (i, j) in jobs.enumerated() { pending.append((j, group, i)) }
                cond.broadcast()
                cond.unlock()
                onAbandon(abandon)
            }
        } onCancel: { abandon() }
    }

    /// Why `count` more sequences cannot be queued now (nil: they can). Called with the lock held.
    private func refusal(adding count: Int) -> APIError? {
        if stopping { return APIError(503, "the server is shutting down", type: "server_error") }
        guard pending.count + count <= settings.maxQueued else {
            return APIError(429, "the server is busy: \(pending.count) sequences are waiting and the queue holds \(settings.maxQueued); "
                            + "retry later", type: "rate_limit_error", code: "queue_full", retryAfter: 1)
        }
        return nil
    }

    /// Drops a group whose client went away: its queued sequences now, the ones in slots at the
    /// next step.
    private func abandon(_ g: Group) {
        cond.lock()
        let before = pending.count
        pending.removeAll { $0.group === g }
        droppedCount += before - pending.count
        g.abandoned = true
        cond.unlock()
        fail(g, APIError(499, "the client closed the connection", code: "client_closed"))
    }

    /// Sequences in slots and waiting, finished, and dropped (their client went away).
    func counts() -> (active: Int, pending: Int, finished: Int, dropped: Int) {
        cond.lock(); defer { cond.unlock() }
        return (activeCount, pending.count, finishedCount, droppedCount)
    }

    // MARK: the loop (engine thread only below)

    final class Active {
        let job: SequenceJob
        let group: Group, index: Int
        var result: SequenceResult
        var rng: SplitMix64
        var prefilled = false
        /// Tokens in this slot's KV cache.
        var length = 0
        var generatedBytes: [UInt8] = []
        init(job: SequenceJob, group: Group, index: Int) {
            self.job = job; self.group = group; self.index = index
            result = SequenceResult(prompt: job.prompt)
            rng = SplitMix64(seed: mix64(job.sampling.seed &+ UInt64(job.streamIndex)))
        }
    }

    private func loop() {
        let S = settings.maxBatch
        var slots = [Active?](repeating: nil, count: S)
        var session: InferenceSession?
        while true {
            cond.lock()
            var busy = slots.contains { $0 != nil }
            while pending.isEmpty && !busy && !stopping { cond.wait() }
            if !stopping && !busy && settings.batchWindow > 0 {
                // Idle engine: give concurrent clients a moment to join this batch.
                let deadline = Date(timeIntervalSinceNow: settings.batchWindow)
                while pending.count < S && !stopping && cond.wait(until: deadline) {}
            }
            if stopping {
                let queued = pending; pending = []
                cond.unlock()
                let err = APIError(503, "the server is shutting down", type: "server_error")
                for q in queued { fail(q.group, err) }
                for a in slots.compactMap({ $0 }) { fail(a.group, err) }
                return
            }
            for s in 0..<S where slots[s]?.group.abandoned == true { slots[s] = nil; droppedCount += 1 }
            for s in 0..<S where slots[s] == nil && !pending.isEmpty {
                let p = pending.removeFirst()
                slots[s] = Active(job: p.job, group: p.group, index: p.index)
            }
            activeCount = slots.count { $0 != nil }
            cond.unlock()
            busy = slots.contains { $0 != nil }
            guard busy else { continue }
            do {
                if session == nil {
                    session = try InferenceSession(model: model, slots: S, maxLength: model.config.nPositions, maxTokens: 512)
                }
                try step(session!, &slots)
            } catch {
                let err = APIError(500, "inference failed: \(error)", type: "server_error")
                for s in 0..<S { if let a = slots[s] { fail(a.group, err); slots[s] = nil } }
            }
        }
    }

    /// Fails a group once (the lock guards its state: a client's close calls this from a
    /// connection's thread).
    private func fail(_ g: Group, _ error: any Error) {
        cond.lock()
        guard !g.failed, let c = g.continuation else { cond.unlock(); return }
        g.failed = true; g.continuation = nil
        cond.unlock()
        c.resume(throwing: error)
    }

    private func finish(_ a: Active) {
        let g = a.group
        cond.lock()
        finishedCount += 1
        guard !g.failed else { cond.unlock(); return }
        g.results[a.index] = a.result
        g.remaining -= 1
        let done = g.remaining == 0 ? g.continuation : nil
        if done != nil { g.continuation = nil }
        cond.unlock()
        done?.resume(returning: g.results.map { $0! })
    }

    /// What the head computes for one row of logits.
    struct RowTask { var slot: Int; var target: Int32; var sample: Bool; var top: Int }
    struct RowOut { var targetLP: Float = 0; var sampled: Int32 = 0; var sampledLP: Float = 0; var top: [(Int32, Float)] = [] }

    /// One forward pass: prefill of newly admitted prompts, one decoding step of the others.
    private func step(_ session: InferenceSession, _ slots: inout [Active?]) throws {
        var tokens: [Int32] = [], slotOf: [Int] = [], positions: [Int] = [], want: [Int] = []
        var tasks: [RowTask] = []
        for s in slots.indices {
            guard let a = slots[s] else { continue }
            let top = a.job.topLogprobs ?? 0
            if !a.prefilled {
                let pr = a.job.prompt
                // Nothing to compute: no new tokens, and no prompt token that has a predecessor to score.
                if a.job.sampling.maxNewTokens == 0 && (!a.job.scorePrompt || pr.count < 2) { continue }
                let sample = a.job.sampling.maxNewTokens > 0
                for (i, t) in pr.enumerated() {
                    if a.job.scorePrompt && i + 1 < pr.count {
                        want.append(tokens.count); tasks.append(RowTask(slot: s, target: pr[i + 1], sample: false, top: top))
                    }
                    if sample && i + 1 == pr.count {
                        want.append(tokens.count); tasks.append(RowTask(slot: s, target: -1, sample: true, top: top))
                    }
                    tokens.append(t); slotOf.append(s); positions.append(i)
                }
            } else {
                want.append(tokens.count); tasks.append(RowTask(slot: s, target: -1, sample: true, top: top))
                tokens.append(a.result.generated.last!); slotOf.append(s); positions.append(a.length)
            }
        }
        var outs = [RowOut](repeating: RowOut(), count: tasks.count)
        if !tokens.isEmpty {
            let V = model.config.vocabSize
            let actives = slots
            try outs.withUnsafeMutableBufferPointer { ob in
                let ob = UncheckedSendable(ob.baseAddress!)
                try tasks.withUnsafeBufferPointer { tb in
                    let tb = UncheckedSendable(tb.baseAddress!)
                    let act = UncheckedSendable(actives)
                    try session.forward(tokens: tokens, slotOf: slotOf, positions: positions, logitsFor: want) { rows, logits in
                        let lg = UncheckedSendable(logits)
                        Parallel.forRanges(rows.count) { rr in
                            for k in rr {
                                let r = rows.lowerBound + k
                                let task = tb.value[r]
                                let x = lg.value + k * V
                                let lse = CrossEntropy.logSumExp(x, V)
                                var o = RowOut()
                                if task.target >= 0 { o.targetLP = x[Int(task.target)] - lse }
                                if task.sample {
                                    let a = act.value[task.slot]!
                                    o.sampled = Sampler.sample(x, V, a.job.sampling, &a.rng)
                                    o.sampledLP = x[Int(o.sampled)] - lse
                                }
                                if task.top > 0 { o.top = BatchEngine.topLogprobs(x, V, task.top, lse: lse) }
                                ob.value[r] = o
                            }
                        }
                    }
                }
            }
        }
        // Hand out the results row by row (rows of one slot are in position order).
        for (r, task) in tasks.enumerated() {
            let a = slots[task.slot]!
            let o = outs[r]
            if task.target >= 0 {
                if a.result.promptLogprobs.isEmpty { a.result.promptLogprobs.append(nil) }
                a.result.promptLogprobs.append(TokenLogprob(logprob: o.targetLP, top: o.top))
            } else {
                a.result.generated.append(o.sampled)
                a.result.generatedLogprobs.append(TokenLogprob(logprob: o.sampledLP, top: o.top))
            }
        }
        for s in slots.indices {
            guard let a = slots[s] else { continue }
            if a.job.scorePrompt && a.result.promptLogprobs.isEmpty { a.result.promptLogprobs = [nil] }
            if !a.prefilled { a.prefilled = true; a.length = a.job.prompt.count }
            else { a.length += 1 }
            if isDone(a) { finish(a); slots[s] = nil }
        }
    }

    /// Decides after each step whether a sequence is finished (and cuts stop strings).
    private func isDone(_ a: Active) -> Bool {
        let p = a.job.sampling
        guard p.maxNewTokens > 0 else { return true }
        guard let last = a.result.generated.last else { return true }
        if p.stopAtEndOfText && last == tokenizer.endOfText {
            // The end-of-text token ends the sequence and is not part of the answer.
            a.result.generated.removeLast(); a.result.generatedLogprobs.removeLast()
            a.result.finishReason = "stop"
            return true
        }
        if !a.job.stop.isEmpty {
            a.generatedBytes += (try? tokenizer.decodeBytes([last])) ?? []
            let text = String(decoding: a.generatedBytes, as: UTF8.self)
            var cut: String.Index?
            for s in a.job.stop where !s.isEmpty {
                if let r = text.range(of: s), cut == nil || r.lowerBound < cut! { cut = r.lowerBound }
            }
            if let cut {
                a.result.stopCut = String(text[..<cut])
                a.result.finishReason = "stop"
                return true
            }
        }
        // The cache holds `length` tokens; the last sampled one would go at position `length`
        // (as `Generator`: a sequence ends when it fills the model's context).
        if a.result.generated.count >= p.maxNewTokens || a.length + 1 >= model.config.nPositions {
            a.result.finishReason = "length"
            return true
        }
        return false
    }

    /// The k most likely tokens (most likely first, lower id first on ties) with their log-probabilities.
    static func topLogprobs(_ x: UnsafePointer<Float>, _ V: Int, _ k: Int, lse: Float) -> [(Int32, Float)] {
        let k = min(k, V)
        var best: [(Float, Int32)] = []
        best.reserveCapacity(k + 1)
        for i in 0..<V {
            let v = x[i]
            if best.count == k, let lastV = best.last?.0, !(v > lastV) { continue }
            var j = best.count
            while j > 0 && best[j - 1].0 < v { j -= 1 }
            best.insert((v, Int32(i)), at: j)
            if best.count > k { best.removeLast() }
        }
        return best.map { ($0.1, $0.0 - lse) }
    }
}
