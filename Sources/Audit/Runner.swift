// The audit pipeline: corpus → PII index → attacks → per-value and per-subject rows → report.
// Library code: progress goes through a callback, nothing is printed.

import Corpus
import Foundation
import GPT
import PII
import Support
import Tokenizer

public enum AuditProgress: Sendable {
    case stage(String)
    case step(done: Int, total: Int)
}

public struct AuditInputs {
    /// The audited model: the local engine (`LocalModel`) or a served one (target `Endpoint`).
    public var model: any LanguageModel
    public var modelInfo: [String: String]
    public var tokenizer: any TextTokenizer
    public var records: [Record]
    public var corpusInfo: [String: String]
    public var nonMembers: [Record]?
    public var reference: (any LanguageModel)?
    public var canaries: [Canary]?
    /// The base model's pre-training corpus, for lineage attribution of untargeted leaks.
    public var pretrainingRecords: [Record]?
    /// Public text whose windows prompt the untargeted attack (built-in openers without it).
    public var promptText: String?
    /// Owners decided once from the full original corpus (a study, a verification after
    /// deletion); without it, owners come from `records` themselves.
    public var ownership: Ownership?
    /// Where finished stages are kept so that an interrupted audit resumes (nil: no checkpoints).
    public var checkpoints = AuditCheckpoints.none
    public init(model: GPT, modelInfo: [String: String], tokenizer: any TextTokenizer, records: [Record], corpusInfo: [String: String],
                nonMembers: [Record]?, reference: GPT?, canaries: [Canary]?, pretrainingRecords: [Record]? = nil, promptText: String? = nil) {
        self.init(model: LocalModel(model, tokenizer: tokenizer) as any LanguageModel, modelInfo: modelInfo, tokenizer: tokenizer, records: records,
                  corpusInfo: corpusInfo, nonMembers: nonMembers, reference: reference.map { LocalModel($0, tokenizer: tokenizer) },
                  canaries: canaries, pretrainingRecords: pretrainingRecords, promptText: promptText)
    }
    public init(model: any LanguageModel, modelInfo: [String: String], tokenizer: any TextTokenizer, records: [Record], corpusInfo: [String: String],
                nonMembers: [Record]?, reference: (any LanguageModel)?, canaries: [Canary]?, pretrainingRecords: [Record]? = nil, promptText: String? = nil) {
        self.pretrainingRecords = pretrainingRecords; self.promptText = promptText
        self.model = model; self.modelInfo = modelInfo; self.tokenizer = tokenizer; self.records = records; self.corpusInfo = corpusInfo
        self.nonMembers = nonMembers; self.reference = reference; self.canaries = canaries
    }
}

/// Composes the attacks the settings name. Each attack is one stage of `AuditRun` (AuditStages.swift)
/// over context built once (the PII index, ownership, training keys); this function only orders
/// them and assembles audit.json's rows, summary and headline.
public enum AuditRunner {
    public static func run(_ inp: AuditInputs, settings: AuditSettings, salt: Data, progress: ((AuditProgress) -> Void)? = nil) throws -> AuditReport {
        let run = AuditRun(inp, settings: settings, salt: salt, progress: progress)
        var rows = run.valueRows()
        if let scores = try run.valueScores() { for i in rows.indices { rows[i].logLikelihoodPerToken = scores[i] } }
        var targetedLineage: [String: Int]?
        if run.wants(.extraction) { targetedLineage = try run.targetedExtraction(into: &rows) }
        if run.wants(.exposure), let exposures = try run.exposure() { for (i, x) in exposures { rows[i].exposure = x } }
        let mia = run.wants(.mia) ? try run.membershipInference() : nil
        let canaries = run.wants(.canaries) ? try run.canaries() : nil
        var association: AssociationResult?
        if run.wants(.association), let (hits, result) = try run.association() {
            association = result
            for i in rows.indices where run.index.entries[i].type == .email { rows[i].associated = hits[run.index.entries[i].value] }
        }
        let untargeted = run.wants(.untargeted) ? try run.untargetedExtraction() : nil
        return assemble(run, rows: rows, parts: AuditParts(mia: mia, canaries: canaries, untargeted: untargeted, association: association,
                                                           targetedLineage: targetedLineage))
    }

    /// The attacks' results that go into the report as they are.
    struct AuditParts {
        var mia: [String: MIAMetrics]?
        var canaries: [AuditCanaryRow]?
        var untargeted: UntargetedResult?
        var association: AssociationResult?
        var targetedLineage: [String: Int]?
    }

