// The study as a plan of jobs (docs/plan.md): every training is a job file under OUT/jobs/<id>/
// (the trainer contract, docs/trainer-contract.md) run by the local trainer or by an external
// command; every job has a content-addressed input hash, and a job whose output is present and
// verified for the same hash is never run again. Independent jobs run `jobs` at a time.

import Corpus
import Dispatch
import Foundation
import GPT
import Kernels
import SafeTensors
import Support
import Tokenizer
import Training

/// Who trains the study's models.
public enum StudyTrainer: Sendable, Equatable {
    /// Shallot's own trainer (`BuiltinTrainer`), in this process.
    case local
    /// `/bin/sh -c TEMPLATE` with `{job}` replaced by the job file's path, one process per job.
    case command(String)

    public var name: String {
        switch self { case .local: return "local"; case .command: return "command" }
    }
}

/// How the study's jobs are executed: how many at a time, on how many threads each, by whom.
public struct StudyExecution: Sendable {
    public var jobs: Int
    /// Kernel threads of the local work (training and audits in this process).
    public var threads: Int
    public var trainer: StudyTrainer
    public init(jobs: Int = 1, threads: Int = ProcessInfo.processInfo.activeProcessorCount, trainer: StudyTrainer = .local) {
        self.jobs = max(1, jobs); self.threads = max(1, threads); self.trainer = trainer
    }
}

public enum StudyJobError: Error, CustomStringConvertible {
    case failed(job: String, reason: String)
    public var description: String {
        switch self { case .failed(let j, let r): return "job \(j) failed: \(r)" }
    }
}

/// Runs closures at most `width` at a time; results in input order. Every task runs even when
/// one fails; the first failure (in input order) is thrown afterwards. Workers are threads of
/// their own, not Dispatch's pool (which runs about one per core): `--jobs 8` on a 2-core login
/// node must keep eight external trainings (`sbatch --wait`) going.
enum JobPool {
    static func run<T>(_ width: Int, _ tasks: [() throws -> T]) throws -> [T] {
        if width <= 1 || tasks.count <= 1 { return try tasks.map { try $0() } }
        let results = UncheckedSendable(ResultBox<T>(count: tasks.count))
        let boxed = UncheckedSendable(tasks)
        let next = Counter()
        let workers = min(width, tasks.count)
        let finished = DispatchSemaphore(value: 0)
        for _ in 0..<workers {
            let t = Thread {
                while true {
                    let i = next.next()
                    if i >= boxed.value.count { break }
                    let r = Result { try boxed.value[i]() }
                    results.value.set(i, r)
                }
                finished.signal()
            }
            t.stackSize = 16 << 20
            t.start()
        }
        for _ in 0..<workers { finished.wait() }
        return try results.value.items.map { try $0!.get() }
    }

    final class ResultBox<T>: @unchecked Sendable {
        var items: [Result<T, Error>?]
        let lock = NSLock()
        init(count: Int) { items = Array(repeating: nil, count: count) }
        func set(_ i: Int, _ r: Result<T, Error>) { lock.lock(); items[i] = r; lock.unlock() }
    }

    final class Counter: @unchecked Sendable {
        var value = 0
        let lock = NSLock()
        func next() -> Int { lock.lock(); defer { lock.unlock() }; value += 1; return value - 1 }
    }
}

/// One entry of plan.json.
struct PlanEntry: Codable, Equatable {
    var id: String
    /// pretrain | finetune | audit | leakage | unlearning
    var kind: String
    var arm: String?
    var round: Int?
    var seed: UInt64?
    var base: String?
    var budget: String?
    var steps: Int?
    /// SHA-256 of everything that determines the job's output (docs/plan.md).
    var inputSHA256: String?
    /// The hashes that go into it, by name (tokens, records manifest, base...).
    var inputs: [String: String]
    var dependsOn: [String]
    var outputs: [String]
    var status: String
    enum CodingKeys: String, CodingKey {
        case id, kind, arm, round, seed, base, budget, steps, inputs, outputs, status
        case inputSHA256 = "input_sha256", dependsOn = "depends_on"
    }
}

