// The study as a plan of jobs (docs/plan.md): every training is a job file under OUT/jobs/<id>/
// (the trainer contract, docs/trainer-contract.md) run by the local trainer or by an external
// command; every job has a content-addressed input hash, and a job whose output is present and
// verified for the same hash is never run again. Independent jobs run `jobs` at a time.

import Dispatch
import Foundation
import GPT
import Kernels
import SafeTensors
import Support
import Training

/// Who trains the study's models.
public enum StudyTrainer: Sendable, Equatable {
    /// Shallot's own trainer (`BuiltinTrainer`), in this process.
    case local
    /// `/bin/sh -c TEMPLATE` with `{job}` replaced by the job file's path (also in $SHALLOT_JOB),
    /// one process per job, in ChildEnvironment's environment.
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
    /// Round audits through a model server this command starts per model (`{model}`, `{port}`;
    /// ModelServerProcess); nil: in this process.
    public var serveCommand: String?
    /// Seconds a server may take to answer before its audit fails.
    public var serveTimeout: Double = 900
    /// Variables of ours the trainer and server commands get beyond ChildEnvironment's allow-list
    /// (--pass-env).
    public var passEnvironment: [String] = []
    public init(jobs: Int = 1, threads: Int = ProcessInfo.processInfo.activeProcessorCount, trainer: StudyTrainer = .local,
                serveCommand: String? = nil, serveTimeout: Double = 900, passEnvironment: [String] = []) {
        self.jobs = max(1, jobs); self.threads = max(1, threads); self.trainer = trainer
        self.serveCommand = serveCommand; self.serveTimeout = serveTimeout; self.passEnvironment = passEnvironment
    }
}

public enum StudyJobError: Error, CustomStringConvertible {
    case failed(job: String, reason: String)
    public var description: String {
        switch self { case .failed(let j, let r): return "job \(j) failed: \(r)" }
    }
}

/// The study's jobs share `width` slots: a job holds one while it computes and gives it up while
/// it waits for other jobs, so nested work (the leakage stage's measurements of its models) cannot
/// deadlock the pool. Slots go to the waiting job of the most urgent priority (0: the current
/// round, whose audits decide the next one; 1: work nothing waits for yet — the control base's
/// fine-tunes, later rounds' reseeded fine-tunes, the leakage and unlearning stages), first come
/// first served within a priority. Every job runs on a thread of its own, not Dispatch's pool
/// (about one per core): `--jobs 8` on a 2-core login node must keep eight external trainings
/// (`sbatch --wait`) going. Results never depend on the order: each job computes alone on its
/// own kernel threads (StudyExecution.threads).
final class JobScheduler: @unchecked Sendable {
    let width: Int
    private let cond = NSCondition()
    private var free: Int
    private var queue: [(priority: Int, ticket: Int)] = []
    private var tickets = 0
    private var runningBackground = 0
    /// Key of the thread-dictionary entry holding the priority of the slot a thread holds.
    private static let slotKey = "shallot.study.slot"

    init(width: Int) { self.width = max(1, width); free = self.width }

    static let urgent = 0, background = 1

    /// Background work holds at most width − 1 slots (all of one), so that the next round's
    /// first job never waits for a background job to finish — until `noMoreUrgentWork()`.
    private var backgroundCap: Int { urgentDone ? width : max(1, width - 1) }
    private var urgentDone = false

    /// The rounds are over: background work may take every slot.
    func noMoreUrgentWork() {
        cond.lock(); urgentDone = true; cond.broadcast(); cond.unlock()
    }

    /// A place in the queue, taken in the caller's thread so that the order of `spawn` calls is
    /// the order of service (within a priority).
    private func enqueue(_ priority: Int) -> Int {
        cond.lock(); defer { cond.unlock() }
        let ticket = tickets; tickets += 1
        queue.append((priority, ticket))
        return ticket
    }

