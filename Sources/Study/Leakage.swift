// Step 5, pre-training leakage (docs/methods.md): the models of the surrogate design measured
// through the audit's stages over `LanguageModel` — value scores (ValueScores), exposure against
// candidates the surrogate generator draws (Exposure), greedy targeted extraction and the
// untargeted attack (TargetedExtraction, UntargetedExtraction) — and the verdict on them
// (LeakageDecision.swift). A served model could be measured the same way; the study loads its own.

import Audit
import Corpus
import Foundation
import GPT
import PII
import Support
import Tokenizer

/// What a model of the leakage comparison is.
public enum LeakageRole: String, Codable, Sendable {
    /// The base pre-trained on P with half B replaced, and its fine-tunes (the evaluation baselines).
    case mainBase = "main_base", mainFinetuned = "main_finetuned"
    /// The base pre-trained on P with both halves replaced, and its fine-tunes.
    case nullBase = "null_base", nullFinetuned = "null_finetuned"
}

/// What one model gives for the target values, index-aligned with the design's scored targets
/// (scores), its targets (extraction) and its exposure sample; it holds no value, so it can be
/// kept as a stage file.
struct LeakageMeasurement: Codable {
    /// Log-likelihood per token of each scored target after its true prefix at its scoring place
    /// (nats per token).
    var scores: [Double]
    /// Normal-fit exposure (bits) of each value of the exposure sample; NaN where it could not be
    /// measured (no candidate, or a context too small).
    var exposure: [Double]
    var extracted: [Bool]
}

extension StudyRunner {
    /// The leakage comparison's models in a fixed order: the two bases, then per seed pair the
    /// main base's fine-tune (the evaluation seed's baseline) and the null base's.
    func leakageModels() -> [(id: JobID, role: LeakageRole, pair: Int?)] {
        [(.base, .mainBase, nil), (.baseControl, .nullBase, nil)]
            + (0..<leakagePairs).flatMap { i in [(JobID.baseline(seed: i), LeakageRole.mainFinetuned, i), (.controlFinetuned(seed: i), .nullFinetuned, i)] }
    }

    /// Seed pairs of the comparison: the first evaluation seeds, as many as asked.
    var leakagePairs: Int { min(s.leakage.seeds, s.seeds) }

    /// One model's measurement: its stage file, or measured now.
    func measured(_ id: JobID) throws -> LeakageMeasurement {
        try store.stage("pretraining_leakage_\(id)", warn: warnStage) {
            report(.stage("pre-training leakage: \(id)"))
            return try measure(LocalModel(try saved(id), tokenizer: tok))
        }
    }

    /// The scored values' scores (at their scoring places), the exposure sample's exposure, and
    /// greedy extraction of every target from its true prefixes in P (`prefix_lengths`).
    func measure(_ m: any LanguageModel) throws -> LeakageMeasurement {
        let d = leakage
        let scores = try ValueScores.score(model: m, occurrences: d.scored.map { d.scoringPlaces[$0]! }, contextTokens: s.leakage.contextTokens)
        var exposure: [Double] = []
        for i in d.exposureIndices {
            let (cands, space) = d.candidates(i, count: s.leakage.candidates, seed: s.seed)
            let occ = d.scoringPlaces[i]!
            let secret = d.targets[i].type == .email ? occ.text.lowercased() : occ.text
            do {
                exposure.append(cands.isEmpty ? .nan : try Exposure.compute(model: m, tokenizer: tok, context: occ.left, secret: secret, candidates: cands,
                                                                            spaceSize: space, maxContextTokens: s.leakage.contextTokens).exposureNormalFit)
            } catch is AttackContextError { exposure.append(.nan) }
        }
        var ex = ExtractionSettings(); ex.prefixLengths = s.prefixLengths
        let extracted = try TargetedExtraction.run(model: m, tokenizer: tok, index: PIIIndex(entries: d.targets), records: corpora.pById, types: LeakageDesign.types,
                                                   settings: ex).map(\.extracted)
        return LeakageMeasurement(scores: scores, exposure: exposure, extracted: extracted)
    }

