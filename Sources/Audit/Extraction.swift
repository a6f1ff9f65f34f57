// Targeted (true-prefix) extraction, Carlini et al. 2023 k-extractability applied to PII, and
// Huang et al. 2022's context attack: prompt with the k tokens before an occurrence of a value,
// decode greedily (and with seeded top-k samples), and count a hit when the continuation holds
// the same normalised value.

import Corpus
import Foundation
import GPT
import PII
import Support
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
    /// Also prompt with the record's own tokens from its start up to the value, after
    /// <|endoftext|> (the record as the first document of a window).
    public var recordStart: Bool?
    /// Training windows of this many tokens at stride T (the training context): prompt with the
    /// position-aligned prefix — the window's tokens before the value, at their trained positions
    /// (TrainingStream.swift). Needs the records in training order.
    public var windowContext: Int?
    /// With `windowContext`: the aligned prefix holds only the value's own record — its tokens in
    /// the window before the value, after the <|endoftext|> that opens it when that lies in the
    /// window — at their trained positions, with nothing before them ("record_window"). Other
    /// people's mail sharing the window is left out, so removing it from training (a study arm)
    /// does not change the prompt. Needs a back end that places prompts at a position
    /// (`ModelCapabilities.positionOffsets`); others get the positions before it filled with
    /// <|endoftext|>.
    public var recordWindow: Bool?
    /// Which occurrences are tried: nil, the first `occurrencesPerValue`; a seed, a seeded sample
    /// of them (the study's fixed test).
    public var occurrenceSeed: UInt64?
    public init() {}
    enum CodingKeys: String, CodingKey {
        case samples, margin, seed, batch
        case prefixLengths = "prefix_lengths", topK = "top_k", occurrencesPerValue = "occurrences_per_value"
        case recordStart = "record_start", windowContext = "window_context", occurrenceSeed = "occurrence_seed", recordWindow = "record_window"
    }
}

public struct ExtractionResult: Codable, Sendable {
    public var type: PIIType
    public var value: String
    public var owner: String?
    public var occurrences: Int
    /// Smallest prefix length (tokens) whose greedy continuation reproduced the value.
    public var smallestExtractingK: Int?
    /// Per prefix tried (`PromptPrefix.label`: "10", "50", "record_start", "window"): whether a
    /// greedy continuation from it reproduced the value.
    public var greedyHits: [String: Bool]
    /// Fraction of samples (over tried occurrences and prefix lengths) that reproduced it.
    public var sampleHitRate: Double?
    /// Greedy prompts tried (occurrences × prefix lengths that fit): 0 means the value was not
    /// tested at all (e.g. it opens every record it occurs in), never "not extracted".
    public var prompts: Int
    public var extracted: Bool { greedyHits.values.contains(true) || (sampleHitRate ?? 0) > 0 }
    /// The prefixes whose greedy continuation reproduced the value, in `PromptPrefix` order.
    public var extractedBy: [String] { greedyHits.filter(\.value).keys.sorted { PromptPrefix.order($0) < PromptPrefix.order($1) } }

    enum CodingKeys: String, CodingKey {
        case type, value, owner, occurrences
        case smallestExtractingK = "smallest_extracting_k", greedyHits = "greedy_hits", sampleHitRate = "sample_hit_rate", prompts
    }
}

/// What a prompt of the targeted attack holds before the value.
public enum PromptPrefix: Sendable, Hashable {
    /// The k tokens before the occurrence (Carlini et al.'s k-extractability), at positions 0…k−1.
    case tokens(Int)
    /// <|endoftext|> and the record's tokens from its start up to the value.
    case recordStart
    /// The training window's tokens before the value, at their trained positions.
    case window
    /// The value's own record's tokens in its window (after the <|endoftext|> opening it, when
    /// that lies in the window), at their trained positions, with nothing before them.
    case recordWindow

    public var label: String {
        switch self {
        case .tokens(let k): return "\(k)"
        case .recordStart: return "record_start"
        case .window: return "window"
        case .recordWindow: return "record_window"
        }
    }
    /// Report order: k prefixes by length, then record start, record window, window.
    static func order(_ label: String) -> Int {
        Int(label) ?? ["record_start": Int.max - 2, "record_window": Int.max - 1][label] ?? Int.max
    }
}

/// One prompt of the targeted attack: a prefix before an occurrence of entry `entry`.
public struct ExtractionPrompt: Sendable {
    public let entry: Int
    public let prefix: PromptPrefix
    public let ids: [Int32]
    /// The value's own token count plus the margin (bounded by the context).
    public let maxNew: Int
    /// Position of the prompt's first token (a record-window prompt starts where its tokens
    /// stood in the training window; every other prompt at 0).
    public let position: Int
    /// The k of a k-token prefix (nil for the aligned prefixes).
    public var k: Int? { if case .tokens(let k) = prefix { return k } else { return nil } }
    public init(entry: Int, prefix: PromptPrefix, ids: [Int32], maxNew: Int, position: Int = 0) {
        self.entry = entry; self.prefix = prefix; self.ids = ids; self.maxNew = maxNew; self.position = position
    }