    /// The ticket to serve next: the first of the most urgent priority that may run now.
    private func next() -> Int? {
        queue.filter { $0.priority == Self.urgent || runningBackground < backgroundCap }
            .min(by: { ($0.priority, $0.ticket) < ($1.priority, $1.ticket) })?.ticket
    }

    private func acquire(ticket: Int, _ priority: Int) {
        cond.lock()
        while !(free > 0 && next() == ticket) { cond.wait() }
        queue.removeAll { $0.ticket == ticket }
        free -= 1
        if priority != Self.urgent { runningBackground += 1 }
        cond.broadcast()
        cond.unlock()
        Thread.current.threadDictionary[Self.slotKey] = priority
    }

    private func acquire(_ priority: Int) { acquire(ticket: enqueue(priority), priority) }

    private func release() {
        let p = currentPriority ?? Self.urgent
        Thread.current.threadDictionary.removeObject(forKey: Self.slotKey)
        cond.lock()
        free += 1
        if p != Self.urgent { runningBackground -= 1 }
        cond.broadcast()
        cond.unlock()
    }

    /// The priority of the slot the calling thread holds (nil: it holds none, e.g. the main thread).
    var currentPriority: Int? { Thread.current.threadDictionary[Self.slotKey] as? Int }

    /// Runs `body` while not holding a slot: the caller's slot (if any) is lent out while it waits.
    func blocking<T>(_ body: () throws -> T) rethrows -> T {
        guard let p = currentPriority else { return try body() }
        release()
        defer { acquire(p) }
        return try body()
    }

    /// Starts `body` on a thread of its own once a slot is free.
    func spawn<T>(priority: Int? = nil, _ body: @escaping () throws -> T) -> JobFuture<T> {
        let future = JobFuture<T>(scheduler: self)
        let p = priority ?? currentPriority ?? Self.urgent
        let box = UncheckedSendable(body)
        let ticket = enqueue(p)
        let t = Thread {
            self.acquire(ticket: ticket, p)
            let r = Result { try box.value() }
            self.release()
            future.fulfil(r)
        }
        t.stackSize = 16 << 20
        t.start()
        return future
    }

    /// Runs every task (at the caller's priority unless given) and returns their results in
    /// input order. Every task runs even when one fails; the first failure in input order is
    /// thrown afterwards. One slot wide: in this thread, one after another.
    func run<T>(_ tasks: [() throws -> T], priority: Int? = nil) throws -> [T] {
        if width == 1 || tasks.count <= 1 {
            let rs = inSlot(priority ?? currentPriority ?? Self.urgent) { tasks.map { t in Result { try t() } } }
            return try rs.map { try $0.get() }
        }
        let futures = tasks.map { spawn(priority: priority, $0) }
        let rs = futures.map { f in Result { try f.wait() } }
        return try rs.map { try $0.get() }
    }

    /// Runs `body` in the calling thread holding a slot (the one it holds, or one acquired now).
    func inSlot<T>(_ priority: Int, _ body: () throws -> T) rethrows -> T {
        if currentPriority != nil { return try body() }
        acquire(priority)
        defer { release() }
        return try body()
    }

    /// Per-key exclusion: a second caller for the same key (a job already running on another
    /// thread) waits for the first to finish, without holding a slot, then runs `body` itself
    /// (which finds the first one's output on disk).
    func exclusive<T>(_ key: String, _ body: () throws -> T) rethrows -> T {
        cond.lock()
        let lock = keyLocks[key] ?? NSLock()
        keyLocks[key] = lock
        cond.unlock()
        if !lock.try() { blocking { lock.lock() } }
        defer { lock.unlock() }
        return try body()
    }
    private var keyLocks: [String: NSLock] = [:]
}

/// The result of a job started with `JobScheduler.spawn`.
final class JobFuture<T>: @unchecked Sendable {
    private let cond = NSCondition()
    private var result: Result<T, Error>?
    private let scheduler: JobScheduler
    init(scheduler: JobScheduler) { self.scheduler = scheduler }

