import Foundation
import Support
import Testing
import GPT
import Kernels
import Training

/// The filler budget rule's placeholders (data order shallot/2): a removed record becomes as many
/// <|endoftext|> tokens, and no target inside such a run is trained on.
@Suite struct PlaceholderTests {
    let eot: Int32 = 256

    @Test func removedRecordsKeepTheirLengthAndEveryOtherOffset() {
        let records: [[Int32]] = [[1, 2, 3], [4, 5], [6]]
        let kept = Filler.packed(records, replace: [1], keepLength: true, endOfText: eot)
        #expect(kept == [1, 2, 3, eot, eot, eot, eot, 6, eot])
        #expect(Filler.packed(records, replace: [1], keepLength: false, endOfText: eot) == [1, 2, 3, eot, 6, eot])
        #expect(Filler.packed(records, keepLength: true, endOfText: eot) == [1, 2, 3, eot, 4, 5, eot, 6, eot])
    }

    @Test func onlyTargetsInsidePlaceholderRunsAreMasked() throws {
        // record [7 8], a removed record of 3 tokens, record [9]: the end of a record (8 → eot) and
        // the start of the next (eot → 9) are trained; eot → eot (the three placeholders and the
        // removed record's own separator) is not.
        let stream = Filler.packed([[7, 8], [1, 2, 3], [9]], replace: [1], keepLength: true, endOfText: eot) + [7]
        let data = TokenDataset(tokens: stream, fileSHA256: "t", endOfText: eot)
        let plan = try BatchPlan(dataset: data, B: 1, T: stream.count - 1, seed: 1)
        var cache: (epoch: Int, perm: [Int])?
        let (x, y) = plan.batch(step: 0, from: data, permutationCache: &cache)
        #expect(x == Array(stream.dropLast()))
        let expected: [Int32] = [8, eot, -1, -1, -1, -1, 9, eot, 7]
        #expect(y == expected)
        // Without a placeholder id every target is trained (plain text files, tests).
        let plain = TokenDataset(tokens: stream, fileSHA256: "t")
        var cache2: (epoch: Int, perm: [Int])?
        #expect(plan.batch(step: 0, from: plain, permutationCache: &cache2).1 == Array(stream.dropFirst()))
    }

    /// End to end through the Trainer: with the mask a model trained on a stream that is mostly
    /// placeholders does not learn that <|endoftext|> follows <|endoftext|>; without it, it does.
    @Test func theTrainerLearnsNothingFromPlaceholders() throws {
        let records: [[Int32]] = (0..<60).map { i in i % 2 == 0 ? [104, 105, 32, Int32(97 + i % 7), 46] : Array(repeating: 120, count: 40) }
        let stream = Filler.packed(records, replace: Set(stride(from: 1, to: 60, by: 2)), keepLength: true, endOfText: eot)
        func probEOTAfterEOT(mask: Bool) throws -> Float {
            var p = TrainParameters()
            p.batchSize = 4; p.context = 16; p.steps = 80; p.learningRate = 3e-3; p.checkpointEvery = 0; p.seed = 5
            let cfg = GPTConfig(vocabSize: 257, nPositions: 32, nEmbd: 32, nLayer: 2, nHead: 2, dropout: 0, eosTokenId: 256)
            let m = GPT(config: cfg, seed: 3)
            let data = TokenDataset(tokens: stream, fileSHA256: "t", endOfText: mask ? eot : nil)
            _ = try Trainer(model: m, data: data, params: p, checkpointPath: nil).run(resume: false)
            let g = try TrainingGraph(model: m, B: 1, T: 16)
            let ctx: [Int32] = [104, 105, 32, 98, 46] + Array(repeating: eot, count: 11)
            try g.forward(inputs: ctx, targets: nil, training: false)
            let row = g.logits + 15 * 257
            let lse = CrossEntropy.logSumExp(row, 257)
            return expf(row[Int(eot)] - lse)
        }
        let masked = try probEOTAfterEOT(mask: true), unmasked = try probEOTAfterEOT(mask: false)
        #expect(unmasked > 0.9, "unmasked training learns the placeholder run: \(unmasked)")
        #expect(masked < 0.5, "masked training must not: \(masked)")
    }
}
