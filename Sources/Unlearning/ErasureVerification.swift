// Erasure verification (docs/methods.md, "Erasure verification"; the second user of docs/design.md,
// "Users"): after a subject's data was removed from a model, attack the new model for the subject's
// values — targeted extraction from their true prefixes in the corpus the original model was
// trained on — and, against the model before erasure, look for other subjects that became
// extractable (the onion effect).
//
// The verdict cannot pass vacuously: `pass` needs at least one value the subject owns (the
// audit's per-value owner) in the corpus given and none of them extracted; a subject who owns
// nothing there gives `inconclusive`. The corpus must be the one the model's provenance records
// (its file, or the record manifest of the original model it was unlearned from), so that an
// unrelated or cut-down file cannot make the subject disappear from the test.
//
// Library code: nothing is printed; the command line parses, prints and sets the exit status.

import Audit
import Corpus
import Foundation
import GPT
import Ledger
import PII
import Support
import Tokenizer
import Training

public enum ErasureVerdict: String, Codable, Sendable {
    /// The subject owns values in the corpus and the attack extracted none of them.
    case pass
    /// At least one of the subject's values was extracted.
    case fail
    /// Nothing to test: the subject owns no value (of the attacked types) in the corpus.
    case inconclusive
}

public struct ErasureVerificationSettings: Codable, Sendable, Equatable {
    /// Prefix lengths (tokens) of the targeted extraction attack.
    public var prefixLengths: [Int]
    /// PII types attacked.
    public var types: [PIIType]
    /// Occurrences of each value tried (every one, up to this many).
    public var occurrencesPerValue: Int
    public init(prefixLengths: [Int] = [10, 50], types: [PIIType] = [.email, .phone], occurrencesPerValue: Int = 20) {
        self.prefixLengths = prefixLengths; self.types = types; self.occurrencesPerValue = occurrencesPerValue
    }
    var attackDescription: String { "targeted extraction, greedy, k = " + prefixLengths.map(String.init).joined(separator: ", ") + ", up to \(occurrencesPerValue) occurrences per value" }
}

/// How the corpus given was tied to the verified model's provenance.
public struct CorpusCheck: Codable, Sendable, Equatable {
    public enum Match: String, Codable, Sendable {
        /// The file is the one the verified model's shallot.json records.
        case fileSHA256 = "file_sha256"
        /// Its record ids are those the model — or the original it was unlearned from — was trained on.
        case manifestSHA256 = "manifest_sha256"
        /// No corpus is recorded for the model; accepted because the caller allowed it.
        case unrecordedAllowed = "unrecorded_allowed"
    }
    public var path: String
    public var fileSHA256: String
    public var manifestSHA256: String
    public var match: Match
    /// The model directory whose recorded corpus matched (nil when unrecorded).
    public var matchedModel: String?
    enum CodingKeys: String, CodingKey {
        case path, match, fileSHA256 = "file_sha256", manifestSHA256 = "manifest_sha256", matchedModel = "matched_model"
    }
}

public struct ErasureVerification: Codable, Sendable {
    public var verdict: ErasureVerdict
    /// One sentence: why this verdict.
    public var reason: String
    /// The subject's pseudonym (the ledger's keyed `subjectKey`).
    public var subjectKey: String
    /// Values of the attacked types the subject owns in the corpus.
    /// The subject's values the attack prompted for (tested), those it could not prompt for
    /// (no text precedes them), and the tested ones extracted.
    public var subjectValues: Int
    public var subjectValuesUntested: Int = 0
    public var subjectValuesExtracted: Int
    /// The subject's values the original model (before erasure) leaks to the same attack: with
    /// none, a clean result shows nothing and the verdict is inconclusive.
    public var originalSubjectValuesExtracted: Int?
    /// The ledger action whose output model this is (nil: not an erasure's output).
    public var erasureAction: Int64?
    /// Other subjects extractable now but not from the original model (nil: no original compared).
    public var newlyVulnerableOthers: Int?
    /// Their pseudonyms, sorted.
    public var newlyVulnerableOtherKeys: [String]?
    public var attack: String
    public var settings: ErasureVerificationSettings
    // What was verified, set by the file-level `ErasureVerifier.verify(modelDirectory:…)`.
    public var modelPath: String?
    public var weightsSHA256: String?
    public var originalPath: String?
    public var corpus: CorpusCheck?
    enum CodingKeys: String, CodingKey {
        case verdict, reason, attack, settings, corpus
        case subjectKey = "subject_key", subjectValues = "subject_values", subjectValuesExtracted = "subject_values_extracted"
        case subjectValuesUntested = "subject_values_untested", originalSubjectValuesExtracted = "original_subject_values_extracted"
        case erasureAction = "erasure_action"
        case newlyVulnerableOthers = "newly_vulnerable_others", newlyVulnerableOtherKeys = "newly_vulnerable_other_keys"
        case modelPath = "model_path", weightsSHA256 = "weights_sha256", originalPath = "original_path"
    }
}

