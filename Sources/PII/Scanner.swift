// The PII scanner: hand-written detectors over the text's Unicode scalars (so offsets are scalar
// offsets), each with the validators that separate real values from look-alikes: Luhn for cards,
// SSA rules for SSNs, mod-97 and country lengths for IBANs, octet ranges for IPv4, NANP rules
// and grouping for phone numbers, URL context for e-mail-like strings. Detectors run in a fixed
// priority order and a later one never claims characters an earlier one took.
//
// Scores (0–1, as in Presidio): each detector scores a candidate by how much its form alone
// says (a card number with separators more than a bare digit run, a +CC phone more than a
// national one), then context words before it (in any of several languages: "SSN", "tel",
// "card") raise the score and words that name another kind of number ("order", "invoice",
// "tracking") lower it. Candidates below `minScore` are dropped before they can claim
// characters, so a weak SSN reading of a digit run never hides a phone number.

import Foundation

public struct PIIScanner: Sendable {
    public var types: Set<PIIType>
    /// Candidates scoring below this are not reported. The default keeps what the form or the
    /// context makes likely; 0 reports every validated candidate (bare nine-digit SSNs, bare
    /// national phone numbers without a phone word), 0.8 only the clear-cut forms.
    public var minScore: Double

    /// The default `minScore`.
    public static let defaultMinScore = 0.5

    public init(types: Set<PIIType> = Set(PIIType.allCases), minScore: Double = PIIScanner.defaultMinScore) {
        self.types = types; self.minScore = minScore
    }

    /// Entities in `text`, sorted by start offset.
    public func scan(_ text: String) -> [PIIEntity] {
        if let found = text.utf8.withContiguousStorageIfAvailable({ bytes in
            PIIScanner.scalars(utf8: bytes).withUnsafeBufferPointer { scan(scalars: $0) }
        }) { return found }
        let u = Array(text.unicodeScalars.lazy.map(\.value))
        return u.withUnsafeBufferPointer { scan(scalars: $0) }
    }

    /// The Unicode scalar values of `bytes`, which must be valid UTF-8 (a String's storage):
    /// what `String.unicodeScalars` gives, decoded without its per-scalar indexing.
    static func scalars(utf8 b: UnsafeBufferPointer<UInt8>) -> [UInt32] {
        [UInt32](unsafeUninitializedCapacity: b.count) { out, count in
            var i = 0, k = 0
            let n = b.count
            while i < n {
                let c = UInt32(b[i])
                if c < 0x80 { out[k] = c; i += 1 }
                else if c < 0xE0 { out[k] = (c & 0x1F) << 6 | UInt32(b[i + 1] & 0x3F); i += 2 }
                else if c < 0xF0 { out[k] = (c & 0x0F) << 12 | UInt32(b[i + 1] & 0x3F) << 6 | UInt32(b[i + 2] & 0x3F); i += 3 }
                else { out[k] = (c & 0x07) << 18 | UInt32(b[i + 1] & 0x3F) << 12 | UInt32(b[i + 2] & 0x3F) << 6 | UInt32(b[i + 3] & 0x3F); i += 4 }
                k += 1
            }
            count = k
        }
    }

    /// Detector order = priority when spans overlap.
    static let order: [PIIType] = [.email, .url, .creditCard, .iban, .ssn, .ip, .phone, .person]

    public func scan(scalars u: UnsafeBufferPointer<UInt32>) -> [PIIEntity] {
        var found: [(PIIType, Int, Int, Double)] = []
        var taken = IndexSetLite()
        for t in PIIScanner.order where types.contains(t) {
            var spans: [(Int, Int, Double)] = []
            switch t {
            case .email: Detectors.emails(u, &spans)
            case .url: Detectors.urls(u, &spans); Detectors.bareDomains(u, &spans); spans.sort { $0.0 < $1.0 }
            case .creditCard: Detectors.creditCards(u, &spans)
            case .iban: Detectors.ibans(u, &spans)
            case .ssn: Detectors.ssns(u, &spans)
            case .ip: Detectors.ips(u, &spans)
            case .phone: Detectors.phones(u, &spans)
            case .person: Detectors.persons(u, &spans)
            }
            for (s, e, score) in spans where score >= minScore && !taken.overlaps(s, e) {
                taken.insert(s, e)
                found.append((t, s, e, score))
            }
        }
        found.sort { ($0.1, $0.2) < ($1.1, $1.2) }
        return found.map { t, s, e, score in
            var str = String.UnicodeScalarView()
            for i in s..<e { str.append(Unicode.Scalar(u[i]) ?? "\u{FFFD}") }
            let text = String(str)
            let norm = PIINormalize.key(t, text)
            return PIIEntity(type: t, start: s, end: e, text: text, score: score, normalized: norm)
        }
    }
}

/// Sorted, non-overlapping spans.
struct IndexSetLite {
    var spans: [(Int, Int)] = []
    func overlaps(_ s: Int, _ e: Int) -> Bool {
        var lo = 0, hi = spans.count
        while lo < hi { let m = (lo + hi) / 2; if spans[m].1 <= s { lo = m + 1 } else { hi = m } }
        return lo < spans.count && spans[lo].0 < e
    }
    mutating func insert(_ s: Int, _ e: Int) {
        var lo = 0, hi = spans.count
        while lo < hi { let m = (lo + hi) / 2; if spans[m].0 < s { lo = m + 1 } else { hi = m } }
        spans.insert((s, e), at: lo)
    }
}

// MARK: character classes (ASCII; the detectors' values are ASCII)

@inline(__always) func isDigit(_ c: UInt32) -> Bool { c >= 0x30 && c <= 0x39 }
@inline(__always) func isUpper(_ c: UInt32) -> Bool { c >= 0x41 && c <= 0x5A }
@inline(__always) func isLower(_ c: UInt32) -> Bool { c >= 0x61 && c <= 0x7A }
@inline(__always) func isAlpha(_ c: UInt32) -> Bool { isUpper(c) || isLower(c) }
@inline(__always) func isAlnum(_ c: UInt32) -> Bool { isDigit(c) || isAlpha(c) }
@inline(__always) func isHex(_ c: UInt32) -> Bool { isDigit(c) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66) }
@inline(__always) func isSpace(_ c: UInt32) -> Bool { c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D || c == 0x0C || c == 0x0B || c == 0xA0 }
/// Letters and digits of any script (a word continues through them).
@inline(__always) func isWordChar(_ c: UInt32) -> Bool {
    if c < 0x80 { return isAlnum(c) || c == 0x5F }
    guard let s = Unicode.Scalar(c) else { return false }
    return s.properties.isAlphabetic || s.properties.numericType != nil
}
@inline(__always) func ch(_ s: Unicode.Scalar) -> UInt32 { s.value }

enum Detectors {}
