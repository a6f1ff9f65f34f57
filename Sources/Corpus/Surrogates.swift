// Surrogate values (docs/methods.md, "Pre-training leakage"): a value of a corpus replaced, at
// every occurrence, by one fresh value of the same type, format and generator, so that a model
// trained on the replaced corpus saw every context of the original with another value in it.
// Synthetic corpora draw from the generator that wrote them (`SynthSurrogates`: a new name in the
// address's style at the same domain, the person's name replaced with it; a number drawn as
// `makePhone` draws one); other corpora keep an address's domain and a number's layout and draw
// every other character (`FormatSurrogates`), since nothing is known of how they were written.

import Foundation
import PII
import Support

/// One drawn replacement: the value as written, and the full name replaced with it (a synthetic
/// address is made of its owner's name, so a new address takes a new name: names stay
/// consistent with addresses).
public struct Surrogate: Sendable, Equatable {
    public var text: String
    public var name: NameSwap?
    public init(text: String, name: NameSwap? = nil) { self.text = text; self.name = name }
}

/// A name a surrogate table replaces in one text: scalar offsets (end exclusive), the value whose
/// surrogate brought the new name, and the name written instead.
public struct NameSpan: Sendable, Equatable {
    public var start: Int
    public var end: Int
    public var key: PIIKey
    public var replacement: String
    public init(start: Int, end: Int, key: PIIKey, replacement: String) { self.start = start; self.end = end; self.key = key; self.replacement = replacement }
}

public struct NameSwap: Sendable, Equatable, Hashable {
    public var from: String
    public var to: String
    public init(from: String, to: String) { self.from = from; self.to = to }
}

/// Which generator drew a study's surrogates (study.json's `surrogates`).
public enum SurrogateKind: String, Codable, Sendable {
    case synthetic
    case formatMatched = "format_matched"
}

/// Draws fresh values like a corpus's own.
public protocol SurrogateGenerator: Sendable {
    var kind: SurrogateKind { get }
    /// A fresh value like `text`, an occurrence of the value `key`; nil when this generator cannot
    /// make one like it (then the value is not a target).
    func draw(_ key: PIIKey, like text: String, _ rng: inout SplitMix64) -> Surrogate?
    /// How many values `draw` can give like `text`: the candidate space of exposure.
    func spaceSize(_ key: PIIKey, like text: String) -> Double
}

/// The synthetic generator's own draws (corpus synth, Synth.swift).
public struct SynthSurrogates: SurrogateGenerator {
    public let population: Int
    /// The person of each address.
    let people: [String: SynthPerson]
    /// Full names only one person of the corpus has: only those are replaced (replacing a shared
    /// name would rename the other person too).
    let uniqueNames: Set<String>

    public init(people: [SynthPerson], population: Int) {
        self.population = population
        self.people = Dictionary(people.map { ($0.email.lowercased(), $0) }, uniquingKeysWith: { a, _ in a })
        let counts = Dictionary(people.map { ($0.name, 1) }, uniquingKeysWith: +)
        uniqueNames = Set(counts.filter { $0.value == 1 }.keys)
    }

    public var kind: SurrogateKind { .synthetic }