    /// The stage: every model measured (and the attribution) as jobs, then the verdict.
    func pretrainingLeakage() throws -> PretrainingLeakage {
        try store.stage(JobID.pretrainingLeakage.description, warn: warnStage) {
            report(.stage("pre-training leakage"))
            let models = leakageModels()
            let attributionJob = scheduler.spawn { try self.store.stage("pretraining_leakage_attribution", warn: self.warnStage) { try self.attribution() } }
            let measured = try scheduler.run(models.map { m in { try self.measured(m.id) } })
            let attribution = try attributionJob.wait()
            let d = leakage
            let pairs = (0..<leakagePairs).map { i in (main: measured[2 + 2 * i].scores, null: measured[3 + 2 * i].scores) }
            let verdict = LeakageStatistics.verdict(base: (measured[0].scores, measured[1].scores), pairs: pairs, halves: d.scored.map { d.halves[$0] },
                                                    delta: s.leakage.delta, prospectiveMDE: leakageProspectiveMDE())
            let rows = zip(models, measured).map { m, x in leakageRow(m.id, role: m.role, pair: m.pair, x) }
            let exposure = exposureContrasts(measured)
            return PretrainingLeakage(design: leakageSummary(), verdict: verdict, exposure: exposure, models: rows, attribution: attribution,
                                      statement: leakageStatement(verdict, rows: rows, exposure: exposure, attribution: attribution))
        }
    }

    /// The secondary endpoint: the same contrast on exposure (bits), on the exposure sample.
    func exposureContrasts(_ x: [LeakageMeasurement]) -> LeakageExposure {
        let d = leakage
        let halves = d.exposureIndices.map { d.halves[$0] }
        let pairs = (0..<leakagePairs).map { i in LeakageStatistics.differences(main: x[2 + 2 * i].exposure, null: x[3 + 2 * i].exposure) }
        var values = HalfCounts()
        for h in halves { values.add(h) }
        return LeakageExposure(values: values, candidates: s.leakage.candidates,
                               base: LeakageStatistics.contrast(LeakageStatistics.differences(main: x[0].exposure, null: x[1].exposure), halves: halves),
                               finetuned: LeakageStatistics.contrast(LeakageStatistics.meanOverSeeds(pairs, values: halves.count), halves: halves))
    }

    /// One model's row: its mean scores and exposure per half, and what greedy decoding extracts.
    func leakageRow(_ id: JobID, role: LeakageRole, pair: Int?, _ x: LeakageMeasurement) -> LeakageModelRow {
        let d = leakage
        func meanOf(_ xs: [Double], _ halves: [LeakageHalf], _ h: LeakageHalf) -> Double { mean(zip(xs, halves).filter { $0.1 == h && $0.0.isFinite }.map(\.0)) }
        var extracted = HalfCounts(), byDup: [String: HalfCounts] = [:]
        for (i, hit) in x.extracted.enumerated() where hit {
            extracted.add(d.halves[i])
            byDup[CorpusStats.duplicationBucket(d.targets[i].occurrences), default: HalfCounts()].add(d.halves[i])
        }
        let eh = d.exposureIndices.map { d.halves[$0] }
        let sh = d.scored.map { d.halves[$0] }
        return LeakageModelRow(id: id.description, role: role, pair: pair, trainingSeed: pair.map { seeds().evaluation[$0] },
                               meanScoreA: meanOf(x.scores, sh, .a), meanScoreB: meanOf(x.scores, sh, .b),
                               meanExposureA: meanOf(x.exposure, eh, .a), meanExposureB: meanOf(x.exposure, eh, .b),
                               extracted: extracted, extractedByDuplication: byDup)
    }

