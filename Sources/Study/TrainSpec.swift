// One training job of the study and what is made from it: the trainer contract's job file
// (docs/trainer-contract.md), its content address and its entries in plan.json (docs/plan.md).
// The job's kind, arm and round come from its id, so no two places can say different things.

import Corpus
import Foundation
import Support
import Tokenizer
import Training

/// What the study asks of one training job: everything that decides the model it makes.
struct TrainSpec {
    var id: JobID
    /// The model it starts from; nil: pre-training from scratch.
    var base: Base?
    /// The packed token stream it trains on, and the records that stream holds.
    var stream: [Int32]
    var records: [Record]
    var params: TrainParameters
    /// Pre-training only: the seed of the weights' initialisation.
    var initSeed: UInt64?
    var budget: TrainJob.Budget

    /// The base model: its job id and input hash (the chain of hashes addresses its content).
    struct Base { var id: JobID; var inputSHA256: String }

    var kind: JobKind { id.kind }
    var arm: JobArm? { id.arm }
    var round: Int? { id.round }

    /// `train.tok`: the stream in the contract's token file format.
    func tokenFile(vocabSize: Int) -> Data { TokenFile.encode(stream, vocabSize: vocabSize) }

    /// `records.jsonl`: the records trained on, one JSON object a line.
    func recordsFile() throws -> Data {
        struct Row: Encodable { var id: String; var subject: String; var text: String }
        let enc = ResultsJSON.encoder()
        var d = Data()
        for r in records { d += try enc.encode(Row(id: r.id, subject: r.subject, text: r.text)); d.append(0x0A) }
        return d
    }

    /// The contract's job file for the job directory `directory` (absolute), the base model's
    /// directory and the tokenizer's, and the model's shape.
    func trainJob(directory d: String, baseModel: String?, tokenizer: String, shape: TrainJob.Shape) throws -> TrainJob {
        let (steps, warmup) = try TrainJob.resolve(params, tokenCount: stream.count)
        let data = TrainJob.DataFiles(tokens: d + "/train.tok", tokensSHA256: sha256(data: tokenFile(vocabSize: shape.vocabSize)), tokenCount: stream.count,
                                      records: d + "/records.jsonl", recordsSHA256: sha256(data: try recordsFile()))
        return TrainJob(id: id.description, kind: kind.rawValue, baseModel: baseModel, config: shape, tokenizer: tokenizer, data: data,
                        training: TrainJob.training(params, steps: steps, warmup: warmup, initSeed: initSeed), budget: budget, output: d + "/model")
    }

    /// The job's input hash (docs/plan.md, "Content addresses"): of `job`, its job file, without
    /// the paths. The formula is fixed: changing it would orphan every finished job.
    func inputSHA256(_ job: TrainJob, tokenizerSHA256: String) throws -> String {
        let enc = JSONEncoder(); enc.outputFormatting = .sortedKeys
        var what = "kind=\(kind.rawValue)\nbase=\(base?.inputSHA256 ?? "none")\ntokenizer=\(tokenizerSHA256)\ntokens=\(job.data.tokensSHA256)\n"
        what += "config=" + String(decoding: try enc.encode(job.config), as: UTF8.self) + "\n"
        what += "training=" + String(decoding: try enc.encode(job.training), as: UTF8.self) + "\n"
        what += "budget=" + String(decoding: try enc.encode(job.budget), as: UTF8.self)
        return sha256(what)
    }

    /// The job's entry in plan.json, planned; `job` is its job file and `hash` its input hash.
    func planEntry(_ job: TrainJob, inputSHA256 hash: String, tokenizerSHA256: String) -> PlanEntry {
        let manifest = sha256(records.map(\.id).sorted().joined(separator: "\n"))
        return PlanEntry(id: id, kind: kind, arm: arm, round: round, seed: params.seed, base: base?.id, budget: budget.rule, steps: job.training.steps,
                         inputSHA256: hash, inputs: ["tokens_sha256": job.data.tokensSHA256, "records_manifest_sha256": manifest,
                                                     "base_input_sha256": base?.inputSHA256 ?? "none", "tokenizer_sha256": tokenizerSHA256],
                         dependsOn: base.map { [$0.id] } ?? [], outputs: [job.output], status: .planned)
    }

    /// The plan entry of the fixed test of the job's model: its input hash `hash`, the model's
    /// `modelInputSHA256`, its result in `stageFile`.
    func auditEntry(inputSHA256 hash: String, modelInputSHA256: String, stageFile: String) -> PlanEntry {
        let audit = JobID.audit(id)
        return PlanEntry(id: audit, kind: audit.kind, arm: arm, round: round, seed: params.seed, base: nil, budget: nil, steps: nil, inputSHA256: hash,
                         inputs: ["model_input_sha256": modelInputSHA256], dependsOn: [id], outputs: [stageFile], status: .planned)
    }
}

extension PlanEntry {
    /// The plan entry of an analysis of the whole study (the leakage analysis, the unlearning
    /// comparison): addressed by the study's fingerprint and its id.
    init(analysis id: JobID, fingerprint: String, dependsOn: [JobID], outputs: [String]) {
        self.init(id: id, kind: id.kind, arm: nil, round: nil, seed: nil, base: nil, budget: nil, steps: nil, inputSHA256: sha256(fingerprint + "\n\(id)"),
                  inputs: [:], dependsOn: dependsOn, outputs: outputs, status: .planned)
    }
}
