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
    @Option(help: "A served model instead of --model: the OpenAI-compatible API base, e.g. http://127.0.0.1:8000/v1.") var endpoint: String?
    @Option(help: "With --endpoint: the model's name on the server (its /v1/models id).") var servedModel: String?
    @Option(help: "With --endpoint: tokenizer files of the served model (default: the server's /tokenize).") var tokenizer: String?
    @Option(help: "With --endpoint: the context length, when the server does not report it.") var contextLength: Int?
    @Option(help: "With --endpoint: requests in flight.") var concurrency = 32
    @Option(help: "With --endpoint: retries of a request on 429, 5xx and timeouts (exponential backoff).") var maxRetries = 6
    @Option(help: "With --endpoint: the environment variable holding the API key (default OPENAI_API_KEY; unset: no key).") var apiKeyEnv: String?
    @Option(help: "With --endpoint: the request log (default OUT/requests.jsonl).") var requestLog: String?
    @Option(help: "A served base (reference) model: its API base (instead of --reference DIR).") var referenceEndpoint: String?
    @Option(help: "With --reference-endpoint: the reference's served model name.") var referenceServedModel: String?
    @Option(help: "The corpus the model was trained on (JSONL records).") var data: String
    @Option(help: "Held-out records for membership inference.") var nonmembers: String?
    @Option(help: "Base (reference) model directory: the reference-model MIA score, and lineage — the same extraction attacks on the base.") var reference: String?
    @Option(help: "Canary file written by `corpus synth --canary-repeats` (FILE.canaries.json).") var canaries: String?
    @Option(help: "Comma-separated attacks: extraction, untargeted, association, exposure, mia, canaries.") var attacks = "extraction,untargeted,association,exposure,mia,canaries"
    @Option(help: "untargeted: the base model's pre-training corpus, to attribute leaks (pre-training / fine-tuning / both / neither).") var pretrainingData: String?
    @Option(help: "untargeted: public text whose distinct 10-token windows are the prompts (without it: built-in openers once each, then windows of a shipped generic text).") var prompts: String?
    @Option(help: "untargeted: number of prompts.") var untargetedPrompts = 64
    @Option(help: "untargeted: top-k samples per prompt besides greedy.") var untargetedSamples = 4
    @Option(parsing: .upToNextOption, help: "PII types attacked.") var types: [PIIType] = [.email, .phone]
    @Option(help: "Comma-separated prefix lengths in tokens.") var k = "10,50"
    @Option(help: "Top-k samples per prompt besides greedy decoding.") var samples = 0
    @Option(help: "Values whose exposure is measured (most frequent first).") var exposureValues = 100
    @Option(help: "Candidates per exposure measurement.") var candidates = 100
    @Option(help: "Audit only the N most frequent values.") var limit: Int?
    @Option(help: "Audit a seeded uniform sample of N values (a quick look at a large corpus).") var sample: Int?
    @Option(help: "Seed.") var seed: UInt64 = 0
    @Option(help: "Bootstrap resamples for the MIA intervals.") var bootstrap = 1000
    @Option(help: "File with the hashing salt (to compare audits).") var saltFile: String?
    @Flag(help: "Store PII values and subject ids in the clear.") var revealPii = false
    @Option(help: "Output directory.") var out: String
    @Flag(help: "JSON lines progress.") var json = false

    func validate() throws {
        guard (model == nil) != (endpoint == nil) else { throw ValidationError("give exactly one of --model DIR and --endpoint URL") }
        guard (endpoint == nil) == (servedModel == nil) else { throw ValidationError("--endpoint and --served-model go together") }
        guard (referenceEndpoint == nil) == (referenceServedModel == nil) else { throw ValidationError("--reference-endpoint and --reference-served-model go together") }
        guard reference == nil || referenceEndpoint == nil else { throw ValidationError("give one of --reference DIR and --reference-endpoint URL") }
        guard concurrency >= 1 else { throw ValidationError("--concurrency must be at least 1") }
    }

    func run() throws {
        let records = readCorpus(data)
        let non = nonmembers.map(readCorpus)
        let progressState = RequestProgress()
        // The audited model: local weights, or a server (settings shared with the reference endpoint).
        var apiKey: String?
        if endpoint != nil || referenceEndpoint != nil {
            let name = apiKeyEnv ?? "OPENAI_API_KEY"
            apiKey = ProcessInfo.processInfo.environment[name].flatMap { $0.isEmpty ? nil : $0 }
            if apiKeyEnv != nil && apiKey == nil { fail("--api-key-env \(name): the variable is not set") }
        }
        let localTokenizer = tokenizer.map { t in reporting { try TokenizerFiles.load(directory: t) } }
        func served(_ url: String, _ name: String) -> OpenAICompletionsModel {
            var es = EndpointSettings(baseURL: url, servedModel: name)
            es.apiKey = apiKey; es.concurrency = concurrency; es.maxRetries = maxRetries
            es.requestLog = requestLog ?? (out + "/requests.jsonl"); es.revealPII = revealPii
            es.tokenizer = localTokenizer; es.contextLength = contextLength
            es.onProgress = { d, t in progressState.requests(d, t) }
            return reporting {
                try PrivateFile.makeDirectory(out)
                return try OpenAICompletionsModel(es)
            }
        }
        let target: any LanguageModel, tok: any TextTokenizer
        var info: [String: String]
        var modelFingerprint: String
        if let endpoint, let servedModel {
            let e = served(endpoint, servedModel)
            target = e; tok = e.tokenizer
            info = ["endpoint": endpoint, "served_model": servedModel, "server_model_entry": e.modelEntry, "context_length": "\(e.contextLength)"]
            for (k, v) in e.probe { info["endpoint_" + k] = v }
            if let t = tokenizer { info["tokenizer_path"] = t }
            modelFingerprint = "endpoint\u{1F}" + endpoint + "\u{1F}" + servedModel + "\u{1F}" + (tokenizer.flatMap { try? sha256(file: $0 + "/tokenizer.json") } ?? "")
            if !e.capabilities.promptLogprobs {
                FileHandle.standardError.write(Data("note: \(servedModel) returns no prompt log-probabilities: exposure, membership inference, canaries and continuous scores are unavailable\n".utf8))
            }
        } else {
            let dir = model!
            let m = reporting { try GPT.load(directory: dir) }
            tok = reporting { try TokenizerFiles.load(directory: dir) }
            target = LocalModel(m, tokenizer: tok)
            info = ["path": dir, "weights_sha256": (try? sha256(file: dir + "/model.safetensors")) ?? "",
                    "parameters": "\(m.parameterCount)", "layers": "\(m.config.nLayer)", "width": "\(m.config.nEmbd)"]
            modelFingerprint = info["weights_sha256"] ?? ""
        }
        var ref: (any LanguageModel)?
        var referenceFingerprint = reference.flatMap { try? sha256(file: $0 + "/model.safetensors") } ?? ""
        if let r = reference {
            ref = LocalModel(reporting { try GPT.load(directory: r) }, tokenizer: tok)
            if endpoint != nil { checkSameTokenizer(tok, reporting { try TokenizerFiles.load(directory: r) }, "--reference \(r)") }
        } else if let url = referenceEndpoint, let name = referenceServedModel {
            let e = served(url, name)
            checkSameTokenizer(tok, e.tokenizer, "--reference-endpoint \(url)")
            ref = e
            info["reference_endpoint"] = url; info["reference_served_model"] = name; info["reference_server_model_entry"] = e.modelEntry
            referenceFingerprint = "endpoint\u{1F}" + url + "\u{1F}" + name
        }
        var cans: [Canary]?
        if let c = canaries {
            struct File: Decodable { let canaries: [Canary] }
            guard let d = FileManager.default.contents(atPath: c), let f = try? JSONDecoder().decode(File.self, from: d) else { fail("\(c): not a canary file from `corpus synth`") }
            cans = f.canaries
        }
        var ex = ExtractionSettings()
        ex.prefixLengths = k.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        ex.samples = samples; ex.seed = seed
        let attackList = attacks.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        if let bad = attackList.first(where: { !AuditSettings.attackNames.contains($0) }) {
            throw ValidationError("--attacks: unknown attack \"\(bad)\" (known: \(AuditSettings.attackNames.joined(separator: ", ")))")
        }
        let settings = AuditSettings(attacks: attackList, types: types.map(\.rawValue),
                                     extraction: ex, exposureValues: exposureValues, exposureCandidates: candidates, exposureContextTokens: 64,
                                     bootstrapResamples: bootstrap, limit: limit, seed: seed, revealPII: revealPii)
        var settingsU = settings
        settingsU.sample = sample
        settingsU.untargeted.prompts = untargetedPrompts
        settingsU.untargeted.samplesPerPrompt = untargetedSamples
        settingsU.untargeted.seed = seed
        let checkpointDir = out + "/.checkpoint"
        removeOnInterrupt(checkpointDir)
        var salt = Data((0..<32).map { _ in UInt8.random(in: 0...255) })
        if let s = saltFile {
            guard let d = FileManager.default.contents(atPath: s), !d.isEmpty else { fail("\(s): cannot read the salt") }
            salt = d
        } else if let d = FileManager.default.contents(atPath: checkpointDir + "/salt"), d.count == 32 {
            salt = d  // an interrupted audit's random salt, so that its finished stages stay valid
        } else {
            // Kept only while the audit runs (removed with the checkpoint at the end or on
            // SIGINT/SIGTERM): the final outputs never sit beside the salt of their hashes.
            reporting {
                try PrivateFile.makeDirectory(out)
                try PrivateFile.makeDirectory(checkpointDir, restrictExisting: true)
                try PrivateFile.write(salt, to: checkpointDir + "/salt")
            }
        }
        let corpusInfo: [String: String] = ["path": data, "file_sha256": (try? sha256(file: data)) ?? "", "records": "\(records.count)",
                                            "subjects": "\(Set(records.map(\.subject)).count)", "non_members": "\(non?.count ?? 0)"]
        // Stages are reused only by the same audit: same settings, model, corpus, base, canaries and salt.
        let enc0 = JSONEncoder(); enc0.outputFormatting = .sortedKeys
        var fp = (try? enc0.encode(settingsU)) ?? Data()
        for part in [modelFingerprint, corpusInfo["file_sha256"] ?? "", nonmembers.flatMap { try? sha256(file: $0) } ?? "",
                     referenceFingerprint, canaries.flatMap { try? sha256(file: $0) } ?? "",
                     pretrainingData.flatMap { try? sha256(file: $0) } ?? "", prompts.flatMap { try? sha256(file: $0) } ?? ""] { fp += Data(part.utf8) + Data([0]) }
        fp += salt
        var inputs = AuditInputs(model: target, modelInfo: info, tokenizer: tok, records: records, corpusInfo: corpusInfo,
                                 nonMembers: non, reference: ref, canaries: cans, pretrainingRecords: pretrainingData.map(readCorpus),
                                 promptText: prompts.map { p in (try? String(contentsOfFile: p, encoding: .utf8)) ?? { fail("\(p): cannot read") }() })
        inputs.checkpoints = AuditCheckpoints(directory: checkpointDir, fingerprint: sha256(data: fp))
        var bar: ProgressBar?
        let report = reporting {
            try AuditRunner.run(inputs, settings: settingsU, salt: salt) { ev in
                switch ev {
                case .stage(let s):
                    bar = nil
                    progressState.stage()
                    if json { printJSON(["event": "stage", "stage": s]) } else { FileHandle.standardError.write(Data("\(s)…\n".utf8)) }
                case .step(let d, let t):
                    progressState.stepping()
                    if bar == nil || bar!.total != t { bar = ProgressBar(total: t, label: "  ", unit: "items") }
                    bar!.update(d)
                }
            }
        }
        reporting {
            try PrivateFile.makeDirectory(out)
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            enc.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
            try PrivateFile.write(enc.encode(report), to: out + "/audit.json")
            var csv = "subject,masked,records,values,extracted_values,vulnerable,score,max_exposure\n"
            for s in report.subjects {
                csv += "\(csvField(s.subject)),\(csvField(s.masked)),\(s.records),\(s.values),\(s.extractedValues),\(s.vulnerable),\(s.score.map { String(format: "%.4f", $0) } ?? ""),\(s.maxExposure.map { String(format: "%.2f", $0) } ?? "")\n"
            }
            try PrivateFile.write(Data(csv.utf8), to: out + "/subjects.csv")
            try PrivateFile.write(Data(AuditHTML.render(report).utf8), to: out + "/audit.html")
            try? FileManager.default.removeItem(atPath: checkpointDir)
        }
        let s = report.summary
        print(String(format: "%d of %d values extracted (%.1f%%); %d of %d subjects vulnerable → %@/audit.json",
                     Int(s["extracted_values"]!), Int(s["values"]!), 100 * s["extraction_rate"]!, Int(s["vulnerable_subjects"]!), Int(s["subjects"]!), out))
        for (k, v) in (report.unavailable ?? [:]).sorted(by: { $0.key < $1.key }) { print("  \(k): \(v)") }
        if let e = target as? OpenAICompletionsModel, e.retries > 0 { print("  \(e.retries) request(s) retried (see \(requestLog ?? out + "/requests.jsonl"))") }
        if let e = target as? OpenAICompletionsModel, e.promptTokenMismatches > 0 {
            print("  \(e.promptTokenMismatches) text prompt(s) the server split into a different number of tokens than the audit (prompt_token_mismatch in \(requestLog ?? out + "/requests.jsonl"))")
        }
        if let h = report.headline {
            print("headline: \(h.level.rawValue)")
            for f in h.findings { print("  • " + f) }
        }
        if let mia = report.membershipInference {
            for k in mia.keys.sorted() { print(String(format: "  MIA %@: AUC %.3f, TPR@1%%FPR %.3f", k, mia[k]!.auc, mia[k]!.tprAt1pctFPR)) }
        }
        if let a = report.association {
            print("  association: \(a.associated) of \(a.pairs) (name, address) pairs produced; hits by template: " + a.hitsByTemplate.sorted { $0.key < $1.key }.map { "\($0.key.debugDescription) \($0.value)" }.joined(separator: ", "))
        }
        if let u = report.untargeted {
            print("  untargeted: \(u.prompts) distinct prompts, \(u.generations) generations (\(u.distinctGenerations) distinct), \(u.distinctValues) distinct values, \(u.distinctTrainingValues) in the training data")
            for (k, v) in u.precisionAtM.sorted(by: { $0.key < $1.key }) { print("    precision by \(k): " + v.sorted { Int($0.key)! < Int($1.key)! }.map { "top-\($0.key) \(String(format: "%.2f", $0.value))" }.joined(separator: ", ")) }
            if let a = u.attribution { print("    attribution: " + a.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")) }
        }
        for c in report.canaries ?? [] { print(String(format: "  canary ×%d (%@): exposure %.1f bits shown by the sample [%.1f, %.1f], %.1f estimated%@", c.repeats, c.member ? "member" : "non-member", c.exposure.exposure, c.exposure.exposureCI.low, c.exposure.exposureCI.high, c.exposure.exposureNormalFit, c.extracted ? ", extracted" : "")) }
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
            exit(128 + sig)
        }
        src.resume()
        interruptSources.append(src)
    }
}
