// Surrogate values (docs/methods.md, "Pre-training leakage"): a value of a corpus replaced, at
// every occurrence, by one fresh value of the same type, format and generator, so that a model
// trained on the replaced corpus saw every context of the original with another value in it.
// Synthetic corpora draw from the generator that wrote them (`SynthSurrogates`: a new name in the
// address's style at the same domain, the person's full name — and first name, in the texts that
// hold the full name — replaced with it; a number drawn as `makePhone` draws one); other corpora
// keep an address's domain and shape with letters from a names list, and a number's layout, with
// NANP area codes drawn as the corpus's own (`FormatSurrogates`): nothing more is known of how they
// were written.

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
    /// The full names of the corpus's people, when known (a synthetic corpus): a first name is
    /// replaced only where no other person named in the same text shares it.
    var knownNames: [String] { get }
}

extension SurrogateGenerator {
    public var knownNames: [String] { [] }
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

    public var knownNames: [String] { people.values.map(\.name).sorted() }
}

/// Any corpus: an address keeps its domain and its local part's shape — separators kept, digits
/// drawn as digits, each run of letters filled with the same number of letters from a list of
/// names (given names and surnames, `SynthVocabulary`) in the same case pattern, so "jsmith"
/// becomes a six-letter name and "John.Smith42" "Mary.Jones17"; a number keeps its layout and
/// country code (`PhoneLayout`), and a NANP number's area code is drawn from the corpus's own
/// (`numbers`: the normalised numbers of the corpus, each counted once), not uniformly.
public struct FormatSurrogates: SurrogateGenerator {
    /// NANP area codes of the corpus's numbers and how many numbers have each.
    let areaCodes: [(code: String, count: Int)]
    public init(numbers: [String] = []) {
        var counts: [String: Int] = [:]
        for n in Set(numbers) where n.hasPrefix("+1") && n.count == 12 { counts[String(n.dropFirst(2).prefix(3)), default: 0] += 1 }
        areaCodes = counts.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }
    public var kind: SurrogateKind { .formatMatched }

    public func draw(_ key: PIIKey, like text: String, _ rng: inout SplitMix64) -> Surrogate? {
        switch key.type {
        case .email:
            guard let at = key.value.firstIndex(of: "@") else { return nil }
            // The local part as written at this occurrence (its case), else as normalised.
            let written = text.lowercased() == key.value ? String(text.prefix { $0 != "@" }) : String(key.value[..<at])
            return Surrogate(text: NameShapes.fill(written, &rng) + key.value[at...])
        case .phone:
            return Surrogate(text: PhoneLayout.redraw(text, normalized: key.value, &rng, areaCode: areaCode(key, &rng)))
        default:
            return nil
        }
    }

    /// A NANP number's area code, drawn in proportion to the corpus's numbers (nil: not NANP, or no
    /// corpus given: then drawn uniformly from 2xx–9xx).
    func areaCode(_ key: PIIKey, _ rng: inout SplitMix64) -> String? {
        guard key.value.hasPrefix("+1"), !areaCodes.isEmpty else { return nil }
        var u = rng.int(areaCodes.reduce(0) { $0 + $1.count })
        for a in areaCodes { if u < a.count { return a.code }; u -= a.count }
        return areaCodes.last!.code
    }

    public func spaceSize(_ key: PIIKey, like text: String) -> Double {
        guard key.type == .email else {
            return PhoneLayout.spaceSize(text, normalized: key.value, areaCodes: key.value.hasPrefix("+1") && !areaCodes.isEmpty ? areaCodes.count : nil)
        }
        return NameShapes.space(String(key.value.prefix { $0 != "@" }))
    }
}

/// Letters from names in the shape of an address's local part.
enum NameShapes {
    /// The given names and surnames of the synthetic generator, ASCII lower case, by length.
    static let byLength: [Int: [String]] = {
        let names = Set((SynthVocabulary.firstNames + SynthVocabulary.lastNames).map { n in
            n.folding(options: .diacriticInsensitive, locale: nil).lowercased().filter { $0.isASCII && $0.isLetter }
        }).filter { !$0.isEmpty }.sorted()
        return Dictionary(grouping: names, by: \.count)
    }()
    static let all = byLength.keys.sorted().flatMap { byLength[$0]! }

    /// `local` with each run of ASCII letters refilled from names (same length, same case at each
    /// place), each digit drawn, everything else kept.
    static func fill(_ local: String, _ rng: inout SplitMix64) -> String {
        var out = "", run: [Character] = []
        func flush() {
            guard !run.isEmpty else { return }
            out += zip(run, letters(run.count, &rng)).map { o, c in o.isUppercase ? Character(c.uppercased()) : c }.map(String.init).joined()
            run = []
        }
        for c in local {
            if c.isASCII && c.isLetter { run.append(c); continue }
            flush()
            out.append(c.isASCII && c.isNumber ? Character(String(rng.int(10))) : c)
        }
        flush()
        return out
    }