    func fulfil(_ r: Result<T, Error>) { cond.lock(); result = r; cond.broadcast(); cond.unlock() }

    /// Waits (lending the caller's slot out) and returns the job's result or throws its error.
    func wait() throws -> T {
        let r: Result<T, Error> = scheduler.blocking {
            cond.lock(); defer { cond.unlock() }
            while result == nil { cond.wait() }
            return result!
        }
        return try r.get()
    }
}

/// One entry of plan.json.
struct PlanEntry: Codable, Equatable {
    var id: JobID
    var kind: JobKind
    var arm: JobArm?
    var round: Int?
    var seed: UInt64?
    var base: JobID?
    var budget: String?
    var steps: Int?
    /// SHA-256 of everything that determines the job's output (docs/plan.md).
    var inputSHA256: String?
    /// The hashes that go into it, by name (tokens, records manifest, base...).
    var inputs: [String: String]
    var dependsOn: [JobID]
    var outputs: [String]
    var status: JobState
    enum CodingKeys: String, CodingKey {
        case id, kind, arm, round, seed, base, budget, steps, inputs, outputs, status
        case inputSHA256 = "input_sha256", dependsOn = "depends_on"
    }
}

struct PlanRound: Codable, Equatable {
    var round: Int
    var planned: Bool
    /// Why a round is not planned yet: the audits its removals are decided from.
    var waitsFor: [JobID]
    var jobs: [JobID]
    enum CodingKeys: String, CodingKey { case round, planned, jobs, waitsFor = "waits_for" }
}

struct PlanFile: Codable {
    var schema = "shallot.plan/1"
    var fingerprint: String
    var trainer: String
    var trainerCommand: String?
    /// `--serve-cmd`: the round audits went through a server this command started per model.
    var serveCommand: String?
    var concurrency: Int
    var rounds: [PlanRound]
    var jobs: [PlanEntry]
    enum CodingKeys: String, CodingKey {
        case schema, fingerprint, trainer, concurrency, rounds, jobs, trainerCommand = "trainer_command", serveCommand = "serve_command"
    }
}

/// plan.json, rewritten atomically whenever an entry is added or changes state.
final class PlanBook: @unchecked Sendable {
    private var file: PlanFile
    private var order: [JobID] = []
    private var entries: [JobID: PlanEntry] = [:]
    private let path: String
    private let lock = NSLock()

    init(path: String, fingerprint: String, execution: StudyExecution, rounds: Int) {
        self.path = path
        var cmd: String?
        if case .command(let c) = execution.trainer { cmd = c }
        file = PlanFile(fingerprint: fingerprint, trainer: execution.trainer.name, trainerCommand: cmd, serveCommand: execution.serveCommand, concurrency: execution.jobs,
                        rounds: (0..<rounds).map { PlanRound(round: $0 + 1, planned: false, waitsFor: [], jobs: []) }, jobs: [])
    }

    func add(_ e: PlanEntry) {
        lock.lock(); defer { lock.unlock() }
        if entries[e.id] == nil { order.append(e.id) }
        var e = e
        if let old = entries[e.id], old.inputSHA256 == e.inputSHA256, e.status == .planned { e.status = old.status }
        entries[e.id] = e
    }

    func setStatus(_ id: JobID, _ status: JobState) {
        lock.lock()
        entries[id]?.status = status
        lock.unlock()
        try? write()
    }

    func round(_ r: Int, planned: Bool, waitsFor: [JobID], jobs: [JobID]) {
        lock.lock(); defer { lock.unlock() }
        if let i = file.rounds.firstIndex(where: { $0.round == r }) { file.rounds[i] = PlanRound(round: r, planned: planned, waitsFor: waitsFor, jobs: jobs) }
    }

    /// One write at a time, so that the file on disk is always the latest state.
    private let writeLock = NSLock()