    /// The prompt for a back end that starts every sequence at 0: the positions before it
    /// filled with <|endoftext|> (the record boundary token), so its tokens keep their positions.
    public func padded(endOfText: Int32) -> ExtractionPrompt {
        position == 0 ? self : ExtractionPrompt(entry: entry, prefix: prefix, ids: [Int32](repeating: endOfText, count: position) + ids, maxNew: maxNew)
    }
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
    /// The attack's prompts: for each entry's chosen occurrences (the first ones, or a seeded
    /// sample) and each prefix — the k tokens before the occurrence (<|endoftext|> when it opens
    /// the record), and with `recordStart` / `windowContext` the aligned prefixes.
    /// `stream` gives the records' training order and tokens (needed for `windowContext`).
    public static func prompts(entries: [PIIIndexEntry], records: [String: Record], tokenizer: any TextTokenizer, contextLength ctx: Int,
                               settings: ExtractionSettings, stream: TrainingStream? = nil) -> [ExtractionPrompt] {
        var prompts: [ExtractionPrompt] = []
        var byteEnds: [String: [Int]] = [:]
        for (ei, e) in entries.enumerated() {
            for occ in chosenOccurrences(e, settings: settings) {
                guard let rec = records[occ.record] else { continue }
                let scalars = Array(rec.text.unicodeScalars)
                var left = String.UnicodeScalarView(); left.append(contentsOf: scalars[0..<occ.start])
                let leftIds = tokenizer.encode(String(left))
                let valueLen = tokenizer.encode(occ.text).count
                for k in settings.prefixLengths where leftIds.count >= min(k, 1) {
                    var ids = Array(leftIds.suffix(k))
                    if ids.isEmpty { ids = [tokenizer.endOfText] }
                    let maxNew = min(valueLen + settings.margin, ctx - ids.count - 1)
                    if maxNew > 0 { prompts.append(ExtractionPrompt(entry: ei, prefix: .tokens(k), ids: ids, maxNew: maxNew)) }
                }
                guard settings.recordStart == true || settings.windowContext != nil else { continue }
                // The aligned prefixes cut the record's tokens as trained, not a re-encoding of the
                // left context (BPE merges across the value's first character).
                let recTokens = stream?.recordTokens(rec.id).map(Array.init) ?? tokenizer.encode(rec.text)
                if byteEnds[rec.id] == nil { byteEnds[rec.id] = TokenSpans.byteEnds(recTokens, tokenizer: tokenizer) }
                guard let cover = TokenSpans.tokens(covering: occ.start, occ.end, of: rec.text, byteEnds: byteEnds[rec.id]!) else { continue }
                let valueTokens = cover.count
                if settings.recordStart == true {
                    let ids = [tokenizer.endOfText] + recTokens[0..<cover.lowerBound]
                    if let p = aligned(ei, .recordStart, ids, valueTokens, settings, ctx) { prompts.append(p) }
                }
                if let T = settings.windowContext, let stream, let span = stream.spans[rec.id], T == stream.context {
                    let o = span.start + cover.lowerBound
                    // The whole value must be predicted inside the window that holds its start.
                    guard span.start + cover.upperBound <= stream.windowEnd(at: o) else { continue }
                    if settings.recordWindow == true {
                        let (ids, at) = stream.recordWindowPrefix(at: o, recordStart: span.start)
                        if let p = aligned(ei, .recordWindow, ids, valueTokens, settings, min(ctx, T) - at) {
                            prompts.append(ExtractionPrompt(entry: p.entry, prefix: p.prefix, ids: p.ids, maxNew: p.maxNew, position: at))
                        }
                    } else {
                        let ids = Array(stream.windowPrefix(at: o))
                        if !ids.isEmpty, let p = aligned(ei, .window, ids, valueTokens, settings, min(ctx, T)) { prompts.append(p) }
                    }
                }
            }
        }
        return prompts
    }

    /// An aligned prompt when the prompt and the whole value fit the context (never cut: a cut
    /// prefix is no longer at its trained positions).
    static func aligned(_ entry: Int, _ prefix: PromptPrefix, _ ids: [Int32], _ valueTokens: Int, _ settings: ExtractionSettings, _ ctx: Int) -> ExtractionPrompt? {
        let maxNew = min(valueTokens + settings.margin, ctx - ids.count)
        guard ids.count >= 1, maxNew >= valueTokens else { return nil }
        return ExtractionPrompt(entry: entry, prefix: prefix, ids: ids, maxNew: maxNew)
    }

