// Scrubbing: replace detected PII by a type tag, a masked form, or a consistent
// format-preserving pseudonym (the same value always gets the same fake, keyed by a secret
// with HMAC-SHA256, so a scrubbed corpus keeps who-talks-to-whom without revealing anyone).
//
// Every field of a record that can hold PII is scrubbed, not only the text: the subject (an
// address gets the same pseudonym as in the text, so one person stays one pseudonym), the id and
// the source (maildir paths name mailbox owners), and every string in `meta` (sender,
// recipients, Message-ID, X-From / X-To, folders). A second detection pass over all fields
// reports what survived.

import Crypto
import Foundation
import PII
import Support

public enum ScrubMode: String, Codable, Sendable, CaseIterable { case redact, mask, pseudonymize }

public struct ScrubReport: Codable, Sendable {
    public var records = 0
    /// Detected entities replaced, by type (all fields).
    public var replaced: [String: Int] = [:]
    /// Records whose field was changed, by field ("text", "subject", "id", "source", "meta.sender", …).
    public var fieldsChanged: [String: Int] = [:]
    /// Second pass over every field of the output: entities still detected that are original
    /// values (for pseudonymisation: any value detected in any field of the input) or any PII of
    /// the scrubbed types (redact, mask), by type.
    public var residual: [String: Int] = [:]
    /// The same residual entities by field.
    public var residualFields: [String: Int] = [:]
    enum CodingKeys: String, CodingKey {
        case records, replaced, residual
        case fieldsChanged = "fields_changed", residualFields = "residual_fields"
    }
}

/// The pseudonymisation secret: at least 32 bytes of text that is not blank or a repeated few
/// characters (`head -c 32 /dev/urandom | base64` is fine).
public enum ScrubSecret {
    public static let minimumBytes = 32

    /// nil if acceptable, else what is wrong with it (the secret itself is never quoted).
    public static func problem(_ secret: String) -> String? {
        let t = secret.trimmingCharacters(in: .whitespacesAndNewlines)
        if t.isEmpty { return "the secret is empty" }
        if t.utf8.count < minimumBytes { return "the secret has \(t.utf8.count) bytes; at least \(minimumBytes) are needed (e.g. `head -c 32 /dev/urandom | base64`)" }
        if Set(t.utf8).count < 8 { return "the secret repeats a few characters (\(Set(t.utf8).count) distinct); use random text (e.g. `head -c 32 /dev/urandom | base64`)" }
        return nil
    }
}

public struct Scrubber: Sendable {
    public let mode: ScrubMode
    public let scanner: PIIScanner
    let secret: Data
    /// Subjects numbered by first appearance (redact and mask, which have no key).
    var subjectOrdinals: [String: Int] = [:]

    /// `minScore`: detections scoring below it are left in place (PIIScanner.minScore).
    public init(mode: ScrubMode, types: Set<PIIType> = Set(PIIType.allCases), secret: String, minScore: Double = PIIScanner.defaultMinScore) {
        self.mode = mode
        scanner = PIIScanner(types: types, minScore: minScore)
        self.secret = Data(secret.utf8)
    }

    /// `avoid`: normalised keys ("TYPE\u{1F}value") a pseudonym must not equal (the corpus's
    /// real values, so that a fake never names a real person).
    public func scrub(_ text: String, counts: inout [String: Int], avoid: Set<String> = []) -> String {
        let ents = scanner.scan(text)
        guard !ents.isEmpty else { return text }
        var scalars = Array(text.unicodeScalars)
        for e in ents.reversed() {
            let rep: String
            switch mode {
            case .redact: rep = "<\(e.type.rawValue)>"
            case .mask: rep = PIIMask.mask(e)
            case .pseudonymize: rep = pseudonym(e, avoid: avoid)
            }
            scalars.replaceSubrange(e.start..<e.end, with: rep.unicodeScalars)
            counts[e.type.rawValue, default: 0] += 1
        }
        var v = String.UnicodeScalarView(); v.append(contentsOf: scalars)
        return String(v)
    }

    /// A deterministic generator seeded by HMAC(secret, type ‖ normalised value).
    func rng(_ e: PIIEntity) -> SynthRNG {
        let mac = HMAC<SHA256>.authenticationCode(for: Data((PIIKey(e.type, e.normalized).string).utf8), using: SymmetricKey(data: secret))
        let seed = Data(mac).prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        return SynthRNG(synth: seed)
    }

    public func pseudonym(_ e: PIIEntity, avoid: Set<String> = []) -> String {
        var r = rng(e)
        for _ in 0..<50 {
            let fake = draw(e, &r)
            if avoid.isEmpty { return fake }
            if !avoid.contains(PIIKey(e.type, PIINormalize.key(e.type, fake)).string) { return fake }
        }
        return "<\(e.type.rawValue)>"
    }

