// The pre-training leakage design (docs/methods.md, "Pre-training leakage"), decided from the
// corpora before anything is trained. Pure: records in, target values, halves and the two bases'
// corpora out; nothing here trains or reads a file.
//
// Target values: the e-mail addresses and phone numbers of P's subjects (Ownership's rule over P)
// that occur nowhere in the fine-tuning corpus F — a value F also holds could be learnt from F, so
// it is left out and counted. Each target gets one surrogate (SurrogateTable: same type, format and
// generator; every occurrence alike), then the targets are split at random into halves A and B.
// The main base trains on P with B's values replaced, the null base on P with A's and B's replaced
// (B's by the same surrogates). In a null run (`leakage.null`, validation) the main base has A's
// values replaced too, by a second draw: then neither base saw any target, and the verdict must
// not say `leaks`.
//
// Where each value is scored (`place`, once the tokenizer exists): at the first occurrence in P
// whose scored prefix holds no target value — another's of either half, or its own — and no name
// replaced for another person's value. The two bases' corpora then write that prefix alike, apart
// from the value's own owner's name for a value of half A: what the comparison sees of a value is
// the value (and its owner's name), nothing of its neighbours. A value without such an occurrence is left
// out of the comparison and counted.

import Corpus
import Foundation
import PII
import Support

struct LeakageDesign {
    static let types = StudySettings.studyTypes

    /// The target values in key order (entries of P's index: occurrences, places, owner), and the
    /// half each was drawn into.
    var targets: [PIIIndexEntry]
    var halves: [LeakageHalf]
    /// P's values of P's subjects also found in F (left out), P's values no subject of P owns (not
    /// targets), and values no surrogate could be drawn for (left out).
    var excludedInFinetuning: Int
    var unowned: Int
    var withoutSurrogate: Int
    /// What the two bases train on: P with the surrogates in.
    var mainCorpus: [Record]
    var nullCorpus: [Record]
    /// The surrogates in each corpus.
    var mainTable: SurrogateTable
    var nullTable: SurrogateTable
    /// Occurrences and names (full and first) replaced in each corpus, and first names left
    /// where another person named in the same text shares the word.
    var replacedMain: (values: Int, names: Int, firstNamesLeft: Int)
    var replacedNull: (values: Int, names: Int, firstNamesLeft: Int)
    /// Occurrences of a value a base must not have seen that a scan of its corpus still finds
    /// (0 unless a value is written where the detector reads it otherwise).
    var residual: Int
    /// The targets whose exposure is measured: a seeded sample of each half's scored values, by
    /// index (empty until `place`).
    var exposureIndices: [Int] = []
    var generator: any SurrogateGenerator
    var null: Bool
    /// Where the names the surrogates replace stand in P's records (by record id; either base's
    /// table: a name replaced in the main base's corpus is replaced in the null base's too).
    var nameSpans: [String: [NameSpan]]
    /// Per target, the occurrence its score is taken at; nil when no occurrence has a clean
    /// prefix (`place`). Before `place`: nil for all.
    var scoringPlaces: [PIIOccurrence?]
    /// The targets that have a scoring place, in index order: the values the verdict compares.
    var scored: [Int] { targets.indices.filter { scoringPlaces[$0] != nil } }

    /// The design on P and F. `avoidNames`: full names of people in either corpus (a surrogate
    /// name is never one of them); `seed`: the study's.
    static func build(P: [Record], F: [Record], generator: any SurrogateGenerator, avoidNames: Set<String> = [], seed: UInt64,
                      null: Bool = false) -> LeakageDesign {
        let scanner = PIIScanner(types: types)
        let pIndex = PIIIndex.build(records: P, scanner: scanner)
        let fKeys = Set(PIIIndex.build(records: F, scanner: scanner).entries.map(\.key))
        let owned = pIndex.entries.filter { $0.owner != nil }
        let candidates = owned.filter { !fKeys.contains($0.key) }
        let avoid = Set(pIndex.entries.map(\.key)).union(fKeys)
        let first = SurrogateTable.draw(candidates.map { ($0.key, $0.places[0].text) }, generator: generator, seed: seed ^ 0x5A11,
                                        avoid: avoid, avoidNames: avoidNames)
        // A null run's second draw for half A, apart from every first surrogate and name.
        let second = null ? SurrogateTable.draw(candidates.map { ($0.key, $0.places[0].text) }, generator: generator, seed: seed ^ 0x5A12,
                                                avoid: avoid.union(first.entries.map { PIIKey($0.key.type, PIINormalize.key($0.key.type, $0.value.text)) }),
                                                avoidNames: avoidNames.union(first.entries.values.compactMap(\.name?.to))) : first
        let targets = candidates.filter { first.entries[$0.key] != nil && second.entries[$0.key] != nil }
        var rng = SplitMix64(seed: mix64(seed ^ 0xA8B))
        let order = Array(targets.indices).seededShuffled(using: &rng)
        var halves = [LeakageHalf](repeating: .b, count: targets.count)
        for i in order.prefix(targets.count / 2) { halves[i] = .a }
        let keysA = Set(targets.indices.filter { halves[$0] == .a }.map { targets[$0].key }), keysB = Set(targets.map(\.key)).subtracting(keysA)
        let mainTable = first.restricted(to: keysB).merging(null ? second.restricted(to: keysA) : SurrogateTable())
        let nullTable = first.restricted(to: keysA.union(keysB))
        let main = mainTable.apply(to: P, scanner: scanner), nullBase = nullTable.apply(to: P, scanner: scanner)
        let residual = occurrences(of: null ? keysA.union(keysB) : keysB, in: main.records, scanner) + occurrences(of: keysA.union(keysB), in: nullBase.records, scanner)
        var spans: [String: [NameSpan]] = [:]
        for r in P {
            let n = nullTable.nameSpans(in: Array(r.text.unicodeScalars)) + (null ? mainTable.nameSpans(in: Array(r.text.unicodeScalars)) : [])
            if !n.isEmpty { spans[r.id] = n }
        }
        return LeakageDesign(targets: targets, halves: halves, excludedInFinetuning: owned.count - candidates.count, unowned: pIndex.entries.count - owned.count,
                             withoutSurrogate: candidates.count - targets.count, mainCorpus: main.records, nullCorpus: nullBase.records,
                             mainTable: mainTable, nullTable: nullTable,
                             replacedMain: (main.values, main.names, main.firstNamesLeft), replacedNull: (nullBase.values, nullBase.names, nullBase.firstNamesLeft),
                             residual: residual,
                             generator: generator, null: null, nameSpans: spans, scoringPlaces: Array(repeating: nil, count: targets.count))
    }

