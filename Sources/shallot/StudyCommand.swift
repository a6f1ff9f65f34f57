import ArgumentParser
import Corpus
import Foundation
import Kernels
import PII
import Ledger
import Report
import SafeTensors
import Study
import Support
import Training
import Unlearning

struct StudyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "study",
        abstract: "Run the onion-effect and pre-training-leakage study end to end, with its controls (docs/design.md, \"The study\").",
        discussion: """
        Pre-trains a base model on corpus P with half B of its subjects' e-mail addresses and phone
        numbers replaced by surrogates and a control base with both halves replaced; fine-tunes on
        corpus F with --seeds evaluation seeds (the control base like the first three) and
        --selection-seeds selection seeds; tests every model with one fixed test built from the
        original corpus (k-token and position-aligned prefixes); runs --rounds onion rounds with
        three arms (deletion of the most vulnerable subjects, ranked on the selection models; random
        removal of as many subjects of the same activity strata, drawn per seed; reseeding on
        unchanged data) and decides, against both controls, whether deletion made others newly
        vulnerable (exceeds / fewer / does_not_exceed with --delta / inconclusive, with reasons and
        the minimum detectable effect; docs/methods.md); decides whether the fine-tuned models
        still know the pre-training values of half A (leaks / no_leak_above_delta with
        --leakage-delta / inconclusive); compares GA / GD / NPO unlearning with the exact
        retrain. Writes OUT/study.json (schema shallot.study/3, docs/study-schema.md) and
        OUT/study.html. Every stage is kept under OUT: run the same command again after an
        interruption and it continues where it stopped.
        Presets: quick (minutes), default (under half an hour on 2 cores), paper (GPT-2-small
        scale: hours to days).
        """)
    @Option(help: "quick | default | validation | paper (smoke: seconds, for tests; its numbers mean nothing)") var preset = "default"
    @Option(help: "A JSONL corpus (e.g. from `corpus import`) instead of the synthetic one; its subjects are split into pre-training and fine-tuning halves (unless --pretrain-corpus is given: then it is the fine-tuning corpus).") var corpus: String?
    @Option(help: "With --corpus: the pre-training corpus (JSONL), kept apart from the fine-tuning corpus instead of splitting --corpus.") var pretrainCorpus: String?
    @Option(help: "Plant an onion mechanism in the synthetic fine-tuning corpus: G namesake groups (corpus synth --namesakes; validation runs, docs/methods.md).") var namesakes: Int?
    @Option(help: "With --namesakes: light members per group (default 1).") var namesakeLight: Int?
    @Option(help: "With --namesakes: messages each light member sends (default 10).") var namesakeLightMessages: Int?
    @Flag(help: "With --namesakes: the null twin (the same people and mail, unique names: no shadowing).") var namesakeNull = false
    @Option(help: "Training-budget rule when records are removed: filler (replace by as many <|endoftext|> placeholders, left out of the loss), epochs, steps.") var budget: BudgetRule?
    @Option(help: "Onion rounds (default: the preset's).") var rounds: Int?
    @Option(help: "Subjects removed per round (default: the preset's).") var remove: Int?
    @Option(help: "Evaluation seeds: each has its own baseline and one model per arm and round (default: the preset's).") var seeds: Int?
    @Option(help: "Selection seeds: models the deletion targets are ranked on, apart from the evaluation seeds (default: the preset's).") var selectionSeeds: Int?
    @Flag(help: "Fill the positions before each record-window prompt with <|endoftext|> instead of placing the prompt at its trained position (what a --serve-cmd server gets): a local study then asks exactly what a served one asks.") var padAlignedPrompts = false
    @Option(parsing: .upToNextOption, help: "PII types the onion study attacks (default: EMAIL_ADDRESS PHONE_NUMBER). PHONE_NUMBER alone counts only values that occur in their owner's own mail (an address is in everyone's headers; docs/methods.md, “Which types”); the pre-training leakage comparison keeps both.") var types: [PIIType] = []
    @Option(help: "The smallest effect of interest Δ, an absolute difference of newly-vulnerable rates, fixed before the run (default 0.05).") var delta: Double?
    @Option(help: "The smallest pre-training leak of interest Δ in nats per token of a value, fixed before the run (default 0.1).") var leakageDelta: Double?
    @Option(help: "Seed pairs of the pre-training leakage comparison: the first evaluation seeds' baselines and as many fine-tunes of the control base (default 3; at most --seeds; fewer than 3 decide nothing).") var leakageSeeds: Int?
    @Flag(help: "Validation: the base model's pre-training corpus has half A of the target values replaced too (by other surrogates), so neither base saw any target and the leakage verdict must not say leaks.") var leakageNull = false
    @Option(help: "Fine-tuning epochs (default: the preset's); how strongly the model memorises.") var finetuneEpochs: Double?
    @Option(help: "Fine-tuning learning rate (default: the preset's).") var finetuneLr: Float?
    @Option(help: "Pre-training epochs (default: the preset's).") var pretrainEpochs: Double?
    @Option(help: "Pre-training learning rate (default: the preset's).") var pretrainLr: Float?
    @Option(help: "Synthetic pre-training corpus: subjects (default: the preset's). Few subjects with many records duplicate every value (a planted pre-training positive, docs/methods.md).") var pretrainSubjects: Int?
    @Option(help: "Synthetic pre-training corpus: records (default: the preset's).") var pretrainRecords: Int?
    @Option(help: "Seed of the corpora and models.") var seed: UInt64 = 1
    @OptionGroup var salt: SaltOptions
    @Option(help: "Directory for the study's random salt (default: $SHALLOT_KEYS, else ~/.shallot/keys; made 0700).") var keys: String?
    @Flag(help: "Subject keys in the clear in study.json.") var revealPii = false
    @Option(help: "Jobs (trainings, audits, evaluations) run at a time (default: the number of cores; each local job then runs on one thread).") var jobs: Int?
    @Option(help: "Kernel threads of each local job (default 1, so that results do not depend on --jobs: a GEMM split over threads can move the last digits of the exposure estimates).") var threads: Int?
    @Option(help: "Who trains the study's models: local (Shallot, in this process) or command (--trainer-cmd per job; docs/trainer-contract.md).") var trainer = "local"
    @Option(help: "With --trainer command: a /bin/sh command line in which {job} is replaced by the path of the job's job.json (single-quoted; also in $SHALLOT_JOB, the safer choice inside other quotes), e.g. 'sbatch --wait train.sh {job}'.") var trainerCmd: String?
    @Option(help: "Audit each fine-tune through a model server this /bin/sh command line starts for it: {model} is replaced by the model directory, {port} by a free local port (also in $SHALLOT_MODEL, $SHALLOT_PORT; API base http://127.0.0.1:PORT/v1; without {port}, the URLs with a port the command prints). The server must demand the key in $SHALLOT_SERVE_API_KEY on every route (completions and tokenizer routes are probed without it; one answered stops the study), given through its environment, never its command line (ps shows that to every user): e.g. 'shallot serve --model {model} --port {port} --api-key-env SHALLOT_SERVE_API_KEY', or vLLM with examples/vllm_key_guard.py (its own key leaves /invocations open; README). It is stopped after the audit (docs/plan.md).") var serveCmd: String?
    @Option(help: "With --serve-cmd: seconds a server may take to start answering.") var serveTimeout: Double = 900
    @Option(help: ArgumentHelp("Pass this environment variable to the --trainer-cmd and --serve-cmd commands (repeatable). They get only PATH, HOME, USER, LOGNAME, LANG, LC_*, TZ, TMPDIR, CUDA_VISIBLE_DEVICES, SLURM_*, HF_HOME, TRANSFORMERS_CACHE, PYTHONPATH, VIRTUAL_ENV, OMP_NUM_THREADS and SHALLOT_JOB / SHALLOT_MODEL, SHALLOT_PORT, SHALLOT_SERVE_API_KEY otherwise.", valueName: "name")) var passEnv: [String] = []
    @Option(help: "Output directory.") var out = "runs/study"
    @Flag(help: "JSON lines progress.") var json = false
    @Option(help: "Record the study (its models, unlearning actions and findings) in this ledger.") var ledger: String?

    func run() throws {
        let execution = try self.execution()
        BLAS.setThreads(execution.threads)
        let settings = try self.settings()
        // A missing ledger is an error now, not after the study.
        let ledgerFile = ledger.map { lp in reporting { try Ledger(path: lp) } }
        reporting { try PrivateFile.makeDirectory(out) }
        let studySalt = salt.read() ?? reporting { try StudySalt.load(out: out, keys: keys) }
        var desc: [String: String] = ["source": corpus == nil ? "synthetic (corpus synth, populations 0 and 1)" : corpus!]
        let user = corpus.map { c -> [Record] in desc["file_sha256"] = (try? sha256(file: c)) ?? ""; return readCorpus(c) }
        let pre = pretrainCorpus.map { c -> [Record] in desc["pretrain_file"] = c; desc["pretrain_file_sha256"] = (try? sha256(file: c)) ?? ""; return readCorpus(c) }
        let runner = reporting {
            try StudyRunner(settings: settings, directory: out, salt: studySalt, revealPII: revealPii, userCorpus: user, pretrainCorpus: pre,
                            corpusDescription: desc, execution: execution, progress: progressPrinter())
        }
        if execution.serveCommand != nil || execution.trainer != .local { stopChildrenOnInterrupt() }
        let report: StudyReport
        do { report = try runner.run() } catch {
            // Other jobs may still be running (background work, model servers, trainers): stop the
            // child processes and leave at once (exit's teardown under running threads can crash).
            ProcessGroups.terminateAll()
            FileHandle.standardError.write(Data("error: \(TerminalText.escape("\(error)", keepLines: true))\n".utf8))
            _exit(1)
        }
        reporting {
            // owner-only, as every other file of the study: with --reveal-pii they name subjects in the clear
            try PrivateFile.write(ResultsJSON.encoder(pretty: true).encode(report), to: out + "/study.json")
            try PrivateFile.write(Data(StudyHTML.render(report).utf8), to: out + "/study.html")
        }
        if let l = ledgerFile, let lp = ledger { record(report, settings: settings, in: l, path: lp) }
        print("study (\(preset), budget \(settings.budget.rawValue)) in \(String(format: "%.0f", report.seconds)) s → \(out)/study.json, \(out)/study.html")
        for f in report.findings { print("  • " + f) }
        print(Self.verdictLine(report))
    }

    /// The last line: the primary endpoint's verdict, its intervals, Δ, the MDE and the balance.
    static func verdictLine(_ r: StudyReport) -> String {
        guard let rd = r.rounds.first(where: \.primary) else {
            return "onion verdict: none — " + (r.design.stopped ?? "no onion round was run (--rounds 0)")
        }
        let v = rd.verdict
        let cs = v.comparisons.map { c in
            "\(c.control.rawValue) \(String(format: "%+.3f", c.difference)) " + (c.interval.map { String(format: "[%.3f, %.3f]", $0.low, $0.high) } ?? "[n/a]")
        }.joined(separator: ", ")
        let mde = v.minimumDetectableEffect.map { String(format: "%.3f", $0) } ?? "n/a"
        return "onion verdict (round \(rd.round)): \(v.outcome.rawValue.uppercased()) — deletion − control: \(cs); Δ = \(String(format: "%.3f", v.delta)), MDE \(mde); random control removed \(String(format: "%.2f", rd.balance.medianTokenRatio))× the deletion arm's tokens (median), \(String(format: "%.0f", 100 * rd.balance.overlapWithTargets))% of its draws were targets too"
    }

    /// --jobs, --threads and --trainer as the runner's execution settings. One kernel thread per
    /// job unless asked: the GEMM split over threads can change the last bits of some scores (the
    /// exposure estimates), and --jobs must not change the study.
    func execution() throws -> StudyExecution {
        if let jobs, jobs < 1 { throw ValidationError("--jobs must be at least 1") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
        let backend: StudyTrainer
        switch trainer {
        case "local":
            guard trainerCmd == nil else { throw ValidationError("--trainer-cmd needs --trainer command") }
            backend = .local
        case "command":
            guard let c = trainerCmd, c.contains("{job}") || c.contains("SHALLOT_JOB") else {
                throw ValidationError("--trainer command needs --trainer-cmd with {job} or $SHALLOT_JOB in it (the job file's path)")
            }
            backend = .command(c)
        default: throw ValidationError("--trainer must be local or command")
        }
        if let c = serveCmd, !c.contains("{model}") { throw ValidationError("--serve-cmd needs {model} in it (the model directory)") }
        guard serveTimeout > 0 else { throw ValidationError("--serve-timeout must be positive") }
        if let bad = passEnv.first(where: { !ChildEnvironment.validName($0) }) { throw ValidationError("--pass-env \(bad): not an environment variable name") }
        if backend != .local || serveCmd != nil {
            // Paths under OUT fill {job} and {model}: refused now rather than after the first stages.
            let abs = URL(fileURLWithPath: out).standardizedFileURL.path
            do { _ = try ShellPlaceholder.quoted(abs, for: "--out") } catch { throw ValidationError("\(error)") }
        }
        return StudyExecution(jobs: jobs ?? max(1, ProcessInfo.processInfo.activeProcessorCount), threads: threads ?? 1, trainer: backend,
                              serveCommand: serveCmd, serveTimeout: serveTimeout, passEnvironment: passEnv)
    }

    /// The preset with the options given applied.
    func settings() throws -> StudySettings {
        guard var settings = StudySettings.preset(preset) else { throw ValidationError("unknown preset \"\(preset)\"; use quick, default, validation or paper") }
        if let budget { settings.budget = budget }
        if padAlignedPrompts { settings.padAlignedPrompts = true }
        if !types.isEmpty {
            let unsupported = types.filter { !StudySettings.studyTypes.contains($0) }
            guard unsupported.isEmpty else { throw ValidationError("--types: the study attacks EMAIL_ADDRESS and PHONE_NUMBER, not \(unsupported.map(\.rawValue).joined(separator: ", "))") }
            // Both types named are the default (nil): the same settings, fingerprint and stages.
            settings.types = Set(types) == StudySettings.studyTypes ? nil : Array(Set(types)).sorted()
        }
        if let rounds { settings.rounds = rounds }
        if let remove { settings.removePerRound = remove }
        if let seeds { guard seeds >= 1 else { throw ValidationError("--seeds must be at least 1") }; settings.seeds = seeds }
        if let selectionSeeds { guard selectionSeeds >= 1 else { throw ValidationError("--selection-seeds must be at least 1") }; settings.selectionSeeds = selectionSeeds }
        if let delta { guard delta > 0, delta < 1 else { throw ValidationError("--delta must lie between 0 and 1 (an absolute difference of rates)") }; settings.delta = delta }
        if let leakageDelta { guard leakageDelta > 0 else { throw ValidationError("--leakage-delta must be positive (nats per token)") }; settings.leakage.delta = leakageDelta }
        if let leakageSeeds { guard leakageSeeds >= 1 else { throw ValidationError("--leakage-seeds must be at least 1") }; settings.leakage.seeds = leakageSeeds }
        if leakageNull { settings.leakage.null = true }
        if let finetuneEpochs { guard finetuneEpochs > 0 else { throw ValidationError("--finetune-epochs must be positive") }; settings.finetune.epochs = finetuneEpochs }
        if let finetuneLr { guard finetuneLr > 0 else { throw ValidationError("--finetune-lr must be positive") }; settings.finetune.learningRate = finetuneLr }
        if let pretrainEpochs { guard pretrainEpochs > 0 else { throw ValidationError("--pretrain-epochs must be positive") }; settings.pretrain.epochs = pretrainEpochs }
        if let pretrainLr { guard pretrainLr > 0 else { throw ValidationError("--pretrain-lr must be positive") }; settings.pretrain.learningRate = pretrainLr }
        try pretrainCorpusSize(&settings)
        settings.seed = seed
        if pretrainCorpus != nil && corpus == nil { throw ValidationError("--pretrain-corpus needs --corpus (the fine-tuning corpus)") }
        if let namesakes {
            guard corpus == nil else { throw ValidationError("--namesakes plants into the synthetic corpus; it cannot be combined with --corpus (write a planted corpus with `corpus synth --namesakes` and give it as --corpus)") }
            guard namesakes >= 1 else { throw ValidationError("--namesakes must be at least 1") }
            var plant = StudySettings.Plant(groups: namesakes, null: namesakeNull)
            if let namesakeLight { guard namesakeLight >= 1 else { throw ValidationError("--namesake-light must be at least 1") }; plant.light = namesakeLight }
            if let namesakeLightMessages { guard namesakeLightMessages >= 1 else { throw ValidationError("--namesake-light-messages must be at least 1") }; plant.lightMessages = namesakeLightMessages }
            settings.plant = plant
        } else if namesakeNull || namesakeLight != nil || namesakeLightMessages != nil {
            throw ValidationError("--namesake-null, --namesake-light and --namesake-light-messages need --namesakes")
        }
        return settings
    }

    /// --pretrain-subjects and --pretrain-records: the synthetic pre-training corpus only.
    func pretrainCorpusSize(_ settings: inout StudySettings) throws {
        guard pretrainSubjects != nil || pretrainRecords != nil else { return }
        guard corpus == nil else { throw ValidationError("--pretrain-subjects and --pretrain-records size the synthetic pre-training corpus; with --corpus give --pretrain-corpus") }
        if let n = pretrainSubjects { guard n >= 10 else { throw ValidationError("--pretrain-subjects must be at least 10") }; settings.pretrainSubjects = n }
        if let n = pretrainRecords { guard n >= 1 else { throw ValidationError("--pretrain-records must be at least 1") }; settings.pretrainRecords = n }
    }

    func progressPrinter() -> (StudyProgress) -> Void {
        let start = Date()
        var bar: ProgressBar?
        return { ev in
            switch ev {
            case .stage(let s):
                bar = nil
                if json { printJSON(StageEvent(stage: s, elapsedS: (Date().timeIntervalSince(start) * 10).rounded() / 10)) }
                else { FileHandle.standardError.write(Data(String(format: "[%6.1fs] %@\n", Date().timeIntervalSince(start), s).utf8)) }
            case .resumed(let s):
                if json { printJSON(["event": "resumed", "stage": s]) } else { FileHandle.standardError.write(Data("  (reused from an earlier run: \(s))\n".utf8)) }
            case .step(let d, let t):
                if json { return }
                if bar == nil || bar!.total != t { bar = ProgressBar(total: t, label: "  ", unit: "steps") }
                bar!.update(d)
            }
        }
    }

    /// The study, its models and findings in the ledger.
    func record(_ report: StudyReport, settings: StudySettings, in l: Ledger, path lp: String) {
        var models: [String: Any] = [:]
        for (k, v) in report.models { models[k] = v }
        let e = reporting { try l.append(.study, ["study_json": out + "/study.json", "study_sha256": (try? sha256(file: out + "/study.json")) ?? "",
                                               "preset": preset, "budget": settings.budget.rawValue, "models": models, "findings": report.findings,
                                               "unlearning_methods": report.unlearning.map(\.method)]) }
        FileHandle.standardError.write(Data("ledger: study entry \(e.id) in \(lp)\n".utf8))
        announceHead(e, l)
    }
}

