// Bare domains as URLs ("example.co.il", "shop.example.com/cart"): only when the last label is
// a real TLD (the ICANN list in TopLevelDomains), written in lower case, and the token does not
// read as code or a file name. Brand and rarely used generic TLDs ("www.microsoft", "Main.java")
// and TLDs that double as file extensions or code words ("setup.py", "obj.id", "self.name") need
// a path, a third label or a scheme.

extension Detectors {
    /// Generic TLDs that people write bare; other generic ones only with a scheme.
    static let commonGenericTLDs: Set<String> = [
        "com", "net", "org", "edu", "gov", "mil", "int", "info", "biz", "app", "dev", "xyz", "online", "site", "store", "tech", "blog", "shop",
        "cloud", "club", "live", "news", "media", "agency", "digital", "website", "space", "company", "solutions", "world", "today", "global",
        "life", "top", "vip", "ltd", "group", "network", "systems", "academy", "travel", "jobs", "museum", "aero", "coop", "mobi", "asia", "tel",
        "pro", "africa", "berlin", "london", "nyc", "paris", "tokyo", "wiki", "design", "studio", "art", "health", "bank", "law", "page",
    ]
    /// Country TLDs that are also file extensions or common code / English words.
    static let riskyCountryTLDs: Set<String> = ["py", "sh", "md", "rs", "pl", "so", "id", "is", "in", "it", "at", "be", "to", "do", "no", "as", "us",
                                                "am", "pm", "ps", "cs", "js", "ts", "go", "me", "my", "on", "ai", "ml", "mk", "st", "tv", "ms", "cc"]

    static func lastLabel(_ u: UnsafeBufferPointer<UInt32>, _ s: Int, _ e: Int) -> String? {
        var k = e
        while k > s && u[k - 1] != ch(".") { k -= 1 }
        guard k > s, k < e else { return nil }
        return String(String.UnicodeScalarView((k..<e).compactMap { Unicode.Scalar(u[$0]) }))
    }

    static func labelCount(_ u: UnsafeBufferPointer<UInt32>, _ s: Int, _ e: Int) -> Int {
        var c = 1
        for k in s..<e where u[k] == ch(".") { c += 1 }
        return c
    }

    /// The end of a URL's port, path, query and fragment after a host ending at `e`.
    static func urlTail(_ u: UnsafeBufferPointer<UInt32>, _ e: Int) -> Int {
        let n = u.count
        guard e < n, u[e] == ch("/") || u[e] == ch(":") && e + 1 < n && isDigit(u[e + 1]) || u[e] == ch("?") && e + 1 < n && isAlnum(u[e + 1]) || u[e] == ch("#") && e + 1 < n && isAlnum(u[e + 1]) else { return e }
        var k = e, depth = 0
        while k < n {
            let x = u[k]
            if isSpace(x) || x == ch("<") || x == ch(">") || x == ch("\"") || x == ch("`") || x > 0x7E && !isWordChar(x) { break }
            if x == ch("(") { depth += 1 } else if x == ch(")") { if depth == 0 { break }; depth -= 1 }
            k += 1
        }
        while k > e, let last = Optional(u[k - 1]),
              last == ch(".") || last == ch(",") || last == ch(";") || last == ch(":") || last == ch("!") || last == ch("?") || last == ch("'") || last == ch("]") {
            k -= 1
        }
        return k
    }

    static func bareDomains(_ u: UnsafeBufferPointer<UInt32>, _ out: inout [(Int, Int, Double)]) {
        let n = u.count
        var i = 0
        while i < n {
            let c = u[i]
            guard isAlnum(c) || c > 0x7F && isWordChar(c) else { i += 1; continue }
            if i > 0 {
                let p = u[i - 1]
                if isWordChar(p) || p == ch(".") || p == ch("@") || p == ch("/") || p == ch("\\") || p == ch("-") || p == ch("_") || p == ch("$")
                    || p == ch(":") || p == ch("%") || p == ch("=") && false { i += 1; continue }
            }
            var e = i, dots = 0
            while e < n && isDomainChar(u[e]) { if u[e] == ch(".") { dots += 1 }; e += 1 }
            defer { i = max(e, i + 1) }
            guard dots > 0 else { continue }
            while e > i && (u[e - 1] == ch(".") || u[e - 1] == ch("-")) { e -= 1 }
            guard validDomain(u, i, e) else { continue }
            // an ASCII last label that is no TLD ("john.smith", "setup.py" aside): skip without
            // building its String (the checks below only ever skip, in any order)
            var k = e
            while k > i && u[k - 1] != ch(".") { k -= 1 }
            if k > i && k < e, let key = WordKey(u, k, e), !TopLevelDomains.keys.contains(key) { continue }
            guard let tld = lastLabel(u, i, e) else { continue }
            if e < n && (u[e] == ch("@") || u[e] == ch("(") || u[e] == ch("_") || u[e] == ch("=")) { continue }
            guard tld == tld.lowercased() || tld.hasPrefix("XN--"), TopLevelDomains.contains(tld) else { continue }
            let labels = labelCount(u, i, e)
            let tail = urlTail(u, e)
            let hasPath = tail > e
            if tld.count > 2 && !tld.hasPrefix("xn--") && !commonGenericTLDs.contains(tld) { continue }
            if riskyCountryTLDs.contains(tld) && !hasPath && labels < 3 { continue }
            // "www.x" handled by the scheme detector; a host of digits only is a number
            if labels == 2 && (u[i] | 0x20) == ch("w") && e - i > 4 && (u[i + 1] | 0x20) == ch("w") && (u[i + 2] | 0x20) == ch("w") && u[i + 3] == ch(".") { continue }
            var allDigits = true
            for k in i..<e where !(isDigit(u[k]) || u[k] == ch(".")) { allDigits = false; break }
            if allDigits { continue }
            out.append((i, tail, hasPath || labels >= 3 ? 0.6 : 0.5))
        }
    }
}