    /// n letters from names: a name of exactly n letters; else an initial and a name of n − 1; else
    /// names run together and cut at n (n ≤ 2: the first letters of one name).
    static func letters(_ n: Int, _ rng: inout SplitMix64) -> [Character] {
        if n > 2, let exact = byLength[n] { return Array(rng.pick(exact)) }
        if n > 2, let shorter = byLength[n - 1] { return [rng.pick(all).first!] + Array(rng.pick(shorter)) }
        var s = ""
        while s.count < n { s += rng.pick(all) }
        return Array(s.prefix(n))
    }

    /// How many letter strings `letters(n)` gives, roughly (exact for the first two cases; for names
    /// run together, as many as two names make).
    static func letterSpace(_ n: Int) -> Double {
        if n <= 2 { return Double(Set(all.map { $0.prefix(n) }).count) }
        if let exact = byLength[n] { return Double(exact.count) }
        if let shorter = byLength[n - 1] { return Double(Set(all.map { $0.first! }).count * shorter.count) }
        return Double(all.count * all.count)
    }

    /// The candidate space of a local part: its letter runs' spaces times 10 per digit.
    static func space(_ local: String) -> Double {
        var total = 1.0, run = 0
        for c in local {
            if c.isASCII && c.isLetter { run += 1; continue }
            if run > 0 { total *= letterSpace(run); run = 0 }
            if c.isASCII && c.isNumber { total *= 10 }
        }
        if run > 0 { total *= letterSpace(run) }
        return total
    }
}

/// Each replaced value's surrogate, drawn once: every occurrence of a value gets the same one.
public struct SurrogateTable: Sendable, Equatable {
    public var entries: [PIIKey: Surrogate] = [:]
    /// The corpus's people's full names (the generator's `knownNames`), by each word of them: a
    /// first name is left where another person named in the same text has it as a word too.
    public private(set) var names: Set<String> = []
    var byWord: [String: [String]] = [:]
    public init(entries: [PIIKey: Surrogate] = [:], names: Set<String> = []) {
        self.entries = entries
        self.names = names
        for n in names.union(entries.values.compactMap(\.name?.from)).sorted() {
            for w in Set(n.split(separator: " ").map(String.init)) { byWord[w, default: []].append(n) }
        }
    }

    /// Draws a surrogate for each value (its key and one occurrence as written), each from a
    /// generator seeded by `seed` and the value alone, in the order given: a value's first draw is
    /// the same whatever else is drawn, but when it collides with an earlier value's surrogate (or
    /// new name) the next draw is taken, so under collisions a surrogate depends on the values
    /// drawn before it. A surrogate never equals a value of `avoid` or another surrogate, and a new
    /// name never equals a name of `avoidNames` or another new name; a value for which no such
    /// surrogate comes in 100 draws gets none.
    public static func draw(_ values: [(key: PIIKey, text: String)], generator: any SurrogateGenerator, seed: UInt64,
                            avoid: Set<PIIKey>, avoidNames: Set<String>) -> SurrogateTable {
        var entries: [PIIKey: Surrogate] = [:], used = avoid, usedNames = avoidNames
        for (key, text) in values {
            var rng = SplitMix64(seed: mix64(seed ^ fnv1a64(key.string)))
            for _ in 0..<100 {
                guard let s = generator.draw(key, like: text, &rng) else { break }
                let k = PIIKey(key.type, PIINormalize.key(key.type, s.text))
                if used.contains(k) || s.name.map({ usedNames.contains($0.to) }) == true { continue }
                used.insert(k)
                if let n = s.name { usedNames.insert(n.to) }
                entries[key] = s
                break
            }
        }
        return SurrogateTable(entries: entries, names: Set(generator.knownNames))
    }

    /// The table for these values only.
    public func restricted(to keys: Set<PIIKey>) -> SurrogateTable {
        SurrogateTable(entries: entries.filter { keys.contains($0.key) }, names: names)
    }

    /// Both tables' entries (`other`'s where both have one).
    public func merging(_ other: SurrogateTable) -> SurrogateTable {
        SurrogateTable(entries: entries.merging(other.entries) { _, b in b }, names: names.union(other.names))
    }

    /// The replacement of one occurrence, as written at `text`: an address as drawn, a number's
    /// digits written into the occurrence's layout (one number, one value in every layout).
    public func replacement(_ key: PIIKey, like text: String) -> String? {
        guard let s = entries[key] else { return nil }
        guard key.type == .phone else { return s.text }
        return PhoneLayout.render(Array(PIINormalize.digitsOnly(PIINormalize.key(.phone, s.text))), like: text)
    }