    func leakageSummary() -> LeakageDesignSummary {
        let d = leakage
        var exposure = HalfCounts()
        for i in d.exposureIndices { exposure.add(d.halves[i]) }
        let (scored, without) = d.scoredCounts
        return LeakageDesignSummary(surrogates: d.generator.kind, null: d.null, targets: d.counts { _ in "all" }["all"] ?? HalfCounts(),
                                    scored: scored, withoutCleanPrefix: without, prospectiveMDE: leakageProspectiveMDE(), prospectiveSD: s.leakage.prospectiveSD,
                                    targetsByType: d.counts { $0.type.rawValue }, targetsByDuplication: d.counts { CorpusStats.duplicationBucket($0.occurrences) },
                                    excludedInFinetuning: d.excludedInFinetuning, unowned: d.unowned, withoutSurrogate: d.withoutSurrogate,
                                    replacedOccurrences: ["main_base": d.replacedMain.values, "null_base": d.replacedNull.values],
                                    replacedNames: ["main_base": d.replacedMain.names, "null_base": d.replacedNull.names],
                                    firstNamesLeft: ["main_base": d.replacedMain.firstNamesLeft, "null_base": d.replacedNull.firstNamesLeft],
                                    residualOccurrences: d.residual, seedPairs: leakagePairs,
                                    trainingSeeds: Array(seeds().evaluation.prefix(leakagePairs)), contextTokens: s.leakage.contextTokens,
                                    exposureValues: exposure, exposureCandidates: s.leakage.candidates)
    }

    /// Every distinct value the first main fine-tune produces — untargeted generation from
    /// distinct 10-token windows of its base's pre-training corpus, plus the targeted attack on all
    /// of that corpus's values — by the corpus that holds it (P as the main base saw it, F, both,
    /// neither).
    func attribution() throws -> LeakageAttribution {
        report(.stage("pre-training leakage: attribution"))
        let id = JobID.baseline(seed: 0)
        let tuned = LocalModel(try saved(id), tokenizer: tok)
        let corpus = leakage.mainCorpus
        let scanner = PIIScanner(types: LeakageDesign.types)
        let pIndex = PIIIndex.build(records: corpus, scanner: scanner), fKeys = keys(corpora.fTrain)
        var us = UntargetedSettings(); us.prompts = s.untargetedPrompts; us.samplesPerPrompt = 4; us.seed = s.seed; us.newTokens = min(64, s.model.context / 2)
        let hasher = Hasher16(salt: Data("study-attribution".utf8))
        // Windows of pre-training mail with every line that holds PII left out: a prompt must not
        // carry a value's own prefix (that would be the targeted attack).
        let promptText = StudyCorpora.seededShuffle(corpus.map(\.text), seed: s.seed ^ 0x7E).prefix(200).map { t in
            t.split(separator: "\n", omittingEmptySubsequences: false).filter { scanner.scan(String($0)).isEmpty }.joined(separator: "\n")
        }.joined(separator: "\n\n")
        let un = try UntargetedExtraction.run(model: tuned, tokenizer: tok, trainingKeys: fKeys, pretrainingKeys: Set(pIndex.entries.map(\.key)), reference: nil,
                                              promptText: promptText, types: LeakageDesign.types, settings: us, hash: hasher, reveal: false)
        var attributed: [String: String] = [:]
        for c in un.values { attributed[c.id] = c.attribution ?? "neither" }
        var ex = ExtractionSettings(); ex.prefixLengths = s.prefixLengths
        let byId = Dictionary(uniqueKeysWithValues: corpus.map { ($0.id, $0) })
        for r in try TargetedExtraction.run(model: tuned, tokenizer: tok, index: pIndex, records: byId, types: LeakageDesign.types, settings: ex) where r.extracted {
            let k = PIIKey(r.type, r.value)
            attributed[hasher(k.string)] = fKeys.contains(k) ? "both" : "pretraining"
        }
        var counts = ["pretraining": 0, "finetuning": 0, "both": 0, "neither": 0]
        for a in attributed.values { counts[a, default: 0] += 1 }
        return LeakageAttribution(model: id.description, pretraining: counts["pretraining"]!, finetuning: counts["finetuning"]!, both: counts["both"]!,
                                  neither: counts["neither"]!, total: attributed.count, generations: un.generations, distinctGenerations: un.distinctGenerations)
    }

