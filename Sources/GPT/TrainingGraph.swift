// Forward and backward of GPT-2 over a dense (B, T) batch, keeping every activation the
// backward pass needs. Reference: HF GPT2LMHeadModel.forward (eager attention), with dropout on
// the embeddings, the attention probabilities and both residual branches when training.

import Foundation
import Kernels

/// Per-layer activations stacked over layers: index l · stride.
struct Activations {
    let B, T, C, NH, V, F, L: Int
    let encoded, ln1, ln1Mean, ln1Rstd, qkv, atty, att, attproj, residual2: FloatBuffer
    let ln2, ln2Mean, ln2Rstd, fch, fchGelu, fcproj, residual3, lnf, lnfMean, lnfRstd, logits, losses, lse: FloatBuffer
    // dropout multipliers (allocated only when the model has dropout)
    let embMask, attMask, attprojMask, fcprojMask: FloatBuffer?

    init(_ c: GPTConfig, B: Int, T: Int, dropout: Bool) {
        self.B = B; self.T = T; C = c.nEmbd; NH = c.nHead; V = c.vocabSize; F = c.mlpWidth; L = c.nLayer
        let BT = B * T
        func buf(_ n: Int) -> FloatBuffer { FloatBuffer(count: n) }
        encoded = buf(BT * C)
        ln1 = buf(L * BT * C); ln1Mean = buf(L * BT); ln1Rstd = buf(L * BT)
        qkv = buf(L * BT * 3 * C); atty = buf(L * BT * C); att = buf(L * B * NH * T * T)
        attproj = buf(L * BT * C); residual2 = buf(L * BT * C)
        ln2 = buf(L * BT * C); ln2Mean = buf(L * BT); ln2Rstd = buf(L * BT)
        fch = buf(L * BT * F); fchGelu = buf(L * BT * F); fcproj = buf(L * BT * C); residual3 = buf(L * BT * C)
        lnf = buf(BT * C); lnfMean = buf(BT); lnfRstd = buf(BT)
        logits = buf(BT * V); losses = buf(BT); lse = buf(BT)
        embMask = dropout ? buf(BT * C) : nil
        attMask = dropout ? buf(L * B * NH * T * T) : nil
        attprojMask = dropout ? buf(L * BT * C) : nil
        fcprojMask = dropout ? buf(L * BT * C) : nil
    }
}

/// Gradients of activations, reused layer after layer.
struct GradScratch {
    let dresidual, dln, datty, dattproj, dfcproj, dqkv, datt, dfch, dfchGelu, dlnf: FloatBuffer
    init(_ a: Activations) {
        let BT = a.B * a.T
        dresidual = FloatBuffer(count: BT * a.C); dln = FloatBuffer(count: BT * a.C)
        datty = FloatBuffer(count: BT * a.C); dattproj = FloatBuffer(count: BT * a.C)
        dfcproj = FloatBuffer(count: BT * a.C); dqkv = FloatBuffer(count: BT * 3 * a.C)
        datt = FloatBuffer(count: a.B * a.NH * a.T * a.T); dfch = FloatBuffer(count: BT * a.F)
        dfchGelu = FloatBuffer(count: BT * a.F); dlnf = FloatBuffer(count: BT * a.C)
    }
}

/// Holds the activations and gradients for training a model on (B, T) batches.
public final class TrainingGraph: @unchecked Sendable {
    public let model: GPT
    public let B: Int, T: Int
    /// Gradients of every parameter, in the model's flat layout.
    public let grads: FloatBuffer
    public let gradTensors: ModelTensors
    let acts: Activations
    let scratch: GradScratch
    let tokens: UnsafeMutablePointer<Int32>
    let targets: UnsafeMutablePointer<Int32>
    let positions: UnsafeMutablePointer<Int32>
    var lastTraining = false
    var hasTargets = false

    public init(model: GPT, B: Int, T: Int) throws {
        guard T <= model.config.nPositions else {
            throw GPTError.invalidInput("sequence length \(T) exceeds the model's n_positions \(model.config.nPositions)")
        }
        self.model = model; self.B = B; self.T = T
        grads = FloatBuffer(count: model.table.count)
        gradTensors = ModelTensors(grads.ptr, model.table, model.config)
        let c = model.config
        acts = Activations(c, B: B, T: T, dropout: max(c.embdPdrop, c.attnPdrop, c.residPdrop) > 0)
        scratch = GradScratch(acts)
        tokens = .allocate(capacity: B * T); targets = .allocate(capacity: B * T); positions = .allocate(capacity: B * T)
        for i in 0..<(B * T) { positions[i] = Int32(i % T) }
    }

