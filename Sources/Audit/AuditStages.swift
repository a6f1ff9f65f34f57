// The audit's stages. `AuditRun` builds what every attack shares once (the PII index of the
// audited values with their fixed owners, the keys of every training and pre-training value, the
// records by id, the keyed hasher) and has one method per attack, each returning a typed result.
// What a stage cannot do on this model (no prompt log-probabilities from a server, a context too
// small for the attack) is recorded in `unavailable` with the reason, never silently skipped.

import Corpus
import Foundation
import PII
import Support
import Tokenizer

final class AuditRun {
    let inputs: AuditInputs
    let settings: AuditSettings
    let types: Set<PIIType>
    let hash: Hasher16
    /// The audited values: most frequent first, sampled or limited as asked, owners fixed.
    let index: PIIIndex
    /// Every value of the training records (before any sample or limit): what untargeted
    /// generations are matched against.
    let trainingKeys: Set<PIIKey>
    /// Every value of the base model's pre-training corpus, when given (lineage).
    let pretrainingKeys: Set<PIIKey>?
    let recordsById: [String: Record]
    /// The records packed as training read them (in the order given), when the training
    /// context is known: the position-aligned prefixes.
    let trainingStream: TrainingStream?
    let progress: ((AuditProgress) -> Void)?
    /// Whether the back end returns prompt log-probabilities (scores, exposure, MIA, rankings).
    let canScore: Bool
    /// Attacks (or parts) that could not run, with the reason (audit.json `unavailable`).
    private(set) var unavailable: [String: String] = [:]

    static let noLogprobs = "the model's back end does not return prompt log-probabilities (echo + logprobs)"

    init(_ inputs: AuditInputs, settings: AuditSettings, salt: Data, progress: ((AuditProgress) -> Void)?) {
        self.inputs = inputs; self.settings = settings; self.progress = progress
        let types = Set(settings.types)
        self.types = types
        hash = Hasher16(salt: salt)
        progress?(.stage("indexing PII"))
        let full = PIIIndex.build(records: inputs.records, scanner: PIIScanner(types: types))
        trainingKeys = Set(full.entries.map(\.key))
        index = Self.audited(full, settings: settings, ownership: inputs.ownership)
        pretrainingKeys = inputs.pretrainingRecords.map { Set(PIIIndex.build(records: $0, scanner: PIIScanner(types: types)).entries.map(\.key)) }
        recordsById = Dictionary(uniqueKeysWithValues: inputs.records.map { ($0.id, $0) })
        let tok = inputs.tokenizer
        trainingStream = settings.extraction.windowContext.map { T in
            TrainingStream(records: inputs.records, tokens: { tok.encode($0.text) }, endOfText: tok.endOfText, context: T)
        }
        canScore = inputs.model.capabilities.promptLogprobs
        if !canScore { unavailable["scores"] = "continuous scores unavailable: " + Self.noLogprobs }
        let attacks = Set(settings.attacks)
        for (attack, what) in [(AuditAttack.exposure, "exposure"), (.mia, "membership inference"), (.canaries, "canary exposure")] where attacks.contains(attack) && !canScore {
            unavailable[attack.rawValue] = "\(what) unavailable: " + Self.noLogprobs
        }
        if attacks.contains(.untargeted) && !canScore {
            unavailable["untargeted.ranking"] = "untargeted rankings (scores, precision) unavailable: " + Self.noLogprobs
        }
        if attacks.contains(.mia), canScore, !inputs.model.capabilities.distribution {
            unavailable["mia.min_k_plus_plus"] = "Min-K%++ unavailable: the back end does not give the next-token distribution's mean and sd"
        }
        if attacks.contains(.mia), inputs.reference.map({ !$0.capabilities.promptLogprobs }) ?? false {
            unavailable["mia.reference"] = "the reference-model score is unavailable: the reference's back end does not return prompt log-probabilities"
        }
    }

    /// The values the audit attacks: most frequent first (ties by value), a seeded uniform sample
    /// kept in that order, or the first `limit`; owners from the fixed ownership when given.
    static func audited(_ full: PIIIndex, settings: AuditSettings, ownership: Ownership?) -> PIIIndex {
        var index = full
        index.entries.sort { ($0.occurrences, $1.value) > ($1.occurrences, $0.value) }
        if let n = settings.sample, n < index.entries.count {
            var rng = SplitMix64(auditSeed: settings.seed ^ 0x5A3)
            index.entries = Array(index.entries.indices).seededSample(n, using: &rng).sorted().map { index.entries[$0] }
        }
        if let l = settings.limit { index.entries = Array(index.entries.prefix(l)) }
        if let own = ownership {
            for i in index.entries.indices { index.entries[i].owner = own.owner(of: index.entries[i].key) }
        }
        return index
    }

