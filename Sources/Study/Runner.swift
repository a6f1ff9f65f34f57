// `shallot study` end to end (docs/methods.md). Pre-train a base on corpus P with half B of its
// subjects' values replaced by surrogates and a control (null) base with both halves replaced;
// fine-tune on F with evaluation and selection seeds (and the control base like the first
// evaluation seeds); run the fixed test on every fine-tune; onion rounds with a deletion arm and
// two controls (random removal from the deleted subjects' activity strata, per seed; reseeding on
// unchanged data); pre-training leakage, main against null, half A against half B; approximate
// unlearning against the exact retrain. Every job is checkpointed under DIR so that an interrupted
// study resumes.

import Audit
import Corpus
import Endpoint
import Foundation
import GPT
import Kernels
import Support
import PII
import Tokenizer
import Training
import Unlearning

public enum StudyProgress: Sendable {
    case stage(String)
    case resumed(String)
    case step(done: Int, total: Int)
}

public enum StudyError: Error, CustomStringConvertible {
    case corpus(String)
    public var description: String { switch self { case .corpus(let s): return s } }
}

public final class StudyRunner {
    let s: StudySettings
    let dir: String
    let progress: (StudyProgress) -> Void
    let hash: Hasher16
    /// The key of verified.json's MACs (VerifiedRecord.key): derived from the salt, outside OUT.
    let verificationKey: Data
    /// The key of the stage files' MACs (AuditCheckpoints.key): derived from the salt, outside OUT.
    let stageFilesKey: Data
    let reveal: Bool
    let store: AuditCheckpoints
    let fingerprint: String
    let execution: StudyExecution
    let planBook: PlanBook
    let scheduler: JobScheduler
    let t0 = Date()
    let infoLock = NSLock(), progressLock = NSLock()

    /// The corpora, split once (Corpora.swift).
    let corpora: StudyCorpora
    var tok: (any TextTokenizer)!
    var tokens: [String: [Int32]] = [:]
    /// The pre-training leakage design (LeakageDesign.swift): target values, halves, the two bases' corpora.
    var leakage: LeakageDesign
    /// The two bases' token streams' records, encoded once (their ids are P's: not in `tokens`).
    var baseTokens: (main: [[Int32]], null: [[Int32]]) = ([], [])
    var modelInfo: [String: [String: String]] = [:]
    /// The one test every model of the study answers (FixedTest.swift), built before any job.
    var fixedTest: FixedTest!
    /// The members' activity strata (tokens written), for the random control.
    var strata: ActivityStrata!
    /// Optimizer steps of the baseline fine-tunes (the `steps` budget rule holds them).
    var baselineSteps: Int?
    /// Every training job of the study by id (guarded by infoLock).
    var specs: [JobID: TrainSpec] = [:]
    /// Jobs trained by this invocation (guarded by infoLock).
    var trainedHere = Set<JobID>()
    /// Audits run by this invocation (guarded by infoLock): one run ahead of its round is done, not reused.
    var auditedHere = Set<JobID>()