struct PlanRound: Codable, Equatable {
    var round: Int
    var planned: Bool
    /// Why a round is not planned yet: the audits its removals are decided from.
    var waitsFor: [String]
    var jobs: [String]
    enum CodingKeys: String, CodingKey { case round, planned, jobs, waitsFor = "waits_for" }
}

struct PlanFile: Codable {
    var schema = "shallot.plan/1"
    var fingerprint: String
    var trainer: String
    var trainerCommand: String?
    var concurrency: Int
    var rounds: [PlanRound]
    var jobs: [PlanEntry]
    enum CodingKeys: String, CodingKey { case schema, fingerprint, trainer, concurrency, rounds, jobs, trainerCommand = "trainer_command" }
}

/// plan.json, rewritten atomically whenever an entry is added or changes state.
final class PlanBook: @unchecked Sendable {
    private var file: PlanFile
    private var order: [String] = []
    private var entries: [String: PlanEntry] = [:]
    private let path: String
    private let lock = NSLock()

    init(path: String, fingerprint: String, execution: StudyExecution, rounds: Int) {
        self.path = path
        var cmd: String?
        if case .command(let c) = execution.trainer { cmd = c }
        file = PlanFile(fingerprint: fingerprint, trainer: execution.trainer.name, trainerCommand: cmd, concurrency: execution.jobs,
                        rounds: (0..<rounds).map { PlanRound(round: $0 + 1, planned: false, waitsFor: [], jobs: []) }, jobs: [])
    }

    func add(_ e: PlanEntry) {
        lock.lock(); defer { lock.unlock() }
        if entries[e.id] == nil { order.append(e.id) }
        var e = e
        if let old = entries[e.id], old.inputSHA256 == e.inputSHA256, e.status == "planned" { e.status = old.status }
        entries[e.id] = e
    }

    func setStatus(_ id: String, _ status: String) {
        lock.lock()
        entries[id]?.status = status
        lock.unlock()
        try? write()
    }

    func round(_ r: Int, planned: Bool, waitsFor: [String], jobs: [String]) {
        lock.lock(); defer { lock.unlock() }
        if let i = file.rounds.firstIndex(where: { $0.round == r }) { file.rounds[i] = PlanRound(round: r, planned: planned, waitsFor: waitsFor, jobs: jobs) }
    }

    func write() throws {
        lock.lock()
        var f = file
        f.jobs = order.map { entries[$0]! }
        lock.unlock()
        let enc = JSONEncoder(); enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try PrivateFile.write(enc.encode(f), to: path)
    }
}

/// What the study asks of one training job before it is written out.
struct TrainSpec {
    var id: String
    var kind: String
    var base: TrainSpec.Base?
    var stream: [Int32]
    var records: [Record]
    var params: TrainParameters
    var initSeed: UInt64?
    var budget: TrainJob.Budget
    var arm: String?, round: Int?
    /// The base model: its job id and input hash (the chain of hashes addresses its content).
    struct Base { var id: String; var inputSHA256: String }
}

extension StudyRunner {
    var jobsDir: String { dir + "/jobs" }
    func jobDir(_ id: String) -> String { jobsDir + "/" + id }
    func modelDir(_ id: String) -> String { jobDir(id) + "/model" }

    /// SHA-256 of the tokenizer files (part of every training job's input).
    func tokenizerSHA256() -> String {
        let d = dir + "/tokenizer"
        return sha256(["vocab.json", "merges.txt"].map { (try? sha256(file: d + "/" + $0)) ?? "" }.joined(separator: "\n"))
    }