    func draw(_ e: PIIEntity, _ r: inout SynthRNG) -> String {
        switch e.type {
        case .email:
            let first = r.pick(SynthVocabulary.firstNames).lowercased(), last = r.pick(SynthVocabulary.lastNames).lowercased()
            let tld = e.text.split(separator: ".").last.map(String.init) ?? "com"
            let local = "\(first).\(last)".folding(options: .diacriticInsensitive, locale: nil).filter { $0.isLetter || $0 == "." }
            let host = r.pick(SynthVocabulary.companyStems[r.int(2)]).lowercased()
            return "\(local)@\(host)-mail.\(tld)"
        case .person:
            let words = e.text.split(separator: " ").count
            var names = [r.pick(SynthVocabulary.firstNames)]
            if words >= 2 { names.append(r.pick(SynthVocabulary.lastNames)) }
            if e.text.contains(",") && names.count == 2 { return "\(names[1]), \(names[0])" }
            return names.joined(separator: " ")
        case .phone:
            return PhoneLayout.redraw(e.text, normalized: e.normalized, &r)
        case .creditCard:
            var digits = e.text.filter(\.isNumber).map { Int(String($0))! }
            for i in 1..<(digits.count - 1) { digits[i] = r.int(10) }
            digits[digits.count - 1] = 0
            for d in 0...9 { digits[digits.count - 1] = d; if PIIValidators.luhn(digits) { break } }
            var k = 0
            return String(e.text.map { c -> Character in c.isNumber ? { defer { k += 1 }; return Character(String(digits[k])) }() : c })
        case .ssn:
            let area = [1 + r.int(665), 667 + r.int(232)][r.int(2)], group = 1 + r.int(99), serial = 1 + r.int(9999)
            let sep: Character = e.text.contains("-") ? "-" : " "
            return String(format: "%03d%@%02d%@%04d", area, String(sep), group, String(sep), serial)
        case .iban:
            let compact = e.text.replacingOccurrences(of: " ", with: "")
            let cc = String(compact.prefix(2))
            var bban = compact.dropFirst(4).map { c -> Character in c.isNumber ? Character(String(r.int(10))) : Character(UnicodeScalar(65 + r.int(26))!) }
            // checksum: 98 - (BBAN + CC + "00") mod 97
            let s = String(bban) + cc + "00"
            var rem = 0
            for c in s { if let d = c.wholeNumberValue, c.isNumber { rem = (rem * 10 + d) % 97 } else { rem = (rem * 100 + Int(c.asciiValue! - 55)) % 97 } }
            let check = String(format: "%02d", 98 - rem)
            let fake = cc + check + String(bban)
            bban = Array(fake)
            if e.text.contains(" ") { return stride(from: 0, to: bban.count, by: 4).map { String(bban[$0..<min($0 + 4, bban.count)]) }.joined(separator: " ") }
            return fake
        case .ip:
            if e.text.contains(":") { return (0..<8).map { _ in String(r.int(65536), radix: 16) }.joined(separator: ":") }
            return "10.\(r.int(256)).\(r.int(256)).\(1 + r.int(254))"
        case .url:
            return "https://\(r.pick(SynthVocabulary.companyStems[r.int(2)]).lowercased())-link.example/\(String(r.next() % 100000, radix: 36))"
        }
    }

    /// The fields of a record that can hold PII, by name: text, subject, id, source, meta.KEY.
    public static func fields(_ r: Record) -> [(name: String, value: String)] {
        [("text", r.text), ("subject", r.subject), ("id", r.id), ("source", r.source)] + r.meta.sorted { $0.key < $1.key }.map { ("meta." + $0.key, $0.value) }
    }

    /// Meta keys whose whole value identifies a message or a mailbox (Message-ID, folders): replaced
    /// by a keyed token (pseudonymize) or a tag, never left partly in place.
    static let identifierKeys: Set<String> = ["message_id", "folder", "x_folder", "in_reply_to", "references"]
    /// Meta keys that hold names and addresses only (Enron's X-From / X-To / X-cc / X-bcc).
    static let nameKeys: Set<String> = ["x_from", "x_to", "x_cc", "x_bcc"]