    deinit { tokens.deallocate(); targets.deallocate(); positions.deallocate() }

    /// Logits of the last forward pass, (B, T, V); overwritten by `backward`.
    public var logits: UnsafeMutablePointer<Float> { acts.logits.ptr }
    /// Per-position losses of the last forward pass, (B, T).
    public var losses: UnsafeMutablePointer<Float> { acts.losses.ptr }

    /// Runs the model on `inputs` (B·T ids) and returns the mean cross-entropy over the targets
    /// that are ≥ 0 (nil targets: logits only, returns 0). With `training`, dropout is applied
    /// with masks derived from `dropoutSeed`.
    @discardableResult
    public func forward(inputs: [Int32], targets tg: [Int32]?, training: Bool, dropoutSeed: UInt64 = 0) throws -> Float {
        let c = model.config, a = acts
        let BT = B * T, C = c.nEmbd, NH = c.nHead, V = c.vocabSize, F = c.mlpWidth, L = c.nLayer
        guard inputs.count == BT, tg == nil || tg!.count == BT else {
            throw GPTError.invalidInput("expected \(BT) inputs and targets, got \(inputs.count) and \(tg?.count ?? 0)")
        }
        for (i, t) in inputs.enumerated() {
            guard t >= 0 && Int(t) < V else { throw GPTError.invalidInput("token id \(t) at position \(i) is outside the vocabulary (\(V))") }
            tokens[i] = t
        }
        if let tg {
            for i in 0..<BT {
                guard Int(tg[i]) < V else { throw GPTError.invalidInput("target id \(tg[i]) at position \(i) is outside the vocabulary (\(V))") }
                targets[i] = tg[i] < 0 ? -1 : tg[i]
            }
        }
        hasTargets = tg != nil
        lastTraining = training
        let w = model.weights
        let drop = training && a.embMask != nil
        func mask(_ buf: FloatBuffer?, _ off: Int, _ n: Int, _ p: Float, _ stream: UInt64) -> UnsafeMutablePointer<Float>? {
            guard drop, p > 0, let buf else { return nil }
            Dropout.makeMask(buf.ptr + off, N: n, p: p, seed: dropoutSeed, stream: stream)
            return buf.ptr + off
        }

        Encoder.forward(out: a.encoded.ptr, tokens: tokens, positions: positions, wte: w.wte, wpe: w.wpe, N: BT, C: C)
        if let m = mask(a.embMask, 0, BT * C, c.embdPdrop, 1) { Dropout.apply(a.encoded.ptr, mask: m, N: BT * C) }
        for l in 0..<L {
            let lw = w.layers[l]
            let o = l * BT * C, o1 = l * BT, oq = l * BT * 3 * C, oa = l * B * NH * T * T, of = l * BT * F
            let residual = l == 0 ? a.encoded.ptr : a.residual3.ptr + (l - 1) * BT * C
            LayerNorm.forward(out: a.ln1.ptr + o, mean: a.ln1Mean.ptr + o1, rstd: a.ln1Rstd.ptr + o1, inp: residual,
                              weight: lw.ln1w, bias: lw.ln1b, N: BT, C: C, eps: c.layerNormEpsilon)
            Matmul.forward(out: a.qkv.ptr + oq, inp: a.ln1.ptr + o, weight: lw.qkvw, bias: lw.qkvb, N: BT, C: C, OC: 3 * C)
            let am = mask(a.attMask, oa, B * NH * T * T, c.attnPdrop, UInt64(16 + 4 * l))
            Attention.forward(out: a.atty.ptr + o, att: a.att.ptr + oa, mask: am, qkv: a.qkv.ptr + oq, B: B, T: T, C: C, NH: NH)
            Matmul.forward(out: a.attproj.ptr + o, inp: a.atty.ptr + o, weight: lw.attprojw, bias: lw.attprojb, N: BT, C: C, OC: C)
            if let m = mask(a.attprojMask, o, BT * C, c.residPdrop, UInt64(17 + 4 * l)) { Dropout.apply(a.attproj.ptr + o, mask: m, N: BT * C) }
            Residual.forward(out: a.residual2.ptr + o, a: residual, b: a.attproj.ptr + o, N: BT * C)
            LayerNorm.forward(out: a.ln2.ptr + o, mean: a.ln2Mean.ptr + o1, rstd: a.ln2Rstd.ptr + o1, inp: a.residual2.ptr + o,
                              weight: lw.ln2w, bias: lw.ln2b, N: BT, C: C, eps: c.layerNormEpsilon)
            Matmul.forward(out: a.fch.ptr + of, inp: a.ln2.ptr + o, weight: lw.fcw, bias: lw.fcb, N: BT, C: C, OC: F)
            GELU.forward(out: a.fchGelu.ptr + of, inp: a.fch.ptr + of, N: BT * F)
            Matmul.forward(out: a.fcproj.ptr + o, inp: a.fchGelu.ptr + of, weight: lw.fcprojw, bias: lw.fcprojb, N: BT, C: F, OC: C)
            if let m = mask(a.fcprojMask, o, BT * C, c.residPdrop, UInt64(18 + 4 * l)) { Dropout.apply(a.fcproj.ptr + o, mask: m, N: BT * C) }
            Residual.forward(out: a.residual3.ptr + o, a: a.residual2.ptr + o, b: a.fcproj.ptr + o, N: BT * C)
        }
        LayerNorm.forward(out: a.lnf.ptr, mean: a.lnfMean.ptr, rstd: a.lnfRstd.ptr, inp: a.residual3.ptr + (L - 1) * BT * C,
                          weight: w.lnfw, bias: w.lnfb, N: BT, C: C, eps: c.layerNormEpsilon)
        Matmul.forward(out: a.logits.ptr, inp: a.lnf.ptr, weight: w.wte, bias: nil, N: BT, C: C, OC: V, layout: .outIn)
        guard hasTargets else { return 0 }
        CrossEntropy.forward(losses: a.losses.ptr, lse: a.lse.ptr, logits: a.logits.ptr, targets: targets, N: BT, V: V)
        var sum: Double = 0, n = 0
        for i in 0..<BT where targets[i] >= 0 { sum += Double(a.losses.ptr[i]); n += 1 }
        return n > 0 ? Float(sum / Double(n)) : 0
    }