    /// The job file of `spec` and its input hash (without writing anything).
    func describe(_ spec: TrainSpec) throws -> (TrainJob, String) {
        let tokSHA = sha256(data: tokenFileData(spec.stream))
        let (steps, warmup) = try TrainJob.resolve(spec.params, tokenCount: spec.stream.count)
        let d = jobDir(spec.id)
        let recordsData = recordsJSONL(spec.records)
        let c = config()
        let job = TrainJob(id: spec.id, kind: spec.kind, baseModel: spec.base.map { absolute(modelDir($0.id)) },
                           config: .init(nLayer: c.nLayer, nHead: c.nHead, nEmbd: c.nEmbd, nPositions: c.nPositions, vocabSize: c.vocabSize),
                           tokenizer: absolute(dir + "/tokenizer"),
                           data: .init(tokens: absolute(d + "/train.tok"), tokensSHA256: tokSHA, tokenCount: spec.stream.count,
                                       records: absolute(d + "/records.jsonl"), recordsSHA256: sha256(data: recordsData)),
                           training: TrainJob.training(spec.params, steps: steps, warmup: warmup, initSeed: spec.initSeed),
                           budget: spec.budget, output: absolute(d + "/model"))
        let enc = JSONEncoder(); enc.outputFormatting = .sortedKeys
        var what = "kind=\(spec.kind)\nbase=\(spec.base?.inputSHA256 ?? "none")\ntokenizer=\(tokenizerSHA256())\ntokens=\(tokSHA)\n"
        what += "config=" + String(decoding: try enc.encode(job.config), as: UTF8.self) + "\n"
        what += "training=" + String(decoding: try enc.encode(job.training), as: UTF8.self) + "\n"
        what += "budget=" + String(decoding: try enc.encode(job.budget), as: UTF8.self)
        return (job, sha256(what))
    }

    func absolute(_ p: String) -> String { URL(fileURLWithPath: p).standardizedFileURL.path }

    func tokenFileData(_ stream: [Int32]) -> Data {
        // TokenFile.write's bytes, built in memory so that the hash is known before writing.
        let width = tok.vocabSize <= 65536 ? 2 : 4
        var d = Data("SHTK".utf8)
        for v in [UInt32(1), UInt32(width), UInt32(tok.vocabSize)] { withUnsafeBytes(of: v.littleEndian) { d.append(contentsOf: $0) } }
        withUnsafeBytes(of: UInt64(stream.count).littleEndian) { d.append(contentsOf: $0) }
        if width == 2 { stream.map { UInt16(truncatingIfNeeded: $0).littleEndian }.withUnsafeBytes { d.append(contentsOf: $0) } }
        else { stream.map { UInt32(bitPattern: $0).littleEndian }.withUnsafeBytes { d.append(contentsOf: $0) } }
        return d
    }

    func recordsJSONL(_ records: [Record]) -> Data {
        struct Row: Encodable { var id: String; var subject: String; var text: String }
        let enc = JSONEncoder(); enc.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var d = Data()
        for r in records { d += (try? enc.encode(Row(id: r.id, subject: r.subject, text: r.text))) ?? Data(); d.append(0x0A) }
        return d
    }

    /// The plan entry of a training job.
    func planEntry(_ spec: TrainSpec, _ job: TrainJob, _ hash: String) -> PlanEntry {
        PlanEntry(id: spec.id, kind: spec.kind, arm: spec.arm, round: spec.round, seed: spec.params.seed, base: spec.base?.id,
                  budget: spec.budget.rule, steps: job.training.steps, inputSHA256: hash,
                  inputs: ["tokens_sha256": job.data.tokensSHA256, "records_manifest_sha256": sha256(spec.records.map(\.id).sorted().joined(separator: "\n")),
                           "base_input_sha256": spec.base?.inputSHA256 ?? "none", "tokenizer_sha256": tokenizerSHA256()],
                  dependsOn: spec.base.map { [$0.id] } ?? [], outputs: [job.output], status: "planned")
    }

    /// Registers a training job in the plan and returns its input hash.
    @discardableResult
    func plan(_ spec: TrainSpec) throws -> String {
        let (job, hash) = try describe(spec)
        planBook.add(planEntry(spec, job, hash))
        return hash
    }

