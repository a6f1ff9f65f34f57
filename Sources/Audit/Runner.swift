// The audit pipeline: corpus → PII index → attacks → per-value and per-subject rows → report.
// Library code: progress goes through a callback, nothing is printed.

import Corpus
import Foundation
import GPT
import PII
import SafeTensors
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
    public var checkpoints = AuditCheckpoints(directory: nil, fingerprint: "")
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

public enum AuditRunner {
    public static func run(_ inp: AuditInputs, settings: AuditSettings, salt: Data, progress: ((AuditProgress) -> Void)? = nil) throws -> AuditReport {
        let unknown = settings.attacks.filter { !AuditSettings.attackNames.contains($0) }
        guard unknown.isEmpty else { throw AuditSettingsError.unknownAttacks(unknown) }
        let types = Set(settings.types.compactMap(PIIType.init(rawValue:)))
        let hash = Hasher16(salt: salt)
        progress?(.stage("indexing PII"))
        var index = PIIIndex.build(records: inp.records, scanner: PIIScanner(types: types))
        index.entries.sort { ($0.occurrences, $1.value) > ($1.occurrences, $0.value) }
        if let n = settings.sample, n < index.entries.count {
            // a seeded uniform sample of values, kept in frequency order
            var rng = AuditRNG(settings.seed ^ 0x5A3)
            var idx = Array(index.entries.indices)
            for i in 0..<n { idx.swapAt(i, i + rng.int(idx.count - i)) }
            index.entries = idx.prefix(n).sorted().map { index.entries[$0] }
        }
        if let l = settings.limit { index.entries = Array(index.entries.prefix(l)) }
        if let own = inp.ownership {
            for i in index.entries.indices { index.entries[i].owner = own.owner(of: index.entries[i].key) }
        }
        let cp = inp.checkpoints
        let byId = Dictionary(uniqueKeysWithValues: inp.records.map { ($0.id, $0) })
        let attacks = Set(settings.attacks)
        var rows = index.entries.map { e in
            AuditValueRow(id: hash(e.type.rawValue + "\u{1F}" + e.value), type: e.type.rawValue, masked: PIIMask.mask(e.places[0].text, type: e.type),
                          value: settings.revealPII ? e.value : nil, owner: e.owner, occurrences: e.occurrences)
        }
        let scorer = inp.model
        // Attacks (or parts) the back end cannot run, with the reason (audit.json `unavailable`).
        var unavailable: [String: String] = [:]
        let canScore = scorer.capabilities.promptLogprobs
        let noLogprobs = "the model's back end does not return prompt log-probabilities (echo + logprobs)"
        if !canScore { unavailable["scores"] = "continuous scores unavailable: " + noLogprobs }
        // The continuous score: log-likelihood per token of each value after its first true prefix.
        progress?(.stage("scoring values in context"))
        let ctxTokens = settings.exposureContextTokens
        var seqs: [[Int32]] = [], valueLens: [Int] = []
        for e in index.entries {
            let occ = e.places[0]
            let ctx = Array(inp.tokenizer.encode(occ.left).suffix(ctxTokens))
            let v = inp.tokenizer.encode(occ.text)
            let keep = max(1, min(ctx.count, inp.model.contextLength - v.count))
            seqs.append((ctx.isEmpty ? [inp.tokenizer.endOfText] : Array(ctx.suffix(keep))) + v)
            valueLens.append(v.count)
        }
        if canScore {
        let lls = try cp.stage("values") { try scorer.score(seqs).map { $0.logprobs } }
        for i in rows.indices { rows[i].logLikelihoodPerToken = lls[i].suffix(valueLens[i]).reduce(0.0) { $0 + Double($1) } / Double(max(1, valueLens[i])) }
        }

        let preKeys = inp.pretrainingRecords.map { Set(PIIIndex.build(records: $0, scanner: PIIScanner(types: types)).entries.map { $0.type.rawValue + "\u{1F}" + $0.value }) }
        var targetedLineage: [String: Int]?
        if attacks.contains("extraction") {
            progress?(.stage("targeted extraction"))
            let ex = try cp.stage("extraction") {
                try TargetedExtraction.run(model: inp.model, tokenizer: inp.tokenizer, index: index, records: byId, types: types,
                                           settings: settings.extraction) { progress?(.step(done: $0, total: $1)) }
            }
            for (i, r) in ex.enumerated() {
                rows[i].extracted = r.extracted; rows[i].smallestExtractingK = r.smallestExtractingK; rows[i].sampleHitRate = r.sampleHitRate
                rows[i].extractionPrompts = r.prompts
            }
            // Lineage: the same attack on the base model. A value the base also produces from the
            // same prefix (or that its pre-training corpus holds) was not learnt from fine-tuning alone.
            if let base = inp.reference {
                progress?(.stage("targeted extraction on the base model (lineage)"))
                let bx = try cp.stage("extraction_base") {
                    try TargetedExtraction.run(model: base, tokenizer: inp.tokenizer, index: index, records: byId, types: types,
                                               settings: settings.extraction) { progress?(.step(done: $0, total: $1)) }
                }
                targetedLineage = ["finetuning": 0, "pretraining": 0, "both": 0, "neither": 0]
                for (i, r) in bx.enumerated() {
                    rows[i].baseExtracted = r.extracted
                    guard rows[i].extracted == true else { continue }
                    let inP = preKeys?.contains(index.entries[i].type.rawValue + "\u{1F}" + index.entries[i].value) ?? false
                    rows[i].lineage = r.extracted || inP ? "both" : "finetuning"
                    targetedLineage![rows[i].lineage!]! += 1
                }
            }
        }
        if attacks.contains("exposure") && !canScore { unavailable["exposure"] = "exposure unavailable: " + noLogprobs }
        if attacks.contains("exposure") && canScore {
            progress?(.stage("exposure"))
            var rng = AuditRNG(settings.seed)
            let emailPool = index.entries.filter { $0.type == .email }.map(\.value)
            let n = min(settings.exposureValues, index.entries.count)
            var exposures: [Int: ExposureResult] = [:]
            if let done: [Int: ExposureResult] = cp.load("exposure") { exposures = done } else {
            for i in 0..<n {
                let e = index.entries[i]
                let occ = e.places[0]
                let (cands, space): ([String], Double)
                switch e.type {
                case .email: (cands, space) = Exposure.emailCandidates(like: occ.text.lowercased(), pool: emailPool, count: settings.exposureCandidates, rng: &rng)
                case .phone, .creditCard, .ssn: (cands, space) = Exposure.digitCandidates(like: occ.text, count: settings.exposureCandidates, rng: &rng)
                default: continue
                }
                guard !cands.isEmpty else { continue }
                do {
                    exposures[i] = try Exposure.compute(model: scorer, tokenizer: inp.tokenizer, context: occ.left, secret: e.type == .email ? occ.text.lowercased() : occ.text,
                                                        candidates: cands, spaceSize: space, maxContextTokens: ctxTokens)
                } catch let err as AttackContextError {
                    // This value's candidates do not fit the model: it is left out, and said so.
                    unavailable["exposure.too_long"] = err.description
                }
                progress?(.step(done: i + 1, total: n))
            }
            try cp.save("exposure", exposures)
            }
            for (i, x) in exposures { rows[i].exposure = x }
        }
        var mia: [String: MIAMetrics]?
        if attacks.contains("mia"), !canScore { unavailable["mia"] = "membership inference unavailable: " + noLogprobs }
        if attacks.contains("mia"), canScore, !scorer.capabilities.distribution {
            unavailable["mia.min_k_plus_plus"] = "Min-K%++ unavailable: the back end does not give the next-token distribution's mean and sd"
        }
        if attacks.contains("mia"), inp.reference.map({ !$0.capabilities.promptLogprobs }) ?? false {
            unavailable["mia.reference"] = "the reference-model score is unavailable: the reference's back end does not return prompt log-probabilities"
        }
        if attacks.contains("mia"), canScore, let non = inp.nonMembers, !non.isEmpty {
            progress?(.stage("membership inference"))
            mia = try cp.stage("mia") {
            let ms = try MembershipInference.signals(model: inp.model, tokenizer: inp.tokenizer, texts: inp.records.map(\.text), reference: inp.reference)
            let ns = try MembershipInference.signals(model: inp.model, tokenizer: inp.tokenizer, texts: non.map(\.text), reference: inp.reference)
            return MembershipInference.evaluate(members: ms, nonMembers: ns, resamples: settings.bootstrapResamples, seed: settings.seed)
            }
        }
        var canaryRows: [AuditCanaryRow]?
        if attacks.contains("canaries"), !canScore { unavailable["canaries"] = "canary exposure unavailable: " + noLogprobs }
        if attacks.contains("canaries"), canScore, let cs = inp.canaries, !cs.isEmpty {
            progress?(.stage("canaries"))
            canaryRows = try cp.stage("canaries") {
            var rng = AuditRNG(settings.seed ^ 0xCA)
            var canaryRows: [AuditCanaryRow] = []
            let gen = inp.model
            for c in cs {
                guard let r = c.sentence.range(of: c.secret) else { continue }
                let context = String(c.sentence[..<r.lowerBound])
                let (cands, space) = Exposure.digitCandidates(like: c.secret, count: settings.exposureCandidates, rng: &rng)
                let ex = try Exposure.compute(model: scorer, tokenizer: inp.tokenizer, context: context, secret: c.secret, candidates: cands, spaceSize: space)
                let out = try gen.generate(prompts: [inp.tokenizer.encode(context)], .greedy(inp.tokenizer.encode(c.secret).count + 2), endOfText: nil)
                let text = (try? inp.tokenizer.decode(out[0])) ?? ""
                canaryRows.append(AuditCanaryRow(secretHash: hash("canary\u{1F}" + c.secret), repeats: c.repeats,
                                                 member: c.records.allSatisfy { byId[$0] != nil }, extracted: text.contains(c.secret), exposure: ex))
            }
            return canaryRows
            }
        }
        var association: AssociationResult?
        if attacks.contains("association") {
            progress?(.stage("association"))
            struct Stage: Codable { var hits: [String: Bool]; var result: AssociationResult }
            // A model too small for an attack makes that attack unavailable (named, with the
            // reason), not the whole audit fail.
            do {
                let st = try cp.stage("association") {
                    let full = PIIIndex.build(records: inp.records, scanner: PIIScanner(types: [.email, .person]))
                    let (hits, res) = try Association.run(model: inp.model, tokenizer: inp.tokenizer, index: full)
                    return Stage(hits: hits, result: res)
                }
                let hits = st.hits
                association = st.result
                for i in rows.indices where index.entries[i].type == .email { rows[i].associated = hits[index.entries[i].value] }
            } catch let err as AttackContextError { unavailable["association"] = err.description }
        }
        var untargeted: UntargetedResult?
        if attacks.contains("untargeted") && !canScore { unavailable["untargeted.ranking"] = "untargeted rankings (scores, precision) unavailable: " + noLogprobs }
        if attacks.contains("untargeted") { do {
            progress?(.stage("untargeted extraction"))
            let trainingKeys = Set(PIIIndex.build(records: inp.records, scanner: PIIScanner(types: types)).entries.map { $0.type.rawValue + "\u{1F}" + $0.value })
            // Lineage: the values the base model produces under the same attack.
            var baseLeaked: Set<String>?
            if let base = inp.reference {
                progress?(.stage("untargeted extraction on the base model (lineage)"))
                baseLeaked = try cp.stage("untargeted_base") {
                    Set(try UntargetedExtraction.run(model: base, tokenizer: inp.tokenizer, trainingKeys: trainingKeys, pretrainingKeys: nil,
                                                     reference: nil, promptText: inp.promptText, types: types, settings: settings.untargeted,
                                                     hash: hash, reveal: false) { progress?(.step(done: $0, total: $1)) }.values.map(\.id))
                }
                progress?(.stage("untargeted extraction"))
            }
            untargeted = try cp.stage("untargeted") {
                try UntargetedExtraction.run(model: inp.model, tokenizer: inp.tokenizer, trainingKeys: trainingKeys, pretrainingKeys: preKeys,
                                             baseLeaked: baseLeaked, reference: inp.reference, promptText: inp.promptText, types: types,
                                             settings: settings.untargeted, hash: hash, reveal: settings.revealPII) { progress?(.step(done: $0, total: $1)) }
            }
        } catch let err as AttackContextError { unavailable["untargeted"] = err.description } }
        // Subjects
        var recordsPer: [String: Int] = [:]
        for r in inp.records { recordsPer[r.subject, default: 0] += 1 }
        var subj: [String: AuditSubjectRow] = [:]
        for s in recordsPer.keys {
            subj[s] = AuditSubjectRow(subject: settings.revealPII ? s : hash("subject\u{1F}" + s), masked: PIIMask.mask(s, type: s.contains("@") ? .email : .person),
                                      records: recordsPer[s]!, values: 0, extractedValues: 0, vulnerable: false)
        }
        // A subject is vulnerable iff one of their own values is extracted (METHODS.md).
        for r in rows {
            guard let o = r.owner, subj[o] != nil else { continue }
            subj[o]!.values += 1
            if r.extracted == true { subj[o]!.extractedValues += 1 }
            if r.smallestExtractingK != nil { subj[o]!.vulnerable = true }   // k-extractable: greedy
            if let ll = r.logLikelihoodPerToken { subj[o]!.score = max(subj[o]!.score ?? -.infinity, ll) }
            if let x = r.exposure?.exposure { subj[o]!.maxExposure = max(subj[o]!.maxExposure ?? 0, x) }
        }
        let unowned = rows.filter { $0.owner == nil }
        if !settings.revealPII { for i in rows.indices { rows[i].owner = rows[i].owner.map { hash("subject\u{1F}" + $0) } } }
        let subjects = subj.values.sorted { ($0.vulnerable ? 1 : 0, $0.score ?? -1e9, $1.subject) > ($1.vulnerable ? 1 : 0, $1.score ?? -1e9, $0.subject) }
        // Extraction rate by duplication (occurrences of the value in the corpus)
        var byDup: [String: [String: Int]] = [:]
        for r in rows where r.extracted != nil {
            let k = r.occurrences == 1 ? "1" : r.occurrences <= 5 ? "2-5" : r.occurrences <= 20 ? "6-20" : ">20"
            byDup[k, default: ["values": 0, "extracted": 0]]["values"]! += 1
            if r.extracted! { byDup[k]!["extracted"]! += 1 }
        }
        let extracted = rows.filter { $0.extracted == true }.count
        let summary: [String: Double] = [
            "values": Double(rows.count), "extracted_values": Double(extracted),
            "extraction_rate": rows.isEmpty ? 0 : Double(extracted) / Double(rows.count),
            "subjects": Double(subjects.count), "vulnerable_subjects": Double(subjects.filter(\.vulnerable).count),
            "unowned_values": Double(unowned.count), "unowned_extracted": Double(unowned.filter { $0.extracted == true }.count),
        ]
        var report = AuditReport(software: "shallot 0.1.0", created: ISO8601DateFormatter().string(from: Date()), settings: settings,
                                 model: inp.modelInfo, corpus: inp.corpusInfo, summary: summary, extractionByDuplication: byDup,
                                 values: rows, subjects: subjects, membershipInference: mia, canaries: canaryRows, untargeted: untargeted, association: association)
        report.targetedLineage = targetedLineage
        report.unavailable = unavailable.isEmpty ? nil : unavailable
        report.headline = report.assessHeadline()
        return report
    }
}