    func write() throws {
        writeLock.lock(); defer { writeLock.unlock() }
        lock.lock()
        var f = file
        f.jobs = order.map { entries[$0]! }
        lock.unlock()
        try PrivateFile.write(ResultsJSON.encoder(pretty: true).encode(f), to: path)
    }
}

extension StudyRunner {
    var jobsDir: String { dir + "/jobs" }
    func jobDir(_ id: JobID) -> String { jobsDir + "/\(id)" }
    func modelDir(_ id: JobID) -> String { jobDir(id) + "/model" }
    func stageFile(_ id: JobID) -> String { dir + "/stages/\(id).json" }

    /// SHA-256 of the tokenizer files (part of every training job's input).
    func tokenizerSHA256() -> String {
        let d = dir + "/tokenizer"
        return sha256(["vocab.json", "merges.txt"].map { (try? sha256(file: d + "/" + $0)) ?? "" }.joined(separator: "\n"))
    }

    /// The job file of `spec` in this study's directory, its input hash and its plan entry
    /// (without writing anything).
    func describe(_ spec: TrainSpec) throws -> (job: TrainJob, inputSHA256: String, entry: PlanEntry) {
        let c = config()
        let job = try spec.trainJob(directory: absolute(jobDir(spec.id)), baseModel: spec.base.map { absolute(modelDir($0.id)) },
                                    tokenizer: absolute(dir + "/tokenizer"),
                                    shape: .init(nLayer: c.nLayer, nHead: c.nHead, nEmbd: c.nEmbd, nPositions: c.nPositions, vocabSize: c.vocabSize))
        let tokenizerSHA = tokenizerSHA256()
        let hash = try spec.inputSHA256(job, tokenizerSHA256: tokenizerSHA)
        return (job, hash, spec.planEntry(job, inputSHA256: hash, tokenizerSHA256: tokenizerSHA))
    }

    func absolute(_ p: String) -> String { URL(fileURLWithPath: p).standardizedFileURL.path }

    /// Registers a training job in the plan and returns its input hash.
    @discardableResult
    func plan(_ spec: TrainSpec) throws -> String {
        let described = try describe(spec)
        planBook.add(described.entry)
        return described.inputSHA256
    }

    /// The trained model of `spec`: reused when its output is present and verified for the same
    /// input hash, else trained (job files written, the trainer run, its output verified).
    /// One thread at a time per job: a second caller waits, then finds the output verified.
    func trained(_ spec: TrainSpec) throws -> GPT {
        try scheduler.exclusive("train:\(spec.id)") { try trainOrReuse(spec, load: true)! }
    }

    /// The same, without building the model in this process (its audit goes through a server):
    /// the output is verified by its files (TrainJob.verifyFiles).
    func ensureTrained(_ spec: TrainSpec) throws {
        _ = try scheduler.exclusive("train:\(spec.id)") { try trainOrReuse(spec, load: false) }
    }