    func wants(_ attack: AuditAttack) -> Bool { settings.attacks.contains(attack) }
    var model: any LanguageModel { inputs.model }
    var tokenizer: any TextTokenizer { inputs.tokenizer }
    var checkpoints: AuditCheckpoints { inputs.checkpoints }
    func step(_ done: Int, _ total: Int) { progress?(.step(done: done, total: total)) }
    /// A stage kept in the checkpoints; a stage file that is not authenticated is reported as a warning.
    func checkpoint<T: Codable>(_ name: String, _ body: () throws -> T) throws -> T {
        try checkpoints.stage(name, warn: { progress?(.stage("warning: " + $0)) }, body)
    }

    /// One row per audited value, before any attack.
    func valueRows() -> [AuditValueRow] {
        index.entries.map { e in
            AuditValueRow(id: hash(e.key.string), type: e.type.rawValue, masked: PIIMask.mask(e.places[0].text, type: e.type),
                          value: settings.revealPII ? e.value : nil, owner: e.owner, occurrences: e.occurrences)
        }
    }

    /// The continuous score of each value: mean log-probability per token of the value after the
    /// context before its first occurrence (nil when the back end cannot score).
    func valueScores() throws -> [Double]? {
        progress?(.stage("scoring values in context"))
        let seqs = ValueScores.sequences(index.entries.map { $0.places[0] }, tokenizer: tokenizer, contextTokens: settings.exposureContextTokens,
                                         contextLength: model.contextLength)
        guard canScore else { return nil }
        let lls = try checkpoint("values") { try model.score(seqs.map(\.ids)).map { $0.logprobs } }
        return ValueScores.perToken(lls, valueTokens: seqs.map(\.valueTokens))
    }

    /// Targeted (true-prefix) extraction into `rows`; with a base model, the same attack on it and
    /// each extracted value's lineage. Returns the lineage counts (nil without a base).
    func targetedExtraction(into rows: inout [AuditValueRow]) throws -> [String: Int]? {
        progress?(.stage("targeted extraction"))
        let ex = try checkpoint("extraction") {
            try TargetedExtraction.run(model: model, tokenizer: tokenizer, index: index, records: recordsById, types: types,
                                       settings: settings.extraction, stream: trainingStream) { self.step($0, $1) }
        }
        let aligned = settings.extraction.recordStart == true || settings.extraction.windowContext != nil
        for (i, r) in ex.enumerated() {
            rows[i].extracted = r.extracted; rows[i].smallestExtractingK = r.smallestExtractingK; rows[i].sampleHitRate = r.sampleHitRate
            rows[i].extractionPrompts = r.prompts
            if aligned { rows[i].extractedBy = r.extractedBy }
        }
        // Lineage: a value the base also produces from the same prefix (or that its pre-training
        // corpus holds) was not learnt from fine-tuning alone.
        guard let base = inputs.reference else { return nil }
        progress?(.stage("targeted extraction on the base model (lineage)"))
        let bx = try checkpoint("extraction_base") {
            try TargetedExtraction.run(model: base, tokenizer: tokenizer, index: index, records: recordsById, types: types,
                                       settings: settings.extraction, stream: trainingStream) { self.step($0, $1) }
        }
        var lineage = ["finetuning": 0, "pretraining": 0, "both": 0, "neither": 0]
        for (i, r) in bx.enumerated() {
            rows[i].baseExtracted = r.extracted
            guard rows[i].extracted == true else { continue }
            let inP = pretrainingKeys?.contains(index.entries[i].key) ?? false
            let l = r.extracted || inP ? "both" : "finetuning"
            rows[i].lineage = l
            lineage[l, default: 0] += 1
        }
        return lineage
    }

    /// Exposure of the most frequent values among format-matched candidates, by value index.
    func exposure() throws -> [Int: ExposureResult]? {
        guard canScore else { return nil }
        progress?(.stage("exposure"))
        if let done: [Int: ExposureResult] = checkpoints.load("exposure") { return done }
        var rng = SplitMix64(auditSeed: settings.seed)
        let emailPool = index.entries.filter { $0.type == .email }.map(\.value)
        let n = min(settings.exposureValues, index.entries.count)
        var exposures: [Int: ExposureResult] = [:]
        for i in 0..<n {
            let e = index.entries[i], occ = e.places[0]
            let (cands, space): ([String], Double)
            switch e.type {
            case .email: (cands, space) = Exposure.emailCandidates(like: occ.text.lowercased(), pool: emailPool, count: settings.exposureCandidates, rng: &rng)
            case .phone, .creditCard, .ssn: (cands, space) = Exposure.digitCandidates(like: occ.text, count: settings.exposureCandidates, rng: &rng)
            default: continue
            }
            guard !cands.isEmpty else { continue }
            do {
                exposures[i] = try Exposure.compute(model: model, tokenizer: tokenizer, context: occ.left, secret: e.type == .email ? occ.text.lowercased() : occ.text,
                                                    candidates: cands, spaceSize: space, maxContextTokens: settings.exposureContextTokens)
            } catch let err as AttackContextError {
                // This value's candidates do not fit the model: it is left out, and said so.
                unavailable["exposure.too_long"] = err.description
            }
            step(i + 1, n)
        }
        try checkpoints.save("exposure", exposures)
        return exposures
    }