    /// Backpropagates the mean loss of the last `forward`, accumulating into `grads` (`+=`; call
    /// `zeroGrad` between steps). `lossScale` multiplies the loss (−1 for gradient ascent).
    public func backward(lossScale: Float = 1) {
        precondition(hasTargets, "backward needs a forward pass with targets")
        let BT = B * T
        let count = (0..<BT).reduce(0) { $0 + (targets[$1] >= 0 ? 1 : 0) }
        backward(dloss: [Float](repeating: count > 0 ? lossScale / Float(count) : 0, count: BT))
    }

    /// Backpropagates Σᵢ dloss[i]·lossᵢ over the (B·T) per-position losses of the last `forward`
    /// (positions whose target is < 0 contribute nothing): weighted objectives such as NPO's
    /// per-sequence weights. Accumulates into `grads`.
    public func backward(dloss: [Float]) {
        precondition(hasTargets, "backward needs a forward pass with targets")
        let c = model.config, a = acts, s = scratch, w = model.weights, g = gradTensors
        let BT = B * T, C = c.nEmbd, NH = c.nHead, V = c.vocabSize, F = c.mlpWidth, L = c.nLayer
        precondition(dloss.count == BT, "dloss needs one weight per position")
        let drop = lastTraining && a.embMask != nil
        dloss.withUnsafeBufferPointer {
            CrossEntropy.backward(dlogits: a.logits.ptr, logits: a.logits.ptr, lse: a.lse.ptr, targets: targets, dloss: $0.baseAddress!, N: BT, V: V)
        }
        s.dlnf.zero()
        Matmul.backward(dinp: s.dlnf.ptr, dweight: g.wte, dbias: nil, dout: a.logits.ptr, inp: a.lnf.ptr, weight: w.wte, N: BT, C: C, OC: V, layout: .outIn)
        s.dresidual.zero()
        LayerNorm.backward(dinp: s.dresidual.ptr, dweight: g.lnfw, dbias: g.lnfb, dout: s.dlnf.ptr, inp: a.residual3.ptr + (L - 1) * BT * C,
                           weight: w.lnfw, mean: a.lnfMean.ptr, rstd: a.lnfRstd.ptr, N: BT, C: C)
        for l in stride(from: L - 1, through: 0, by: -1) {
            let lw = w.layers[l], lg = g.layers[l]
            let o = l * BT * C, o1 = l * BT, oq = l * BT * 3 * C, oa = l * B * NH * T * T, of = l * BT * F
            let residual = l == 0 ? a.encoded.ptr : a.residual3.ptr + (l - 1) * BT * C
            // MLP branch: residual3 = residual2 + dropout(c_proj(gelu(c_fc(ln_2(residual2)))))
            branchGradient(s.dfcproj.ptr, from: s.dresidual.ptr, mask: drop && c.residPdrop > 0 ? a.fcprojMask!.ptr + o : nil, N: BT * C)
            s.dfchGelu.zero()
            Matmul.backward(dinp: s.dfchGelu.ptr, dweight: lg.fcprojw, dbias: lg.fcprojb, dout: s.dfcproj.ptr, inp: a.fchGelu.ptr + of, weight: lw.fcprojw, N: BT, C: F, OC: C)
            s.dfch.zero()
            GELU.backward(dinp: s.dfch.ptr, inp: a.fch.ptr + of, dout: s.dfchGelu.ptr, N: BT * F)
            s.dln.zero()
            Matmul.backward(dinp: s.dln.ptr, dweight: lg.fcw, dbias: lg.fcb, dout: s.dfch.ptr, inp: a.ln2.ptr + o, weight: lw.fcw, N: BT, C: C, OC: F)
            LayerNorm.backward(dinp: s.dresidual.ptr, dweight: lg.ln2w, dbias: lg.ln2b, dout: s.dln.ptr, inp: a.residual2.ptr + o,
                               weight: lw.ln2w, mean: a.ln2Mean.ptr + o1, rstd: a.ln2Rstd.ptr + o1, N: BT, C: C)
            // Attention branch: residual2 = residual + dropout(c_proj(attn(c_attn(ln_1(residual)))))
            branchGradient(s.dattproj.ptr, from: s.dresidual.ptr, mask: drop && c.residPdrop > 0 ? a.attprojMask!.ptr + o : nil, N: BT * C)
            s.datty.zero()
            Matmul.backward(dinp: s.datty.ptr, dweight: lg.attprojw, dbias: lg.attprojb, dout: s.dattproj.ptr, inp: a.atty.ptr + o, weight: lw.attprojw, N: BT, C: C, OC: C)
            s.dqkv.zero()
            Attention.backward(dqkv: s.dqkv.ptr, scratch: s.datt.ptr, dout: s.datty.ptr, qkv: a.qkv.ptr + oq, att: a.att.ptr + oa,
                               mask: drop && c.attnPdrop > 0 ? a.attMask!.ptr + oa : nil, B: B, T: T, C: C, NH: NH)
            s.dln.zero()
            Matmul.backward(dinp: s.dln.ptr, dweight: lg.qkvw, dbias: lg.qkvb, dout: s.dqkv.ptr, inp: a.ln1.ptr + o, weight: lw.qkvw, N: BT, C: C, OC: 3 * C)
            LayerNorm.backward(dinp: s.dresidual.ptr, dweight: lg.ln1w, dbias: lg.ln1b, dout: s.dln.ptr, inp: residual,
                               weight: lw.ln1w, mean: a.ln1Mean.ptr + o1, rstd: a.ln1Rstd.ptr + o1, N: BT, C: C)
        }
        if drop && c.embdPdrop > 0 { Dropout.apply(s.dresidual.ptr, mask: a.embMask!.ptr, N: BT * C) }
        Encoder.backward(dwte: g.wte, dwpe: g.wpe, dout: s.dresidual.ptr, tokens: tokens, positions: positions, N: BT, C: C)
    }

    /// dst = src (times the dropout mask when there is one).
    private func branchGradient(_ dst: UnsafeMutablePointer<Float>, from src: UnsafePointer<Float>, mask: UnsafePointer<Float>?, N: Int) {
        if let mask {
            Parallel.forRanges(N, grain: 16384) { r in for i in r { dst[i] = src[i] * mask[i] } }
        } else {
            dst.update(from: src, count: N)
        }
    }

    public func zeroGrad() { grads.zero() }
}
