import ArgumentParser
import Audit
import Corpus
import Endpoint
import Foundation
import GPT
import PII
import Report
import SafeTensors
import Support
import Tokenizer
import Training

struct AuditCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Measure which subjects' PII a model leaks: targeted extraction, exposure, membership inference, canaries.",
        discussion: """
        Writes OUT/audit.json (schema shallot.audit/2, docs/audit-schema.md), OUT/audit.html (a
        self-contained report; `shallot report` rebuilds it) and OUT/subjects.csv.
        Finished stages are kept in OUT/.checkpoint (owner-only; removed at the end): running the
        same command again after a crash or kill -9 resumes from the last finished stage. They hold
        raw values, so SIGINT (Ctrl-C) and SIGTERM remove OUT/.checkpoint before exiting (the audit
        then starts afresh). Every output is owner-only (files 0600, new directories 0700).
        Values and subject ids are stored as salted hashes (HMAC-SHA256 under --salt-file, or a
        random salt that is not saved) plus a masked form, unless --reveal-pii.
        Attacks: extraction (true-prefix, greedy and --samples top-k samples, per --k), exposure
        (rank of the true value among format-matched candidates in its context), mia (needs
        --nonmembers), canaries (needs --canaries, the file `corpus synth` writes).
        A served model: --endpoint http://HOST:8000/v1 --served-model NAME audits a model behind an
        OpenAI-compatible completions API (vLLM, llama.cpp's server) instead of --model. The API key
        comes from $OPENAI_API_KEY (or the variable --api-key-env names), never the command line.
        Attacks that need prompt log-probabilities (exposure, mia, canaries, continuous scores,
        untargeted rankings) are reported unavailable when the server does not return them.
        Every HTTP attempt is logged to OUT/requests.jsonl (ids, sizes, status, latency; bodies only
        with --reveal-pii).
        """)
    @Option(help: "Model directory.") var model: String?
    @OptionGroup(title: "A served model") var served: EndpointOptions
    @Option(help: "The corpus the model was trained on (JSONL records).") var data: String
    @Option(help: "Held-out records for membership inference.") var nonmembers: String?
    @Option(help: "Base (reference) model directory: the reference-model MIA score, and lineage — the same extraction attacks on the base.") var reference: String?
    @Option(help: "Canary file written by `corpus synth --canary-repeats` (FILE.canaries.json).") var canaries: String?
    @Option(help: "untargeted: the base model's pre-training corpus, to attribute leaks (pre-training / fine-tuning / both / neither).") var pretrainingData: String?
    @Option(help: "untargeted: public text whose distinct 10-token windows are the prompts (without it: windows of a shipped generic text).") var prompts: String?
    @OptionGroup(title: "Attacks") var attack: AttackOptions
    @OptionGroup var salt: SaltOptions
    @Flag(help: "Store PII values and subject ids in the clear.") var revealPii = false
    @Option(help: "Output directory.") var out: String
    @OptionGroup var progress: ProgressOptions
    @OptionGroup var threads: ThreadOptions

    func validate() throws {
        guard (model == nil) != (served.endpoint == nil) else { throw ValidationError("give exactly one of --model DIR and --endpoint URL") }
        guard reference == nil || served.referenceEndpoint == nil else { throw ValidationError("give one of --reference DIR and --reference-endpoint URL") }
    }

    /// The audited model, its tokenizer, what audit.json says about it, and what identifies it
    /// in the checkpoint fingerprint.
    struct Target { var model: any LanguageModel; var tokenizer: any TextTokenizer; var info: [String: String]; var fingerprint: String }

    func run() throws {
        threads.apply()
        let settings = try attack.settings(revealPII: revealPii)
        let records = readCorpus(data)
        let non = nonmembers.map(readCorpus)
        let requests = RequestProgress()
        var target = loadTarget(requests)
        let (ref, referenceFingerprint) = loadReference(&target, requests)
        let checkpointDir = out + "/.checkpoint"
        removeOnInterrupt(checkpointDir)
        let salt = auditSalt(checkpointDir: checkpointDir)
        let corpusInfo: [String: String] = ["path": data, "file_sha256": (try? sha256(file: data)) ?? "", "records": "\(records.count)",
                                            "subjects": "\(Set(records.map(\.subject)).count)", "non_members": "\(non?.count ?? 0)"]
        // Stages are reused only by the same audit: same settings, model, corpus, base, canaries and salt.
        let parts = [target.fingerprint, corpusInfo["file_sha256"] ?? "", nonmembers.flatMap { try? sha256(file: $0) } ?? "",
                     referenceFingerprint, canaries.flatMap { try? sha256(file: $0) } ?? "",
                     pretrainingData.flatMap { try? sha256(file: $0) } ?? "", prompts.flatMap { try? sha256(file: $0) } ?? ""]
        var inputs = AuditInputs(model: target.model, modelInfo: target.info, tokenizer: target.tokenizer, records: records, corpusInfo: corpusInfo,
                                 nonMembers: non, reference: ref, canaries: readCanaries(), pretrainingRecords: pretrainingData.map(readCorpus),
                                 promptText: prompts.map { p in (try? String(contentsOfFile: p, encoding: .utf8)) ?? { fail("\(p): cannot read") }() })
        inputs.checkpoints = AuditCheckpoints(directory: checkpointDir, fingerprint: AuditCheckpoints.fingerprint(settings: settings, inputs: parts, salt: salt),
                                               key: AuditCheckpoints.key(salt: salt))
        let report = runAudit(inputs, settings: settings, salt: salt, requests: requests)
        reporting {
            try writeOutputs(report)
            try? FileManager.default.removeItem(atPath: checkpointDir)
        }
        printSummary(report, target: target.model)
    }

    func loadTarget(_ requests: RequestProgress) -> Target {
        if let endpoint = served.endpoint, let name = served.servedModel {
            let e = served.model(endpoint, name, out: out, revealPII: revealPii, requests: requests)
            // stored without a user:password@ the URL may carry (audit.json and the HTML are shared)
            var info = ["endpoint": EndpointURL.redacted(endpoint), "served_model": name, "server_model_entry": e.modelEntry, "context_length": "\(e.contextLength)"]
            for (k, v) in e.probe { info["endpoint_" + k] = v }
            if let t = served.tokenizer { info["tokenizer_path"] = t }
            if !e.capabilities.promptLogprobs {
                FileHandle.standardError.write(Data("note: \(name) returns no prompt log-probabilities: exposure, membership inference, canaries and continuous scores are unavailable\n".utf8))
            }
            let fingerprint = "endpoint\u{1F}" + endpoint + "\u{1F}" + name + "\u{1F}" + (served.tokenizer.flatMap { try? sha256(file: $0 + "/tokenizer.json") } ?? "")
            return Target(model: e, tokenizer: e.tokenizer, info: info, fingerprint: fingerprint)
        }
        let dir = model!
        let m = reporting { try GPT.load(directory: dir) }
        let tok = reporting { try TokenizerFiles.load(directory: dir) }
        let info = ["path": dir, "weights_sha256": (try? sha256(file: dir + "/model.safetensors")) ?? "",
                    "parameters": "\(m.parameterCount)", "layers": "\(m.config.nLayer)", "width": "\(m.config.nEmbd)"]
        return Target(model: LocalModel(m, tokenizer: tok), tokenizer: tok, info: info, fingerprint: info["weights_sha256"] ?? "")
    }

    /// The base (reference) model, local or served, and its part of the fingerprint; a served
    /// reference adds its endpoint to the target's info.
    func loadReference(_ target: inout Target, _ requests: RequestProgress) -> ((any LanguageModel)?, String) {
        if let r = reference {
            if served.endpoint != nil { checkSameTokenizer(target.tokenizer, reporting { try TokenizerFiles.load(directory: r) }, "--reference \(r)") }
            return (LocalModel(reporting { try GPT.load(directory: r) }, tokenizer: target.tokenizer), (try? sha256(file: r + "/model.safetensors")) ?? "")
        }
        guard let url = served.referenceEndpoint, let name = served.referenceServedModel else { return (nil, "") }
        let e = served.model(url, name, out: out, revealPII: revealPii, requests: requests)
        checkSameTokenizer(target.tokenizer, e.tokenizer, "--reference-endpoint \(EndpointURL.redacted(url))")
        target.info["reference_endpoint"] = EndpointURL.redacted(url); target.info["reference_served_model"] = name; target.info["reference_server_model_entry"] = e.modelEntry
        return (e, "endpoint\u{1F}" + url + "\u{1F}" + name)
    }

    func readCanaries() -> [Canary]? {
        guard let c = canaries else { return nil }
        struct File: Decodable { let canaries: [Canary] }
        guard let d = FileManager.default.contents(atPath: c), let f = try? JSONDecoder().decode(File.self, from: d) else { fail("\(c): not a canary file from `corpus synth`") }
        return f.canaries
    }

    /// --salt-file's salt; else an interrupted audit's random salt (so that its finished stages
    /// stay valid); else a new random one, kept only while the audit runs (removed with the
    /// checkpoint at the end or on SIGINT/SIGTERM): the outputs never sit beside their salt.
    func auditSalt(checkpointDir: String) -> Data {
        if let s = salt.read() { return s }
        // The interrupted audit's salt only if it is still the user's private file (never through a
        // link): a salt planted or exposed in OUT is not adopted — the audit starts afresh and its
        // stages, keyed by the old salt, are recomputed.
        if let d = try? PrivateFile.readSecret(checkpointDir + "/salt", what: "the interrupted audit's salt", bytes: 32...32) { return d }
        let fresh = Data((0..<32).map { _ in UInt8.random(in: 0...255) })
        reporting {
            try PrivateFile.makeDirectory(out)
            try PrivateFile.makeDirectory(checkpointDir, restrictExisting: true)
            try PrivateFile.write(fresh, to: checkpointDir + "/salt")
        }
        return fresh
    }

    func runAudit(_ inputs: AuditInputs, settings: AuditSettings, salt: Data, requests: RequestProgress) -> AuditReport {
        var bar: ProgressBar?
        return reporting {
            try AuditRunner.run(inputs, settings: settings, salt: salt) { ev in
                switch ev {
                case .stage(let s):
                    bar = nil
                    requests.stage()
                    if progress.json { printJSON(["event": "stage", "stage": s]) } else { FileHandle.standardError.write(Data("\(s)…\n".utf8)) }
                case .step(let d, let t):
                    requests.stepping()
                    if bar == nil || bar!.total != t { bar = ProgressBar(total: t, label: "  ", unit: "items") }
                    bar!.update(d)
                }
            }
        }
    }

    /// audit.json, subjects.csv and audit.html, owner-only.
    func writeOutputs(_ report: AuditReport) throws {
        try PrivateFile.makeDirectory(out)
        try PrivateFile.write(ResultsJSON.encoder(pretty: true).encode(report), to: out + "/audit.json")
        var csv = "subject,masked,records,values,extracted_values,vulnerable,score,max_exposure\n"
        for s in report.subjects {
            csv += "\(csvField(s.subject)),\(csvField(s.masked)),\(s.records),\(s.values),\(s.extractedValues),\(s.vulnerable),\(s.score.map { String(format: "%.4f", $0) } ?? ""),\(s.maxExposure.map { String(format: "%.2f", $0) } ?? "")\n"
        }
        try PrivateFile.write(Data(csv.utf8), to: out + "/subjects.csv")
        try PrivateFile.write(Data(AuditHTML.render(report).utf8), to: out + "/audit.html")
    }

    func printSummary(_ report: AuditReport, target: any LanguageModel) {
        let s = report.summary
        print(String(format: "%d of %d values extracted (%.1f%%); %d of %d subjects vulnerable → %@/audit.json",
                     s.extractedValues, s.values, 100 * s.extractionRate, s.vulnerableSubjects, s.subjects, out))
        for (k, v) in (report.unavailable ?? [:]).sorted(by: { $0.key < $1.key }) { print("  \(k): \(v)") }
        if let e = target as? OpenAICompletionsModel, e.retries > 0 { print("  \(e.retries) request(s) retried (see \(served.requestLog ?? out + "/requests.jsonl"))") }
        if let e = target as? OpenAICompletionsModel, e.promptTokenMismatches > 0 {
            print("  \(e.promptTokenMismatches) text prompt(s) the server split into a different number of tokens than the audit (prompt_token_mismatch in \(served.requestLog ?? out + "/requests.jsonl"))")
        }
        if let h = report.headline {
            print("headline: \(h.level.rawValue)")
            for f in h.findings { print("  • " + f) }
        }
        if let mia = report.membershipInference {
            for (k, m) in mia.sorted(by: { $0.key < $1.key }) { print(String(format: "  MIA %@: AUC %.3f, TPR@1%%FPR %.3f", k, m.auc, m.tprAt1pctFPR)) }
        }
        if let a = report.association {
            print("  association: \(a.associated) of \(a.pairs) (name, address) pairs produced; hits by template: " + a.hitsByTemplate.sorted { $0.key < $1.key }.map { "\($0.key.debugDescription) \($0.value)" }.joined(separator: ", "))
        }
        if let u = report.untargeted {
            print("  untargeted: \(u.prompts) distinct prompts, \(u.generations) generations (\(u.distinctGenerations) distinct), \(u.distinctValues) distinct values, \(u.distinctTrainingValues) in the training data")
            for (k, v) in u.precisionAtM.sorted(by: { $0.key < $1.key }) { print("    precision by \(k): " + v.sorted { (Int($0.key) ?? 0) < (Int($1.key) ?? 0) }.map { "top-\($0.key) \(String(format: "%.2f", $0.value))" }.joined(separator: ", ")) }
            if let a = u.attribution { print("    attribution: " + a.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")) }
        }
        for c in report.canaries ?? [] { print(String(format: "  canary ×%d (%@): exposure %.1f bits shown by the sample [%.1f, %.1f], %.1f estimated%@", c.repeats, c.member ? "member" : "non-member", c.exposure.exposure, c.exposure.exposureCI.low, c.exposure.exposureCI.high, c.exposure.exposureNormalFit, c.extracted ? ", extracted" : "")) }
    }
}

/// The attacks and their sizes. Unset options take the library's defaults (AuditSettings.defaults).
struct AttackOptions: ParsableArguments {
    static let d = AuditSettings.defaults
    @Option(help: "Comma-separated attacks: \(AuditSettings.attackNames.joined(separator: ", ")) (default: all).") var attacks: String?
    @Option(parsing: .upToNextOption, help: "PII types attacked (default: \(d.types.map(\.rawValue).joined(separator: " "))).") var types: [PIIType] = []
    @Option(help: "Comma-separated prefix lengths in tokens (default: \(d.extraction.prefixLengths.map(String.init).joined(separator: ","))).") var k: String?
    @Option(help: "Top-k samples per prompt besides greedy decoding (default: \(d.extraction.samples)).") var samples: Int?
    @Flag(help: "Also prompt with each record's own tokens from its start up to the value (a record that opened a training window).") var recordStart = false
    @Option(help: "The training context T (windows of T tokens at stride T, as `shallot train` packs the --data records in file order): also prompt with the position-aligned prefix, the window's tokens before the value at their trained positions.") var trainContext: Int?
    @Option(help: "Values whose exposure is measured, most frequent first (default: \(d.exposureValues)).") var exposureValues: Int?
    @Option(help: "Candidates per exposure measurement (default: \(d.exposureCandidates)).") var candidates: Int?
    @Option(help: "Audit only the N most frequent values.") var limit: Int?
    @Option(help: "Audit a seeded uniform sample of N values (a quick look at a large corpus).") var sample: Int?
    @Option(help: "Seed of every draw (default: \(d.seed)).") var seed: UInt64?
    @Option(help: "Bootstrap resamples for the MIA intervals (default: \(d.bootstrapResamples)).") var bootstrap: Int?
    @Option(help: "untargeted: number of prompts (default: \(d.untargeted.prompts)).") var untargetedPrompts: Int?
    @Option(help: "untargeted: top-k samples per prompt besides greedy (default: \(d.untargeted.samplesPerPrompt)).") var untargetedSamples: Int?

    /// The library's settings with the options given applied; unknown attacks and impossible
    /// sizes are refused before anything runs.
    func settings(revealPII: Bool) throws -> AuditSettings {
        var s = Self.d
        if let attacks {
            s.attacks = try attacks.split(separator: ",").map { name in
                let n = name.trimmingCharacters(in: .whitespaces)
                guard let a = AuditAttack(rawValue: n) else {
                    throw ValidationError("--attacks: unknown attack \"\(n)\" (known: \(AuditSettings.attackNames.joined(separator: ", ")))")
                }
                return a
            }
        }
        if !types.isEmpty { s.types = types }
        if let k {
            let ks = k.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard !ks.isEmpty, ks.allSatisfy({ ($0 ?? 0) >= 1 }) else { throw ValidationError("--k: comma-separated positive prefix lengths, e.g. 10,50") }
            s.extraction.prefixLengths = ks.map { $0! }
        }
        for (name, v) in [("--samples", samples), ("--exposure-values", exposureValues), ("--candidates", candidates), ("--bootstrap", bootstrap),
                          ("--untargeted-prompts", untargetedPrompts), ("--untargeted-samples", untargetedSamples), ("--limit", limit), ("--sample", sample)] {
            if let v, v < 0 { throw ValidationError("\(name) must not be negative") }
        }
        if let samples { s.extraction.samples = samples }
        if recordStart { s.extraction.recordStart = true }
        if let trainContext {
            guard trainContext >= 2 else { throw ValidationError("--train-context must be at least 2 tokens (the training context T)") }
            s.extraction.windowContext = trainContext
        }
        if let exposureValues { s.exposureValues = exposureValues }
        if let candidates { s.exposureCandidates = candidates }
        if let bootstrap { s.bootstrapResamples = bootstrap }
        if let seed { s.seed = seed; s.extraction.seed = seed; s.untargeted.seed = seed }
        if let untargetedPrompts { s.untargeted.prompts = untargetedPrompts }
        if let untargetedSamples { s.untargeted.samplesPerPrompt = untargetedSamples }
        s.limit = limit; s.sample = sample; s.revealPII = revealPII
        return s
    }
}

/// A model behind an OpenAI-compatible completions API instead of local weights.
struct EndpointOptions: ParsableArguments {
    static let d = EndpointSettings(baseURL: "", servedModel: "")
    @Option(help: "A served model instead of --model: the OpenAI-compatible API base, e.g. http://127.0.0.1:8000/v1.") var endpoint: String?
    @Option(help: "With --endpoint: the model's name on the server (its /v1/models id).") var servedModel: String?
    @Option(help: "With --endpoint: tokenizer files of the served model (default: the server's /tokenize).") var tokenizer: String?
    @Option(help: "With --endpoint: the context length, when the server does not report it.") var contextLength: Int?
    @Option(help: "With --endpoint: requests in flight (default: \(d.concurrency)).") var concurrency: Int?
    @Option(help: "With --endpoint: retries of a request on 429, 5xx and timeouts, with exponential backoff (default: \(d.maxRetries)).") var maxRetries: Int?
    @Option(help: "With --endpoint: the environment variable holding the API key (default OPENAI_API_KEY; unset: no key).") var apiKeyEnv: String?
    @Option(help: "With --endpoint: the request log (default OUT/requests.jsonl).") var requestLog: String?
    @Option(help: "With --endpoint: seconds one request may take in all, retries included, however the server paces its answer (default: \(Int(d.deadlineSeconds))).")
    var requestDeadline: Double?
    @Option(help: "A served base (reference) model: its API base (instead of --reference DIR).") var referenceEndpoint: String?
    @Option(help: "With --reference-endpoint: the reference's served model name.") var referenceServedModel: String?

    func validate() throws {
        guard (endpoint == nil) == (servedModel == nil) else { throw ValidationError("--endpoint and --served-model go together") }
        guard (referenceEndpoint == nil) == (referenceServedModel == nil) else { throw ValidationError("--reference-endpoint and --reference-served-model go together") }
        if let concurrency, concurrency < 1 { throw ValidationError("--concurrency must be at least 1") }
        if let maxRetries, maxRetries < 0 { throw ValidationError("--max-retries must not be negative") }
        if let requestDeadline, !(requestDeadline > 0) { throw ValidationError("--request-deadline must be positive") }
    }

    /// The API key from the environment (never the command line); nil when unset.
    func apiKey() -> String? {
        let name = apiKeyEnv ?? "OPENAI_API_KEY"
        let key = ProcessInfo.processInfo.environment[name].flatMap { $0.isEmpty ? nil : $0 }
        if apiKeyEnv != nil && key == nil { fail("--api-key-env \(name): the variable is not set") }
        return key
    }

    /// A connected served model (probed: its capabilities, tokenizer and context).
    func model(_ url: String, _ name: String, out: String, revealPII: Bool, requests: RequestProgress) -> OpenAICompletionsModel {
        var es = EndpointSettings(baseURL: url, servedModel: name)
        es.apiKey = apiKey()
        if let concurrency { es.concurrency = concurrency }
        if let maxRetries { es.maxRetries = maxRetries }
        if let requestDeadline { es.deadlineSeconds = requestDeadline }
        es.requestLog = requestLog ?? (out + "/requests.jsonl"); es.revealPII = revealPII
        es.tokenizer = tokenizer.map { t in reporting { try TokenizerFiles.load(directory: t) } }
        es.contextLength = contextLength
        es.onProgress = { d, t in requests.requests(d, t) }
        return reporting {
            try PrivateFile.makeDirectory(out)
            return try OpenAICompletionsModel(es)
        }
    }
}

/// The token ids of one model are passed to the other: their tokenizers must agree.
func checkSameTokenizer(_ a: any TextTokenizer, _ b: any TextTokenizer, _ what: String) {
    let probe = "Dear Ms. Smith, please call 713-555-0142 or write to jane.smith@example.com — thanks!"
    if a.encode(probe) != b.encode(probe) { fail("\(what): its tokenizer differs from the audited model's (the attacks pass token ids between them)") }
}

/// A progress bar over the requests of an endpoint call, drawn only while the stage itself
/// reports no steps (scoring, membership inference); thread-safe (requests finish anywhere).
final class RequestProgress: @unchecked Sendable {
    private let lock = NSLock()
    private var bar: ProgressBar?
    private var stepMode = false
    func stage() { lock.lock(); bar = nil; stepMode = false; lock.unlock() }
    func stepping() { lock.lock(); stepMode = true; lock.unlock() }
    func requests(_ done: Int, _ total: Int) {
        lock.lock(); defer { lock.unlock() }
        guard !stepMode else { return }
        if bar == nil || bar!.total != total || done == 1 { bar = ProgressBar(total: total, label: "  ", unit: "requests") }
        bar!.update(done)
    }
}

/// On SIGINT, SIGTERM or SIGHUP (unless ignored, as under nohup): stops the model servers
/// (`--serve-cmd`) and external trainers (`--trainer command`) this process started — they run
/// in process groups of their own, out of the terminal's reach — then exits with 128 + the
/// signal. What the study finished is on disk; the same command resumes it. A SIGKILL (or the
/// OOM killer) cannot be caught: then they are left running.
func stopChildrenOnInterrupt() {
    for sig in [SIGINT, SIGTERM, SIGHUP] {
        let previous = signal(sig, SIG_IGN)   // the dispatch source receives it instead of the default handler
        if sig == SIGHUP && unsafeBitCast(previous, to: Int.self) == unsafeBitCast(SIG_IGN, to: Int.self) { continue }  // nohup
        let src = DispatchSource.makeSignalSource(signal: sig, queue: DispatchQueue.global())
        src.setEventHandler {
            FileHandle.standardError.write(Data("\ninterrupted: stopping the model servers and trainers this study started\n".utf8))
            ProcessGroups.terminateAll()
            _exit(128 + sig)
        }
        src.resume()
        interruptSources.append(src)
    }
}

/// The signal sources must outlive the call that installs them.
nonisolated(unsafe) private var interruptSources: [DispatchSourceSignal] = []

/// On SIGINT or SIGTERM: removes `directory` (raw values of an unfinished run), then exits with
/// 128 + the signal, as the shell would report it. SIGKILL cannot be caught: a killed run leaves
/// the directory, owner-only, for the next run to resume from.
func removeOnInterrupt(_ directory: String) {
    for sig in [SIGINT, SIGTERM] {
        signal(sig, SIG_IGN)   // the dispatch source receives it instead of the default handler
        let src = DispatchSource.makeSignalSource(signal: sig, queue: DispatchQueue.global())
        src.setEventHandler {
            try? FileManager.default.removeItem(atPath: directory)
            FileHandle.standardError.write(Data("\ninterrupted: removed \(directory)\n".utf8))
            // _exit, not exit: the audit is still running on other threads, and exit's teardown
            // (atexit handlers, static destructors) under their feet could crash (seen: SIGSEGV).
            _exit(128 + sig)
        }
        src.resume()
        interruptSources.append(src)
    }
}