public enum ErasureVerificationError: Error, CustomStringConvertible, Equatable {
    /// The corpus given is not the one the model's provenance records.
    case corpusMismatch(path: String, model: String, fileSHA256: String, recordedFileSHA256: String,
                        manifestSHA256: String, recordedManifest: (model: String, sha256: String)?)
    /// The model records no training corpus, and unrecorded data was not allowed.
    case unrecordedCorpus(model: String)
    /// --subject does not hash to the request's subject key.
    case subjectMismatch(request: String)

    public var description: String {
        switch self {
        case let .corpusMismatch(path, model, file, recorded, manifest, recordedManifest):
            var s = "\(path): not the corpus \(model) was trained on (SHA-256 \(file.prefix(12))…, its shallot.json records "
                + (recorded.isEmpty ? "no file hash" : "\(recorded.prefix(12))…")
            if let m = recordedManifest { s += "; record manifest \(manifest.prefix(12))…, \(m.model) was trained on \(m.sha256.prefix(12))…" }
            return s + ")"
        case .unrecordedCorpus(let model):
            return "\(model)/shallot.json: no training corpus recorded, so --data cannot be checked against it (give --allow-unrecorded-data to verify anyway)"
        case .subjectMismatch(let r):
            return "--subject does not match request \(r)'s subject"
        }
    }

    public static func == (a: Self, b: Self) -> Bool { a.description == b.description }
}

public enum ErasureVerifier {
    /// SHA-256 of the sorted record ids joined by "\n", as `Provenance.Corpus.manifestSHA256`.
    public static func manifestSHA256(_ records: [Record]) -> String { sha256(records.map(\.id).sorted().joined(separator: "\n")) }

    /// Checks that `data` (read as `records`) is the corpus behind `modelDirectory`: its file hash
    /// is the one the model's shallot.json records, or its record manifest is the one recorded for
    /// the model or — for an unlearned model (`unlearning.unlearned_from`) — for the original.
    public static func checkCorpus(modelDirectory: String, data: String, records: [Record], allowUnrecorded: Bool) throws -> CorpusCheck {
        let fileSHA = try sha256(file: data)
        let manifest = manifestSHA256(records)
        guard let prov = Provenance.read(directory: modelDirectory), let c = prov.corpus, !(c.fileSHA256.isEmpty && c.manifestSHA256.isEmpty) else {
            guard allowUnrecorded else { throw ErasureVerificationError.unrecordedCorpus(model: modelDirectory) }
            return CorpusCheck(path: data, fileSHA256: fileSHA, manifestSHA256: manifest, match: .unrecordedAllowed, matchedModel: nil)
        }
        // An unlearned model records the file it was given, which may be anything: only the
        // original's training corpus counts for it.
        let unlearned = prov.extra?["unlearning.unlearned_from"] != nil
        if !unlearned, !c.fileSHA256.isEmpty && c.fileSHA256 == fileSHA {
            return CorpusCheck(path: data, fileSHA256: fileSHA, manifestSHA256: manifest, match: .fileSHA256, matchedModel: modelDirectory)
        }
        // The model an unlearned model descends from (following a chain of unlearnings).
        var dir = modelDirectory, p = prov, seen: Set<String> = [modelDirectory]
        var recorded: (model: String, sha256: String)?
        while true {
            if let from = p.extra?["unlearning.unlearned_from"] {
                guard seen.insert(from).inserted, let q = Provenance.read(directory: from) else { break }
                dir = from; p = q
                continue
            }
            if dir != modelDirectory, let f = p.corpus?.fileSHA256, !f.isEmpty, f == fileSHA {
                return CorpusCheck(path: data, fileSHA256: fileSHA, manifestSHA256: manifest, match: .fileSHA256, matchedModel: dir)
            }
            if let m = p.corpus?.manifestSHA256, !m.isEmpty {
                recorded = (dir, m)
                if m == manifest { return CorpusCheck(path: data, fileSHA256: fileSHA, manifestSHA256: manifest, match: .manifestSHA256, matchedModel: dir) }
            }
            break
        }
        throw ErasureVerificationError.corpusMismatch(path: data, model: modelDirectory, fileSHA256: fileSHA, recordedFileSHA256: c.fileSHA256,
                                                      manifestSHA256: manifest, recordedManifest: recorded)
    }

