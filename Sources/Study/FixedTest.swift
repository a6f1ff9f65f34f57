// The study's one test (docs/methods.md, "The fixed test"). Every model of the study — every arm,
// round and seed — is tested with the same prompts, built once from the ORIGINAL fine-tuning
// corpus before anything is deleted: for each value in it, up to a fixed number of its
// occurrences (a sample seeded by the study's --seed), and for each, the k tokens before it and
// the position-aligned prefix (the training window's tokens before it, TrainingStream.swift).
// Deleting a subject therefore changes the model, never the test: a remaining subject is asked
// the same questions whether their heavy correspondent was deleted or not.

import Audit
import Corpus
import Foundation
import PII
import Tokenizer

struct FixedTest: Sendable {
    /// Every value of the fine-tuning corpus, owners fixed before any deletion.
    let entries: [PIIIndexEntry]
    let prompts: [ExtractionPrompt]
    /// One scored sequence per chosen occurrence: its aligned prefix (or, where the value opens
    /// its window or crosses into the next, the longest k prefix) and the value's tokens.
    let scoreItems: [ScoreItem]
    let types: Set<PIIType>
    let settings: ExtractionSettings
    /// Subject → indices of the entries they own.
    let owned: [String: [Int]]
    /// Subjects owning at least one value with a prompt: who could be vulnerable at all.
    let testable: Set<String>
    /// Entry → the records whose tokens stand in the window prefixes of its tested occurrences
    /// (other people's mail before the value in the same window): an arm that removes one of them
    /// changes what the model saw before the value, even though the value itself stays.
    let contextRecords: [Int: Set<String>]

    struct ScoreItem: Sendable {
        let entry: Int
        let ids: [Int32]
        let valueTokens: Int
    }