    private func trainOrReuse(_ spec: TrainSpec, load: Bool) throws -> GPT? {
        let (job, hash, entry) = try describe(spec)
        planBook.add(entry)
        let d = jobDir(spec.id), mark = d + "/verified.json"
        // Before anything is read from it: OUT/jobs and the job's directory must be real
        // directories of this user's, not links planted to hand the study another model.
        try PrivateFile.makeDirectory(jobsDir, restrictExisting: true)
        try PrivateFile.makeDirectory(d, restrictExisting: true)
        if let (model, record) = reusable(spec, job: job, hash: hash, load: load) {
            infoLock.lock(); let mine = trainedHere.contains(spec.id); infoLock.unlock()
            if !mine { report(.resumed("model \(spec.id)")) }
            // A moved run directory: the job file names the new places.
            if (try? TrainJob.read(d + "/job.json", ownDirectory: false)) != job {
                try PrivateFile.write(ResultsJSON.encoder(pretty: true).encode(job), to: d + "/job.json")
            }
            planBook.setStatus(spec.id, .done)
            noteModel(spec.id, job.output, record.weightsSHA256)
            return model
        }
        try? FileManager.default.removeItem(atPath: mark)
        try PrivateFile.makeDirectory(d, restrictExisting: true)
        try? FileManager.default.removeItem(atPath: job.output)
        try PrivateFile.write(spec.tokenFile(vocabSize: job.config.vocabSize), to: job.data.tokens)
        try PrivateFile.write(try spec.recordsFile(), to: job.data.records)
        try PrivateFile.write(ResultsJSON.encoder(pretty: true).encode(job), to: d + "/job.json")
        planBook.setStatus(spec.id, .running)
        report(.stage("training \(spec.id) (\(job.training.steps) steps, \(execution.trainer.name) trainer)"))
        do {
            try runTrainer(job, directory: d)
            let (model, record) = try verifyTrained(spec, job: job, hash: hash)
            try PrivateFile.write(ResultsJSON.encoder().encode(record), to: mark)
            infoLock.lock(); trainedHere.insert(spec.id); infoLock.unlock()
            planBook.setStatus(spec.id, .done)
            noteModel(spec.id, job.output, record.weightsSHA256)
            return load ? model : nil
        } catch {
            planBook.setStatus(spec.id, .failed)
            throw error
        }
    }

    func noteModel(_ id: JobID, _ path: String, _ sha: String) {
        guard Self.reportedModels.contains(id) else { return }
        infoLock.lock(); modelInfo[id.description] = ["path": modelDir(id), "weights_sha256": sha]; infoLock.unlock()
    }

    /// The models study.json lists (path and weights hash): the bases, the first evaluation
    /// baseline, its exact retrain in round 1 and the control base's fine-tune of the same seed.
    static let reportedModels: Set<JobID> = [.base, .baseControl, .baseline(seed: 0), .arm(.deletion, round: 1, seed: 0), .controlFinetuned(seed: 0)]

    /// Runs the trainer on `job`, whose files are in job directory `d`.
    func runTrainer(_ job: TrainJob, directory d: String) throws {
        let file = d + "/job.json"
        switch execution.trainer {
        case .local:
            _ = try BuiltinTrainer.run(job: job) { d, t in if self.execution.jobs == 1 { self.report(.step(done: d, total: t)) } }
        case .command(let template):
            // The path also in $SHALLOT_JOB; substituted only if no shell can misread it.
            let cmd = template.replacingOccurrences(of: "{job}", with: try ShellPlaceholder.quoted(absolute(file), for: "{job}"))
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/bin/sh")
            p.arguments = ["-c", cmd]
            p.environment = ChildEnvironment.build(passing: execution.passEnvironment, adding: ["SHALLOT_JOB": absolute(file)])
            let logPath = d + "/trainer.log"
            let log: FileHandle
            do { log = FileHandle(fileDescriptor: try PrivateFile.openLog(logPath, truncate: true), closeOnDealloc: true) } catch {
                throw StudyJobError.failed(job: job.id, reason: "the trainer's log: \(error)")
            }
            p.standardOutput = log; p.standardError = log
            // Registered, so that an interrupted or failing study stops it (Foundation starts it
            // in a process group of its own, out of the terminal's reach).
            do { _ = try ProcessGroups.register { try p.run(); return p.processIdentifier } } catch {
                throw StudyJobError.failed(job: job.id, reason: "cannot start /bin/sh -c \(cmd): \(error)")
            }
            p.waitUntilExit()
            ProcessGroups.unregister(p.processIdentifier)
            try? log.close()
            guard p.terminationReason == .exit, p.terminationStatus == 0 else {
                let how = p.terminationReason == .exit ? "exited with status \(p.terminationStatus)" : "was killed by signal \(p.terminationStatus)"
                throw StudyJobError.failed(job: job.id, reason: "the trainer command `\(cmd)` \(how); \(logPointer(logPath))")
            }
        }
    }

}
