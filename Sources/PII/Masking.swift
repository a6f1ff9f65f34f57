// Masked forms for reports: enough to recognise a value, not enough to use it.

public enum PIIMask {
    /// j***@e****.com, (***) ***-**07, 4***-****-****-1111, D*** W*******
    public static func mask(_ e: PIIEntity) -> String { mask(e.text, type: e.type) }

    public static func mask(_ text: String, type: PIIType) -> String {
        switch type {
        case .email:
            guard let at = text.firstIndex(of: "@") else { return stars(text) }
            let local = text[..<at], domain = text[text.index(after: at)...]
            let parts = domain.split(separator: ".")
            let tld = parts.count > 1 ? "." + parts.last! : ""
            return keepFirst(String(local)) + "@" + keepFirst(parts.dropLast().joined(separator: ".")) + tld
        case .phone, .creditCard, .ssn, .iban:
            // keep separators, the first character and the last two digits
            let chars = Array(text)
            let digitIdx = chars.indices.filter { chars[$0].isNumber || chars[$0].isLetter }
            let keep = Set(digitIdx.suffix(2) + (type == .creditCard || type == .iban ? Array(digitIdx.prefix(1)) : []))
            return String(chars.indices.map { i in (chars[i].isNumber || chars[i].isLetter) && !keep.contains(i) ? "*" : chars[i] })
        case .person:
            return text.split(separator: " ").map { keepFirst(String($0)) }.joined(separator: " ")
        case .ip, .url:
            return keepFirst(String(text.prefix(12))) + (text.count > 12 ? "…" : "")
        }
    }

    static func keepFirst(_ s: String) -> String { s.isEmpty ? s : String(s.first!) + String(repeating: "*", count: max(1, s.count - 1)) }
    static func stars(_ s: String) -> String { String(repeating: "*", count: s.count) }
}
