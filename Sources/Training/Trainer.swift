// The training loop: batches from a BatchPlan, forward/backward on a TrainingGraph, clipping,
// AdamW with the warm-up + cosine schedule, atomic checkpoints every N steps, and exact resume.

import Foundation
import Support
import GPT
import Kernels
import SafeTensors

public struct TrainParameters: Codable, Sendable, Equatable {
    public var batchSize = 8
    public var context = 128
    /// Total optimizer steps; when nil, `epochs` passes over the data.
    public var steps: Int?
    public var epochs: Double = 1
    public var learningRate: Float = 3e-4
    /// Warm-up steps (default: 10% of the run, at most 100).
    public var warmupSteps: Int?
    public var minLRFraction: Float = 0.1
    public var adamw = AdamWParameters(beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1)
    public var gradClip: Float = 1.0
    public var seed: UInt64 = 1337
    /// Write a resumable checkpoint every this many steps (0 = never).
    public var checkpointEvery = 100
    public init() {}
}

public enum TrainProgress: Sendable {
    case started(totalSteps: Int, startStep: Int, tokensPerStep: Int)
    case step(step: Int, totalSteps: Int, loss: Float, lr: Float, gradNorm: Float, tokensPerSecond: Double)
    case checkpoint(step: Int, path: String)
}

public struct TrainSummary: Codable, Sendable {
    public var steps: Int
    public var finalLoss: Float
    public var meanLossLast10: Float
    public var tokensPerSecond: Double
    public var resumedFrom: Int?
}

public final class Trainer {
    public let model: GPT
    public let data: TokenDataset
    public let params: TrainParameters
    public let plan: BatchPlan
    public let totalSteps: Int
    public let checkpointPath: String?
    let graph: TrainingGraph
    let optimizer: Optimizer
    let schedule: LRSchedule

    public init(model: GPT, data: TokenDataset, params: TrainParameters, checkpointPath: String?) throws {
        guard params.batchSize > 0, params.context > 1 else { throw TrainingError.invalidSettings("--batch must be ≥ 1 and --context ≥ 2") }
        guard params.context <= model.config.nPositions else {
            throw TrainingError.invalidSettings("--context \(params.context) exceeds the model's n_positions \(model.config.nPositions)")
        }
        self.model = model; self.data = data; self.params = params; self.checkpointPath = checkpointPath
        plan = try BatchPlan(dataset: data, B: params.batchSize, T: params.context, seed: params.seed)
        totalSteps = params.steps ?? max(1, Int((params.epochs * Double(plan.stepsPerEpoch)).rounded()))
        guard totalSteps > 0 else { throw TrainingError.invalidSettings("the run has no steps") }
        graph = try TrainingGraph(model: model, B: params.batchSize, T: params.context)
        optimizer = Optimizer(table: model.table, hp: params.adamw)
        schedule = LRSchedule(maxLR: params.learningRate, warmupSteps: params.warmupSteps ?? min(100, totalSteps / 10),
                              totalSteps: totalSteps, minLRFraction: params.minLRFraction)
    }