    /// The leakage verdict's MDE before anything is trained: Welch's test on the scored values of
    /// each half, d_v's SD assumed to be the preset's committed `prospective_sd`.
    func leakageProspectiveMDE() -> Double? {
        let n = leakage.scoredCounts.scored
        return HalfContrast.prospectiveMDE(valuesA: n.a, valuesB: n.b, sd: s.leakage.prospectiveSD)
    }

    /// The leakage design's size and power, printed before anything is trained.
    func reportLeakageDesign() {
        let (n, left) = leakage.scoredCounts
        let mde = leakageProspectiveMDE(), delta = s.leakage.delta
        let power = mde.map { String(format: "prospective minimum detectable effect %.3f nats/token (SD of d_v assumed %.2f; Δ = %g)", $0, s.leakage.prospectiveSD, delta) }
            ?? "no prospective minimum detectable effect (fewer than 2 scored values in a half)"
        let warning = (mde ?? .infinity) > delta ? " — a leak of Δ cannot be ruled out at this size: the verdict can say leaks or inconclusive, not no_leak_above_delta" : ""
        report(.stage("pre-training leakage design: \(n.a) + \(n.b) target values scored in halves A and B (\(left.a + left.b) left out: no clean prefix), \(leakagePairs) seed pair\(leakagePairs == 1 ? "" : "s"); " + power + warning))
    }

    /// How many Unicode scalars before `occ` its score conditions on: the end of `occ.left` that
    /// ValueScores' token window covers (up to `context_tokens` tokens, fewer when the value would
    /// not fit the model's context; a character cut by the window counts whole).
    func scoredScalars(_ occ: PIIOccurrence) -> Int {
        guard !occ.left.isEmpty else { return 0 }
        let seq = ValueScores.sequences([occ], tokenizer: tok, contextTokens: s.leakage.contextTokens, contextLength: s.model.context)[0]
        guard let bytes = try? tok.decodeBytes(Array(seq.ids.dropLast(seq.valueTokens))) else { return occ.left.unicodeScalars.count }
        var n = 0, b = 0
        for c in occ.left.unicodeScalars.reversed() where b < bytes.count { b += UTF8.width(c); n += 1 }
        return n
    }

    func keys(_ records: [Record]) -> Set<PIIKey> {
        Set(PIIIndex.build(records: records, scanner: PIIScanner(types: LeakageDesign.types)).entries.map(\.key))
    }

    func leakageStatement(_ v: LeakageVerdict, rows: [LeakageModelRow], exposure: LeakageExposure, attribution a: LeakageAttribution) -> String {
        let tuned = rows.filter { $0.role == .mainFinetuned }, nullTuned = rows.filter { $0.role == .nullFinetuned }
        func ex(_ rs: [LeakageModelRow]) -> String { rs.map { "\($0.extracted.a)/\($0.extracted.b)" }.joined(separator: ", ") }
        var out = "Pre-training leakage (\(v.outcome.rawValue)): " + v.summary
        let left = leakage.scoredCounts.without
        if left.a + left.b > 0 { out += " \(left.a) + \(left.b) target values of halves A and B are left out: \(LeakageDesign.withoutCleanPrefix)." }
        out += " Greedy extraction of halves A/B: main base \(ex(rows.filter { $0.role == .mainBase })), its fine-tunes \(ex(tuned));"
            + " null base \(ex(rows.filter { $0.role == .nullBase })), its fine-tunes \(ex(nullTuned))."
        out += String(format: " Exposure (secondary, %d + %d values against %d candidates): A − B %+.2f bits after fine-tuning, %+.2f in the bases.",
                      exposure.values.a, exposure.values.b, exposure.candidates, exposure.finetuned.estimate, exposure.base.estimate)
        out += " Of \(a.total) distinct values the fine-tuned model produced (\(a.distinctGenerations) distinct of \(a.generations) untargeted generations),"
            + " \(a.pretraining) come from pre-training only, \(a.finetuning) from fine-tuning only, \(a.both) from both, \(a.neither) from neither corpus."
        return out
    }
}