    /// The records with every occurrence of a replaced value replaced, every full name replaced
    /// with an address made of it, and in a text where a full name is replaced, that person's first
    /// name where it stands alone (greetings, sign-offs, subject lines) — whole words only, never
    /// inside a value. Only `text` changes: it is what a model trains on. Also the occurrences and
    /// names (full and first) replaced, and the first names left because another person named in
    /// the same text has that word in their name too.
    public func apply(to records: [Record], scanner: PIIScanner) -> (records: [Record], values: Int, names: Int, firstNamesLeft: Int) {
        var out = records, values = 0, names = 0, left = 0
        for (i, ents) in scanner.scan(all: records.map(\.text)).enumerated() {
            var scalars = Array(records[i].text.unicodeScalars)
            var edits: [(range: Range<Int>, text: String)] = []
            for e in ents {
                guard let rep = replacement(PIIKey(e.type, e.normalized), like: e.text) else { continue }
                edits.append((e.start..<e.end, rep))
                values += 1
            }
            let found = nameSpansAndAmbiguity(in: scalars)
            for n in found.spans where !ents.contains(where: { $0.start < n.end && n.start < $0.end }) {
                edits.append((n.start..<n.end, n.replacement))
                names += 1
            }
            left += found.ambiguous
            for e in edits.sorted(by: { $0.range.lowerBound > $1.range.lowerBound }) { scalars.replaceSubrange(e.range, with: e.text.unicodeScalars) }
            var v = String.UnicodeScalarView(); v.append(contentsOf: scalars)
            out[i].text = String(v)
        }
        return (out, values, names, left)
    }

    /// Where the names this table replaces stand in a text (Unicode scalar offsets), whose value's
    /// surrogate replaces each, and with what: every whole-word occurrence of a replaced full name,
    /// and, in a text that holds one, of that person's first name (unless ambiguous, below).
    /// Disjoint, in text order (a longer name wins where two overlap).
    public func nameSpans(in scalars: [Unicode.Scalar]) -> [NameSpan] { nameSpansAndAmbiguity(in: scalars).spans }

    /// `nameSpans`, and how many whole-word occurrences of a replaced person's first name standing
    /// alone are left because it is ambiguous there: another name in the text has that word too — a
    /// full name of `names` or the table's ("Dana" beside "Dana Kim", "Thomas" beside "Mary
    /// Thomas"), or the word followed by a capitalised word (an unknown "Dana Whitfieldson").
    func nameSpansAndAmbiguity(in scalars: [Unicode.Scalar]) -> (spans: [NameSpan], ambiguous: Int) {
        var text = String.UnicodeScalarView(); text.append(contentsOf: scalars)
        let haystack = String(text)
        var spans: [NameSpan] = [], present: [(key: PIIKey, swap: NameSwap)] = []
        for (key, s) in entries.sorted(by: { $0.key < $1.key }) {
            guard let n = s.name, haystack.contains(n.from) else { continue }
            let ranges = Self.wordRanges(of: Array(n.from.unicodeScalars), in: scalars)
            if !ranges.isEmpty { present.append((key, n)) }
            for r in ranges { spans.append(NameSpan(start: r.lowerBound, end: r.upperBound, key: key, replacement: n.to)) }
        }
        let full = spans
        var ambiguous = 0
        for (key, n) in present {
            guard let first = n.from.split(separator: " ").first.map(String.init), first != n.from,
                  let newFirst = n.to.split(separator: " ").first.map(String.init) else { continue }
            // The first name inside another name: a known one that has the word, or the word
            // followed by a capitalised word (an unknown "Dana Whitfieldson").
            let others = (byWord[first] ?? []).filter { $0 != n.from && haystack.contains($0) }
                .flatMap { Self.wordRanges(of: Array($0.unicodeScalars), in: scalars) }
            func insideName(_ r: Range<Int>) -> Bool {
                others.contains { $0.overlaps(r) } || (r.upperBound + 1 < scalars.count && scalars[r.upperBound] == " " && scalars[r.upperBound + 1].properties.isUppercase)
            }
            let ranges = Self.wordRanges(of: Array(first.unicodeScalars), in: scalars).filter { r in !full.contains { $0.start < r.upperBound && r.lowerBound < $0.end } }
            let alone = ranges.filter { !insideName($0) }
            // Another person in this text shares the word: which one a lone "Dana" means is unknown.
            if alone.count < ranges.count || !others.isEmpty { ambiguous += alone.count; continue }
            for r in alone { spans.append(NameSpan(start: r.lowerBound, end: r.upperBound, key: key, replacement: newFirst)) }
        }
        return (Self.disjoint(spans), ambiguous)
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
