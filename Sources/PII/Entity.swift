// What a detector reports, with Microsoft Presidio's type names, and how one real value maps to
// one key (normalisation) so that the index and the audits can match what a model emits.

import Foundation

public enum PIIType: String, Codable, Sendable, CaseIterable, Comparable {
    case email = "EMAIL_ADDRESS", phone = "PHONE_NUMBER", creditCard = "CREDIT_CARD", ssn = "US_SSN"
    case iban = "IBAN_CODE", ip = "IP_ADDRESS", url = "URL", person = "PERSON"
    public static func < (a: PIIType, b: PIIType) -> Bool { a.rawValue < b.rawValue }
}

/// One detected value. `start`/`end` are Unicode scalar offsets (what Python's `str` indexes),
/// end exclusive.
public struct PIIEntity: Codable, Sendable, Equatable {
    public var type: PIIType
    public var start: Int
    public var end: Int
    public var text: String
    public var score: Double
    /// The key that identifies the value (e-mail case-folded, phone as +digits, card digits...).
    public var normalized: String

    public init(type: PIIType, start: Int, end: Int, text: String, score: Double, normalized: String) {
        self.type = type; self.start = start; self.end = end; self.text = text; self.score = score; self.normalized = normalized
    }
}

public enum PIINormalize {
    /// E-mail: case-folded (the local part too: real mail systems treat it case-insensitively).
    public static func email(_ s: String) -> String { s.lowercased() }

    /// Phone: "+" then digits with the country code (a "(0)" trunk after it dropped); numbers
    /// without one are taken as NANP (+1) when they have NANP's length, and kept as their
    /// national digits otherwise ("020 7946 0958" → "02079460958": the country is unknown).
    /// An extension is appended as "x123".
    public static func phone(_ s: String) -> String { asciiPhone(s) ?? foundationPhone(s) }

    /// `phone(s)` for any string (extensions, non-ASCII separators).
    static func foundationPhone(_ s: String) -> String {
        var body = Substring(s.trimmingCharacters(in: .whitespaces)), ext = ""
        if let r = body.range(of: #"\s*,?\s*(?:ext|x|extn|extension|ex|durchwahl|poste|int|#)\.?:?\s*\d{1,6}$"#, options: [.regularExpression, .caseInsensitive]),
           r.lowerBound > body.startIndex, body[body.index(before: r.lowerBound)].isNumber {
            ext = "x" + digitsOnly(String(body[r]))
            body = body[..<r.lowerBound]
        }
        let trimmed = body.replacingOccurrences(of: "(0)", with: "")
        let digits = digitsOnly(trimmed)
        if trimmed.hasPrefix("+") { return "+" + digits + ext }
        if trimmed.hasPrefix("00") { return "+" + digits.dropFirst(2) + ext }
        if digits.count == 11 && digits.hasPrefix("1") && !trimmed.hasPrefix("(") { return "+" + digits + ext }
        if digits.hasPrefix("0") || digits.count > 10 || digits.count < 7 || digits.hasPrefix("1") { return digits + ext }
        return "+1" + digits + ext
    }

    /// `phone(s)` for the common case, without Foundation: an ASCII string with no letter and
    /// no "#" (the extension pattern then cannot match; its whitespace is space and tab). Nil
    /// otherwise.
    static func asciiPhone(_ s: String) -> String? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(s.utf8.count)
        for b in s.utf8 {
            guard b < 0x80, b != UInt8(ascii: "#"), !(b | 0x20 >= UInt8(ascii: "a") && b | 0x20 <= UInt8(ascii: "z")) else { return nil }
            bytes.append(b)
        }
        var lo = 0, hi = bytes.count
        while lo < hi && (bytes[lo] == 0x20 || bytes[lo] == 0x09) { lo += 1 }
        while hi > lo && (bytes[hi - 1] == 0x20 || bytes[hi - 1] == 0x09) { hi -= 1 }
        // "(0)" removed, then the digits
        var trimmed: [UInt8] = [], digits: [UInt8] = []
        trimmed.reserveCapacity(hi - lo); digits.reserveCapacity(hi - lo)
        var k = lo
        while k < hi {
            if k + 2 < hi && bytes[k] == UInt8(ascii: "(") && bytes[k + 1] == UInt8(ascii: "0") && bytes[k + 2] == UInt8(ascii: ")") { k += 3; continue }
            trimmed.append(bytes[k])
            if bytes[k] >= UInt8(ascii: "0") && bytes[k] <= UInt8(ascii: "9") { digits.append(bytes[k]) }
            k += 1
        }
        let first = trimmed.first, d0 = digits.first
        func key(_ prefix: String, _ ds: ArraySlice<UInt8>) -> String { prefix + String(decoding: ds, as: UTF8.self) }
        if first == UInt8(ascii: "+") { return key("+", digits[...]) }
        if trimmed.count >= 2 && first == UInt8(ascii: "0") && trimmed[1] == UInt8(ascii: "0") { return key("+", digits.dropFirst(2)) }
        if digits.count == 11 && d0 == UInt8(ascii: "1") && first != UInt8(ascii: "(") { return key("+", digits[...]) }
        if d0 == UInt8(ascii: "0") || digits.count > 10 || digits.count < 7 || d0 == UInt8(ascii: "1") { return key("", digits[...]) }
        return key("+1", digits[...])
    }

    /// The normalised key of a value of a type.
    public static func key(_ t: PIIType, _ text: String) -> String {
        switch t {
        case .email: return email(text)
        case .url: return text
        case .phone: return phone(text)
        case .creditCard, .ssn: return digitsOnly(text)
        case .iban: return text.replacingOccurrences(of: " ", with: "").uppercased()
        case .ip: return text.lowercased()
        case .person: return text.split(whereSeparator: { $0 == " " || $0 == "\t" }).joined(separator: " ").lowercased()
        }
    }

    public static func digitsOnly(_ s: String) -> String { String(s.unicodeScalars.filter { ("0"..."9").contains($0) }.map(Character.init)) }
}

/// The validators the detectors use, for code that makes or checks values (scrubbing, tests).
public enum PIIValidators {
    public static func luhn(_ digits: [Int]) -> Bool { Detectors.luhn(digits) }
    public static func validSSN(_ digits: [Int]) -> Bool { Detectors.validSSN(digits) }
    public static func ibanChecksumValid(_ iban: String) -> Bool { Detectors.ibanChecksumValid(iban.unicodeScalars.map(\.value)) }
}

/// One real value: its type and normalised key. `string` is the form hashed into value ids.
public struct PIIKey: Hashable, Codable, Sendable, Comparable {
    public var type: PIIType
    public var value: String
    public init(_ type: PIIType, _ value: String) { self.type = type; self.value = value }
    public var string: String { type.rawValue + "\u{1F}" + value }
    public static func < (a: PIIKey, b: PIIKey) -> Bool { (a.type, a.value) < (b.type, b.value) }
}