    /// The occurrences tried: the first `occurrencesPerValue`, or a sample of that many seeded by
    /// `occurrenceSeed` and the value (the same choice whatever else is in the index), in order.
    public static func chosenOccurrences(_ e: PIIIndexEntry, settings: ExtractionSettings) -> [PIIOccurrence] {
        let n = settings.occurrencesPerValue
        guard let seed = settings.occurrenceSeed, e.places.count > n else { return Array(e.places.prefix(n)) }
        var rng = SplitMix64(seed: mix64(seed ^ fnv1a64(e.key.string)))
        return Array(e.places.indices).seededSample(n, using: &rng).sorted().map { e.places[$0] }
    }

    /// Runs the attack on every indexed value of the given types; `progress` gets (done, total) prompts.
    public static func run(model: GPT, tokenizer: any TextTokenizer, index: PIIIndex, records: [String: Record],
                           types: Set<PIIType>, settings: ExtractionSettings, stream: TrainingStream? = nil,
                           progress: ((Int, Int) -> Void)? = nil) throws -> [ExtractionResult] {
        try run(model: LocalModel(model, tokenizer: tokenizer), tokenizer: tokenizer, index: index, records: records, types: types,
                settings: settings, stream: stream, progress: progress)
    }

    public static func run(model: any LanguageModel, tokenizer: any TextTokenizer, index: PIIIndex, records: [String: Record],
                           types: Set<PIIType>, settings: ExtractionSettings, stream: TrainingStream? = nil,
                           progress: ((Int, Int) -> Void)? = nil) throws -> [ExtractionResult] {
        let entries = index.entries.filter { types.contains($0.type) }
        let prompts = Self.prompts(entries: entries, records: records, tokenizer: tokenizer, contextLength: model.contextLength,
                                   settings: settings, stream: stream)
        return try evaluate(model: model, tokenizer: tokenizer, entries: entries, prompts: prompts, types: types, settings: settings, progress: progress)
    }

    /// Runs given prompts (a fixed test built once) and collects each entry's hits.
    public static func evaluate(model: any LanguageModel, tokenizer: any TextTokenizer, entries: [PIIIndexEntry], prompts: [ExtractionPrompt],
                                types: Set<PIIType>, settings: ExtractionSettings, progress: ((Int, Int) -> Void)? = nil) throws -> [ExtractionResult] {
        let scanner = PIIScanner(types: types)
        let prompts = model.capabilities.positionOffsets ? prompts : prompts.map { $0.padded(endOfText: tokenizer.endOfText) }
        var greedy = [[String: Bool]](repeating: [:], count: entries.count)
        var sampleHits = [Int](repeating: 0, count: entries.count), sampleTries = [Int](repeating: 0, count: entries.count)
        var done = 0
        var start = 0
        while start < prompts.count {
            let batch = Array(prompts[start..<min(prompts.count, start + settings.batch)])
            let maxNew = batch.map(\.maxNew).max()!
            let outs = try model.generate(prompts: batch.map(\.ids), startPositions: batch.map(\.position), .greedy(maxNew), endOfText: nil)
            for (p, o) in zip(batch, outs) {
                let text = (try? tokenizer.decode(Array(o.prefix(p.maxNew)))) ?? ""
                let hit = hits(text, entries[p.entry], scanner)
                greedy[p.entry][p.prefix.label] = (greedy[p.entry][p.prefix.label] ?? false) || hit
            }
            if settings.samples > 0 {
                var sp = SamplingParameters(maxNewTokens: maxNew, temperature: 1, topK: settings.topK, seed: settings.seed &+ UInt64(start))
                sp.stopAtEndOfText = false
                let rep = batch.flatMap { Array(repeating: $0.ids, count: settings.samples) }
                let starts = batch.flatMap { Array(repeating: $0.position, count: settings.samples) }
                let souts = try model.generate(prompts: rep, startPositions: starts, sp, endOfText: nil)
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
            let ks = greedy[i].filter(\.value).keys.compactMap { Int($0) }.sorted()
            return ExtractionResult(type: e.type, value: e.value, owner: e.owner, occurrences: e.occurrences, smallestExtractingK: ks.first,
                                    greedyHits: greedy[i], sampleHitRate: settings.samples > 0 ? Double(sampleHits[i]) / Double(max(1, sampleTries[i])) : nil,
                                    prompts: promptCount[i])
        }
    }

    /// The continuation holds the value: same normalised key among its detected PII, or (for
    /// values a detector cannot see without context, e.g. names) the literal value.
    static func hits(_ text: String, _ e: PIIIndexEntry, _ scanner: PIIScanner) -> Bool {
        if scanner.scan(text).contains(where: { $0.type == e.type && $0.normalized == e.value }) { return true }
        return e.type == .person && text.lowercased().contains(e.value)
    }
}