    /// Trains to `totalSteps`, first restoring the checkpoint when `resume` is set and one exists.
    public func run(resume: Bool, progress: ((TrainProgress) -> Void)? = nil) throws -> TrainSummary {
        var start = 0
        var resumedFrom: Int?
        if resume, let cp = checkpointPath, FileManager.default.fileExists(atPath: cp) {
            start = try restore(from: cp)
            resumedFrom = start
        }
        let tokensPerStep = params.batchSize * params.context
        progress?(.started(totalSteps: totalSteps, startStep: start, tokensPerStep: tokensPerStep))
        var cache: (epoch: Int, perm: [Int])?
        var recent: [Float] = []
        var lastLoss: Float = .nan
        let t0 = Date()
        // Every position weighs 1/(B·T), masked or not: a placeholder's share of the batch is
        // dropped, not handed to the real tokens beside it, so each remaining token's gradient is
        // the one it has in the run without removals (data order shallot/2). Without masked
        // targets this is the mean, bit for bit.
        let weights = [Float](repeating: 1 / Float(params.batchSize * params.context), count: params.batchSize * params.context)
        for step in start..<totalSteps {
            let ts = Date()
            let (x, y) = plan.batch(step: step, from: data, permutationCache: &cache)
            graph.zeroGrad()
            let loss = try graph.forward(inputs: x, targets: y, training: true, dropoutSeed: mix64(params.seed &+ UInt64(step)))
            graph.backward(dloss: weights)
            let lr = schedule.lr(at: step)
            let norm = optimizer.update(params: model.params, grads: graph.grads, lr: lr, clip: params.gradClip)
            lastLoss = loss
            recent.append(loss); if recent.count > 10 { recent.removeFirst() }
            let dt = Date().timeIntervalSince(ts)
            progress?(.step(step: step + 1, totalSteps: totalSteps, loss: loss, lr: lr, gradNorm: norm, tokensPerSecond: Double(tokensPerStep) / dt))
            if let cp = checkpointPath, params.checkpointEvery > 0, (step + 1) % params.checkpointEvery == 0, step + 1 < totalSteps {
                try saveCheckpoint(to: cp)
                progress?(.checkpoint(step: step + 1, path: cp))
            }
        }
        let elapsed = Date().timeIntervalSince(t0)
        return TrainSummary(steps: totalSteps, finalLoss: lastLoss, meanLossLast10: recent.isEmpty ? .nan : recent.reduce(0, +) / Float(recent.count),
                            tokensPerSecond: Double((totalSteps - start) * tokensPerStep) / max(elapsed, 1e-9), resumedFrom: resumedFrom)
    }

    struct CheckpointState: Codable {
        var step: Int
        var totalSteps: Int
        var params: TrainParameters
        var dataSHA256: String
        var dataTokens: Int
        var parameterCount: Int
        /// The data position and dropout stream are functions of (seed, step); stored for readers.
        var epoch: Int
        var stepInEpoch: Int
    }

    /// Weights, AdamW moments and the step, in one safetensors file written atomically.
    public func saveCheckpoint(to path: String) throws {
        let st = CheckpointState(step: optimizer.step, totalSteps: totalSteps, params: params, dataSHA256: data.fileSHA256,
                                 dataTokens: data.tokens.count, parameterCount: model.table.count,
                                 epoch: optimizer.step / plan.stepsPerEpoch, stepInEpoch: optimizer.step % plan.stepsPerEpoch)
        let json = String(decoding: try JSONEncoder().encode(st), as: UTF8.self)
        let n = model.table.count
        let blobs = [
            TensorBlob(name: "params", shape: [n], floats: UnsafeBufferPointer(start: model.params.ptr, count: n)),
            TensorBlob(name: "adam.m", shape: [n], floats: UnsafeBufferPointer(start: optimizer.m.ptr, count: n)),
            TensorBlob(name: "adam.v", shape: [n], floats: UnsafeBufferPointer(start: optimizer.v.ptr, count: n)),
        ]
        // The checkpoint's directory is the trainer's own: owner-only, and never a link planted in its place.
        try PrivateFile.makeDirectory(URL(fileURLWithPath: path).deletingLastPathComponent().path, restrictExisting: true)
        try SafeTensorsWriter.write(blobs, metadata: ["shallot.train_state": json], to: path)
    }

    /// Restores weights, moments and step; returns the step to continue from.
    func restore(from path: String) throws -> Int {
        let f = try SafeTensorsFile(path: path)
        guard let json = f.metadata["shallot.train_state"],
              let st = try? JSONDecoder().decode(CheckpointState.self, from: Data(json.utf8)) else {
            throw TrainingError.checkpointMismatch(path: path, reason: "no training state in the checkpoint metadata")
        }
        guard st.dataSHA256 == data.fileSHA256, st.dataTokens == data.tokens.count else {
            throw TrainingError.checkpointMismatch(path: path, reason: "the training data changed since the checkpoint (hash \(st.dataSHA256.prefix(12)) vs \(data.fileSHA256.prefix(12)))")
        }
        guard st.params == params else {
            throw TrainingError.checkpointMismatch(path: path, reason: "the training settings differ from the checkpoint's; pass the same flags")
        }
        guard st.parameterCount == model.table.count else {
            throw TrainingError.checkpointMismatch(path: path, reason: "the model shape differs from the checkpoint's")
        }
        try f.readFloats("params", into: model.params.ptr)
        try f.readFloats("adam.m", into: optimizer.m.ptr)
        try f.readFloats("adam.v", into: optimizer.v.ptr)
        optimizer.step = st.step
        return st.step
    }
}
