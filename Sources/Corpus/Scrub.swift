// Scrubbing: replace detected PII by a type tag, a masked form, or a consistent
// format-preserving pseudonym (the same value always gets the same fake, keyed by a secret
// with HMAC-SHA256, so a scrubbed corpus keeps who-talks-to-whom without revealing anyone).
// A second detection pass reports what survived.

import Crypto
import Foundation
import PII

public enum ScrubMode: String, Codable, Sendable, CaseIterable { case redact, mask, pseudonymize }

public struct ScrubReport: Codable, Sendable {
    public var records = 0
    public var replaced: [String: Int] = [:]
    /// Second pass: entities still detected in the output that are original values (for
    /// pseudonymisation) or any PII of the scrubbed types (redact, mask), by type.
    public var residual: [String: Int] = [:]
}

public struct Scrubber: Sendable {
    public let mode: ScrubMode
    public let scanner: PIIScanner
    let secret: Data

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
        let mac = HMAC<SHA256>.authenticationCode(for: Data((e.type.rawValue + "\u{1F}" + e.normalized).utf8), using: SymmetricKey(data: secret))
        let seed = Data(mac).prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        return SynthRNG(seed)
    }

    public func pseudonym(_ e: PIIEntity, avoid: Set<String> = []) -> String {
        var r = rng(e)
        for _ in 0..<50 {
            let fake = draw(e, &r)
            if avoid.isEmpty { return fake }
            if !avoid.contains(e.type.rawValue + "\u{1F}" + PIINormalize.key(e.type, fake)) { return fake }
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
            // same layout; NANP area code and exchange keep a valid first digit; country code kept
            var out = "", seenDigits = 0
            let keepPrefix = e.text.hasPrefix("+") ? (e.text.dropFirst().prefix { $0.isNumber }.count) : (e.normalized.hasPrefix("+1") && e.text.filter(\.isNumber).count == 11 ? 1 : 0)
            let nanp = e.normalized.hasPrefix("+1")
            for c in e.text {
                guard c.isNumber else { out.append(c); continue }
                defer { seenDigits += 1 }
                if seenDigits < keepPrefix { out.append(c); continue }
                let pos = seenDigits - keepPrefix
                out += String(nanp && (pos == 0 || pos == 3) ? 2 + r.int(8) : r.int(10))
            }
            return out
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

    /// Scrubs records and checks the output with a second detection pass.
    public func scrub(records: [Record]) -> ([Record], ScrubReport) {
        var rep = ScrubReport()
        var out = records
        let originals = Set(scanner.scan(all: records.map(\.text)).flatMap { $0.map { $0.type.rawValue + "\u{1F}" + $0.normalized } })
        for i in out.indices { out[i].text = scrub(out[i].text, counts: &rep.replaced, avoid: mode == .pseudonymize ? originals : []) }
        rep.records = out.count
        for ents in scanner.scan(all: out.map(\.text)) {
            for e in ents where mode != .pseudonymize || originals.contains(e.type.rawValue + "\u{1F}" + e.normalized) {
                rep.residual[e.type.rawValue, default: 0] += 1
            }
        }
        return (out, rep)
    }
}