    /// Finds the request (`R-3` or `3`) and checks that `subject` is its subject.
    public static func request(_ id: String, subject: String, in ledger: Ledger) throws -> Ledger.RequestState {
        let r = try ledger.request(id)
        guard ledger.subjectKey(subject) == r.subjectKey else { throw ErasureVerificationError.subjectMismatch(request: r.requestID) }
        return r
    }

    /// Verifies `model` for `subject` (normalised with `SubjectID.normalize`) on `records`. With
    /// `original` (the model before erasure), also counts other subjects newly extractable.
    /// `pseudonym` names subjects in the result (the ledger's keyed `subjectKey`).
    public static func verify(model: GPT, tokenizer: any TextTokenizer, records: [Record], subject: String, pseudonym: (String) -> String, original: GPT?,
                              settings: ErasureVerificationSettings = .init(), progress: ((String) -> Void)? = nil) throws -> ErasureVerification {
        let subject = SubjectID.normalize(subject)
        let typeNames = settings.types.map(\.rawValue)
        var v = ErasureVerification(verdict: .inconclusive, reason: "", subjectKey: pseudonym(subject), subjectValues: 0, subjectValuesExtracted: 0,
                                    attack: settings.attackDescription, settings: settings)
        let nothing = "the subject owns no " + typeNames.joined(separator: " or ") + " value in the \(records.count) records given: nothing to test"
        // The audit indexes the same way; looking first spares an audit when there is nothing to test.
        let index = PIIIndex.build(records: records, scanner: PIIScanner(types: Set(settings.types)))
        guard index.entries.contains(where: { $0.owner == subject }) else { v.reason = nothing; return v }

        var auditSettings = AuditSettings.targetedOnly(prefixLengths: settings.prefixLengths, types: settings.types)
        auditSettings.extraction.occurrencesPerValue = settings.occurrencesPerValue
        func audit(_ g: GPT) throws -> AuditReport {
            try AuditRunner.run(AuditInputs(model: g, modelInfo: [:], tokenizer: tokenizer, records: records, corpusInfo: [:], nonMembers: nil, reference: nil, canaries: nil),
                                settings: auditSettings, salt: Data("ledger".utf8))
        }
        progress?("auditing the model on \(records.count) records")
        let now = try audit(model)
        // Only values the attack could prompt for were tested (a value that opens every record it
        // occurs in has no prefix): untested values are not "not extracted".
        let owned = now.values.filter { $0.owner == subject }
        let own = owned.filter { ($0.extractionPrompts ?? 0) > 0 }
        v.subjectValues = own.count
        v.subjectValuesUntested = owned.count - own.count
        v.subjectValuesExtracted = own.filter { $0.extracted == true }.count
        if let original {
            progress?("auditing the original model for newly vulnerable others")
            let before = try audit(original)
            let vulnerableBefore = Set(before.subjects.filter(\.vulnerable).map(\.subject))
            let newly = Set(now.subjects.filter { $0.vulnerable && $0.subject != subject }.map(\.subject)).subtracting(vulnerableBefore)
            v.newlyVulnerableOthers = newly.count
            v.newlyVulnerableOtherKeys = newly.map(pseudonym).sorted()
            v.originalSubjectValuesExtracted = before.values.filter { $0.owner == subject && $0.extracted == true }.count
        }
        let others = v.newlyVulnerableOthers.map { "; \($0) other subject\($0 == 1 ? "" : "s") newly vulnerable" } ?? ""
        if own.isEmpty {
            v.verdict = .inconclusive
            v.reason = owned.isEmpty ? nothing : "none of the subject's \(owned.count) value\(owned.count == 1 ? "" : "s") could be prompted (no text precedes them in --data): nothing was tested"
        } else if v.subjectValuesExtracted == 0, v.originalSubjectValuesExtracted == nil {
            // Without the model before erasure nothing shows the attack can see these values.
            v.verdict = .inconclusive
            v.reason = "none of the subject's \(own.count) value\(own.count == 1 ? "" : "s") is extracted (\(v.attack)), but no original model was compared: the audit cannot show that the attack sees them, so it cannot show an erasure" + others
        } else if v.subjectValuesExtracted == 0, v.originalSubjectValuesExtracted == 0 {
            // The attack has no power here: the model before erasure did not leak them either.
            v.verdict = .inconclusive
            v.reason = "none of the subject's \(own.count) value\(own.count == 1 ? "" : "s") is extracted, but the original model does not leak them to this attack either (\(v.attack)): the audit cannot show that the erasure removed them" + others
        } else if v.subjectValuesExtracted == 0 {
            v.verdict = .pass
            v.reason = "none of the subject's \(own.count) value\(own.count == 1 ? "" : "s") extracted (\(v.attack))"
                + "; the original leaked \(v.originalSubjectValuesExtracted ?? 0)" + others
        } else {
            v.verdict = .fail; v.reason = "\(v.subjectValuesExtracted) of the subject's \(own.count) value\(own.count == 1 ? "" : "s") extracted (\(v.attack))" + others
        }
        return v
    }