    func keyed(_ domain: String, _ value: String, length: Int = 16) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Data((domain + "\u{1F}" + value).utf8), using: SymmetricKey(data: secret))
        return Data(mac).prefix(length / 2).map { String(format: "%02x", $0) }.joined()
    }

    /// An entity covering the whole of `s` (for values that are one name or address).
    static func whole(_ type: PIIType, _ s: String) -> PIIEntity {
        PIIEntity(type: type, start: 0, end: s.unicodeScalars.count, text: s, score: 1, normalized: PIINormalize.key(type, s))
    }

    func replaceWhole(_ e: PIIEntity, counts: inout [String: Int], avoid: Set<String>) -> String {
        counts[e.type.rawValue, default: 0] += 1
        switch mode {
        case .redact: return "<\(e.type.rawValue)>"
        case .mask: return PIIMask.mask(e)
        case .pseudonymize: return pseudonym(e, avoid: avoid)
        }
    }

    /// The subject: an address (or name) gets the replacement it gets in the text; anything else
    /// (a folder, a user name) a keyed token, or `ordinal` (redact, mask: there is no key).
    func scrubSubject(_ s: String, ordinal: Int, counts: inout [String: Int], avoid: Set<String>) -> String {
        let ents = scanner.scan(s)
        if ents.count == 1, ents[0].start == 0, ents[0].end == s.unicodeScalars.count, mode != .redact {
            return SubjectID.normalize(scrub(s, counts: &counts, avoid: avoid))
        }
        if mode == .pseudonymize { return "subject-" + keyed("SUBJECT", s, length: 12) }
        return "subject-\(ordinal)"
    }

    /// "maildir:allen-p/inbox/12" → "maildir:<token>": the scheme stays, the rest is replaced.
    func scrubLocator(_ s: String, domain: String, ordinal: Int) -> String {
        guard !s.isEmpty else { return s }
        var scheme = ""
        if let c = s.firstIndex(of: ":"), s[..<c].allSatisfy({ $0.isASCII && ($0.isLetter || $0 == "-") }) { scheme = String(s[...c]) }
        return scheme + (mode == .pseudonymize ? keyed(domain, s) : "\(ordinal)")
    }

    func scrubMeta(key: String, value: String, counts: inout [String: Int], avoid: Set<String>) -> String {
        if Self.identifierKeys.contains(key) {
            return mode == .pseudonymize ? "<" + keyed("META\u{1F}" + key, value) + "@scrubbed.invalid>" : "<\(key.uppercased())>"
        }
        if Self.nameKeys.contains(key) {
            // Names and mail-system addresses only ("Marcus Lee <Marcus Lee/HOU/Corvale@Corvale>"),
            // which the detector cannot all see: the whole value is replaced.
            let t = value.trimmingCharacters(in: .whitespaces)
            return t.isEmpty ? value : replaceWhole(Self.whole(.person, t), counts: &counts, avoid: avoid)
        }
        return scrub(value, counts: &counts, avoid: avoid)
    }

    /// The people a record's name headers (X-From, X-To, …) name: "Whitfield, Dana" gives both
    /// "Whitfield, Dana" and "Dana Whitfield"; mail-system addresses ("<…>") are dropped. Only
    /// names of two or more words, so that no common word is taken for a name.
    public static func headerNames(_ r: Record) -> [String] {
        var out: [String] = []
        for k in nameKeys.sorted() {
            guard let v = r.meta[k] else { continue }
            let plain = v.split(separator: "<").first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
            guard plain.split(separator: " ").count >= 2, plain.count <= 60, !plain.contains("@") else { continue }
            out.append(plain)
            let parts = plain.split(separator: ",", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            if parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty { out.append(parts[1] + " " + parts[0]) }
        }
        return Array(Set(out)).sorted { $0.count > $1.count }
    }

    /// Replaces the names of `names` where they occur literally in `text` (signatures the detector
    /// does not recognise as names), each by its whole-value replacement.
    func scrubNames(_ text: String, names: [String], counts: inout [String: Int], avoid: Set<String>) -> String {
        var t = text
        for n in names where t.contains(n) {
            let parts = t.components(separatedBy: n)
            counts[PIIType.person.rawValue, default: 0] += parts.count - 1
            var c: [String: Int] = [:]
            t = parts.joined(separator: replaceWhole(Self.whole(.person, n), counts: &c, avoid: avoid))
        }
        return t
    }

    /// Scrubs every field of one record (`ordinal`: its 1-based position, for tags without a key).
    public func scrub(_ r: Record, ordinal: Int, counts: inout [String: Int], avoid: Set<String> = []) -> Record {
        var meta: [String: String] = [:]
        for (k, v) in r.meta { meta[k] = scrubMeta(key: k, value: v, counts: &counts, avoid: avoid) }
        let text = scrubNames(scrub(r.text, counts: &counts, avoid: avoid), names: Self.headerNames(r), counts: &counts, avoid: avoid)
        return Record(id: scrubLocator(r.id, domain: "ID", ordinal: ordinal), subject: scrubSubject(r.subject, ordinal: subjectOrdinal(r.subject, ordinal), counts: &counts, avoid: avoid),
                      text: text, source: scrubLocator(r.source, domain: "SOURCE", ordinal: ordinal), meta: meta)
    }

    func subjectOrdinal(_ s: String, _ fallback: Int) -> Int { subjectOrdinals[s] ?? fallback }

    /// Scrubs records and checks every field of the output with a second detection pass.
    public func scrub(records: [Record]) -> ([Record], ScrubReport) {
        var rep = ScrubReport()
        var s = self
        // Subjects without a key are numbered by first appearance, so that one subject stays one.
        for r in records where s.subjectOrdinals[r.subject] == nil { s.subjectOrdinals[r.subject] = s.subjectOrdinals.count + 1 }
        // One parallel scan over every field of every record.
        var originals = Set<String>()
        for ents in scanner.scan(all: records.flatMap { Self.fields($0).map(\.value) }) { for e in ents { originals.insert(PIIKey(e.type, e.normalized).string) } }
        let avoid = mode == .pseudonymize ? originals : []
        var out: [Record] = []
        out.reserveCapacity(records.count)
        for (i, r) in records.enumerated() {
            let o = s.scrub(r, ordinal: i + 1, counts: &rep.replaced, avoid: avoid)
            for ((name, before), (_, after)) in zip(Self.fields(r), Self.fields(o)) where before != after { rep.fieldsChanged[name, default: 0] += 1 }
            // Names from the record's own name headers still written literally anywhere in it.
            for n in Self.headerNames(r) { for f in Self.fields(o) where f.value.contains(n) {
                rep.residual[PIIType.person.rawValue, default: 0] += 1; rep.residualFields[f.name, default: 0] += 1
            } }
            out.append(o)
        }
        rep.records = out.count
        let outFields = out.flatMap(Self.fields)
        for (f, ents) in zip(outFields, scanner.scan(all: outFields.map(\.value))) {
            do {
                for e in ents where mode != .pseudonymize || originals.contains(PIIKey(e.type, e.normalized).string) {
                    rep.residual[e.type.rawValue, default: 0] += 1
                    rep.residualFields[f.name, default: 0] += 1
                }
            }
        }
        return (out, rep)
    }
}