    public init(settings: StudySettings, directory: String, salt: Data, revealPII: Bool, userCorpus: [Record]?, pretrainCorpus: [Record]? = nil,
                corpusDescription: [String: String],
                execution: StudyExecution = StudyExecution(), progress: @escaping (StudyProgress) -> Void) throws {
        guard !settings.attackedTypes.isEmpty, settings.attackedTypes.isSubset(of: StudySettings.studyTypes) else {
            throw StudyError.corpus("the study attacks e-mail addresses and phone numbers; settings.types \(settings.types?.map(\.rawValue) ?? []) names none or another type")
        }
        s = settings; dir = directory; self.progress = progress; hash = Hasher16(salt: salt); reveal = revealPII; self.execution = execution
        verificationKey = VerifiedRecord.key(salt: salt)
        stageFilesKey = AuditCheckpoints.key(salt: salt)
        let enc = JSONEncoder(); enc.outputFormatting = .sortedKeys  // the fingerprint's fixed formula
        // The fingerprint covers the software version and the ownership rule, so stages and
        // models of an older Shallot are never reused.
        var fp = try enc.encode(settings) + Data("shallot \(shallotVersion); ownership rule 2; onion design 4 (record-window test); filler 3 (masked placeholders); leakage design 4 (surrogates with first names and name-shaped addresses, clean prefixes)".utf8)
        fp += Data(corpusDescription.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "\n").utf8)
        fingerprint = sha256(data: fp)
        store = AuditCheckpoints(directory: directory + "/stages", fingerprint: fingerprint, key: stageFilesKey)
        planBook = PlanBook(path: directory + "/plan.json", fingerprint: fingerprint, execution: execution, rounds: settings.rounds)
        scheduler = JobScheduler(width: execution.jobs)
        (corpora, leakage) = try StudyCorpora.prepare(settings, user: userCorpus, pretrain: pretrainCorpus, description: corpusDescription)
        try PrivateFile.makeDirectory(directory)
        // The plant's groups, for scoring a validation run afterwards (the study never reads it).
        if settings.plant != nil, userCorpus == nil {
            try PrivateFile.write(ResultsJSON.encoder(pretty: true).encode(corpora.namesakes), to: directory + "/namesakes.json")
        }
    }

    /// Progress from any job thread, one event at a time.
    func report(_ e: StudyProgress) {
        progressLock.lock(); defer { progressLock.unlock() }
        progress(e)
    }

    func key(_ subject: String) -> String { reveal ? subject : hash("subject", subject) }

    // Stage files hold salted subject keys, never subjects (docs/security.md): keyed when a stage
    // is saved, mapped back when it is loaded; a stage whose keys do not map (saved under another
    // salt) is run again. A stage file is reused only when its MAC under the study's key verifies
    // (AuditCheckpoints): one planted or edited in OUT is reported and run again.
    func warnStage(_ why: String) { report(.stage("warning: " + why)) }
    lazy var subjectOfStageKey: [String: String] = Dictionary(corpora.F.map { (stageKey($0.subject), $0.subject) }, uniquingKeysWith: { a, _ in a })
    func stageKey(_ subject: String) -> String { hash("stage-subject", subject) }
    func subjectStage<T: Codable & SubjectKeyedStage>(_ name: String, store: AuditCheckpoints? = nil, _ body: () throws -> T) throws -> T {
        let store = store ?? self.store
        if let stored: T = store.load(name, warn: warnStage), let r = stored.mapSubjects({ subjectOfStageKey[$0] }) { return r }
        let r = try body()
        try store.save(name, r.mapSubjects { stageKey($0) }!)
        return r
    }

    /// The ownership table of F (DIR/ownership.json, owner-only: value ids and owners are keys
    /// unless --reveal-pii) and its summary for study.json.
    func writeOwnership() throws -> OwnershipSummary {
        struct Row: Codable { var type: String; var value: String; var owner: String? }
        let ownership = corpora.ownership
        let rows = ownership.values.sorted().map { k in Row(type: k.type.rawValue, value: reveal ? k.value : hash(k.string), owner: ownership.owner(of: k).map(key)) }
        let path = dir + "/ownership.json"
        try PrivateFile.write(ResultsJSON.encoder(pretty: true).encode(rows), to: path)
        var byType: [String: Int] = [:]
        for k in ownership.owners.keys { byType[k.type.rawValue, default: 0] += 1 }
        let members = corpora.members
        return OwnershipSummary(values: ownership.values.count, owned: ownership.owners.count, unowned: ownership.values.count - ownership.owners.count,
                                ownedByType: byType, subjectsWithValues: Set(ownership.owners.values).intersection(members).count)
    }

    // MARK: models

    func config() -> GPTConfig {
        GPTConfig(vocabSize: tok.vocabSize, nPositions: s.model.context, nEmbd: s.model.width, nLayer: s.model.layers, nHead: s.model.heads,
                  dropout: 0, eosTokenId: Int(tok.endOfText))
    }

    /// A model an earlier stage of this run planned (trained now if its output is missing).
    func saved(_ id: JobID) throws -> GPT {
        infoLock.lock(); let spec = specs[id]; infoLock.unlock()
        guard let spec else { throw StudyError.corpus("\(jobDir(id)): no such job in this study's plan") }
        return try trained(spec)
    }

    /// Registers the job spec under its id (for `saved`) and in the plan.
    @discardableResult
    func register(_ spec: TrainSpec) throws -> TrainSpec.Base {
        infoLock.lock(); specs[spec.id] = spec; infoLock.unlock()
        return TrainSpec.Base(id: spec.id, inputSHA256: try plan(spec))
    }

    /// Pre-training from scratch on `corpus` (P with surrogates in it; weights initialised from
    /// the study's seed), whose records' tokens are `tokens`.
    func pretrainSpec(_ id: JobID, corpus: [Record], tokens: [[Int32]]) -> TrainSpec {
        TrainSpec(id: id, base: nil, stream: Filler.packed(tokens, replace: [], keepLength: true, endOfText: tok.endOfText), records: corpus,
                  params: s.pretrain, initSeed: s.seed, budget: .init(rule: "filler", removedRecords: 0, originalSteps: nil))
    }

    /// A fine-tune of `base` on F's members without the records of `removed` subjects.
    func finetuneSpec(_ id: JobID, base: TrainSpec.Base, removed: Set<String>, seed: UInt64, baselineSteps: Int?) -> TrainSpec {
        var p = s.finetune; p.seed = seed
        let split = ForgetSplit(records: corpora.fTrain, subjects: removed)
        let st = Retrainer.stream(records: corpora.fTrain, tokens: corpora.fTrain.map(tokensOf), removed: split.forgetIds, budget: s.budget, tokenizer: tok)
        p = Retrainer.parameters(p, budget: s.budget, originalSteps: baselineSteps)
        return TrainSpec(id: id, base: base, stream: st, records: split.retain, params: p, initSeed: nil,
                         budget: .init(rule: s.budget.rawValue, removedRecords: split.forget.count, originalSteps: s.budget == .steps ? baselineSteps : nil))
    }

    /// A record's tokens (every record is encoded once, before any job runs; the table is only
    /// read while jobs run on several threads).
    func tokensOf(_ r: Record) -> [Int32] { tokens[r.id] ?? tok.encode(r.text) }

    func encodeAll() {
        var seen = Set<String>(), recs: [Record] = []
        for r in corpora.F where seen.insert(r.id).inserted { recs.append(r) }
        for (r, t) in zip(recs, tok.encodeBatch(recs.map(\.text))) { tokens[r.id] = t }
        baseTokens = (tok.encodeBatch(leakage.mainCorpus.map(\.text)), tok.encodeBatch(leakage.nullCorpus.map(\.text)))
    }

    // MARK: the fixed test

    /// The fixed test of the fine-tuning members' corpus, and the activity strata.
    func prepareTest() {
        let stream = TrainingStream(records: corpora.fTrain, tokens: tokensOf, endOfText: tok.endOfText, context: s.model.context)
        fixedTest = FixedTest.build(records: corpora.fTrain, stream: stream, tokenizer: tok, ownership: corpora.ownership, types: s.attackedTypes,
                                    prefixLengths: s.prefixLengths, occurrences: s.testOccurrences, seed: s.seed)
        strata = ActivityStrata(tokens: corpora.recordsOf.mapValues { $0.reduce(0) { $0 + tokensOf($1).count } }, strata: s.strata)
    }

    func test(_ m: any LanguageModel) throws -> TestOutcome {
        try fixedTest.run(m, place: s.padAlignedPrompts != true) { d, t in if self.execution.jobs == 1 { self.report(.step(done: d, total: t)) } }
    }

    /// The fixed test of model `id`: in this process, or through a server `--serve-cmd` starts
    /// for it (stopped when the test ends; its log and request log in the job's directory).
    func testModel(_ id: JobID, _ m: GPT?) throws -> TestOutcome {
        guard let template = execution.serveCommand, m == nil else { return try test(LocalModel(m!, tokenizer: tok)) }
        report(.stage("serving \(id) for its test (--serve-cmd)"))
        let server = try ModelServerProcess.start(template: template, model: absolute(modelDir(id)), logPath: jobDir(id) + "/server.log",
                                                  timeout: execution.serveTimeout, passEnvironment: execution.passEnvironment)
        defer { server.stop() }
        var es = EndpointSettings(baseURL: server.baseURL, servedModel: server.servedModel)
        es.tokenizer = tok
        es.contextLength = s.model.context
        es.requestLog = jobDir(id) + "/requests.jsonl"
        es.revealPII = false
        es.apiKey = server.apiKey
        es.beforeEachAttempt = { try server.checkListener() }   // the server may die, and its port be taken
        do {
            return try test(try OpenAICompletionsModel(es))
        } catch {
            throw StudyJobError.failed(job: JobID.audit(id).description, reason: "through \(EndpointURL.redacted(server.baseURL)) (`\(server.command)`, log \(server.logPath)): \(error)")
        }
    }

    // MARK: the study

    struct RunRecord: Codable, SubjectKeyedStage {
        var outcome: TestOutcome; var steps: Int; var loss: Double
        func mapSubjects(_ f: (String) -> String?) -> RunRecord? {
            outcome.mapSubjects(f).map { RunRecord(outcome: $0, steps: steps, loss: loss) }
        }
    }

    /// Fine-tune (a job) and run the fixed test on the result; the test is keyed by the job's
    /// input hash, so a finished one is reused without the model.
    func fineTuneAndTest(_ spec: TrainSpec) throws -> RunRecord {
        try scheduler.exclusive("audit:\(spec.id)") { try fineTuneAndTestNow(spec) }
    }

    private func fineTuneAndTestNow(_ spec: TrainSpec) throws -> RunRecord {
        let hash = try register(spec).inputSHA256
        let auditId = JobID.audit(spec.id)
        // A test through a server is its own result (other numerics): never mixed with a local one.
        let auditHash = sha256(fingerprint + "\naudit\n" + hash + (execution.serveCommand.map { "\nserved by " + $0 } ?? ""))
        planBook.add(spec.auditEntry(inputSHA256: auditHash, modelInputSHA256: hash, stageFile: stageFile(spec.id)))
        let keyed = AuditCheckpoints(directory: dir + "/stages", fingerprint: auditHash, key: stageFilesKey)
        var fresh = false
        let rr: RunRecord = try subjectStage(spec.id.description, store: keyed) {
            fresh = true
            report(.stage("fine-tune + test: \(spec.id)"))
            // Served tests never build the model here: it may be too large for this machine.
            let m: GPT? = execution.serveCommand == nil ? try trained(spec) : nil
            if m == nil { try ensureTrained(spec) }
            let result = try TrainResult.read(modelDir(spec.id))
            planBook.setStatus(auditId, .running)
            return RunRecord(outcome: try testModel(spec.id, m), steps: result.steps, loss: result.finalLoss)
        }
        infoLock.lock()
        if fresh { auditedHere.insert(spec.id) }
        let here = auditedHere.contains(spec.id)
        infoLock.unlock()
        planBook.setStatus(auditId, here ? .done : .reused)
        return rr
    }

    func prepareTokenizer() throws {
        report(.stage("tokenizer"))
        let tokDir = dir + "/tokenizer"
        // The study's own directory, before anything is read from it: owner-only, not a link.
        try PrivateFile.makeDirectory(tokDir, restrictExisting: true)
        if FileManager.default.fileExists(atPath: tokDir + "/vocab.json"), let f = FileManager.default.contents(atPath: tokDir + "/study-fingerprint"),
           String(decoding: f, as: UTF8.self) == fingerprint, let t = try? TokenizerFiles.load(directory: tokDir) {
            tok = t
            return
        }
        try? FileManager.default.removeItem(atPath: tokDir + "/study-fingerprint")
        let t = try BPETrainer.train(texts: corpora.P.map(\.text), vocabSize: s.model.vocabulary).tokenizer
        try t.save(to: tokDir)
        try PrivateFile.write(Data(fingerprint.utf8), to: tokDir + "/study-fingerprint")
        tok = t
    }

    public func run() throws -> StudyReport {
        let threadsBefore = Parallel.threads
        Parallel.threads = execution.threads
        defer { Parallel.threads = threadsBefore }
        let ownershipSummary = try prepare()
        var design = try checkDesign()
        reportLeakageDesign()
        let (baseRef, nullSpecs) = try planBases(design)
        var onion = OnionState(baseline: [], selection: [], evaluationSeeds: design.evaluationSeeds, selectionSeeds: design.selectionSeeds)
        let round0Specs = design.evaluationSeeds.indices.map { baselineSpec(onion, $0, base: baseRef) }
            + design.selectionSeeds.indices.map { selectionSpec(onion, $0, round: 0, base: baseRef, removed: []) }
        for sp in round0Specs + nullSpecs { try register(sp) }
        planAnalyses()
        try planRounds(design: design)

        report(.stage("pre-training the base model and the control base (target values replaced by surrogates: half B in the base, both halves in the control)"))
        _ = try scheduler.run([{ try self.saved(.base) }, { try self.saved(.baseControl) }])
        report(.stage("round 0: \(round0Specs.count) fine-tunes + tests (\(design.evaluationSeeds.count) evaluation, \(design.selectionSeeds.count) selection), and the control base's \(nullSpecs.count) fine-tunes"))
        let round0 = round0Specs.map { sp in scheduler.spawn(priority: JobScheduler.urgent) { try self.fineTuneAndTest(sp) } }
        let nullTuned = nullSpecs.map { sp in scheduler.spawn(priority: JobScheduler.background) { _ = try self.trained(sp) } }
        let round0Runs = try round0.map { try $0.wait() }
        baselineSteps = round0Runs[0].steps
        let E = design.evaluationSeeds.count
        onion = OnionState(baseline: round0Runs.prefix(E).map(\.outcome), selection: round0Runs.suffix(design.selectionSeeds.count).map(\.outcome),
                           evaluationSeeds: design.evaluationSeeds, selectionSeeds: design.selectionSeeds)
        let baseline = baselineResult(round0Runs, design: design)
        design.power.afterRound0 = powerAfterRound0(onion, churn: baseline.seedChurn)
        design.stopped = calibration(onion)
        let leakageJob = scheduler.spawn(priority: JobScheduler.background) { try self.tracked(.pretrainingLeakage) { try self.pretrainingLeakage() } }
        let (rounds, forget, ahead) = try runRounds(design.stopped == nil ? s.rounds : 0, base: baseRef, state: &onion)
        scheduler.noMoreUrgentWork()
        // Their errors are not this stage's: a failed one was run again (or failed) where it is
        // used — the round that owns a reseeded fine-tune, the leakage analysis for the control's.
        for job in nullTuned { _ = try? job.wait() }
        for job in ahead { _ = try? job.wait() }
        let leakage = try leakageJob.wait()
        let unlearning = try forget.map { try $0.wait() } ?? []
        design.power.final = rounds.first?.verdict.minimumDetectableEffect
        return finish(design: design, ownership: ownershipSummary, baseline: baseline, rounds: rounds, leakage: leakage, unlearning: unlearning)
    }

    /// The two bases (registered) and the control base's fine-tunes, one per seed pair of the
    /// leakage comparison, each trained like that evaluation seed's baseline.
    func planBases(_ design: StudyDesign) throws -> (TrainSpec.Base, [TrainSpec]) {
        let baseRef = try register(pretrainSpec(.base, corpus: leakage.mainCorpus, tokens: baseTokens.main))
        let nullRef = try register(pretrainSpec(.baseControl, corpus: leakage.nullCorpus, tokens: baseTokens.null))
        let nullSpecs = (0..<leakagePairs).map { i in
            finetuneSpec(.controlFinetuned(seed: i), base: nullRef, removed: [], seed: design.evaluationSeeds[i], baselineSteps: nil)
        }
        return (baseRef, nullSpecs)
    }

    /// The onion rounds, the reseeded fine-tunes started ahead, and the unlearning comparison once
    /// round 1 is in.
    func runRounds(_ n: Int, base: TrainSpec.Base, state onion: inout OnionState) throws -> ([StudyRound], JobFuture<[UnlearningRow]>?, [JobFuture<RunRecord>]) {
        guard n > 0 else { return ([], nil, []) }
        let ahead = try startReseeded(onion, base: base)
        var rounds: [StudyRound] = []
        var unlearningJob: JobFuture<[UnlearningRow]>?
        for r in 1...n {
            guard let round = try onionRound(r, base: base, state: &onion) else {
                report(.stage("round \(r): the selection models find no present subject vulnerable; the rounds end here"))
                break
            }
            rounds.append(round)
            if r == 1 {
                let forget = onion.forgetSet, seed = onion.evaluationSeeds[0]
                unlearningJob = scheduler.spawn(priority: JobScheduler.background) { try self.tracked(.unlearning) { try self.unlearningComparison(forget: forget, seed: seed) } }
            }
        }
        return (rounds, unlearningJob, ahead)
    }

    func finish(design: StudyDesign, ownership: OwnershipSummary, baseline: StudyBaseline, rounds: [StudyRound], leakage: PretrainingLeakage,
                unlearning: [UnlearningRow]) -> StudyReport {
        var findings = rounds.map(\.statement)
        if let stop = design.stopped { findings.insert(stop, at: 0) }
        findings.append(leakage.statement)
        findings += unlearningFindings(unlearning)
        recordReportedModels()
        try? planBook.write()
        return StudyReport(software: shallotSoftware, created: ISO8601DateFormatter().string(from: Date()), settings: s, corpus: corpora.description,
                           models: modelInfo, ownership: ownership, design: design, baseline: baseline,
                           rounds: rounds, pretrainingLeakage: leakage, unlearning: unlearning, findings: findings, seconds: Date().timeIntervalSince(t0))
    }

    /// The tokenizer, every record's tokens, the fixed test, the stage-key table and the
    /// ownership file, before any job runs.
    func prepare() throws -> OwnershipSummary {
        try prepareTokenizer()
        leakage.place(window: scoredScalars, seed: s.seed, exposurePerHalf: s.leakage.exposureValues)
        encodeAll()
        prepareTest()
        _ = subjectOfStageKey  // built before any job thread reads it
        return try writeOwnership()
    }

    /// The leakage analysis (its stage, each model's measurement, the attribution) and the
    /// unlearning comparison in plan.json.
    func planAnalyses() {
        let models = leakageModels().map(\.id)
        planBook.add(PlanEntry(analysis: .pretrainingLeakage, fingerprint: fingerprint, dependsOn: models,
                               outputs: [stageFile(.pretrainingLeakage)] + (models.map { "pretraining_leakage_\($0)" } + ["pretraining_leakage_attribution"])
                                   .map { dir + "/stages/\($0).json" }))
        guard s.rounds > 0 else { return }
        planBook.add(PlanEntry(analysis: .unlearning, fingerprint: fingerprint, dependsOn: [.baseline(seed: 0), .arm(.deletion, round: 1, seed: 0)],
                               outputs: ["original", "retrain"].map { dir + "/stages/unlearn_eval_\($0).json" }
                                   + s.unlearningMethods.filter { $0 != .retrain }.map { dir + "/stages/unlearn_\($0.rawValue).json" }))
    }

    /// Runs a stage, its plan entry marked running, then done (or failed).
    func tracked<T>(_ id: JobID, _ body: () throws -> T) throws -> T {
        planBook.setStatus(id, .running)
        do { let r = try body(); planBook.setStatus(id, .done); return r } catch { planBook.setStatus(id, .failed); throw error }
    }

    /// The onion rounds in plan.json, each waiting for the selection models it ranks its targets
    /// on (round r's jobs are decided only when those are in).
    func planRounds(design: StudyDesign) throws {
        for r in 0..<s.rounds {
            let waits = design.selectionSeeds.indices.map { JobID.audit(.selection(round: r, index: $0)) }
            var jobs = Arm.allCases.flatMap { a in design.evaluationSeeds.indices.map { JobID.arm(a, round: r + 1, seed: $0) } }
            if r + 1 < s.rounds { jobs += design.selectionSeeds.indices.map { JobID.selection(round: r + 1, index: $0) } }
            planBook.round(r + 1, planned: false, waitsFor: waits, jobs: jobs)
        }
        try planBook.write()
    }

    /// Path and weights hash of every reported model on disk (a resumed run's too).
    func recordReportedModels() {
        for id in Self.reportedModels where modelInfo[id.description] == nil {
            let path = modelDir(id)
            if FileManager.default.fileExists(atPath: path + "/model.safetensors") {
                modelInfo[id.description] = ["path": path, "weights_sha256": (try? sha256(file: path + "/model.safetensors")) ?? ""]
            }
        }
    }

    func unlearningFindings(_ unlearning: [UnlearningRow]) -> [String] {
        guard let retrain = unlearning.first(where: { $0.method == "retrain" }) else { return [] }
        return unlearning.filter { !["original", "retrain"].contains($0.method) }.map { u in
            String(format: "Unlearning by %@: %d of %d forget-set values still extracted (exact retrain: %d), forget-set MIA AUC %.3f (retrain %.3f), held-out perplexity %.2f (retrain %.2f), %d newly vulnerable others (retrain %d).",
                   u.method.uppercased(), u.forgetExtractedValues, u.forgetValues, retrain.forgetExtractedValues, u.forgetMIAAUC, retrain.forgetMIAAUC,
                   u.heldOutPerplexity, retrain.heldOutPerplexity, u.newlyVulnerableOthers, retrain.newlyVulnerableOthers)
        }
    }
}

/// A stage result naming subjects, which `StudyRunner.subjectStage` stores under salted keys.
protocol SubjectKeyedStage {
    /// The same result with every subject mapped by `f`; nil if one does not map.
    func mapSubjects(_ f: (String) -> String?) -> Self?
}
