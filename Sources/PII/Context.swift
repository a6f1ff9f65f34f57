// Context words: the few words before a candidate raise or lower its score (Presidio's
// context enhancement). Words are compared lower-cased, letters of any script.
//
// Speed: a candidate's words are read straight off the scalars. When they are all ASCII (the
// common case) each is packed, lower-cased, into a fixed-size key and looked up in the ASCII
// entries of the word set, so no String is built; a word with any other scalar sends the
// candidate down the String path (lower-cased Strings compared as Swift compares them).

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

    /// The same walk as `wordsBefore`, the words packed as `WordKey`s into `keys` (nearest
    /// first); the number of words, or nil when one of them is not ASCII or is longer than a
    /// key holds (the caller then takes the String path).
    @inline(__always)
    static func wordKeysBefore(_ u: UnsafeBufferPointer<UInt32>, _ s: Int, count: Int, _ keys: UnsafeMutablePointer<WordKey>) -> Int? {
        var found = 0, k = s, budget = 60
        while k > 0 && found < count && budget > 0 {
            while k > 0 && !isWordChar(u[k - 1]) && u[k - 1] != 0x0A && budget > 0 { k -= 1; budget -= 1 }
            guard k > 0, u[k - 1] != 0x0A else { break }
            var b = k
            while b > 0 && isWordChar(u[b - 1]) && k - b < 30 { b -= 1 }
            guard k - b <= WordKey.capacity, let key = WordKey(u, b, k) else { return nil }
            keys[found] = key
            found += 1
            budget -= k - b
            k = b
        }
        return found
    }

    /// Score after context: +`boost` when one of `positive` is among the words before (or, for
    /// two-word phrases, two adjacent words), −0.4 when the nearest word is one of `negative`.
    static func withContext(_ base: Double, _ u: UnsafeBufferPointer<UInt32>, _ s: Int, positive: ContextWords, negative: ContextWords = .empty, boost: Double = 0.3) -> Double {
        var score = base
        let fast: Int? = withUnsafeTemporaryAllocation(of: WordKey.self, capacity: 5) { buf -> Int? in
            let keys = buf.baseAddress!
            guard let count = wordKeysBefore(u, s, count: 5, keys) else { return nil }
            if count > 0 && negative.ascii.contains(keys[0]) { score -= 0.4; return count }
            for j in 0..<count where positive.ascii.contains(keys[j]) { score += boost; return count }
            if count >= 2 {
                for j in 1..<count {
                    if let phrase = WordKey.phrase(keys[j], keys[j - 1]), positive.ascii.contains(phrase) { score += boost; return count }
                }
            }
            return count
        }
        if fast == nil {
            let words = wordsBefore(u, s)
            score = base
            if let w = words.first, negative.strings.contains(w) { score -= 0.4 }
            else if words.contains(where: positive.strings.contains) { score += boost }
            else if words.count >= 2, zip(words.dropFirst(), words).contains(where: { positive.strings.contains($0 + " " + $1) }) { score += boost }
        }
        return min(1, max(0, score))
    }

    static let negativeNumberWords = ContextWords([
        "order", "invoice", "ticket", "ref", "reference", "id", "serial", "sku", "po", "batch", "imei", "tracking", "isbn", "part",
        "version", "build", "room", "zip", "meeting", "passcode", "case", "employee", "badge", "pin", "code", "policy", "claim",
        "booking", "confirmation", "transaction", "txn", "receipt", "shipment", "parcel", "routing", "aba", "iban", "bic", "swift",
        "acct", "customer", "member", "patient", "student", "vat", "ein", "lot", "model", "release", "v",
    ])
}

/// Up to 24 ASCII characters, one byte each, zero-padded: an ASCII word or phrase, lower-cased.
/// Word characters and the space are never 0, so two keys are equal exactly when the strings are.
struct WordKey: Hashable, Sendable {
    static let capacity = 24
    var a: UInt64 = 0, b: UInt64 = 0, c: UInt64 = 0, length = 0

    /// u[s..<e] lower-cased (ASCII), or nil when a scalar is not ASCII or there are too many.
    @inline(__always) init?(_ u: UnsafeBufferPointer<UInt32>, _ s: Int, _ e: Int) {
        guard e - s <= WordKey.capacity else { return nil }
        for x in s..<e {
            let c = u[x]
            guard c < 0x80 else { return nil }
            append(UInt8(truncatingIfNeeded: isUpper(c) ? c | 0x20 : c))
        }
    }

    /// An ASCII string as it is (the sets' entries are lower case already), or nil.
    init?(_ s: String) {
        guard s.unicodeScalars.count <= WordKey.capacity else { return nil }
        for c in s.unicodeScalars {
            guard c.value < 0x80, c.value != 0 else { return nil }
            append(UInt8(c.value))
        }
    }

    init() {}

    @inline(__always) mutating func append(_ byte: UInt8) {
        let shift = UInt64((length & 7) * 8), v = UInt64(byte) << shift
        switch length >> 3 { case 0: a |= v; case 1: b |= v; default: c |= v }
        length += 1
    }

    @inline(__always) func byte(_ k: Int) -> UInt8 {
        let w = k >> 3 == 0 ? a : (k >> 3 == 1 ? b : c)
        return UInt8(truncatingIfNeeded: w >> UInt64((k & 7) * 8))
    }

    /// "first second", or nil when it does not fit (then it is in no set: no entry is longer).
    @inline(__always) static func phrase(_ first: WordKey, _ second: WordKey) -> WordKey? {
        guard first.length + 1 + second.length <= capacity else { return nil }
        var p = first
        p.append(0x20)
        for k in 0..<second.length { p.append(second.byte(k)) }
        return p
    }
}

/// A set of context words: the Strings, and the ASCII ones as keys.
struct ContextWords: Sendable {
    let strings: Set<String>
    let ascii: Set<WordKey>
    static let empty = ContextWords([])

    init(_ words: Set<String>) {
        strings = words
        var keys = Set<WordKey>()
        for w in words {
            if let k = WordKey(w) { keys.insert(k) }
            else { precondition(w.unicodeScalars.contains { $0.value >= 0x80 }, "context word longer than a WordKey: \(w)") }
        }
        ascii = keys
    }

    func contains(_ w: String) -> Bool { strings.contains(w) }
}