/// `shallot study-job JOB.json`: Shallot's own trainer for one job file of the trainer contract
/// (docs/trainer-contract.md) — what `--trainer local` runs in-process, as a command, so that it
/// can stand in for an external trainer (`--trainer command --trainer-cmd 'shallot study-job {job}'`).
struct StudyJobCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "study-job", abstract: "Train one study job file (the trainer contract, docs/trainer-contract.md).", shouldDisplay: false)
    @Argument(help: "The job's job.json.") var job: String
    @OptionGroup var threads: ThreadOptions

    func run() throws {
        threads.apply()   // the kernels' workers and the BLAS's
        let j = reporting { try TrainJob.read(job) }
        let r = reporting { try BuiltinTrainer.run(job: j) }
        print("job \(r.jobId): \(r.steps) steps, final loss \(String(format: "%.4f", r.finalLoss)) → \(j.output)")
    }
}

/// The study's random salt lives outside OUT, so that study.json's salted subject keys and the
/// salt that makes them unguessable are never in one directory (or one archive of it): in the
/// key directory (--keys, $SHALLOT_KEYS, else ~/.shallot/keys; 0700), one file per output
/// directory (0600), named by a hash of OUT's absolute path so that a resumed study finds it.
/// A salt an earlier version left in OUT/.salt is never adopted: whoever could write OUT could
/// have planted it (a known salt makes the subject keys guessable and keys verified.json's MACs).
/// The study stops and asks for it to be removed; it does not suggest passing it with
/// --salt-file, which would adopt a planted salt all the same.
enum StudySalt {
    static func directory(_ keys: String?) -> String {
        if let keys { return keys }
        if let k = ProcessInfo.processInfo.environment["SHALLOT_KEYS"], !k.isEmpty { return k }
        return FileManager.default.homeDirectoryForCurrentUser.path + "/.shallot/keys"
    }

