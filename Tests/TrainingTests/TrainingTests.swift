import Foundation
import Support
import Testing
import GPT
import Kernels
import Training

let tinyConfig = GPTConfig(vocabSize: 257, nPositions: 32, nEmbd: 32, nLayer: 2, nHead: 2, dropout: 0.1, eosTokenId: 256)

func syntheticData(_ n: Int, seed: UInt64) -> TokenDataset {
    var r = SplitMix64(seed: seed)
    // Repetitive text so that the loss can fall.
    let words: [[Int32]] = [[104, 101, 108, 108, 111], [119, 111, 114, 108, 100], [32], [46]]
    var t: [Int32] = []
    while t.count < n { t.append(contentsOf: words[Int(r.next() % 4)]) }
    return TokenDataset(tokens: Array(t.prefix(n)), fileSHA256: "synthetic-\(seed)")
}

@Suite struct ScheduleAndDataTests {
    @Test func warmupThenCosineToTheFloor() {
        let s = LRSchedule(maxLR: 1e-3, warmupSteps: 10, totalSteps: 110, minLRFraction: 0.1)
        #expect(abs(s.lr(at: 0) - 1e-4) < 1e-9)
        #expect(abs(s.lr(at: 9) - 1e-3) < 1e-9)
        #expect(abs(s.lr(at: 60) - 5.5e-4) < 1e-7)   // half-way: (max + min) / 2
        #expect(abs(s.lr(at: 110) - 1e-4) < 1e-9)
        #expect((10..<109).allSatisfy { s.lr(at: $0) >= s.lr(at: $0 + 1) })
    }

    @Test func batchOrderIsASeededPermutationPerEpoch() throws {
        let d = syntheticData(1000, seed: 1)
        let plan = try BatchPlan(dataset: d, B: 4, T: 16, seed: 9)
        #expect(plan.windows == 62 && plan.stepsPerEpoch == 15)
        #expect(plan.permutation(epoch: 0).sorted() == Array(0..<62))
        #expect(plan.permutation(epoch: 0) == plan.permutation(epoch: 0))
        #expect(plan.permutation(epoch: 0) != plan.permutation(epoch: 1))
        var cache: (epoch: Int, perm: [Int])?
        let (x, y) = plan.batch(step: 3, from: d, permutationCache: &cache)
        #expect(x.count == 64 && Array(x[1...]) .prefix(15) == y.prefix(15))
        #expect { try BatchPlan(dataset: syntheticData(40, seed: 1), B: 4, T: 16, seed: 0) } throws: { "\($0)".contains("no full batch") }
    }
}

@Suite struct TrainerTests {
    func params(steps: Int) -> TrainParameters {
        var p = TrainParameters()
        p.batchSize = 4; p.context = 16; p.steps = steps; p.learningRate = 3e-3; p.checkpointEvery = 5; p.seed = 7
        return p
    }

    @Test func lossFalls() throws {
        let m = GPT(config: tinyConfig, seed: 3)
        let s = try Trainer(model: m, data: syntheticData(4000, seed: 2), params: params(steps: 60), checkpointPath: nil).run(resume: false)
        var first: Float = 0
        _ = try Trainer(model: GPT(config: tinyConfig, seed: 3), data: syntheticData(4000, seed: 2), params: params(steps: 1), checkpointPath: nil)
            .run(resume: false) { if case .step(_, _, let l, _, _, _) = $0 { first = l } }
        #expect(s.meanLossLast10 < first * 0.6, "loss \(first) → \(s.meanLossLast10)")
    }

    @Test func resumeFromCheckpointReachesTheSameWeights() throws {
        let data = syntheticData(3000, seed: 4)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tr-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let cp = dir + "/state.safetensors"
        let full = GPT(config: tinyConfig, seed: 5)
        _ = try Trainer(model: full, data: data, params: params(steps: 23), checkpointPath: nil).run(resume: false)
        // A run that writes checkpoints every 5 steps (the last at step 20)...
        let partial = GPT(config: tinyConfig, seed: 5)
        let t1 = try Trainer(model: partial, data: data, params: params(steps: 23), checkpointPath: cp)
        var stopAt = 0
        do {
            _ = try t1.run(resume: false) { ev in
                if case .checkpoint(let s, _) = ev, s == 15 { stopAt = s }
            }
        }
        #expect(stopAt == 15)
        // ...then other weights resume from that checkpoint and must end where the full run did.
        // (The CLI test kills a real run with SIGKILL.)
        let resumed = GPT(config: tinyConfig, seed: 999)
        let t2 = try Trainer(model: resumed, data: data, params: params(steps: 23), checkpointPath: cp)
        let s = try t2.run(resume: true)
        #expect(s.resumedFrom == 20)  // the last checkpoint written (every 5 steps) before the end
        #expect(resumed.params.array == full.params.array)
    }

    @Test func resumeRefusesOtherDataOrSettings() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tr-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let cp = dir + "/state.safetensors"
        let t = try Trainer(model: GPT(config: tinyConfig, seed: 1), data: syntheticData(3000, seed: 4), params: params(steps: 8), checkpointPath: cp)
        _ = try t.run(resume: false)
        #expect(FileManager.default.fileExists(atPath: cp))
        let other = try Trainer(model: GPT(config: tinyConfig, seed: 1), data: syntheticData(3000, seed: 5), params: params(steps: 8), checkpointPath: cp)
        #expect { try other.run(resume: true) } throws: { "\($0)".contains("training data changed") }
        var p = params(steps: 8); p.learningRate = 1
        let third = try Trainer(model: GPT(config: tinyConfig, seed: 1), data: syntheticData(3000, seed: 4), params: p, checkpointPath: cp)
        #expect { try third.run(resume: true) } throws: { "\($0)".contains("settings differ") }
    }
}