    /// Builds the test from `records` in training order (the fine-tuning members' records).
    static func build(records: [Record], stream: TrainingStream, tokenizer: any TextTokenizer, ownership: Ownership, types: Set<PIIType>,
                      prefixLengths: [Int], occurrences: Int, seed: UInt64) -> FixedTest {
        var settings = ExtractionSettings()
        settings.prefixLengths = prefixLengths
        settings.occurrencesPerValue = occurrences
        settings.occurrenceSeed = seed
        settings.windowContext = stream.context
        settings.seed = seed
        var index = PIIIndex.build(records: records, scanner: PIIScanner(types: types))
        index.entries.sort { ($0.occurrences, $1.value) > ($1.occurrences, $0.value) }
        for i in index.entries.indices { index.entries[i].owner = ownership.owner(of: index.entries[i].key) }
        let byId = Dictionary(records.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        let prompts = TargetedExtraction.prompts(entries: index.entries, records: byId, tokenizer: tokenizer, contextLength: stream.context,
                                                 settings: settings, stream: stream)
        var owned: [String: [Int]] = [:]
        for (i, e) in index.entries.enumerated() { if let o = e.owner { owned[o, default: []].append(i) } }
        let prompted = Set(prompts.map(\.entry))
        let testable = Set(owned.filter { $0.value.contains(where: prompted.contains) }.keys)
        let (items, context) = scoreItems(index.entries, records: records, byId: byId, stream: stream, tokenizer: tokenizer, settings: settings)
        return FixedTest(entries: index.entries, prompts: prompts, scoreItems: items, types: types, settings: settings, owned: owned, testable: testable,
                         contextRecords: context)
    }

    /// The scored sequences, and each entry's context records (the other records inside the window
    /// prefixes of its tested occurrences).
    static func scoreItems(_ entries: [PIIIndexEntry], records: [Record], byId: [String: Record], stream: TrainingStream, tokenizer: any TextTokenizer,
                           settings: ExtractionSettings) -> ([ScoreItem], [Int: Set<String>]) {
        var items: [ScoreItem] = [], context: [Int: Set<String>] = [:]
        let starts = records.compactMap { r in stream.spans[r.id].map { ($0.start, r.id) } }.sorted { $0.0 < $1.0 }
        func record(at o: Int) -> String? {
            var lo = 0, hi = starts.count - 1, found: String?
            while lo <= hi { let m = (lo + hi) / 2; if starts[m].0 <= o { found = starts[m].1; lo = m + 1 } else { hi = m - 1 } }
            return found
        }
        let kMax = settings.prefixLengths.max() ?? 50, ctx = stream.context
        for (ei, e) in entries.enumerated() {
            for occ in TargetedExtraction.chosenOccurrences(e, settings: settings) {
                guard let rec = byId[occ.record], let span = stream.spans[rec.id], let recTokens = stream.recordTokens(rec.id) else { continue }
                let ends = TokenSpans.byteEnds(recTokens, tokenizer: tokenizer)
                guard let cover = TokenSpans.tokens(covering: occ.start, occ.end, of: rec.text, byteEnds: ends) else { continue }
                let o = span.start + cover.lowerBound, n = cover.count
                var at = (o / stream.context) * stream.context
                while at < span.start, let id = record(at: at), let sp = stream.spans[id] {
                    if id != rec.id { context[ei, default: []].insert(id) }
                    at = sp.start + sp.count + 1
                }
                let value = Array(stream.tokens[o..<(o + n)])
                var prefix = Array(stream.windowPrefix(at: o))
                // Scoring feeds prefix + value (the last value token as input too): it must fit the
                // window's T positions, one fewer than the generation prompt needs.
                if prefix.isEmpty || o + n > stream.windowEnd(at: o) {
                    prefix = o > 0 ? Array(stream.tokens[max(0, o - kMax)..<o]) : [tokenizer.endOfText]
                }
                let ids = Array((prefix + value).suffix(ctx))
                guard ids.count > n else { continue }
                items.append(ScoreItem(entry: ei, ids: ids, valueTokens: n))
            }
        }
        return (items, context)
    }

    /// Runs the test on one model. A back end with fewer positions than the training context (a
    /// server whose scoring requests add tokens) gets each sequence's last positions: the same
    /// test, cut where it must be, the same way for every model behind that server.
    func run(_ model: any LanguageModel, progress: ((Int, Int) -> Void)?) throws -> TestOutcome {
        let ctx = model.contextLength
        let fitted = prompts.map { p in
            p.ids.count + p.maxNew <= ctx ? p : ExtractionPrompt(entry: p.entry, prefix: p.prefix, ids: Array(p.ids.suffix(max(1, ctx - p.maxNew))), maxNew: min(p.maxNew, ctx - 1))
        }
        let results = try TargetedExtraction.evaluate(model: model, tokenizer: model.tokenizer, entries: entries, prompts: fitted, types: types,
                                                      settings: settings, progress: progress)
        var scores: [String: Double] = [:]
        if model.capabilities.promptLogprobs {
            let lls = try model.score(scoreItems.map { Array($0.ids.suffix(ctx)) })
            for (item, s) in zip(scoreItems, lls) {
                guard let owner = entries[item.entry].owner else { continue }
                let ll = s.logprobs.suffix(item.valueTokens).reduce(0.0) { $0 + Double($1) } / Double(item.valueTokens)
                scores[owner] = max(scores[owner] ?? -.infinity, ll)
            }
        }
        return TestOutcome(results: results, scores: scores)
    }

    /// The collateral removal an arm inflicts on a subject it did not delete: occurrences of the
    /// subject's own values that lie in removed records, plus the subject's tested values whose
    /// window prefix holds a removed record (the prompt then differs from what the arm trained on).
    func collateral(of subject: String, removedRecords: Set<String>) -> Int {
        guard !removedRecords.isEmpty else { return 0 }
        return (owned[subject] ?? []).reduce(0) { acc, i in
            acc + entries[i].places.filter { removedRecords.contains($0.record) }.count
                + ((contextRecords[i] ?? []).isDisjoint(with: removedRecords) ? 0 : 1)
        }
    }

    /// Prompts by prefix label.
    var promptsByPrefix: [String: Int] {
        var out: [String: Int] = [:]
        for p in prompts { out[p.prefix.label, default: 0] += 1 }
        return out
    }
}

/// One model's answers to the fixed test. Subjects are owners (training members, held-out or
/// removed subjects alike); the analysis decides who counts.
struct TestOutcome: Codable, Sendable {
    /// Owners with at least one of their own values extracted.
    var vulnerable: [String]
    /// Each owner's extraction score: the highest log-likelihood per token of one of their
    /// values after its prompt (the secondary endpoint).
    var scores: [String: Double]
    /// Owners of the extracted values, one entry per value; and of every tested value.
    var extractedOwners: [String]
    var valueOwners: [String]
    var unownedExtracted: Int
    var extractedValues: Int
    var values: Int
    /// Values extracted by each prefix ("10", "50", "window").
    var extractedByPrefix: [String: Int]
    var byDuplication: [String: [String: Int]]

    init(results: [ExtractionResult], scores: [String: Double]) {
        let extracted = results.filter(\.extracted)
        vulnerable = Array(Set(extracted.compactMap(\.owner))).sorted()
        self.scores = scores
        extractedOwners = extracted.compactMap(\.owner)
        valueOwners = results.compactMap(\.owner)
        unownedExtracted = extracted.filter { $0.owner == nil }.count
        extractedValues = extracted.count
        values = results.count
        var byPrefix: [String: Int] = [:], byDup: [String: [String: Int]] = [:]
        for r in results {
            for label in r.extractedBy { byPrefix[label, default: 0] += 1 }
            let k = r.occurrences == 1 ? "1" : r.occurrences <= 5 ? "2-5" : r.occurrences <= 20 ? "6-20" : ">20"
            byDup[k, default: ["values": 0, "extracted": 0]]["values", default: 0] += 1
            if r.extracted { byDup[k, default: [:]]["extracted", default: 0] += 1 }
        }
        extractedByPrefix = byPrefix; byDuplication = byDup
    }

    func mapSubjects(_ f: (String) -> String?) -> TestOutcome? {
        func all(_ xs: [String]) -> [String]? { let ys = xs.compactMap(f); return ys.count == xs.count ? ys : nil }
        var scoresOut: [String: Double] = [:]
        for (k, v) in scores { guard let m = f(k) else { return nil }; scoresOut[m] = v }
        guard let v = all(vulnerable), let e = all(extractedOwners), let o = all(valueOwners) else { return nil }
        var r = self
        r.vulnerable = v.sorted(); r.scores = scoresOut; r.extractedOwners = e; r.valueOwners = o
        return r
    }
}