    /// Why a target without a scoring place is left out.
    static let withoutCleanPrefix = "every occurrence's scored prefix holds a target value (another's or its own) or a name replaced for another person's value"

    /// Chooses each target's scoring place — the first occurrence in P whose scored prefix, the
    /// `window(occurrence)` Unicode scalars before it, holds no occurrence of any target (another
    /// value of either half, or the value's own earlier occurrence) and no name replaced for a value
    /// of another owner — and draws the exposure sample among the values that have one.
    mutating func place(window: (PIIOccurrence) -> Int, seed: UInt64, exposurePerHalf: Int) {
        var occurrences: [String: [(start: Int, end: Int)]] = [:]
        for e in targets { for p in e.places { occurrences[p.record, default: []].append((p.start, p.end)) } }
        let maxLeft = targets.flatMap(\.places).map(\.left.unicodeScalars.count).max() ?? 0
        let owner = Dictionary(targets.map { ($0.key, $0.owner) }, uniquingKeysWith: { a, _ in a })
        scoringPlaces = targets.map { e in
            e.places.first { p in
                // Anything within reach of the longest prefix? Only then is the window measured.
                // A name is another's when the value it was replaced for has another owner.
                func hit(_ lo: Int) -> Bool {
                    (occurrences[p.record] ?? []).contains { $0.end > lo && $0.start < p.start }
                        || (nameSpans[p.record] ?? []).contains { owner[$0.key] != e.owner && $0.end > lo && $0.start < p.start }
                }
                return !hit(p.start - maxLeft) || !hit(p.start - window(p))
            }
        }
        let s = scored
        exposureIndices = Self.exposureSample(s.map { halves[$0] }, perHalf: exposurePerHalf, seed: seed).map { s[$0] }
    }

    /// Scored targets, and targets left out for want of a clean prefix, per half.
    var scoredCounts: (scored: HalfCounts, without: HalfCounts) {
        var a = HalfCounts(), b = HalfCounts()
        for (p, h) in zip(scoringPlaces, halves) { if p != nil { a.add(h) } else { b.add(h) } }
        return (a, b)
    }

    /// Occurrences of `keys` a scan of `records` finds.
    static func occurrences(of keys: Set<PIIKey>, in records: [Record], _ scanner: PIIScanner) -> Int {
        scanner.scan(all: records.map(\.text)).reduce(0) { acc, ents in acc + ents.filter { keys.contains(PIIKey($0.type, $0.normalized)) }.count }
    }

    /// At most `perHalf` targets of each half, a seeded sample, in index order.
    static func exposureSample(_ halves: [LeakageHalf], perHalf: Int, seed: UInt64) -> [Int] {
        var rng = SplitMix64(seed: mix64(seed ^ 0xE7))
        return [LeakageHalf.a, .b].flatMap { h in halves.indices.filter { halves[$0] == h }.seededSample(perHalf, using: &rng) }.sorted()
    }

    /// Targets of each half by type ("EMAIL_ADDRESS", "PHONE_NUMBER") and by how often they occur in P.
    func counts(by key: (PIIIndexEntry) -> String) -> [String: HalfCounts] {
        var out: [String: HalfCounts] = [:]
        for (e, h) in zip(targets, halves) { out[key(e), default: HalfCounts()].add(h) }
        return out
    }

    /// M candidates for the exposure of target `i` at its scoring place: values drawn like it by
    /// the surrogate generator (the same for every model), never the value itself, and the space
    /// they come from.
    func candidates(_ i: Int, count: Int, seed: UInt64) -> (candidates: [String], space: Double) {
        let e = targets[i], occ = scoringPlaces[i] ?? e.places[0]
        var rng = SplitMix64(seed: mix64(seed ^ 0xCA4D ^ fnv1a64(e.key.string)))
        var out: [String] = [], seen: Set<String> = [e.value]
        for _ in 0..<(count * 4) where out.count < count {
            guard let s = generator.draw(e.key, like: occ.text, &rng) else { break }
            if seen.insert(PIINormalize.key(e.type, s.text)).inserted { out.append(e.type == .email ? s.text.lowercased() : s.text) }
        }
        return (out, generator.spaceSize(e.key, like: occ.text))
    }
}

/// A count per half.
public struct HalfCounts: Codable, Sendable, Equatable {
    public var a = 0
    public var b = 0
    public init(a: Int = 0, b: Int = 0) { self.a = a; self.b = b }
    mutating func add(_ h: LeakageHalf) { if h == .a { a += 1 } else { b += 1 } }
}