    public func draw(_ key: PIIKey, like text: String, _ rng: inout SplitMix64) -> Surrogate? {
        switch key.type {
        case .email:
            let parts = key.value.split(separator: "@", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { return nil }
            let first = rng.pick(SynthVocabulary.firstNames), last = rng.pick(SynthVocabulary.lastNames)
            let person = people[key.value]
            // The style the address was written in (first.last, flast, ...), else one at random.
            let style = person.flatMap { SynthGenerator.emailStyle(parts[0], first: $0.first, last: $0.last) } ?? rng.int(4)
            let swap = person.flatMap { uniqueNames.contains($0.name) ? NameSwap(from: $0.name, to: "\(first) \(last)") : nil }
            return Surrogate(text: SynthGenerator.emailLocal(first, last, style: style) + "@" + parts[1], name: swap)
        case .phone:
            return Surrogate(text: SynthGenerator.redrawPhone(text, population: population, &rng))
        default:
            return nil
        }
    }

    public func spaceSize(_ key: PIIKey, like text: String) -> Double {
        key.type == .email ? Double(SynthVocabulary.firstNames.count * SynthVocabulary.lastNames.count)
            : SynthGenerator.phoneSpace(text, population: population)
    }
}

/// Any corpus: an address keeps its domain, its local part keeps its layout (letters drawn as
/// letters of the same case, digits as digits, the rest kept); a number keeps its layout and
/// country code (`PhoneLayout`).
public struct FormatSurrogates: SurrogateGenerator {
    public init() {}
    public var kind: SurrogateKind { .formatMatched }

    public func draw(_ key: PIIKey, like text: String, _ rng: inout SplitMix64) -> Surrogate? {
        switch key.type {
        case .email:
            guard let at = key.value.firstIndex(of: "@") else { return nil }
            let local = key.value[..<at].map { c -> Character in
                if c.isASCII && c.isLowercase { return Character(UnicodeScalar(97 + rng.int(26))!) }
                if c.isASCII && c.isUppercase { return Character(UnicodeScalar(65 + rng.int(26))!) }
                if c.isASCII && c.isNumber { return Character(String(rng.int(10))) }
                return c
            }
            return Surrogate(text: String(local) + key.value[at...])
        case .phone:
            return Surrogate(text: PhoneLayout.redraw(text, normalized: key.value, &rng))
        default:
            return nil
        }
    }

    public func spaceSize(_ key: PIIKey, like text: String) -> Double {
        guard key.type == .email else { return PhoneLayout.spaceSize(text, normalized: key.value) }
        let local = key.value.prefix { $0 != "@" }
        return pow(26, Double(local.filter { $0.isASCII && $0.isLetter }.count)) * pow(10, Double(local.filter { $0.isASCII && $0.isNumber }.count))
    }
}

/// Each replaced value's surrogate, drawn once: every occurrence of a value gets the same one.
public struct SurrogateTable: Sendable, Equatable {
    public var entries: [PIIKey: Surrogate] = [:]
    public init(entries: [PIIKey: Surrogate] = [:]) { self.entries = entries }

    /// Draws a surrogate for each value (its key and one occurrence as written), each from a
    /// generator seeded by `seed` and the value alone (the same surrogate whatever else is drawn).
    /// A surrogate never equals a value of `avoid` or another surrogate, and a new name never
    /// equals a name of `avoidNames` or another new name; a value for which no such surrogate
    /// comes in 100 draws gets none.
    public static func draw(_ values: [(key: PIIKey, text: String)], generator: any SurrogateGenerator, seed: UInt64,
                            avoid: Set<PIIKey>, avoidNames: Set<String>) -> SurrogateTable {
        var table = SurrogateTable(), used = avoid, usedNames = avoidNames
        for (key, text) in values {
            var rng = SplitMix64(seed: mix64(seed ^ fnv1a64(key.string)))
            for _ in 0..<100 {
                guard let s = generator.draw(key, like: text, &rng) else { break }
                let k = PIIKey(key.type, PIINormalize.key(key.type, s.text))
                if used.contains(k) || s.name.map({ usedNames.contains($0.to) }) == true { continue }
                used.insert(k)
                if let n = s.name { usedNames.insert(n.to) }
                table.entries[key] = s
                break
            }
        }
        return table
    }

    /// The table for these values only.
    public func restricted(to keys: Set<PIIKey>) -> SurrogateTable {
        SurrogateTable(entries: entries.filter { keys.contains($0.key) })
    }

    /// Both tables' entries (`other`'s where both have one).
    public func merging(_ other: SurrogateTable) -> SurrogateTable {
        SurrogateTable(entries: entries.merging(other.entries) { _, b in b })
    }