    /// The trained model of `spec`: reused when its output is present and verified for the same
    /// input hash, else trained (job files written, the trainer run, its output verified).
    func trained(_ spec: TrainSpec) throws -> GPT {
        let (job, hash) = try describe(spec)
        planBook.add(planEntry(spec, job, hash))
        let d = jobDir(spec.id), mark = d + "/verified.json"
        if let m = FileManager.default.contents(atPath: mark).flatMap({ try? JSONDecoder().decode(Verified.self, from: $0) }), m.inputSHA256 == hash,
           let old = try? TrainJob.read(d + "/job.json"), old == job,
           (try? sha256(file: job.output + "/model.safetensors")) == m.weightsSHA256, let (model, _) = try? job.verifyOutput() {
            infoLock.lock(); let mine = trainedHere.contains(spec.id); infoLock.unlock()
            if !mine { report(.resumed("model \(spec.id)")) }
            planBook.setStatus(spec.id, "done")
            noteModel(spec.id, job.output, m.weightsSHA256)
            return model
        }
        try? FileManager.default.removeItem(atPath: mark)
        try PrivateFile.makeDirectory(d, restrictExisting: true)
        try? FileManager.default.removeItem(atPath: job.output)
        try PrivateFile.write(tokenFileData(spec.stream), to: job.data.tokens)
        try PrivateFile.write(recordsJSONL(spec.records), to: job.data.records)
        let enc = JSONEncoder(); enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try PrivateFile.write(enc.encode(job), to: d + "/job.json")
        planBook.setStatus(spec.id, "running")
        report(.stage("training \(spec.id) (\(job.training.steps) steps, \(execution.trainer.name) trainer)"))
        do {
            try runTrainer(job, file: d + "/job.json")
            let (model, _) = try job.verifyOutput()
            let w = try sha256(file: job.output + "/model.safetensors")
            try atomicWrite(JSONEncoder().encode(Verified(inputSHA256: hash, weightsSHA256: w)), to: mark)
            infoLock.lock(); trainedHere.insert(spec.id); infoLock.unlock()
            planBook.setStatus(spec.id, "done")
            noteModel(spec.id, job.output, w)
            return model
        } catch {
            planBook.setStatus(spec.id, "failed")
            throw error
        }
    }

    struct Verified: Codable {
        var inputSHA256: String, weightsSHA256: String
        enum CodingKeys: String, CodingKey { case inputSHA256 = "input_sha256", weightsSHA256 = "weights_sha256" }
    }

    func noteModel(_ id: String, _ path: String, _ sha: String) {
        guard Self.reportedModels.contains(id) else { return }
        infoLock.lock(); modelInfo[id] = ["path": modelDir(id), "weights_sha256": sha]; infoLock.unlock()
    }

    static let reportedModels: Set<String> = ["base", "base_control", "round0_seed0", "round1_deletion_seed0", "control_finetuned"]

    func runTrainer(_ job: TrainJob, file: String) throws {
        switch execution.trainer {
        case .local:
            _ = try BuiltinTrainer.run(job: job) { d, t in if self.execution.jobs == 1 { self.report(.step(done: d, total: t)) } }
        case .command(let template):
            let cmd = template.replacingOccurrences(of: "{job}", with: shellQuote(absolute(file)))
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/bin/sh")
            p.arguments = ["-c", cmd]
            let logPath = jobDir(job.id) + "/trainer.log"
            _ = FileManager.default.createFile(atPath: logPath, contents: nil, attributes: [.posixPermissions: 0o600])
            guard let log = FileHandle(forWritingAtPath: logPath) else { throw StudyJobError.failed(job: job.id, reason: "\(logPath): cannot write the trainer's log") }
            p.standardOutput = log; p.standardError = log
            do { try p.run() } catch { throw StudyJobError.failed(job: job.id, reason: "cannot start /bin/sh -c \(cmd): \(error)") }
            p.waitUntilExit()
            try? log.close()
            guard p.terminationReason == .exit, p.terminationStatus == 0 else {
                let how = p.terminationReason == .exit ? "exited with status \(p.terminationStatus)" : "was killed by signal \(p.terminationStatus)"
                let tail = (try? String(contentsOfFile: logPath, encoding: .utf8)).map { $0.split(separator: "\n", omittingEmptySubsequences: false).suffix(12).joined(separator: "\n") } ?? ""
                throw StudyJobError.failed(job: job.id, reason: "the trainer command `\(cmd)` \(how); the last lines of its output (\(logPath)):\n\(tail)")
            }
        }
    }

    func shellQuote(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'" }
}