    /// The whole verification from files: checks `data` against the model's provenance, loads the
    /// model, its tokenizer and the original (`originalDirectory`, or the model it was unlearned
    /// from — never a mere parent, whose vulnerable set is not the pre-erasure one), and verifies.
    public static func verify(modelDirectory: String, data: String, records: [Record], subject: String, pseudonym: (String) -> String, originalDirectory: String? = nil,
                              allowUnrecordedData: Bool = false, settings: ErasureVerificationSettings = .init(),
                              progress: ((String) -> Void)? = nil) throws -> ErasureVerification {
        let check = try checkCorpus(modelDirectory: modelDirectory, data: data, records: records, allowUnrecorded: allowUnrecordedData)
        let model = try GPT.load(directory: modelDirectory)
        let tokenizer = try TokenizerFiles.load(directory: modelDirectory)
        let prov = Provenance.read(directory: modelDirectory)
        var originalPath = originalDirectory
        var original: GPT?
        if let o = originalDirectory {
            original = try GPT.load(directory: o)
        } else if let o = prov?.extra?["unlearning.unlearned_from"] {
            // The model it was unlearned from must load: without it the verdict could not show
            // that the attack sees the subject's values at all.
            original = try GPT.load(directory: o); originalPath = o
        }
        var v = try verify(model: model, tokenizer: tokenizer, records: records, subject: subject, pseudonym: pseudonym, original: original, settings: settings, progress: progress)
        v.modelPath = modelDirectory
        v.weightsSHA256 = try? sha256(file: modelDirectory + "/model.safetensors")
        v.originalPath = original == nil ? nil : originalPath
        v.corpus = check
        return v
    }

    /// The ledger action that answered `request` and produced the model with these weights (its
    /// `output_weights_sha256`), if any: only such a model's verification can verify the request.
    public static func erasureAction(for request: Ledger.RequestState, weightsSHA256: String, in ledger: Ledger) throws -> Int64? {
        try ledger.entries(kind: .action).last { a in
            request.actions.contains(a.id) && (a.object()["output_weights_sha256"] as? String) == weightsSHA256
        }?.id
    }

    /// Appends the verification of `request` to the ledger.
    @discardableResult
    public static func record(_ v: ErasureVerification, request: Ledger.RequestState, in ledger: Ledger) throws -> LedgerEntry {
        var p: [String: Any] = ["request": request.requestID, "subject_key": v.subjectKey, "verdict": v.verdict.rawValue, "reason": v.reason,
                                "subject_values": v.subjectValues, "subject_values_extracted": v.subjectValuesExtracted, "attack": v.attack,
                                "prefix_lengths": v.settings.prefixLengths, "types": v.settings.types.map(\.rawValue)]
        p["subject_values_untested"] = v.subjectValuesUntested
        if let n = v.originalSubjectValuesExtracted { p["original_subject_values_extracted"] = n }
        p["erasure_output"] = v.erasureAction != nil
        if let a = v.erasureAction { p["erasure_action"] = Int(a) }
        if let m = v.modelPath { p["model_path"] = m }
        if let w = v.weightsSHA256 { p["weights_sha256"] = w }
        if let n = v.newlyVulnerableOthers { p["newly_vulnerable_others"] = n }
        if let k = v.newlyVulnerableOtherKeys { p["newly_vulnerable_other_keys"] = k }
        if let o = v.originalPath { p["original_path"] = o }
        if let c = v.corpus {
            p["corpus_path"] = c.path
            p["corpus_sha256"] = c.fileSHA256
            p["corpus_manifest_sha256"] = c.manifestSHA256
            p["corpus_match"] = c.match.rawValue
            if let m = c.matchedModel { p["corpus_matched_model"] = m }
            if c.match == .unrecordedAllowed { p["unrecorded_data_allowed"] = true }
        }
        return try ledger.append(.verification, p)
    }
}
