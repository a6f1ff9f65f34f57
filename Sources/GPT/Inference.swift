// Incremental inference with a key/value cache over a "ragged" batch: each call processes a
// list of tokens, each belonging to a sequence slot at a position. Prefill of prompts of
// different lengths, batched decoding and batched scoring are all this one forward pass.
// Reference: HF GPT2LMHeadModel with use_cache=True (eager attention, no dropout).

import Foundation
import Kernels

public final class InferenceSession: @unchecked Sendable {
    public let model: GPT
    /// Sequences held at once and the longest sequence per slot.
    public let slots: Int, maxLength: Int
    /// Tokens processed per forward call (longer inputs are split).
    public let maxTokens: Int
    let kcache: FloatBuffer, vcache: FloatBuffer  // (L, slots, maxLength, C)
    // scratch, sized for maxTokens
    let x, ln, qkv, atty, proj, fch: FloatBuffer
    let attScratch: FloatBuffer  // (threads·chunks, maxLength) scores per (token, head) task
    let tokBuf, posBuf: UnsafeMutablePointer<Int32>
    /// Each slot's first position: its tokens attend to positions firstPosition[slot]...pos only.
    /// A sequence can so start at the position it had inside a training window, with nothing
    /// before it (what HF computes given `position_ids` that start there). Zero by default.
    public private(set) var firstPosition: [Int]

    public init(model: GPT, slots: Int, maxLength: Int, maxTokens: Int = 512) throws {
        let c = model.config
        guard maxLength <= c.nPositions else {
            throw GPTError.invalidInput("sequence length \(maxLength) exceeds the model's n_positions \(c.nPositions)")
        }
        self.model = model; self.slots = slots; self.maxLength = maxLength; self.maxTokens = maxTokens
        let C = c.nEmbd
        kcache = FloatBuffer(count: c.nLayer * slots * maxLength * C)
        vcache = FloatBuffer(count: c.nLayer * slots * maxLength * C)
        x = FloatBuffer(count: maxTokens * C); ln = FloatBuffer(count: maxTokens * C)
        qkv = FloatBuffer(count: maxTokens * 3 * C); atty = FloatBuffer(count: maxTokens * C)
        proj = FloatBuffer(count: maxTokens * C); fch = FloatBuffer(count: maxTokens * c.mlpWidth)
        attScratch = FloatBuffer(count: maxTokens * c.nHead * maxLength)
        tokBuf = .allocate(capacity: maxTokens); posBuf = .allocate(capacity: maxTokens)
        firstPosition = [Int](repeating: 0, count: slots)
    }

    /// Sets where each slot's sequence starts (before its first token is processed).
    public func setFirstPositions(_ starts: [Int]) throws {
        guard starts.count <= slots, starts.allSatisfy({ $0 >= 0 && $0 < maxLength }) else {
            throw GPTError.invalidInput("first positions \(starts.prefix(4)) do not fit the session (\(slots) slots × \(maxLength))")
        }
        firstPosition = starts + [Int](repeating: 0, count: slots - starts.count)
    }

    deinit { tokBuf.deallocate(); posBuf.deallocate() }

    /// Runs tokens through the model, storing their keys and values in the cache. Token i is at
    /// `positions[i]` of sequence `slotOf[i]`; every earlier position of that slot must already
    /// be in the cache or come earlier in this call. For each index in `logitsFor`, the final
    /// normalised hidden state is handed to `head`, which computes what it needs (logits of a
    /// chunk of rows at a time).
    public func forward(tokens: [Int32], slotOf: [Int], positions: [Int], logitsFor: [Int],
                        head: (_ rows: Range<Int>, _ logits: UnsafeMutablePointer<Float>) -> Void) throws {
        let c = model.config
        for (i, t) in tokens.enumerated() {
            guard t >= 0 && Int(t) < c.vocabSize else { throw GPTError.invalidInput("token id \(t) is outside the vocabulary (\(c.vocabSize))") }
            guard positions[i] >= 0 && positions[i] < maxLength, slotOf[i] >= 0 && slotOf[i] < slots, positions[i] >= firstPosition[slotOf[i]] else {
                throw GPTError.invalidInput("position \(positions[i]) of slot \(slotOf[i]) is outside the session (\(slots) slots × \(maxLength))")
            }
        }
        // The final hidden states of the requested rows, gathered across chunks.
        let C = c.nEmbd
        let finals = FloatBuffer(count: max(1, logitsFor.count) * C)
        var want: [Int: [Int]] = [:]
        for (k, i) in logitsFor.enumerated() { want[i, default: []].append(k) }
        var start = 0
        while start < tokens.count {
            let end = min(tokens.count, start + maxTokens)
            runLayers(tokens: tokens[start..<end], slotOf: slotOf[start..<end], positions: positions[start..<end])
            for i in start..<end { if let ks = want[i] { for k in ks { (finals.ptr + k * C).update(from: x.ptr + (i - start) * C, count: C) } } }
            start = end
        }
        guard !logitsFor.isEmpty else { return }
        let w = model.weights
        LayerNorm.forward(out: finals.ptr, mean: nil, rstd: nil, inp: finals.ptr, weight: w.lnfw, bias: w.lnfb, N: logitsFor.count, C: C, eps: c.layerNormEpsilon)
        // Logits in chunks of rows so that memory stays bounded with a 50k vocabulary.
        let chunk = 128
        let logits = FloatBuffer(count: min(chunk, logitsFor.count) * c.vocabSize)
        var r = 0
        while r < logitsFor.count {
            let n = min(chunk, logitsFor.count - r)
            Matmul.forward(out: logits.ptr, inp: finals.ptr + r * C, weight: w.wte, bias: nil, N: n, C: C, OC: c.vocabSize, layout: .outIn)
            head(r..<(r + n), logits.ptr)
            r += n
        }
    }

