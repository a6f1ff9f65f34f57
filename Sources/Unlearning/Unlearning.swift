// Approximate unlearning of a forget set F (every record of the given subjects) with retain set R
// (docs/methods.md, "Unlearning"): gradient ascent (GA, Jang et al. 2022), gradient difference (GD:
// ascent on F, descent on R) and negative preference optimisation (NPO, Zhang et al. 2024) against
// the model before unlearning. Exact unlearning (retraining without F) is `Retrainer`
// (Forget.swift).
//
// Forget batches hold one record per row (cut to the context, padded with ignored targets) so
// that NPO's sequence likelihoods are whole records; retain batches are windows of the packed
// retain stream, as in training. Every step is a pure function of (seed, step).

import Foundation
import Support
import GPT
import Kernels
import Training

public enum UnlearnMethod: String, Codable, Sendable, CaseIterable {
    case retrain, ga, gd, npo
}

public struct UnlearnSettings: Codable, Sendable, Equatable {
    public var method: UnlearnMethod = .npo
    public var steps = 40
    public var learningRate: Float = 2e-4
    public var batchSize = 8
    public var context = 128
    /// NPO's inverse temperature β.
    public var beta: Float = 0.1
    /// Weight of the retain NLL term; nil: the method's default (GD 1, NPO 0 — NPO on the forget
    /// set alone, as the study runs it). NPO adds the term when it is > 0.
    public var retainWeight: Float?
    public var effectiveRetainWeight: Float { retainWeight ?? (method == .gd ? 1 : 0) }
    public var gradClip: Float = 1
    public var seed: UInt64 = 0
    public init() {}
    enum CodingKeys: String, CodingKey {
        case method, steps, beta, seed
        case learningRate = "learning_rate", batchSize = "batch_size", context, retainWeight = "retain_weight", gradClip = "grad_clip"
    }
}

public struct UnlearnStep: Sendable {
    public var step: Int
    /// Mean NLL per token of the forget batch before the update.
    public var forgetLoss: Float
    public var retainLoss: Float?
    public var gradNorm: Float
}

public enum UnlearnError: Error, CustomStringConvertible {
    case emptyForgetSet
    case needsRetain(UnlearnMethod)
    case needsReference
    public var description: String {
        switch self {
        case .emptyForgetSet: return "the forget set is empty: none of the given subjects has records in the corpus"
        case .needsRetain(let m): return "\(m.rawValue) needs retain data (the corpus without the forget set)"
        case .needsReference: return "npo needs the model before unlearning as its reference"
        }
    }
}

public enum Unlearner {
    /// Runs GA, GD or NPO on `model` in place. `forget` holds the forget records' token ids;
    /// `retain` the packed retain stream; `reference` the model before unlearning (NPO).
    public static func run(model: GPT, forget: [[Int32]], retain: TokenDataset?, reference: GPT?, settings s: UnlearnSettings,
                           padToken: Int32, progress: ((UnlearnStep) -> Void)? = nil) throws -> [UnlearnStep] {
        precondition(s.method != .retrain, "retrain is exact unlearning: train again without the forget set")
        let forget = forget.filter { $0.count >= 2 }
        guard !forget.isEmpty else { throw UnlearnError.emptyForgetSet }
        let useRetain = s.method == .gd || (s.method == .npo && s.effectiveRetainWeight > 0)
        if useRetain && retain == nil { throw UnlearnError.needsRetain(s.method) }
        if s.method == .npo && reference == nil { throw UnlearnError.needsReference }
        let B = s.batchSize, T = min(s.context, model.config.nPositions)
        let graph = try TrainingGraph(model: model, B: B, T: T)
        let refGraph = try reference.map { try TrainingGraph(model: $0, B: B, T: T) }
        var hp = AdamWParameters(); hp.beta1 = 0.9; hp.beta2 = 0.95; hp.weightDecay = 0
        let opt = Optimizer(table: model.table, hp: hp)
        let plan = try useRetain ? BatchPlan(dataset: retain!, B: B, T: T, seed: s.seed) : nil
        var cache: (epoch: Int, perm: [Int])?
        var log: [UnlearnStep] = []
        var rows = ForgetRows(forget: forget, seed: s.seed)
        for step in 0..<s.steps {
            let (x, y) = rows.batch(step: step, B: B, T: T, padToken: padToken)
            graph.zeroGrad()
            let fl = try graph.forward(inputs: x, targets: y, training: false)
            switch s.method {
            case .ga, .gd:
                graph.backward(lossScale: -1)
            case .npo:
                try refGraph!.forward(inputs: x, targets: y, training: false)
                graph.backward(dloss: npoGradient(losses: graph.losses, referenceLosses: refGraph!.losses, targets: y, B: B, T: T, beta: s.beta))
            case .retrain: break
            }
            var rl: Float?
            if useRetain {
                let (rx, ry) = plan!.batch(step: step, from: retain!, permutationCache: &cache)
                rl = try graph.forward(inputs: rx, targets: ry, training: false)
                graph.backward(lossScale: s.effectiveRetainWeight)
            }
            let norm = opt.update(params: model.params, grads: graph.grads, lr: s.learningRate, clip: s.gradClip)
            let e = UnlearnStep(step: step + 1, forgetLoss: fl, retainLoss: rl, gradNorm: norm)
            log.append(e)
            progress?(e)
        }
        return log
    }

    /// The NPO loss's gradient with respect to each token's loss. log π(x) = −Σ per-token losses
    /// of the row; each row's tokens get −(2/B)·σ(β(log π_θ − log π_ref)), the derivative of
    /// (2/β)·log(1 + (π_θ/π_ref)^β) (docs/methods.md, "Unlearning").
    static func npoGradient(losses: UnsafeMutablePointer<Float>, referenceLosses: UnsafeMutablePointer<Float>, targets y: [Int32], B: Int, T: Int, beta: Float) -> [Float] {
        var dloss = [Float](repeating: 0, count: B * T)
        for b in 0..<B {
            var lp = 0.0, lr = 0.0
            for t in 0..<T where y[b * T + t] >= 0 { lp -= Double(losses[b * T + t]); lr -= Double(referenceLosses[b * T + t]) }
            let w = Float(2 / (1 + exp(-Double(beta) * (lp - lr)))) / Float(B)
            for t in 0..<T where y[b * T + t] >= 0 { dloss[b * T + t] = -w }
        }
        return dloss
    }
}

/// The forget records as training rows: visited in a seeded order, reshuffled every pass; each
/// row is one record cut at T tokens, padded (targets −1 are ignored).
struct ForgetRows {
    let forget: [[Int32]]
    let seed: UInt64
    var order: [Int] = [], pass = -1
    init(forget: [[Int32]], seed: UInt64) { self.forget = forget; self.seed = seed }

    mutating func batch(step: Int, B: Int, T: Int, padToken: Int32) -> (x: [Int32], y: [Int32]) {
        let first = step * B
        if first / forget.count != pass || order.isEmpty {
            pass = first / forget.count
            var rng = SplitMix64(seed: mix64(seed ^ 0xF0_2937) &+ UInt64(pass))
            order = Array(forget.indices).seededShuffled(using: &rng)
        }
        var x = [Int32](repeating: padToken, count: B * T), y = [Int32](repeating: -1, count: B * T)
        for b in 0..<B {
            let r = forget[order[(first + b) % forget.count]]
            let n = min(T, r.count - 1)
            for t in 0..<n { x[b * T + t] = r[t]; y[b * T + t] = r[t + 1] }
        }
        return (x, y)
    }
}
