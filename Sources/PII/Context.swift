// Context words: the few words before a candidate raise or lower its score (Presidio's
// context enhancement). Words are compared lower-cased, letters of any script.

extension Detectors {
    /// Up to `count` words before position `s` on the same line, nearest first, lower-cased.
    static func wordsBefore(_ u: UnsafeBufferPointer<UInt32>, _ s: Int, count: Int = 5) -> [String] {
        var out: [String] = [], k = s, budget = 60
        while k > 0 && out.count < count && budget > 0 {
            while k > 0 && !isWordChar(u[k - 1]) && u[k - 1] != 0x0A && budget > 0 { k -= 1; budget -= 1 }
            guard k > 0, u[k - 1] != 0x0A else { break }
            var b = k
            while b > 0 && isWordChar(u[b - 1]) && k - b < 30 { b -= 1 }
            var w = String.UnicodeScalarView()
            for x in b..<k {
                let c = u[x]
                w.append(Unicode.Scalar(isUpper(c) ? c | 0x20 : c) ?? "?")
            }
            out.append(String(w).lowercased())
            budget -= k - b
            k = b
        }
        return out
    }

    /// Score after context: +`boost` when one of `positive` is among the words before (or, for
    /// two-word phrases, two adjacent words), −0.4 when the nearest word is one of `negative`.
    static func withContext(_ base: Double, _ u: UnsafeBufferPointer<UInt32>, _ s: Int, positive: Set<String>, negative: Set<String> = [], boost: Double = 0.3) -> Double {
        let words = wordsBefore(u, s)
        var score = base
        if let w = words.first, negative.contains(w) { score -= 0.4 }
        else if words.contains(where: positive.contains) { score += boost }
        else if words.count >= 2, zip(words.dropFirst(), words).contains(where: { positive.contains($0 + " " + $1) }) { score += boost }
        return min(1, max(0, score))
    }

    static let negativeNumberWords: Set<String> = [
        "order", "invoice", "ticket", "ref", "reference", "id", "serial", "sku", "po", "batch", "imei", "tracking", "isbn", "part",
        "version", "build", "room", "zip", "meeting", "passcode", "case", "employee", "badge", "pin", "code", "policy", "claim",
        "booking", "confirmation", "transaction", "txn", "receipt", "shipment", "parcel", "routing", "aba", "iban", "bic", "swift",
        "acct", "customer", "member", "patient", "student", "vat", "ein", "lot", "model", "release", "v",
    ]
}