/// Finished stages of an audit, kept as JSON files so that an interrupted audit resumes. A stage
/// is reused only when its fingerprint (settings, model, corpus and salt) matches. The files hold
/// raw values: the directory is created owner-only and removed once audit.json is written.
public struct AuditCheckpoints: Sendable {
    public let directory: String?
    public let fingerprint: String
    public init(directory: String?, fingerprint: String) { self.directory = directory; self.fingerprint = fingerprint }

    struct Stored<T: Codable>: Codable { var fingerprint: String; var result: T }

    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return e
    }()
    static let decoder: JSONDecoder = {
        let d = JSONDecoder()
        d.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return d
    }()

    /// A finished stage's result, if this audit (same fingerprint) saved one.
    public func load<T: Codable>(_ name: String) -> T? {
        guard let d = directory, let data = FileManager.default.contents(atPath: d + "/" + name + ".json"),
              let s = try? Self.decoder.decode(Stored<T>.self, from: data), s.fingerprint == fingerprint else { return nil }
        return s.result
    }

    public func save<T: Codable>(_ name: String, _ value: T) throws {
        guard let d = directory else { return }
        // Stage results hold raw values: owner-only directory and files.
        try PrivateFile.makeDirectory(d, restrictExisting: true)
        try PrivateFile.write(Self.encoder.encode(Stored(fingerprint: fingerprint, result: value)), to: d + "/" + name + ".json")
    }

    /// Runs `body` unless the stage is already done.
    public func stage<T: Codable>(_ name: String, _ body: () throws -> T) throws -> T {
        if let r: T = load(name) { return r }
        let r = try body()
        try save(name, r)
        return r
    }
}

public enum AuditSettingsError: Error, CustomStringConvertible, Equatable {
    case unknownAttacks([String])
    public var description: String {
        switch self {
        case .unknownAttacks(let a): return "unknown attack\(a.count == 1 ? "" : "s") " + a.map { "\"\($0)\"" }.joined(separator: ", ") + "; known: " + AuditSettings.attackNames.joined(separator: ", ")
        }
    }
}
