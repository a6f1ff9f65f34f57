// Targeted (true-prefix) extraction, Carlini et al. 2023 k-extractability applied to PII, and
// Huang et al. 2022's context attack: prompt with the k tokens before an occurrence of a value,
// decode greedily (and with seeded top-k samples), and count a hit when the continuation holds
// the same normalised value.

import Corpus
import Foundation
import GPT
import PII
import Tokenizer

public struct ExtractionSettings: Codable, Sendable {
    /// Prefix lengths in tokens.
    public var prefixLengths: [Int] = [10, 50]
    /// Seeded top-k samples per prompt in addition to the greedy continuation.
    public var samples = 0
    public var topK = 40
    /// Tokens decoded beyond the value's own length.
    public var margin = 8
    public var seed: UInt64 = 0
    /// At most this many occurrences per value are tried (the first ones).
    public var occurrencesPerValue = 3
    /// Prompts per generation batch.
    public var batch = 32
    public init() {}
    enum CodingKeys: String, CodingKey {
        case samples, margin, seed, batch
        case prefixLengths = "prefix_lengths", topK = "top_k", occurrencesPerValue = "occurrences_per_value"
    }
}

public struct ExtractionResult: Codable, Sendable {
    public var type: PIIType
    public var value: String
    public var owner: String?
    public var occurrences: Int
    /// Smallest prefix length (tokens) whose greedy continuation reproduced the value.
    public var smallestExtractingK: Int?
    public var greedyHits: [String: Bool]
    /// Fraction of samples (over tried occurrences and prefix lengths) that reproduced it.
    public var sampleHitRate: Double?
    /// Greedy prompts tried (occurrences × prefix lengths that fit): 0 means the value was not
    /// tested at all (e.g. it opens every record it occurs in), never "not extracted".
    public var prompts: Int
    public var extracted: Bool { smallestExtractingK != nil || (sampleHitRate ?? 0) > 0 }

    enum CodingKeys: String, CodingKey {
        case type, value, owner, occurrences
        case smallestExtractingK = "smallest_extracting_k", greedyHits = "greedy_hits", sampleHitRate = "sample_hit_rate", prompts
    }
}

/// One prompt of the targeted attack: the k tokens before an occurrence of entry `entry`.
public struct ExtractionPrompt: Sendable {
    public let entry: Int
    public let k: Int
    public let ids: [Int32]
    /// The value's own token count plus the margin (bounded by the context).
    public let maxNew: Int
}

/// An attack that cannot run on this model because its context is too short for the attack's
/// prompts and generations (a hostile or tiny config): the attack fails with this, by name.
public struct AttackContextError: Error, CustomStringConvertible {
    public let attack: String, needed: Int, context: Int
    public init(attack: String, needed: Int, context: Int) { self.attack = attack; self.needed = needed; self.context = context }
    public var description: String {
        "\(attack): the model's context of \(context) tokens is too small for this attack (it needs at least \(needed))"
    }
}

public enum TargetedExtraction {
    /// The attack's prompts: for each entry's first occurrences and each prefix length, the k
    /// tokens before the occurrence (<|endoftext|> when it opens the record).
    public static func prompts(entries: [PIIIndexEntry], records: [String: Record], tokenizer: any TextTokenizer, contextLength ctx: Int,
                               settings: ExtractionSettings) -> [ExtractionPrompt] {
        var prompts: [ExtractionPrompt] = []
        for (ei, e) in entries.enumerated() {
            for occ in e.places.prefix(settings.occurrencesPerValue) {
                guard let rec = records[occ.record] else { continue }
                let scalars = Array(rec.text.unicodeScalars)
                var left = String.UnicodeScalarView(); left.append(contentsOf: scalars[0..<occ.start])
                let leftIds = tokenizer.encode(String(left))
                let valueLen = tokenizer.encode(occ.text).count
                for k in settings.prefixLengths where leftIds.count >= min(k, 1) {
                    var ids = Array(leftIds.suffix(k))
                    if ids.isEmpty { ids = [tokenizer.endOfText] }
                    let maxNew = min(valueLen + settings.margin, ctx - ids.count - 1)
                    if maxNew > 0 { prompts.append(ExtractionPrompt(entry: ei, k: k, ids: ids, maxNew: maxNew)) }
                }
            }
        }
        return prompts
    }

