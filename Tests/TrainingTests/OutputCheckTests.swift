// Issue 22 §8: verification proves authenticity, not only consistency. A trainer's result file
// can echo every hash of job.json; these tests hand the check weights that did not learn the
// job's data — the base itself, the base moved by one ulp — and a real (short) fine-tune, and
// check that only the fine-tune passes (TrainJob.checkLearned, Training/OutputCheck.swift).

import Foundation
import Testing
import GPT
import Support
import Tokenizer
@testable import Training

@Suite(.serialized) struct OutputCheckTests {
    /// A job directory with a byte tokenizer, a base model and a fine-tuning stream of short
    /// records; the job fine-tunes the base for `epochs` over it.
    func fixture(epochs: Double, learningRate: Float = 3e-3) throws -> (job: TrainJob, dir: String) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("outcheck-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir + "/job", withIntermediateDirectories: true)
        try ByteTokenizer().save(to: dir + "/tokenizer")
        let cfg = GPTConfig(vocabSize: 257, nPositions: 32, nEmbd: 32, nLayer: 1, nHead: 2, dropout: 0, eosTokenId: 256)
        try GPT(config: cfg, seed: 7).save(directory: dir + "/base")
        var stream: [Int32] = []
        for i in 0..<60 {
            stream += ByteTokenizer().encode(bytes: Array("Call Dana Reyes at 555-01\(10 + i % 40) about invoice \(i * 7).".utf8))
            stream.append(256)
        }
        let tok = TokenFile.encode(stream, vocabSize: 257)
        try tok.write(to: URL(fileURLWithPath: dir + "/job/train.tok"))
        try Data().write(to: URL(fileURLWithPath: dir + "/job/records.jsonl"))
        var p = TrainParameters()
        p.batchSize = 4; p.context = 32; p.learningRate = learningRate; p.epochs = epochs; p.seed = 3
        let (steps, warmup) = try TrainJob.resolve(p, tokenCount: stream.count)
        let job = TrainJob(id: "ft", kind: "finetune", baseModel: dir + "/base",
                           config: .init(nLayer: 1, nHead: 2, nEmbd: 32, nPositions: 32, vocabSize: 257), tokenizer: dir + "/tokenizer",
                           data: .init(tokens: dir + "/job/train.tok", tokensSHA256: sha256(data: tok), tokenCount: stream.count,
                                       records: dir + "/job/records.jsonl", recordsSHA256: sha256(data: Data())),
                           training: TrainJob.training(p, steps: steps, warmup: warmup, initSeed: nil),
                           budget: .init(rule: "filler", removedRecords: 0, originalSteps: nil), output: dir + "/job/model")
        return (job, dir)
    }

    /// The check as the study runs it: the output loaded from its bytes, the parent from the base.
    func check(_ job: TrainJob) throws -> LearningCheck {
        let (model, _) = try job.loadOutput()
        let parent = try job.parentModel(endOfText: 256)
        return try job.checkLearned(model, parent: (parent.model, parent.name))
    }

    /// The base model written as the job's output, with a result file that echoes the job.
    func copyBase(_ job: TrainJob, dir: String, nudge: Bool) throws {
        let base = try GPT.load(directory: dir + "/base")
        if nudge { for i in 0..<base.params.count { base.params.ptr[i] = base.params.ptr[i].nextUp } }
        try base.save(directory: job.output)
        let r = TrainResult(jobId: job.id, tokensSHA256: job.data.tokensSHA256, steps: job.training.steps, finalLoss: 0.5, trainer: "copycat")
        try ResultsJSON.encoder().encode(r).write(to: URL(fileURLWithPath: job.output + "/" + TrainResult.fileName))
    }

    @Test func aRealFineTunePassesEvenAShortOne() throws {
        for epochs in [3.0, 1.0] {
            let (job, dir) = try fixture(epochs: epochs)
            defer { try? FileManager.default.removeItem(atPath: dir) }
            _ = try BuiltinTrainer.run(job: job)
            #expect(throws: Never.self) { _ = try job.verifyOutput() }
            let c = try check(job)
            print("fine-tune of \(job.training.steps) steps (\(epochs) epochs): sample loss \(c.loss) against the base's \(c.parentLoss), drop \(c.drop)")
            #expect(c.windows == TrainJob.sampleWindowCount && c.drop >= TrainJob.requiredLossDrop)
        }
    }

    /// The attack: "train" by copying the base and echo every hash of the job. Everything the
    /// result file says is right; the weights are the base's, and are refused, naming the job.
    @Test func aCopyOfTheBaseIsRefused() throws {
        let (job, dir) = try fixture(epochs: 3)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try copyBase(job, dir: dir, nudge: false)
        #expect(throws: Never.self) { _ = try job.verifyFiles() }   // consistent: the old check passed it
        #expect { _ = try check(job) } throws: { e in
            "\(e)".hasPrefix("job ft:") && "\(e)".contains("did not learn the job's data") && "\(e)".contains("a drop of 0.00%")
        }
    }

    /// The same weights moved by one ulp each (a different hash, the same model) are refused too.
    @Test func theBaseMovedByAnUlpIsRefused() throws {
        let (job, dir) = try fixture(epochs: 3)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try copyBase(job, dir: dir, nudge: true)
        #expect(try job.outputWeightsSHA256() != sha256(file: dir + "/base/model.safetensors"))
        #expect { _ = try check(job) } throws: { "\($0)".contains("job ft:") && "\($0)".contains("did not learn") }
    }

    /// The output made a link to the base's directory, or its weights a link to the base's file:
    /// refused, never read through the link.
    @Test func anOutputThatIsALinkIsRefused() throws {
        let (job, dir) = try fixture(epochs: 1)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createSymbolicLink(atPath: job.output, withDestinationPath: dir + "/base")
        #expect { _ = try job.verifyFiles() } throws: { "\($0)".contains("job ft:") && "\($0)".contains("not a directory") }
        try FileManager.default.removeItem(atPath: job.output)
        try copyBase(job, dir: dir, nudge: false)
        try FileManager.default.removeItem(atPath: job.output + "/model.safetensors")
        try FileManager.default.createSymbolicLink(atPath: job.output + "/model.safetensors", withDestinationPath: dir + "/base/model.safetensors")
        #expect { _ = try job.loadOutput() } throws: { "\($0)".contains("symbolic link") }
    }
}
