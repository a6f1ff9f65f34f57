// OUT/jobs/<id>/verified.json: the study's record that a job's output was checked (the trainer
// contract's checks and the loss check, Training/OutputCheck.swift), which lets a later run reuse
// the model without training it again. Anyone who can write OUT can write this file, so it is
// keyed: HMAC-SHA-256 under a key derived from the study's salt, which lives outside OUT (the key
// directory, or --salt-file; docs/security.md). A record that does not verify under the key is
// not a record: the job is trained and checked again.

import Foundation
import GPT
import Support
import Training

/// One verified job output: what was checked and the MAC that says this study checked it.
struct VerifiedRecord: Codable, Equatable {
    var schema = VerifiedRecord.schemaName
    var jobID: String
    var inputSHA256: String
    var weightsSHA256: String
    /// The base's weights the loss was compared with (nil for pre-training: a fresh initialisation).
    var parentWeightsSHA256: String?
    var check: LearningCheck
    var mac: String
    static let schemaName = "shallot.verified/2"

    enum CodingKeys: String, CodingKey {
        case schema, check, mac
        case jobID = "job_id", inputSHA256 = "input_sha256", weightsSHA256 = "weights_sha256", parentWeightsSHA256 = "parent_weights_sha256"
    }

    init(jobID: String, inputSHA256: String, weightsSHA256: String, parentWeightsSHA256: String?, check: LearningCheck, key: Data) {
        self.jobID = jobID; self.inputSHA256 = inputSHA256; self.weightsSHA256 = weightsSHA256
        self.parentWeightsSHA256 = parentWeightsSHA256; self.check = check; mac = ""
        mac = code(key)
    }

    /// Every field but the MAC, one per line in a fixed order (the losses in Swift's shortest
    /// round-tripping form, which JSON keeps).
    var signed: String {
        [schema, jobID, inputSHA256, weightsSHA256, parentWeightsSHA256 ?? "none", "\(check.loss)", "\(check.parentLoss)", "\(check.windows)"]
            .joined(separator: "\n")
    }

    func code(_ key: Data) -> String {
        hex(hmacSHA256(key: key, Data(signed.utf8)))
    }

    /// Whether the MAC is this record's under `key` (compared in constant time).
    func valid(_ key: Data) -> Bool {
        constantTimeEqual(Array(code(key).utf8), Array(mac.utf8))
    }

    /// The key of verified.json's MACs, derived from the study's salt: one secret kept outside
    /// OUT, with a use of its own (the subject keys are HMACs under the salt itself).
    static func key(salt: Data) -> Data {
        hmacSHA256(key: salt, Data("shallot verified.json key/1".utf8))
    }
}

extension StudyRunner {
    /// The job's verified.json when it parses, is this job's and verifies under the study's key.
    func verifiedRecord(_ id: JobID) -> VerifiedRecord? {
        let path = jobDir(id) + "/verified.json"
        guard let d = try? readRegularFile(path, limit: 1 << 16), let r = try? ResultsJSON.decoder().decode(VerifiedRecord.self, from: d),
              r.schema == VerifiedRecord.schemaName, r.jobID == id.description else { return nil }
        return r.valid(verificationKey) ? r : nil
    }

    /// Verifies what the trainer of `job` left (`spec`'s job, input hash `hash`): the contract's
    /// checks, the weights hashed as loaded, the base the trainer started from still the one
    /// this study verified, and the loss on the job's own training windows clearly below the
    /// parent's. Returns the model and the record to keep.
    func verifyTrained(_ spec: TrainSpec, job: TrainJob, hash: String) throws -> (model: GPT, record: VerifiedRecord) {
        let (model, _, weights) = try job.verifyOutput()
        let (_, eos, _) = try job.trainingStream()
        let parent = try job.parentModel(endOfText: Int(eos))
        if let base = spec.base {
            guard let b = verifiedRecord(base.id), b.weightsSHA256 == parent.sha256 else {
                throw TrainJobError.rejected(job: job.id, reason: "its base model \(job.baseModel ?? "") is not the one this study verified for \(base.id) "
                                             + "(weights \(parent.sha256?.prefix(16) ?? "?")…): it changed after it was checked")
            }
        }
        let check = try job.checkLearned(model, parent: (parent.model, parent.name))
        let record = VerifiedRecord(jobID: job.id, inputSHA256: hash, weightsSHA256: weights, parentWeightsSHA256: parent.sha256, check: check,
                                    key: verificationKey)
        return (model, record)
    }

    /// A model verified by an earlier run that may be reused: its record verifies under the key,
    /// for the same input hash and, for a fine-tune, the base this study verified now; the job
    /// file asks for the same work; the output passes the file checks; and the weights, read
    /// once, hash as recorded. nil otherwise (the job is trained again). `load`: build the model.
    func reusable(_ spec: TrainSpec, job: TrainJob, hash: String, load: Bool) -> (model: GPT?, record: VerifiedRecord)? {
        guard let r = verifiedRecord(spec.id), r.inputSHA256 == hash,
              let old = try? TrainJob.read(jobDir(spec.id) + "/job.json", ownDirectory: false), old.located(like: job) == job,
              spec.base.map({ verifiedRecord($0.id)?.weightsSHA256 == r.parentWeightsSHA256 }) ?? (r.parentWeightsSHA256 == nil),
              (try? job.verifyFiles()) != nil else { return nil }
        if load {
            guard let (m, sha) = try? job.loadOutput(), sha == r.weightsSHA256 else { return nil }
            return (m, r)
        }
        return (try? job.outputWeightsSHA256()) == r.weightsSHA256 ? (nil, r) : nil
    }
}