    /// The replacement of one occurrence, as written at `text`: an address in lower case, a number's
    /// digits written into the occurrence's layout (one number, one value in every layout).
    public func replacement(_ key: PIIKey, like text: String) -> String? {
        guard let s = entries[key] else { return nil }
        guard key.type == .phone else { return s.text }
        return PhoneLayout.render(Array(PIINormalize.digitsOnly(PIINormalize.key(.phone, s.text))), like: text)
    }

    /// The records with every occurrence of a replaced value replaced, and every full name
    /// replaced with an address made of it (whole words only, never inside a value). Only `text`
    /// changes: it is what a model trains on. Also the occurrences and names replaced.
    public func apply(to records: [Record], scanner: PIIScanner) -> (records: [Record], values: Int, names: Int) {
        var out = records, values = 0, names = 0
        for (i, ents) in scanner.scan(all: records.map(\.text)).enumerated() {
            var scalars = Array(records[i].text.unicodeScalars)
            var edits: [(range: Range<Int>, text: String)] = []
            for e in ents {
                guard let rep = replacement(PIIKey(e.type, e.normalized), like: e.text) else { continue }
                edits.append((e.start..<e.end, rep))
                values += 1
            }
            for n in nameSpans(in: scalars) where !ents.contains(where: { $0.start < n.end && n.start < $0.end }) {
                edits.append((n.start..<n.end, n.replacement))
                names += 1
            }
            for e in edits.sorted(by: { $0.range.lowerBound > $1.range.lowerBound }) { scalars.replaceSubrange(e.range, with: e.text.unicodeScalars) }
            var v = String.UnicodeScalarView(); v.append(contentsOf: scalars)
            out[i].text = String(v)
        }
        return (out, values, names)
    }

    /// Where the names this table replaces stand in a text (Unicode scalar offsets), whose value's
    /// surrogate replaces each, and with what: every whole-word occurrence of a replaced full name.
    /// Disjoint, in text order (a longer name wins where two overlap).
    public func nameSpans(in scalars: [Unicode.Scalar]) -> [NameSpan] {
        var text = String.UnicodeScalarView(); text.append(contentsOf: scalars)
        let haystack = String(text)
        var spans: [NameSpan] = []
        for (key, s) in entries.sorted(by: { $0.key < $1.key }) {
            guard let n = s.name, haystack.contains(n.from) else { continue }
            for r in Self.wordRanges(of: Array(n.from.unicodeScalars), in: scalars) {
                spans.append(NameSpan(start: r.lowerBound, end: r.upperBound, key: key, replacement: n.to))
            }
        }
        return Self.disjoint(spans)
    }

    /// The spans with no two overlapping: longest first, then leftmost; in text order.
    static func disjoint(_ spans: [NameSpan]) -> [NameSpan] {
        var kept: [NameSpan] = []
        for s in spans.sorted(by: { ($0.end - $0.start, -$0.start) > ($1.end - $1.start, -$1.start) })
        where !kept.contains(where: { $0.start < s.end && s.start < $0.end }) { kept.append(s) }
        return kept.sorted { $0.start < $1.start }
    }

    /// Where `word` stands as whole words in `scalars` (no letter on either side).
    static func wordRanges(of word: [Unicode.Scalar], in scalars: [Unicode.Scalar]) -> [Range<Int>] {
        guard !word.isEmpty, scalars.count >= word.count else { return [] }
        var out: [Range<Int>] = [], i = 0
        while i + word.count <= scalars.count {
            if scalars[i] == word[0], Array(scalars[i..<(i + word.count)]) == word,
               i == 0 || !scalars[i - 1].properties.isAlphabetic, i + word.count == scalars.count || !scalars[i + word.count].properties.isAlphabetic {
                out.append(i..<(i + word.count))
                i += word.count
            } else {
                i += 1
            }
        }
        return out
    }
}