    static func assemble(_ run: AuditRun, rows: [AuditValueRow], parts: AuditParts) -> AuditReport {
        var rows = rows
        let subjects = subjectRows(rows: rows, records: run.inputs.records, settings: run.settings, hash: run.hash)
        let unowned = rows.filter { $0.owner == nil }
        if !run.settings.revealPII { for i in rows.indices { rows[i].owner = rows[i].owner.map { run.hash("subject", $0) } } }
        let extracted = rows.filter { $0.extracted == true }.count
        let summary = AuditSummary(values: rows.count, extractedValues: extracted,
                                   extractionRate: rows.isEmpty ? 0 : Double(extracted) / Double(rows.count),
                                   subjects: subjects.count, vulnerableSubjects: subjects.filter(\.vulnerable).count,
                                   unownedValues: unowned.count, unownedExtracted: unowned.filter { $0.extracted == true }.count)
        var report = AuditReport(software: shallotSoftware, created: ISO8601DateFormatter().string(from: Date()), settings: run.settings,
                                 model: run.inputs.modelInfo, corpus: run.inputs.corpusInfo, summary: summary,
                                 extractionByDuplication: extractionByDuplication(rows), values: rows, subjects: subjects,
                                 membershipInference: parts.mia, canaries: parts.canaries, untargeted: parts.untargeted, association: parts.association)
        report.targetedLineage = parts.targetedLineage
        report.unavailable = run.unavailable.isEmpty ? nil : run.unavailable
        report.headline = report.assessHeadline()
        return report
    }

    /// One row per subject with records. A subject is vulnerable iff one of their own values is
    /// extracted greedily — from a k-token prefix (k-extractable) or from an aligned prefix (record
    /// start, record window, window: the prompts that see what position-bound training memorised),
    /// as in the study (docs/methods.md, "Extraction"); samples alone do not count. The
    /// ranking score is the best log-likelihood per token among their values. Rows are ordered
    /// vulnerable first, then by score.
    static func subjectRows(rows: [AuditValueRow], records: [Record], settings: AuditSettings, hash: Hasher16) -> [AuditSubjectRow] {
        var recordsPer: [String: Int] = [:]
        for r in records { recordsPer[r.subject, default: 0] += 1 }
        var subj: [String: AuditSubjectRow] = [:]
        for (s, n) in recordsPer {
            subj[s] = AuditSubjectRow(subject: settings.revealPII ? s : hash("subject", s), masked: PIIMask.mask(s, type: s.contains("@") ? .email : .person),
                                      records: n, values: 0, extractedValues: 0, vulnerable: false)
        }
        for r in rows {
            guard let o = r.owner, var row = subj[o] else { continue }
            row.values += 1
            if r.extracted == true { row.extractedValues += 1 }
            if r.smallestExtractingK != nil || !(r.extractedBy ?? []).isEmpty { row.vulnerable = true }
            if let ll = r.logLikelihoodPerToken { row.score = max(row.score ?? -.infinity, ll) }
            if let x = r.exposure?.exposure { row.maxExposure = max(row.maxExposure ?? 0, x) }
            subj[o] = row
        }
        return subj.values.sorted { ($0.vulnerable ? 1 : 0, $0.score ?? -1e9, $1.subject) > ($1.vulnerable ? 1 : 0, $1.score ?? -1e9, $0.subject) }
    }

    /// Extraction rate by duplication (occurrences of the value in the corpus).
    static func extractionByDuplication(_ rows: [AuditValueRow]) -> [String: [String: Int]] {
        var byDup: [String: [String: Int]] = [:]
        for r in rows {
            guard let extracted = r.extracted else { continue }
            let k = CorpusStats.duplicationBucket(r.occurrences)
            byDup[k, default: ["values": 0, "extracted": 0]]["values", default: 0] += 1
            if extracted { byDup[k, default: [:]]["extracted", default: 0] += 1 }
        }
        return byDup
    }
}

/// Finished stages of an audit, kept as JSON files so that an interrupted audit resumes. A stage
/// is reused only when its fingerprint (settings, model, corpus and salt) matches and its file
/// is authenticated: HMAC-SHA-256 under `key` (derived from the run's salt, `key(salt:)`) over
/// the stage's name and the exact bytes stored. Anyone who can write the directory could
/// otherwise write a result — "nobody vulnerable" — that a later run takes without running
/// anything: the fingerprint is no secret (plan.json names it). A file that is not
/// authenticated is not reused; the stage runs again and `warn` is told, naming the file. The
/// files hold raw values: the directory is created owner-only and removed once audit.json is
/// written (the study keeps its stages, with subjects as salted keys).
public struct AuditCheckpoints: Sendable {
    public let directory: String?
    public let fingerprint: String
    let key: Data

