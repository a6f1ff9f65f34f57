import ArgumentParser
import Audit
import Corpus
import Foundation
import GPT
import PII
import SafeTensors
import Tokenizer
import Training

struct AuditCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Measure which subjects' PII a model leaks: targeted extraction, exposure, membership inference, canaries.",
        discussion: """
        Writes OUT/audit.json (schema shallot.audit/1, docs/audit-schema.md) and OUT/subjects.csv.
        Values and subject ids are stored as salted hashes (HMAC-SHA256 under --salt-file, or a
        random salt that is not saved) plus a masked form, unless --reveal-pii.
        Attacks: extraction (true-prefix, greedy and --samples top-k samples, per --k), exposure
        (rank of the true value among format-matched candidates in its context), mia (needs
        --nonmembers), canaries (needs --canaries, the file `corpus synth` writes).
        """)
    @Option(help: "Model directory.") var model: String
    @Option(help: "The corpus the model was trained on (JSONL records).") var data: String
    @Option(help: "Held-out records for membership inference.") var nonmembers: String?
    @Option(help: "Reference model directory (for the reference-model MIA score).") var reference: String?
    @Option(help: "Canary file written by `corpus synth --canary-repeats` (FILE.canaries.json).") var canaries: String?
    @Option(help: "Comma-separated attacks: extraction, untargeted, association, exposure, mia, canaries.") var attacks = "extraction,untargeted,association,exposure,mia,canaries"
    @Option(help: "untargeted: the base model's pre-training corpus, to attribute leaks (pre-training / fine-tuning / both / neither).") var pretrainingData: String?
    @Option(help: "untargeted: public text whose 10-token windows are the prompts (built-in openers without it).") var prompts: String?
    @Option(help: "untargeted: number of prompts.") var untargetedPrompts = 64
    @Option(help: "untargeted: top-k samples per prompt besides greedy.") var untargetedSamples = 4
    @Option(parsing: .upToNextOption, help: "PII types attacked.") var types: [PIIType] = [.email, .phone]
    @Option(help: "Comma-separated prefix lengths in tokens.") var k = "10,50"
    @Option(help: "Top-k samples per prompt besides greedy decoding.") var samples = 0
    @Option(help: "Values whose exposure is measured (most frequent first).") var exposureValues = 100
    @Option(help: "Candidates per exposure measurement.") var candidates = 100
    @Option(help: "Audit only the N most frequent values.") var limit: Int?
    @Option(help: "Seed.") var seed: UInt64 = 0
    @Option(help: "Bootstrap resamples for the MIA intervals.") var bootstrap = 1000
    @Option(help: "File with the hashing salt (to compare audits).") var saltFile: String?
    @Flag(help: "Store PII values and subject ids in the clear.") var revealPii = false
    @Option(help: "Output directory.") var out: String
    @Flag(help: "JSON lines progress.") var json = false

    func run() throws {
        let m = reporting { try GPT.load(directory: model) }
        let tok = reporting { try TokenizerFiles.load(directory: model) }
        let records = readCorpus(data)
        let non = nonmembers.map(readCorpus)
        let ref = reference.map { r in reporting { try GPT.load(directory: r) } }
        var cans: [Canary]?
        if let c = canaries {
            struct File: Decodable { let canaries: [Canary] }
            guard let d = FileManager.default.contents(atPath: c), let f = try? JSONDecoder().decode(File.self, from: d) else { fail("\(c): not a canary file from `corpus synth`") }
            cans = f.canaries
        }
        var ex = ExtractionSettings()
        ex.prefixLengths = k.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        ex.samples = samples; ex.seed = seed
        let settings = AuditSettings(attacks: attacks.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }, types: types.map(\.rawValue),
                                     extraction: ex, exposureValues: exposureValues, exposureCandidates: candidates, exposureContextTokens: 64,
                                     bootstrapResamples: bootstrap, limit: limit, seed: seed, revealPII: revealPii)
        var settingsU = settings
        settingsU.untargeted.prompts = untargetedPrompts
        settingsU.untargeted.samplesPerPrompt = untargetedSamples
        settingsU.untargeted.seed = seed
        var salt = Data((0..<32).map { _ in UInt8.random(in: 0...255) })
        if let s = saltFile {
            guard let d = FileManager.default.contents(atPath: s), !d.isEmpty else { fail("\(s): cannot read the salt") }
            salt = d
        }
        let info: [String: String] = ["path": model, "weights_sha256": (try? sha256(file: model + "/model.safetensors")) ?? "",
                                      "parameters": "\(m.parameterCount)", "layers": "\(m.config.nLayer)", "width": "\(m.config.nEmbd)"]
        let corpusInfo: [String: String] = ["path": data, "file_sha256": (try? sha256(file: data)) ?? "", "records": "\(records.count)",
                                            "subjects": "\(Set(records.map(\.subject)).count)", "non_members": "\(non?.count ?? 0)"]
        var bar: ProgressBar?
        let report = reporting {
            try AuditRunner.run(AuditInputs(model: m, modelInfo: info, tokenizer: tok, records: records, corpusInfo: corpusInfo,
                                            nonMembers: non, reference: ref, canaries: cans, pretrainingRecords: pretrainingData.map(readCorpus),
                                            promptText: prompts.map { p in (try? String(contentsOfFile: p, encoding: .utf8)) ?? { fail("\(p): cannot read") }() }),
                                settings: settingsU, salt: salt) { ev in
                switch ev {
                case .stage(let s):
                    bar = nil
                    if json { printJSON(["event": "stage", "stage": s]) } else { FileHandle.standardError.write(Data("\(s)…\n".utf8)) }
                case .step(let d, let t):
                    if bar == nil || bar!.total != t { bar = ProgressBar(total: t, label: "  ", unit: "items") }
                    bar!.update(d)
                }
            }
        }
        reporting {
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            enc.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
            try atomicWrite(enc.encode(report), to: out + "/audit.json")
            var csv = "subject,masked,records,values,extracted_values,vulnerable,score,max_exposure\n"
            for s in report.subjects {
                csv += "\(s.subject),\"\(s.masked)\",\(s.records),\(s.values),\(s.extractedValues),\(s.vulnerable),\(s.score.map { String(format: "%.4f", $0) } ?? ""),\(s.maxExposure.map { String(format: "%.2f", $0) } ?? "")\n"
            }
            try atomicWrite(Data(csv.utf8), to: out + "/subjects.csv")
        }
        let s = report.summary
        print(String(format: "%d of %d values extracted (%.1f%%); %d of %d subjects vulnerable → %@/audit.json",
                     Int(s["extracted_values"]!), Int(s["values"]!), 100 * s["extraction_rate"]!, Int(s["vulnerable_subjects"]!), Int(s["subjects"]!), out))
        if let mia = report.membershipInference {
            for k in mia.keys.sorted() { print(String(format: "  MIA %@: AUC %.3f, TPR@1%%FPR %.3f", k, mia[k]!.auc, mia[k]!.tprAt1pctFPR)) }
        }
        if let a = report.association {
            print("  association: \(a.associated) of \(a.pairs) (name, address) pairs produced; hits by template: " + a.hitsByTemplate.sorted { $0.key < $1.key }.map { "\($0.key.debugDescription) \($0.value)" }.joined(separator: ", "))
        }
        if let u = report.untargeted {
            print("  untargeted: \(u.generations) generations, \(u.distinctValues) distinct values, \(u.distinctTrainingValues) in the training data")
            for (k, v) in u.precisionAtM.sorted(by: { $0.key < $1.key }) { print("    precision by \(k): " + v.sorted { Int($0.key)! < Int($1.key)! }.map { "top-\($0.key) \(String(format: "%.2f", $0.value))" }.joined(separator: ", ")) }
            if let a = u.attribution { print("    attribution: " + a.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")) }
        }
        for c in report.canaries ?? [] { print(String(format: "  canary ×%d (%@): exposure %.1f bits%@", c.repeats, c.member ? "member" : "non-member", c.exposure.exposure, c.extracted ? ", extracted" : "")) }
    }
}
