// Person names where the context gives them away: mail headers (From/To/Cc/X-From/X-To),
// "Name <address>", greetings ("Hi Dana,") and signature blocks (a name line after "Thanks,").
// Names are 1–4 capitalised words or initials; group words ("Team", "Desk") are not persons.

extension Detectors {
    static let headerNames: [[UInt32]] = ["from:", "to:", "cc:", "bcc:", "x-from:", "x-to:", "x-cc:", "x-bcc:", "reply-to:", "sender:"].map { $0.unicodeScalars.map(\.value) }
    static let greetings: [[UInt32]] = ["hi ", "hello ", "dear ", "hey ", "thanks ", "thank you ", "good morning ", "good afternoon ", "forwarded by "].map { $0.unicodeScalars.map(\.value) }
    static let closings: Set<String> = ["thanks,", "thanks!", "thank you,", "regards,", "best,", "best regards,", "kind regards,", "sincerely,",
                                        "cheers,", "many thanks,", "thanks again,", "warm regards,", "all the best,", "yours,", "-", "--"]
    static let groupWords: Set<String> = ["team", "group", "desk", "all", "employees", "department", "support", "staff", "office", "services",
                                          "inc", "llc", "corp", "committee", "the", "and", "list", "board", "admin", "info", "sales", "operations",
                                          "facilities", "credit", "trading", "everyone", "re", "fw", "fwd", "subject", "mr", "mrs", "ms", "dr"]