    /// `key`: at least 16 bytes whenever there is a directory (`key(salt:)`).
    public init(directory: String?, fingerprint: String, key: Data) {
        precondition(directory == nil || key.count >= 16, "stage files need a key")
        self.directory = directory; self.fingerprint = fingerprint; self.key = key
    }

    /// No checkpoints.
    public static let none = AuditCheckpoints(directory: nil, fingerprint: "", key: Data())

    struct Stored<T: Codable>: Codable { var fingerprint: String; var result: T }

    static let encoder = ResultsJSON.encoder()
    static let decoder = ResultsJSON.decoder()
    /// The largest stage file read back (a stage of log-probabilities of a large corpus).
    static let fileLimit = 1 << 32

    /// The key of stage files' MACs, derived from a run's salt (its own use of the secret).
    public static func key(salt: Data) -> Data {
        hmacSHA256(key: salt, Data("shallot stage files key/1".utf8))
    }

    /// The fingerprint of one audit: its settings, what identifies each input (hashes of the
    /// model, corpus, non-members, base, canaries, pre-training corpus, prompt text) and the salt.
    public static func fingerprint(settings: AuditSettings, inputs: [String], salt: Data) -> String {
        let enc = JSONEncoder(); enc.outputFormatting = .sortedKeys
        var fp = (try? enc.encode(settings)) ?? Data()
        for part in inputs { fp += Data(part.utf8) + Data([0]) }
        return sha256(data: fp + salt)
    }

    /// What was found for a stage: a result to reuse, nothing (no file, or one of another run's
    /// settings), or a file that is not authenticated (why, with its path).
    public enum Lookup<T> { case reused(T), absent, refused(String) }

    /// The file's layout: `{"mac":"<64 hex digits>","stored":` + the stored JSON + `}`.
    static let head = Array(#"{"mac":""#.utf8), middle = Array(#"","stored":"#.utf8)

    func mac(_ name: String, _ stored: some Sequence<UInt8>) -> [UInt8] {
        Array(hex(hmacSHA256(key: key, Data("shallot stage/1\n\(name)\n".utf8) + Data(stored))).utf8)
    }

    /// The stage's file, if this run saved it: authenticated, and of the same fingerprint.
    public func lookup<T: Codable>(_ name: String) -> Lookup<T> {
        guard let d = directory else { return .absent }
        let path = d + "/" + name + ".json"
        var st = stat()
        if lstat(path, &st) != 0 && errno == ENOENT { return .absent }
        let bytes: [UInt8]
        do { bytes = Array(try readRegularFile(path, limit: Self.fileLimit)) } catch { return .refused("\(error)") }
        let macEnd = Self.head.count + 64, storedStart = macEnd + Self.middle.count
        guard bytes.count > storedStart, bytes.starts(with: Self.head), bytes[macEnd..<storedStart].elementsEqual(Self.middle), bytes.last == UInt8(ascii: "}"),
              constantTimeEqual(Array(bytes[Self.head.count..<macEnd]), mac(name, bytes[storedStart..<(bytes.count - 1)])) else {
            return .refused("\(path): not authenticated by this run's key (planted or edited, or written before stage files were keyed)")
        }
        guard let s = try? Self.decoder.decode(Stored<T>.self, from: Data(bytes[storedStart..<(bytes.count - 1)])), s.fingerprint == fingerprint else {
            return .absent
        }
        return .reused(s.result)
    }

    /// A finished stage's result, if this audit (same fingerprint) saved one and its file is
    /// authenticated; `warn` is told about a file that is there but not authenticated.
    public func load<T: Codable>(_ name: String, warn: (String) -> Void = { _ in }) -> T? {
        switch lookup(name) as Lookup<T> {
        case .reused(let r): return r
        case .absent: return nil
        case .refused(let why): warn(why + ": not reused, the stage runs again"); return nil
        }
    }

    public func save<T: Codable>(_ name: String, _ value: T) throws {
        guard let d = directory else { return }
        // Stage results hold raw values: owner-only directory and files.
        try PrivateFile.makeDirectory(d, restrictExisting: true)
        let stored = try Self.encoder.encode(Stored(fingerprint: fingerprint, result: value))
        try PrivateFile.write(Data(Self.head + mac(name, stored) + Self.middle) + stored + Data("}".utf8), to: d + "/" + name + ".json")
    }

    /// Runs `body` unless the stage is already done.
    public func stage<T: Codable>(_ name: String, warn: (String) -> Void = { _ in }, _ body: () throws -> T) throws -> T {
        if let r: T = load(name, warn: warn) { return r }
        let r = try body()
        try save(name, r)
        return r
    }
}