    static func load(out: String, keys: String?) throws -> Data {
        let dir = directory(keys)
        try PrivateFile.makeDirectory(dir)
        let abs = URL(fileURLWithPath: out).standardizedFileURL.resolvingSymlinksInPath().path
        let path = dir + "/study-" + String(sha256(abs).prefix(16)) + ".salt"
        if let d = FileManager.default.contents(atPath: path), d.count == 32 { return d }
        let legacy = out + "/.salt"
        var st = stat()
        if lstat(legacy, &st) == 0 {
            throw ValidationError("\(legacy): a salt file in the output directory is not used (anyone who could write \(out) could have"
                + " planted it, making the subject keys guessable and the trained models' verification forgeable); remove it, and the"
                + " study starts with a new salt kept in \(dir) (its models are then trained and verified again)")
        }
        let salt = Data((0..<32).map { _ in UInt8.random(in: 0...255) })
        try PrivateFile.write(salt, to: path)
        FileHandle.standardError.write(Data("study salt: \(path) (keep it to resume this study or to compare its subject keys)\n".utf8))
        return salt
    }
}

/// Machine-readable progress of the study (`--json`): numbers as JSON numbers.
struct StageEvent: Encodable {
    var event = "stage"
    var stage: String
    var elapsedS: Double
    enum CodingKeys: String, CodingKey { case event, stage, elapsedS = "elapsed_s" }
}
