// The names of the study's jobs (docs/plan.md). A job's id names its directory under OUT/jobs/,
// its stage file under OUT/stages/ and its entry in plan.json; this file is the only place the
// ids are spelled, so the plan, the job directories and the stage files always agree. Also here:
// the words plan.json describes a job with (its kind, arm and state), each read back only if it
// is one plan.json can hold.

import Foundation

/// One job of the study, by what it is; `description` is the id written to disk.
enum JobID: Hashable, Sendable, CustomStringConvertible, LosslessStringConvertible, Codable {
    /// The base model, pre-trained on P: `base`.
    case base
    /// The control (null) base of the pre-training leakage comparison, pre-trained on P with both
    /// halves of the target values replaced by surrogates: `base_control`.
    case baseControl
    /// The control base fine-tuned like evaluation seed i's baseline: `control_finetuned_seed<i>`.
    case controlFinetuned(seed: Int)
    /// Evaluation seed i's round-0 baseline: `round0_seed<i>`.
    case baseline(seed: Int)
    /// Selection model j that ranks round r+1's targets: `round0_select<j>` after round 0,
    /// `round<r>_deletion_select<j>` (trained on the deletion arm's data) after round r ≥ 1.
    case selection(round: Int, index: Int)
    /// The fine-tune of an onion arm in round r with evaluation seed i: `round<r>_<arm>_seed<i>`.
    case arm(Arm, round: Int, seed: Int)
    /// The fixed test of a training job's model: `audit_<id>`.
    indirect case audit(JobID)
    /// The pre-training leakage analysis: `pretraining_leakage`.
    case pretrainingLeakage
    /// The unlearning comparison: `unlearning`.
    case unlearning

    var description: String {
        switch self {
        case .base: return "base"
        case .baseControl: return "base_control"
        case .controlFinetuned(let i): return "control_finetuned_seed\(i)"
        case .baseline(let i): return "round0_seed\(i)"
        case .selection(let r, let j): return r == 0 ? "round0_select\(j)" : "round\(r)_deletion_select\(j)"
        case .arm(let a, let r, let i): return "round\(r)_\(a.rawValue)_seed\(i)"
        case .audit(let job): return "audit_" + job.description
        case .pretrainingLeakage: return "pretraining_leakage"
        case .unlearning: return "unlearning"
        }
    }

    /// What the job does.
    var kind: JobKind {
        switch self {
        case .base, .baseControl: return .pretrain
        case .controlFinetuned, .baseline, .selection, .arm: return .finetune
        case .audit: return .audit
        case .pretrainingLeakage: return .leakage
        case .unlearning: return .unlearning
        }
    }

    /// What a fine-tune (or its audit) is for; nil for the bases, the control base's fine-tunes
    /// and the analyses.
    var arm: JobArm? {
        switch self {
        case .baseline: return .baseline
        case .selection(let r, _): return r == 0 ? .selection : .deletionSelection
        case .arm(let a, _, _): return .arm(a)
        case .audit(let job): return job.arm
        case .base, .baseControl, .controlFinetuned, .pretrainingLeakage, .unlearning: return nil
        }
    }

    /// The onion round a fine-tune (or its audit) belongs to (0: the baselines and the first
    /// selection models); nil where `arm` is nil.
    var round: Int? {
        switch self {
        case .baseline: return 0
        case .selection(let r, _), .arm(_, let r, _): return r
        case .audit(let job): return job.round
        case .base, .baseControl, .controlFinetuned, .pretrainingLeakage, .unlearning: return nil
        }
    }

    /// The job an id names; nil when no job has that id. Only an id spelled exactly as
    /// `description` spells it is taken (no leading zeros, no `round0_deletion_select<j>`).
    init?(_ id: String) {
        guard let job = Self.parse(id), job.description == id else { return nil }
        self = job
    }

    private static func parse(_ id: String) -> JobID? {
        let named: [JobID] = [.base, .baseControl, .pretrainingLeakage, .unlearning]
        if let job = named.first(where: { $0.description == id }) { return job }
        if id.hasPrefix("audit_") { return JobID(String(id.dropFirst(6))).map { .audit($0) } }
        if id.hasPrefix("control_finetuned_seed"), let i = Int(id.dropFirst(22)), i >= 0 { return .controlFinetuned(seed: i) }
        guard id.hasPrefix("round") else { return nil }
        let rest = id.dropFirst(5)
        guard let cut = rest.firstIndex(of: "_"), let r = Int(rest[..<cut]), r >= 0 else { return nil }
        let tail = String(rest[rest.index(after: cut)...])
        func number(after prefix: String) -> Int? { tail.hasPrefix(prefix) ? Int(tail.dropFirst(prefix.count)).flatMap { $0 >= 0 ? $0 : nil } : nil }
        if r == 0, let i = number(after: "seed") { return .baseline(seed: i) }
        if r == 0, let j = number(after: "select") { return .selection(round: 0, index: j) }
        if r > 0, let j = number(after: "deletion_select") { return .selection(round: r, index: j) }
        for a in Arm.allCases { if let i = number(after: a.rawValue + "_seed") { return .arm(a, round: r, seed: i) } }
        return nil
    }

    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        let s = try c.decode(String.self)
        guard let job = JobID(s) else { throw DecodingError.dataCorruptedError(in: c, debugDescription: "\"\(s)\" is not a job of the study") }
        self = job
    }

    func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}

/// What a job does: plan.json's `kind`.
enum JobKind: String, Codable, Sendable {
    case pretrain, finetune, audit, leakage, unlearning
}

/// Where a job stands: plan.json's `status`.
enum JobState: String, Codable, Sendable {
    case planned, running, done
    /// An audit found finished by an earlier run of the study.
    case reused
    case failed
}

/// What a fine-tune is for: plan.json's `arm`. Besides the onion arms, round 0 has the
/// evaluation seeds' baselines and the selection models, and every round but the last the
/// selection models trained on the deletion arm's data.
enum JobArm: RawRepresentable, Hashable, Codable, Sendable {
    /// An evaluation seed's round-0 fine-tune: `baseline`.
    case baseline
    /// A round-0 selection model: `selection`.
    case selection
    /// A selection model of round r ≥ 1, trained without the deleted subjects: `deletion_selection`.
    case deletionSelection
    /// An onion arm's fine-tune in round r ≥ 1: the arm's name.
    case arm(Arm)

    var rawValue: String {
        switch self {
        case .baseline: return "baseline"
        case .selection: return "selection"
        case .deletionSelection: return "deletion_selection"
        case .arm(let a): return a.rawValue
        }
    }

    init?(rawValue: String) {
        switch rawValue {
        case "baseline": self = .baseline
        case "selection": self = .selection
        case "deletion_selection": self = .deletionSelection
        default:
            guard let a = Arm(rawValue: rawValue) else { return nil }
            self = .arm(a)
        }
    }
}