    /// The transformer blocks over one chunk; leaves the residual stream in `x`.
    func runLayers(tokens: ArraySlice<Int32>, slotOf: ArraySlice<Int>, positions: ArraySlice<Int>) {
        let c = model.config, w = model.weights
        let N = tokens.count, C = c.nEmbd, F = c.mlpWidth, NH = c.nHead, hs = C / NH
        for (k, i) in tokens.indices.enumerated() { tokBuf[k] = tokens[i]; posBuf[k] = Int32(positions[i]) }
        let slotArr = Array(slotOf), posArr = Array(positions)
        Encoder.forward(out: x.ptr, tokens: tokBuf, positions: posBuf, wte: w.wte, wpe: w.wpe, N: N, C: C)
        for l in 0..<c.nLayer {
            let lw = w.layers[l]
            let kc = kcache.ptr + l * slots * maxLength * C, vc = vcache.ptr + l * slots * maxLength * C
            LayerNorm.forward(out: ln.ptr, mean: nil, rstd: nil, inp: x.ptr, weight: lw.ln1w, bias: lw.ln1b, N: N, C: C, eps: c.layerNormEpsilon)
            Matmul.forward(out: qkv.ptr, inp: ln.ptr, weight: lw.qkvw, bias: lw.qkvb, N: N, C: C, OC: 3 * C)
            for n in 0..<N {
                let row = (slotArr[n] * maxLength + posArr[n]) * C
                (kc + row).update(from: qkv.ptr + n * 3 * C + C, count: C)
                (vc + row).update(from: qkv.ptr + n * 3 * C + 2 * C, count: C)
            }
            cachedAttention(N: N, slots: slotArr, positions: posArr, kc: kc, vc: vc, hs: hs, NH: NH, C: C)
            Matmul.forward(out: proj.ptr, inp: atty.ptr, weight: lw.attprojw, bias: lw.attprojb, N: N, C: C, OC: C)
            Residual.forward(out: x.ptr, a: x.ptr, b: proj.ptr, N: N * C)
            LayerNorm.forward(out: ln.ptr, mean: nil, rstd: nil, inp: x.ptr, weight: lw.ln2w, bias: lw.ln2b, N: N, C: C, eps: c.layerNormEpsilon)
            Matmul.forward(out: fch.ptr, inp: ln.ptr, weight: lw.fcw, bias: lw.fcb, N: N, C: C, OC: F)
            GELU.forward(out: fch.ptr, inp: fch.ptr, N: N * F)
            Matmul.forward(out: proj.ptr, inp: fch.ptr, weight: lw.fcprojw, bias: lw.fcprojb, N: N, C: F, OC: C)
            Residual.forward(out: x.ptr, a: x.ptr, b: proj.ptr, N: N * C)
        }
    }

    /// Each (token, head) attends to positions first...pos of its slot in the cache.
    func cachedAttention(N: Int, slots slotArr: [Int], positions posArr: [Int], kc: UnsafePointer<Float>, vc: UnsafePointer<Float>, hs: Int, NH: Int, C: Int) {
        let scale = 1 / Float(hs).squareRoot()
        let q = qkv.ptr, out = atty.ptr, scr = attScratch.ptr, L = maxLength
        let firsts = firstPosition
        slotArr.withUnsafeBufferPointer { sp in
            posArr.withUnsafeBufferPointer { pp in
                let sp = UncheckedSendable(sp), pp = UncheckedSendable(pp)
                Parallel.forRanges(N * NH, grain: 4) { range in
                    for task in range {
                        let n = task / NH, h = task % NH
                        let s = sp.value[n], p = pp.value[n], f = firsts[s]
                        let qv = q + n * 3 * C + h * hs
                        let row = scr + task * L
                        let base = s * L * C + h * hs
                        var maxv = -Float.greatestFiniteMagnitude
                        for t in f...p {
                            let v = vdot(qv, kc + base + t * C, hs) * scale
                            row[t] = v
                            if v > maxv { maxv = v }
                        }
                        let sum = vexpScaled(row + f, row + f, p - f + 1, minus: maxv, times: 1)
                        let inv = 1 / sum
                        let o = out + n * C + h * hs
                        o.update(repeating: 0, count: hs)
                        for t in f...p { vaxpy(o, row[t] * inv, vc + base + t * C, hs) }
                    }
                }
            }
        }
    }
}
