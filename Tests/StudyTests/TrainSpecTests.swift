// One training job of the study (TrainSpec, Sources/Study/TrainSpec.swift) and what is made from
// it: the contract's job file, its input hash and its plan entries agree with each other and
// with the id, and the input hash does not depend on where the study is.

import Corpus
import Foundation
import Support
import Testing
import Training
@testable import Study

struct TrainSpecTests {
    /// Kind, arm and round of every sort of job, as plan.json has always written them.
    @Test func theIdSaysWhatTheJobIs() {
        let table: [(JobID, JobKind, JobArm?, Int?)] = [
            (.base, .pretrain, nil, nil), (.baseControl, .pretrain, nil, nil), (.controlFinetuned(seed: 2), .finetune, nil, nil),
            (.baseline(seed: 1), .finetune, .baseline, 0), (.selection(round: 0, index: 0), .finetune, .selection, 0),
            (.selection(round: 2, index: 1), .finetune, .deletionSelection, 2), (.arm(.randomRemoval, round: 3, seed: 0), .finetune, .arm(.randomRemoval), 3),
            (.audit(.baseline(seed: 0)), .audit, .baseline, 0), (.audit(.arm(.reseed, round: 1, seed: 1)), .audit, .arm(.reseed), 1),
            (.audit(.controlFinetuned(seed: 0)), .audit, nil, nil), (.pretrainingLeakage, .leakage, nil, nil), (.unlearning, .unlearning, nil, nil),
        ]
        for (id, kind, arm, round) in table {
            #expect(id.kind == kind && id.arm == arm && id.round == round, "\(id)")
        }
    }

    static func spec(_ id: JobID, base: TrainSpec.Base?) -> TrainSpec {
        var p = TrainParameters(); p.batchSize = 2; p.context = 8; p.epochs = 2; p.seed = 7
        let records = [Record(id: "r2", subject: "b@x.org", text: "two", source: "t"), Record(id: "r1", subject: "a@x.org", text: "one", source: "t")]
        return TrainSpec(id: id, base: base, stream: (0..<40).map { Int32($0 % 11) }, records: records, params: p, initSeed: base == nil ? 3 : nil,
                         budget: .init(rule: "tokens", removedRecords: 1, originalSteps: nil))
    }

    static let shape = TrainJob.Shape(nLayer: 1, nHead: 1, nEmbd: 8, nPositions: 8, vocabSize: 11)

    @Test func theJobFileAndThePlanEntryComeFromOneSpec() throws {
        let spec = Self.spec(.arm(.deletion, round: 1, seed: 0), base: .init(id: .base, inputSHA256: "b0"))
        let job = try spec.trainJob(directory: "/s/jobs/round1_deletion_seed0", baseModel: "/s/jobs/base/model", tokenizer: "/s/tokenizer", shape: Self.shape)
        #expect(job.id == "round1_deletion_seed0" && job.kind == "finetune" && job.baseModel == "/s/jobs/base/model")
        #expect(job.output == "/s/jobs/round1_deletion_seed0/model" && job.data.tokens == "/s/jobs/round1_deletion_seed0/train.tok")
        #expect(job.data.tokenCount == 40 && job.training.steps == 4 && job.training.seed == 7 && job.budget.rule == "tokens")
        let hash = try spec.inputSHA256(job, tokenizerSHA256: "t0")
        let e = spec.planEntry(job, inputSHA256: hash, tokenizerSHA256: "t0")
        #expect(e.id == spec.id && e.kind == .finetune && e.arm == .arm(.deletion) && e.round == 1 && e.seed == 7 && e.base == .base)
        #expect(e.budget == "tokens" && e.steps == 4 && e.inputSHA256 == hash && e.dependsOn == [.base] && e.outputs == [job.output] && e.status == .planned)
        #expect(e.inputs == ["tokens_sha256": job.data.tokensSHA256, "records_manifest_sha256": sha256("r1\nr2"), "base_input_sha256": "b0", "tokenizer_sha256": "t0"])
        let a = spec.auditEntry(inputSHA256: "a0", modelInputSHA256: hash, stageFile: "/s/stages/round1_deletion_seed0.json")
        #expect(a.id == .audit(spec.id) && a.kind == .audit && a.arm == e.arm && a.round == 1 && a.seed == 7 && a.dependsOn == [spec.id])
        #expect(a.inputs == ["model_input_sha256": hash] && a.base == nil && a.steps == nil && a.budget == nil)
    }

    /// The input hash is a content address: another directory gives the same, other content
    /// another; and its formula is fixed (a changed formula would orphan every finished job; the
    /// constant changed once on purpose, with data order shallot/2: jobs trained on filler text
    /// must not be reused).
    @Test func theInputHashIsTheContentsAlone() throws {
        let spec = Self.spec(.base, base: nil)
        let here = try spec.trainJob(directory: "/a/jobs/base", baseModel: nil, tokenizer: "/a/tokenizer", shape: Self.shape)
        let there = try spec.trainJob(directory: "/b/c/jobs/base", baseModel: nil, tokenizer: "/b/c/tokenizer", shape: Self.shape)
        #expect(here.kind == "pretrain" && here.baseModel == nil && here.training.initSeed == 3)
        let hash = try spec.inputSHA256(here, tokenizerSHA256: "t0")
        #expect(try spec.inputSHA256(there, tokenizerSHA256: "t0") == hash)
        #expect(try spec.inputSHA256(here, tokenizerSHA256: "t1") != hash)
        var other = spec; other.params.seed = 8
        #expect(try other.inputSHA256(other.trainJob(directory: "/a/jobs/base", baseModel: nil, tokenizer: "/a/tokenizer", shape: Self.shape), tokenizerSHA256: "t0") != hash)
        #expect(hash == "b10adb156f035e562225e4f01c52bf9be774cbf3b897b732c122fff93d590c43")
    }
}