/// A phone number's layout: its separators, its country code and, for NANP numbers, the first
/// digits of the area code and exchange, which cannot be 0 or 1.
public enum PhoneLayout {
    /// A number with the layout of `text` (whose normalised key is `normalized`): the country code
    /// kept (the digits after a leading "+", or NANP's "1" written before an 11-digit number),
    /// every other digit drawn, NANP area code and exchange from 2…9 — or, given `areaCode` (three
    /// digits) for a NANP number written with all ten digits, that area code.
    public static func redraw(_ text: String, normalized: String, _ r: inout SplitMix64, areaCode: String? = nil) -> String {
        var out = "", seenDigits = 0
        let keepPrefix = countryDigits(text, normalized: normalized)
        let nanp = normalized.hasPrefix("+1")
        let area = nanp && text.filter(\.isNumber).count - keepPrefix == 10 ? areaCode.map(Array.init) : nil
        for c in text {
            guard c.isNumber else { out.append(c); continue }
            defer { seenDigits += 1 }
            if seenDigits < keepPrefix { out.append(c); continue }
            let pos = seenDigits - keepPrefix
            if let area, pos < 3 { out.append(area[pos]); continue }
            out += String(nanp && (pos == 0 || pos == 3) ? 2 + r.int(8) : r.int(10))
        }
        return out
    }

    /// How many of the leading digits of `text` are its country code.
    public static func countryDigits(_ text: String, normalized: String) -> Int {
        text.hasPrefix("+") ? text.dropFirst().prefix { $0.isNumber }.count
            : (normalized.hasPrefix("+1") && text.filter(\.isNumber).count == 11 ? 1 : 0)
    }

    /// The values `redraw` can give: 10 per drawn digit, 8 for NANP's two constrained ones; with
    /// `areaCodes` (how many a NANP area code is drawn from), that many for the area code's three.
    public static func spaceSize(_ text: String, normalized: String, areaCodes: Int? = nil) -> Double {
        let drawn = max(0, text.filter(\.isNumber).count - countryDigits(text, normalized: normalized))
        if let areaCodes, normalized.hasPrefix("+1"), drawn == 10 { return Double(areaCodes) * 8 * pow(10, 6) }
        let constrained = normalized.hasPrefix("+1") ? min(2, drawn) : 0
        return pow(10, Double(drawn - constrained)) * pow(8, Double(constrained))
    }

    /// `digits` (a number's digits, country code first) written into the digit places of `text`
    /// from the right, so that one number keeps one value in every layout it is written in;
    /// places to the left of them keep their digit (a country code the other layout omits).
    public static func render(_ digits: [Character], like text: String) -> String {
        let places = text.filter(\.isNumber).count
        let fill = Array(digits.suffix(places)), skip = places - fill.count
        var out = "", k = 0
        for c in text {
            guard c.isNumber else { out.append(c); continue }
            out.append(k < skip ? c : fill[k - skip])
            k += 1
        }
        return out
    }
}