    /// Membership inference signals of members and non-members, and each signal's metrics
    /// (nil without non-members or prompt log-probabilities).
    func membershipInference() throws -> [String: MIAMetrics]? {
        guard canScore, let non = inputs.nonMembers, !non.isEmpty else { return nil }
        progress?(.stage("membership inference"))
        return try checkpoint("mia") {
            let ms = try MembershipInference.signals(model: model, tokenizer: tokenizer, texts: inputs.records.map(\.text), reference: inputs.reference)
            let ns = try MembershipInference.signals(model: model, tokenizer: tokenizer, texts: non.map(\.text), reference: inputs.reference)
            return MembershipInference.evaluate(members: ms, nonMembers: ns, resamples: settings.bootstrapResamples, seed: settings.seed)
        }
    }

    /// Each canary's exposure and whether greedy decoding from its prefix writes it out.
    func canaries() throws -> [AuditCanaryRow]? {
        guard canScore, let cs = inputs.canaries, !cs.isEmpty else { return nil }
        progress?(.stage("canaries"))
        return try checkpoint("canaries") {
            var rng = SplitMix64(auditSeed: settings.seed ^ 0xCA)
            var rows: [AuditCanaryRow] = []
            for c in cs {
                guard let r = c.sentence.range(of: c.secret) else { continue }
                let context = String(c.sentence[..<r.lowerBound])
                let (cands, space) = Exposure.digitCandidates(like: c.secret, count: settings.exposureCandidates, rng: &rng)
                let ex = try Exposure.compute(model: model, tokenizer: tokenizer, context: context, secret: c.secret, candidates: cands, spaceSize: space)
                let out = try model.generate(prompts: [tokenizer.encode(context)], .greedy(tokenizer.encode(c.secret).count + 2), endOfText: nil)
                let text = (try? tokenizer.decode(out[0])) ?? ""
                rows.append(AuditCanaryRow(secretHash: hash("canary", c.secret), repeats: c.repeats,
                                           member: c.records.allSatisfy { recordsById[$0] != nil }, extracted: text.contains(c.secret), exposure: ex))
            }
            return rows
        }
    }

    /// The association attack over (name, address) pairs: hits by address and the result, or nil
    /// (with the reason in `unavailable`) when the model's context is too small for its prompts.
    /// It indexes names and addresses itself: its pairs need PERSON values whatever `--types` says.
    func association() throws -> ([String: Bool], AssociationResult)? {
        progress?(.stage("association"))
        struct Stage: Codable { var hits: [String: Bool]; var result: AssociationResult }
        do {
            let st = try checkpoint("association") {
                let full = PIIIndex.build(records: inputs.records, scanner: PIIScanner(types: [.email, .person]))
                let (hits, res) = try Association.run(model: model, tokenizer: tokenizer, index: full)
                return Stage(hits: hits, result: res)
            }
            return (st.hits, st.result)
        } catch let err as AttackContextError {
            unavailable["association"] = err.description
            return nil
        }
    }

    /// Untargeted extraction (prompts without any value's prefix); with a base model, the values
    /// the base produces under the same attack, for attribution. Nil (with the reason) when the
    /// context is too small.
    func untargetedExtraction() throws -> UntargetedResult? {
        do {
            progress?(.stage("untargeted extraction"))
            var baseLeaked: Set<String>?
            if let base = inputs.reference {
                progress?(.stage("untargeted extraction on the base model (lineage)"))
                baseLeaked = try checkpoint("untargeted_base") {
                    Set(try UntargetedExtraction.run(model: base, tokenizer: tokenizer, trainingKeys: trainingKeys, pretrainingKeys: nil,
                                                     reference: nil, promptText: inputs.promptText, types: types, settings: settings.untargeted,
                                                     hash: hash, reveal: false) { self.step($0, $1) }.values.map(\.id))
                }
                progress?(.stage("untargeted extraction"))
            }
            return try checkpoint("untargeted") {
                try UntargetedExtraction.run(model: model, tokenizer: tokenizer, trainingKeys: trainingKeys, pretrainingKeys: pretrainingKeys,
                                             baseLeaked: baseLeaked, reference: inputs.reference, promptText: inputs.promptText, types: types,
                                             settings: settings.untargeted, hash: hash, reveal: settings.revealPII) { self.step($0, $1) }
            }
        } catch let err as AttackContextError {
            unavailable["untargeted"] = err.description
            return nil
        }
    }
}
