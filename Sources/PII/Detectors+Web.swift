// E-mail addresses and URLs.

extension Detectors {
    @inline(__always) static func isLocalChar(_ c: UInt32) -> Bool {
        isAlnum(c) || c == ch(".") || c == ch("_") || c == ch("%") || c == ch("+") || c == ch("-") || c == ch("'")
    }
    /// Host characters: ASCII letters, digits, dot, hyphen, and letters of any script (IDN hosts
    /// written in Unicode; their xn-- form is ASCII).
    @inline(__always) static func isDomainChar(_ c: UInt32) -> Bool { isAlnum(c) || c == ch(".") || c == ch("-") || c > 0x7F && isWordChar(c) }

    /// local@domain.tld with a letter TLD of ≥ 2; not when the token is a URL (http://u@host,
    /// https://site/@handle), except mailto:.
    static func emails(_ u: UnsafeBufferPointer<UInt32>, _ out: inout [(Int, Int, Double)]) {
        let n = u.count
        var i = 0
        while i < n {
            defer { i += 1 }
            guard u[i] == ch("@") else { continue }
            var s = i
            while s > 0 && isLocalChar(u[s - 1]) { s -= 1 }
            while s < i && (u[s] == ch(".") || u[s] == ch("'") || u[s] == ch("-")) { s += 1 }
            guard s < i, u[i - 1] != ch(".") else { continue }
            var e = i + 1
            while e < n && isDomainChar(u[e]) { e += 1 }
            while e > i + 1 && (u[e - 1] == ch(".") || u[e - 1] == ch("-")) { e -= 1 }
            guard validDomain(u, i + 1, e) else { continue }
            if e < n && u[e] == ch("@") { continue }  // a@b.c@d: not an address
            if inURL(u, s) { continue }
            out.append((s, e, 1.0))
            i = e - 1
        }
    }

    static func validDomain(_ u: UnsafeBufferPointer<UInt32>, _ s: Int, _ e: Int) -> Bool {
        guard e - s >= 4 else { return false }
        var labelStart = s, dots = 0
        for k in s...e {
            if k == e || u[k] == ch(".") {
                let len = k - labelStart
                guard len >= 1, len <= 63, u[labelStart] != ch("-"), u[k - 1] != ch("-") else { return false }
                if k < e { dots += 1; labelStart = k + 1 }
            }
        }
        guard dots >= 1 else { return false }
        let tldLen = e - labelStart
        guard tldLen >= 2 else { return false }
        if tldLen > 4 && (u[labelStart] | 0x20) == ch("x") && (u[labelStart + 1] | 0x20) == ch("n") && u[labelStart + 2] == ch("-") && u[labelStart + 3] == ch("-") {
            return true   // an internationalised TLD in its xn-- form
        }
        for k in labelStart..<e where !(isAlpha(u[k]) || u[k] > 0x7F) { return false }
        return true
    }

    /// True when the non-space token that contains position `s` is a URL (scheme:// or www.).
    static func inURL(_ u: UnsafeBufferPointer<UInt32>, _ s: Int) -> Bool {
        var t = s
        while t > 0 && !isSpace(u[t - 1]) && u[t - 1] != ch("<") && u[t - 1] != ch("(") && u[t - 1] != ch("\"") && u[t - 1] != ch("[") { t -= 1 }
        if t == s { return false }
        let prefix = String(String.UnicodeScalarView((t..<s).compactMap { Unicode.Scalar(u[$0]) })).lowercased()
        if prefix.hasPrefix("mailto:") { return false }
        return prefix.contains("://") || prefix.hasPrefix("www.") || prefix.contains("/")
    }

    static let schemes: [[UInt32]] = ["http://", "https://", "ftp://", "www."].map { $0.unicodeScalars.map(\.value) }

    /// http(s)://, ftp:// and www. links up to whitespace; trailing punctuation and unbalanced
    /// closing brackets are left out.
    static func urls(_ u: UnsafeBufferPointer<UInt32>, _ out: inout [(Int, Int, Double)]) {
        let n = u.count
        var i = 0
        while i < n {
            let c = u[i]
            guard c == ch("h") || c == ch("H") || c == ch("f") || c == ch("F") || c == ch("w") || c == ch("W"),
                  i == 0 || !isWordChar(u[i - 1]) else { i += 1; continue }
            var matched = 0
            for sch in schemes where i + sch.count < n {
                var ok = true
                for (k, x) in sch.enumerated() where (u[i + k] | 0x20) != x { ok = false; break }
                if ok { matched = sch.count; break }
            }
            guard matched > 0, isAlnum(u[i + matched]) else { i += 1; continue }
            var e = i + matched
            var depth = 0
            while e < n {
                let x = u[e]
                if isSpace(x) || x == ch("<") || x == ch(">") || x == ch("\"") || x == ch("`") || x > 0x7E && !isWordChar(x) { break }
                if x == ch("(") { depth += 1 } else if x == ch(")") { if depth == 0 { break }; depth -= 1 }
                e += 1
            }
            while e > i + matched, let last = Optional(u[e - 1]),
                  last == ch(".") || last == ch(",") || last == ch(";") || last == ch(":") || last == ch("!") || last == ch("?") || last == ch("'") || last == ch("]") {
                e -= 1
            }
            // the host must look like one
            var hostEnd = i + matched
            while hostEnd < e && isDomainChar(u[hostEnd]) { hostEnd += 1 }
            if matched == 4 {   // "www.": www.name.tld with a real TLD ("www.microsoft" is not a link)
                if validDomain(u, i, hostEnd), let tld = lastLabel(u, i, hostEnd), TopLevelDomains.contains(tld), labelCount(u, i, hostEnd) >= 3 {
                    out.append((i, e, 0.6))
                }
            } else if validDomain(u, i + matched, hostEnd) {
                out.append((i, e, 0.6))
            }
            i = max(e, i + 1)
        }
    }
}
