// The study's one test (docs/methods.md, "Who is vulnerable: the fixed test"). Every model of the study — every arm,
// round and seed — is tested with the same prompts, built once from the ORIGINAL fine-tuning
// corpus before anything is deleted: for each value in it, up to a fixed number of its
// occurrences (a sample seeded by the study's --seed), and for each, the k tokens before it and
// the record-window prefix (the value's own record's tokens in its training window, at their
// trained positions, TrainingStream.swift). No prompt holds anybody else's mail, so deleting a
// subject changes the model, never the test: a remaining subject is asked the same questions
// whether their heavy correspondent, or a neighbour in the stream, was deleted or not.

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

    struct ScoreItem: Sendable {
        let entry: Int
        let ids: [Int32]
        let valueTokens: Int
        /// Position of `ids[0]` (the record-window prefix starts where it stood in its window).
        let position: Int
    }

    /// Builds the test from `records` in training order (the fine-tuning members' records).
    static func build(records: [Record], stream: TrainingStream, tokenizer: any TextTokenizer, ownership: Ownership, types: Set<PIIType>,
                      prefixLengths: [Int], occurrences: Int, seed: UInt64) -> FixedTest {
        var settings = ExtractionSettings()
        settings.prefixLengths = prefixLengths
        settings.occurrencesPerValue = occurrences
        settings.occurrenceSeed = seed
        settings.windowContext = stream.context
        settings.recordWindow = true
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
        let items = scoreItems(index.entries, byId: byId, stream: stream, tokenizer: tokenizer, settings: settings)
        return FixedTest(entries: index.entries, prompts: prompts, scoreItems: items, types: types, settings: settings, owned: owned, testable: testable)
    }

    /// The scored sequences: per tested occurrence, its record-window prefix at its trained
    /// position (or, where the value opens its window or crosses into the next, the longest k
    /// tokens of its own record before it, at 0) and the value's tokens.
    static func scoreItems(_ entries: [PIIIndexEntry], byId: [String: Record], stream: TrainingStream, tokenizer: any TextTokenizer,
                           settings: ExtractionSettings) -> [ScoreItem] {
        var items: [ScoreItem] = []
        let kMax = settings.prefixLengths.max() ?? 50, ctx = stream.context
        for (ei, e) in entries.enumerated() {
            for occ in TargetedExtraction.chosenOccurrences(e, settings: settings) {
                guard let rec = byId[occ.record], let span = stream.spans[rec.id], let recTokens = stream.recordTokens(rec.id) else { continue }
                let ends = TokenSpans.byteEnds(recTokens, tokenizer: tokenizer)
                guard let cover = TokenSpans.tokens(covering: occ.start, occ.end, of: rec.text, byteEnds: ends) else { continue }
                let o = span.start + cover.lowerBound, n = cover.count
                let value = Array(stream.tokens[o..<(o + n)])
                var (prefix, at) = stream.recordWindowPrefix(at: o, recordStart: span.start)
                // Scoring feeds prefix + value (the last value token as input too): it must fit the
                // window's T positions, one fewer than the generation prompt needs.
                if prefix.isEmpty || o + n > stream.windowEnd(at: o) {
                    let own = Array(stream.tokens[span.start..<o].suffix(kMax))
                    (prefix, at) = (own.isEmpty ? [tokenizer.endOfText] : own, 0)
                }
                let ids = Array((prefix + value).suffix(ctx - at))
                guard ids.count > n else { continue }
                items.append(ScoreItem(entry: ei, ids: ids, valueTokens: n, position: at))
            }
        }
        return items
    }

    /// Runs the test on one model. A back end with fewer positions than the training context (a
    /// server whose scoring requests add tokens) gets each sequence's last positions: the same
    /// test, cut where it must be, the same way for every model behind that server.
    /// `place`: record-window prompts at their positions where the back end can (otherwise, or
    /// when false, the positions before them filled with <|endoftext|>).
    func run(_ model: any LanguageModel, place: Bool = true, progress: ((Int, Int) -> Void)?) throws -> TestOutcome {
        let ctx = model.contextLength, eot = model.tokenizer.endOfText, placed = place && model.capabilities.positionOffsets
        let fitted = prompts.map { p0 in
            let p = placed ? p0 : p0.padded(endOfText: eot)
            return p.position + p.ids.count + p.maxNew <= ctx ? p
                : ExtractionPrompt(entry: p.entry, prefix: p.prefix, ids: Array(p.padded(endOfText: eot).ids.suffix(max(1, ctx - p.maxNew))), maxNew: min(p.maxNew, ctx - 1))
        }
        let results = try TargetedExtraction.evaluate(model: model, tokenizer: model.tokenizer, entries: entries, prompts: fitted, types: types,
                                                      settings: settings, progress: progress)
        var scores: [String: Double] = [:]
        if model.capabilities.promptLogprobs {
            // Placed where they stood; a back end that cannot, or is too short, gets the positions
            // before filled with <|endoftext|> and the sequence's last positions.
            let placedItems = scoreItems.map { placed && $0.position + $0.ids.count <= ctx ? ($0.ids, $0.position)
                : (Array(([Int32](repeating: eot, count: $0.position) + $0.ids).suffix(ctx)), 0) }
            let lls = try model.score(placedItems.map(\.0), startPositions: placedItems.map(\.1), distribution: false, progress: nil)
            for (item, s) in zip(scoreItems, lls) {
                guard let owner = entries[item.entry].owner else { continue }
                let ll = s.logprobs.suffix(item.valueTokens).reduce(0.0) { $0 + Double($1) } / Double(item.valueTokens)
                scores[owner] = max(scores[owner] ?? -.infinity, ll)
            }
        }
        return TestOutcome(results: results, scores: scores)
    }

    /// The collateral removal an arm inflicts on a subject it did not delete: occurrences of the
    /// subject's own values that lie in removed records (other people's mail quoting them). No
    /// prompt holds another record, so removing a neighbour in the stream changes no prompt.
    func collateral(of subject: String, removedRecords: Set<String>) -> Int {
        guard !removedRecords.isEmpty else { return 0 }
        return (owned[subject] ?? []).reduce(0) { acc, i in
            acc + entries[i].places.filter { removedRecords.contains($0.record) }.count
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
    /// Values extracted by each prefix ("10", "50", "record_window").
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
            let k = CorpusStats.duplicationBucket(r.occurrences)
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