    /// FNV hash of the ASCII-lower-cased letters of u[s..<e] (punctuation skipped).
    @inline(__always) static func lowerHash(_ u: UnsafeBufferPointer<UInt32>, _ s: Int, _ e: Int) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for k in s..<e where isAlpha(u[k]) || u[k] > 0x7F { h = (h ^ UInt64(isUpper(u[k]) ? u[k] | 0x20 : u[k])) &* 0x100_0000_01B3 }
        return h
    }
    static let leadWords = ["contact", "email", "please", "call", "send", "cc", "ask", "write", "reach", "attention", "attn", "for", "to", "from", "and", "or", "with"]
    static let leadWordHashes: Set<UInt64> = Set(leadWords.map { w in
        let a = w.unicodeScalars.map(\.value)
        return a.withUnsafeBufferPointer { lowerHash($0, 0, a.count) }
    })
    static let groupWordHashes: Set<UInt64> = Set(groupWords.map { w in
        let a = w.unicodeScalars.map(\.value)
        return a.withUnsafeBufferPointer { lowerHash($0, 0, a.count) }
    })

    /// Length of a name starting at `i` (capitalised words, initials, "Last, First M."), or 0.
    static func nameLength(_ u: UnsafeBufferPointer<UInt32>, _ i: Int, end: Int, allowComma: Bool) -> (Int, Int) {
        var k = i, words = 0, lastGood = i, usedComma = false
        while k < end && words < 4 {
            guard isUpper(u[k]) || (u[k] > 0x7F && (Unicode.Scalar(u[k])?.properties.isUppercase ?? false)) else { break }
            var w = k + 1
            while w < end && (isLower(u[w]) || u[w] == ch("'") || u[w] == ch("-") || (u[w] > 0x7F && (Unicode.Scalar(u[w])?.properties.isLowercase ?? false))) { w += 1 }
            let initial = w == k + 1
            if initial { if w < end && u[w] == ch(".") { w += 1 } else if words == 0 { break } }
            if groupWordHashes.contains(lowerHash(u, k, w)) { return (0, 0) }
            words += 1
            lastGood = w
            k = w
            if allowComma && !usedComma && words == 1 && k + 1 < end && u[k] == ch(",") && u[k + 1] == ch(" ") { usedComma = true; k += 2; continue }
            if k < end && u[k] == ch(" ") { k += 1 } else { break }
        }
        return words > 0 ? (lastGood - i, words) : (0, 0)
    }

    static func lineEnd(_ u: UnsafeBufferPointer<UInt32>, _ i: Int) -> Int {
        var e = i
        while e < u.count && u[e] != ch("\n") && u[e] != ch("\r") { e += 1 }
        return e
    }

    static func startsWith(_ u: UnsafeBufferPointer<UInt32>, _ i: Int, _ p: [UInt32], caseInsensitive: Bool = true) -> Bool {
        guard i + p.count <= u.count else { return false }
        for (k, x) in p.enumerated() where (caseInsensitive ? (isUpper(u[i + k]) ? u[i + k] | 0x20 : u[i + k]) : u[i + k]) != x { return false }
        return true
    }

    static func persons(_ u: UnsafeBufferPointer<UInt32>, _ out: inout [(Int, Int, Double)]) {
        let n = u.count
        var lineStart = 0
        var prevIsClosing = false
        while lineStart <= n {
            let le = lineEnd(u, lineStart)
            var s = lineStart
            while s < le && (u[s] == ch(" ") || u[s] == ch("\t")) { s += 1 }
            var handled = false
            // 1. headers
            for h in headerNames where startsWith(u, s, h) {
                var v = s + h.count
                while v < le && (u[v] == ch(" ") || u[v] == ch("\t")) { v += 1 }
                var lt = v
                while lt < le && u[lt] != ch("<") && u[lt] != ch("[") && u[lt] != ch("(") && u[lt] != ch("@") { lt += 1 }
                if lt == le || u[lt] != ch("@") {  // "Name <addr>", "Name [mailto:addr]", "Name (addr)" or a bare name
                    var q = v
                    if q < le && u[q] == ch("\"") { q += 1 }
                    // A list of full names ("Susan J Mara, Paul Kaufman") rather than "Last, First M."
                    var parts: [(Int, Int)] = [], ps = q, allMulti = true
                    for k in q...lt where k == lt || (u[k] == ch(",") && k + 1 < lt && u[k + 1] == ch(" ")) {
                        var words = 1
                        for m in ps..<k where u[m] == ch(" ") { words += 1 }
                        if words < 2 { allMulti = false }
                        parts.append((ps, k)); ps = k + 2
                    }
                    if lt == le && parts.count >= 2 && allMulti {
                        for (a, b) in parts {
                            let (len, _) = nameLength(u, a, end: b, allowComma: false)
                            if len == b - a { out.append((a, b, 0.85)) }
                        }
                    } else {
                        let (len, words) = nameLength(u, q, end: le, allowComma: true)
                        if len > 0 && (words >= 2 || lt < le) { out.append((q, q + len, 0.85)) }
                    }
                }
                handled = true
                break
            }
            // 2. greetings
            if !handled {
                for g in greetings where startsWith(u, s, g) {
                    let q = s + g.count
                    let (len, _) = nameLength(u, q, end: le, allowComma: false)
                    if len > 0 {
                        let after = q + len
                        if after == le || u[after] == ch(",") || u[after] == ch("!") || u[after] == ch(":") || u[after] == ch("/") || u[after] == ch(" ") && after + 1 < le && u[after + 1] == ch("-") {
                            out.append((q, after, 0.6))
                        }
                    }
                    handled = true
                    break
                }
            }
            // 3. signature line after a closing
            if !handled, prevIsClosing {
                let (len, _) = nameLength(u, s, end: le, allowComma: false)
                if len > 0 && s + len == le - (le > s + len && u[le - 1] == ch(" ") ? 1 : 0) { out.append((s, s + len, 0.7)) }
            }
            // Only short lines can be closings; build their text only then.
            var te = le
            while te > s && (u[te - 1] == ch(" ") || u[te - 1] == ch("\t")) { te -= 1 }
            if te > s {
                prevIsClosing = te - s <= 16 && closings.contains(String(String.UnicodeScalarView((s..<te).compactMap { Unicode.Scalar(isUpper(u[$0]) ? u[$0] | 0x20 : u[$0]) })))
            }
            lineStart = le + 1
        }
        // 4. "Name <address>" anywhere (not already taken by a header)
        var i = 0
        while i < n {
            if u[i] == ch("<"), i >= 2, u[i - 1] == ch(" ") {
                var a = i + 1
                while a < n && a < i + 80 && u[a] != ch("@") && u[a] != ch(">") && !isSpace(u[a]) { a += 1 }
                if a < n && u[a] == ch("@") {
                    // walk back over up to four words
                    var b = i - 1, words = 0
                    while b > 0 && words < 4 {
                        var w = b
                        while w > 0 && (isAlpha(u[w - 1]) || u[w - 1] == ch(".") || u[w - 1] == ch("'") || u[w - 1] == ch("-")) { w -= 1 }
                        guard w < b, isUpper(u[w]) else { break }
                        words += 1
                        b = w
                        if b > 0 && u[b - 1] == ch(" ") { b -= 1 } else { break }
                        if b > 0 && !(isAlpha(u[b - 1])) { break }
                    }
                    var start = b
                    while start < i && (u[start] == ch(" ") || u[start] == ch("\"")) { start += 1 }
                    // a sentence-initial verb or label is not part of the name ("Contact Sara Lee <...>")
                    var w0 = start
                    while w0 < i && isAlpha(u[w0]) { w0 += 1 }
                    if leadWordHashes.contains(lowerHash(u, start, w0)) && w0 < i - 1 { start = w0 + 1 }
                    if words > 0 && start < i - 1 {
                        let (len, _) = nameLength(u, start, end: i - 1, allowComma: false)
                        if len == i - 1 - start { out.append((start, start + len, 0.85)) }
                    }
                }
            }
            i += 1
        }
    }
}