    /// Runs the attack on every indexed value of the given types; `progress` gets (done, total) prompts.
    public static func run(model: GPT, tokenizer: any TextTokenizer, index: PIIIndex, records: [String: Record],
                           types: Set<PIIType>, settings: ExtractionSettings, progress: ((Int, Int) -> Void)? = nil) throws -> [ExtractionResult] {
        try run(model: LocalModel(model, tokenizer: tokenizer), tokenizer: tokenizer, index: index, records: records, types: types, settings: settings, progress: progress)
    }

    public static func run(model: any LanguageModel, tokenizer: any TextTokenizer, index: PIIIndex, records: [String: Record],
                           types: Set<PIIType>, settings: ExtractionSettings, progress: ((Int, Int) -> Void)? = nil) throws -> [ExtractionResult] {
        let scanner = PIIScanner(types: types)
        let entries = index.entries.filter { types.contains($0.type) }
        let prompts = Self.prompts(entries: entries, records: records, tokenizer: tokenizer, contextLength: model.contextLength, settings: settings)
        var greedy = [[Int: Bool]](repeating: [:], count: entries.count)
        var sampleHits = [Int](repeating: 0, count: entries.count), sampleTries = [Int](repeating: 0, count: entries.count)
        let gen = model
        var done = 0
        var start = 0
        while start < prompts.count {
            let batch = Array(prompts[start..<min(prompts.count, start + settings.batch)])
            let maxNew = batch.map(\.maxNew).max()!
            let outs = try gen.generate(prompts: batch.map(\.ids), .greedy(maxNew), endOfText: nil)
            for (p, o) in zip(batch, outs) {
                let text = (try? tokenizer.decode(Array(o.prefix(p.maxNew)))) ?? ""
                let hit = hits(text, entries[p.entry], scanner)
                greedy[p.entry][p.k] = (greedy[p.entry][p.k] ?? false) || hit
            }
            if settings.samples > 0 {
                var sp = SamplingParameters(maxNewTokens: maxNew, temperature: 1, topK: settings.topK, seed: settings.seed &+ UInt64(start))
                sp.stopAtEndOfText = false
                let rep = batch.flatMap { Array(repeating: $0.ids, count: settings.samples) }
                let souts = try gen.generate(prompts: rep, sp, endOfText: nil)
                for (j, o) in souts.enumerated() {
                    let p = batch[j / settings.samples]
                    let text = (try? tokenizer.decode(Array(o.prefix(p.maxNew)))) ?? ""
                    sampleTries[p.entry] += 1
                    if hits(text, entries[p.entry], scanner) { sampleHits[p.entry] += 1 }
                }
            }
            done += batch.count
            progress?(done, prompts.count)
            start += settings.batch
        }
        var promptCount = [Int](repeating: 0, count: entries.count)
        for p in prompts { promptCount[p.entry] += 1 }
        return entries.enumerated().map { i, e in
            let ks = greedy[i].filter(\.value).keys.sorted()
            return ExtractionResult(type: e.type, value: e.value, owner: e.owner, occurrences: e.occurrences, smallestExtractingK: ks.first,
                                    greedyHits: Dictionary(uniqueKeysWithValues: greedy[i].map { ("\($0.key)", $0.value) }),
                                    sampleHitRate: settings.samples > 0 ? Double(sampleHits[i]) / Double(max(1, sampleTries[i])) : nil, prompts: promptCount[i])
        }
    }

    /// The continuation holds the value: same normalised key among its detected PII, or (for
    /// values a detector cannot see without context, e.g. names) the literal value.
    static func hits(_ text: String, _ e: PIIIndexEntry, _ scanner: PIIScanner) -> Bool {
        if scanner.scan(text).contains(where: { $0.type == e.type && $0.normalized == e.value }) { return true }
        return e.type == .person && text.lowercased().contains(e.value)
    }
}
