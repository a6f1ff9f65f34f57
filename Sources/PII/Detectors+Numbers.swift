// Card numbers, SSNs, IBANs, IP addresses and phone numbers.

extension Detectors {
    /// A run of digit groups joined by single separators from `seps`, starting at `i`.
    /// Returns the end and the group lengths.
    static func digitGroups(_ u: UnsafeBufferPointer<UInt32>, _ i: Int, seps: Set<UInt32>, maxGroups: Int) -> (end: Int, groups: [Int], sep: [UInt32]) {
        var e = i, groups: [Int] = [], sepsUsed: [UInt32] = []
        let n = u.count
        while e < n && isDigit(u[e]) && groups.count < maxGroups {
            var k = e
            while k < n && isDigit(u[k]) { k += 1 }
            groups.append(k - e)
            e = k
            if e + 1 < n && seps.contains(u[e]) && isDigit(u[e + 1]) && groups.count < maxGroups { sepsUsed.append(u[e]); e += 1 } else { break }
        }
        return (e, groups, sepsUsed)
    }

    /// Not glued to a word or to more digits on either side.
    @inline(__always) static func boundary(_ u: UnsafeBufferPointer<UInt32>, _ s: Int, _ e: Int) -> Bool {
        if s > 0 {
            let p = u[s - 1]
            if isWordChar(p) { return false }
            if (p == ch(".") || p == ch("-") || p == ch(",") || p == ch("/")) && s > 1 && isDigit(u[s - 2]) { return false }
        }
        if e < u.count {
            let x = u[e]
            if isWordChar(x) { return false }
            // "555-0199-A", "4417/B": a hyphen or slash joining more of the same token
            if (x == ch("-") || x == ch("/")) && e + 1 < u.count && isWordChar(u[e + 1]) { return false }
            if (x == ch(".") || x == ch("-") || x == ch(",") || x == ch("/")) && e + 1 < u.count && isDigit(u[e + 1]) { return false }
        }
        return true
    }

    static func digits(_ u: UnsafeBufferPointer<UInt32>, _ s: Int, _ e: Int) -> [Int] {
        (s..<e).compactMap { isDigit(u[$0]) ? Int(u[$0] - 0x30) : nil }
    }

    public static func luhn(_ d: [Int]) -> Bool {
        var sum = 0
        for (k, x) in d.reversed().enumerated() { sum += k % 2 == 1 ? (x * 2 > 9 ? x * 2 - 9 : x * 2) : x }
        return sum % 10 == 0
    }

    /// Issuer identification ranges (first digits) and the lengths their cards have: the big
    /// four, Maestro, UnionPay, JCB, Diners, Discover, Mir, RuPay, Troy, Verve, UATP.
    static func cardNetwork(_ d: [Int]) -> Bool {
        let n = d.count
        func p(_ k: Int) -> Int { d.prefix(k).reduce(0) { $0 * 10 + $1 } }
        if d[0] == 4 { return [13, 16, 19].contains(n) }                                  // Visa (and Visa Electron)
        if (51...55).contains(p(2)) || (2221...2720).contains(p(4)) { return n == 16 }     // Mastercard
        if p(2) == 34 || p(2) == 37 { return n == 15 }                                    // Amex
        if p(4) == 6011 || p(2) == 65 || (644...649).contains(p(3)) { return (16...19).contains(n) }  // Discover, RuPay 65
        if (3528...3589).contains(p(4)) { return (16...19).contains(n) }                  // JCB
        if (300...305).contains(p(3)) || p(2) == 36 || p(2) == 38 || p(2) == 39 || p(4) == 3095 { return (14...19).contains(n) }  // Diners
        if p(2) == 62 || p(2) == 81 { return (16...19).contains(n) }                      // UnionPay
        if (2200...2204).contains(p(4)) { return (16...19).contains(n) }                  // Mir
        if p(2) == 50 || (56...69).contains(p(2)) { return (12...19).contains(n) }        // Maestro, RuPay 60, Verve 50/65
        if p(4) == 9792 { return n == 16 }                                                // Troy
        if p(2) == 82 || p(3) == 353 || p(3) == 356 { return n == 16 }                    // RuPay
        if d[0] == 1 { return n == 15 }                                                   // UATP
        return false
    }

    static let cardContext = ContextWords(["card", "cards", "credit", "debit", "visa", "mastercard", "amex", "discover", "jcb", "maestro", "diners",
                                           "unionpay", "cc", "payment", "pay", "paid", "charged", "charge", "refund", "refunded", "cvv", "exp", "expiry",
                                           "karte", "kreditkarte", "carte", "tarjeta", "cartão", "carta", "pan", "mir", "rupay", "troy"])

    /// Card numbers of 12–19 digits: bare, or grouped by one kind of separator in the printed
    /// layouts (fours, Amex 4-6-5, Diners 4-6-4). Luhn and an issuer range decide; a bare run
    /// scores lower and a word like "order" just before it drops it.
    static func creditCards(_ u: UnsafeBufferPointer<UInt32>, _ out: inout [(Int, Int, Double)]) {
        let n = u.count
        var i = 0
        while i < n {
            guard isDigit(u[i]), i == 0 || !isDigit(u[i - 1]) else { i += 1; continue }
            let (e, groups, seps) = digitGroups(u, i, seps: [ch(" "), ch("-")], maxGroups: 5)
            let total = groups.reduce(0, +)
            let consistent = Set(seps).count <= 1
            let shaped = groups.count == 1 || groups.dropLast().allSatisfy { $0 == 4 } || groups == [4, 6, 5] || groups == [4, 6, 4]
            if (12...19).contains(total), consistent, shaped, boundary(u, i, e) {
                let d = digits(u, i, e)
                if luhn(d) && cardNetwork(d) && Set(d).count > 1 {
                    let base = groups.count > 1 ? 1.0 : (total >= 14 ? 0.6 : 0.3)
                    let score = withContext(base, u, i, positive: cardContext, negative: negativeNumberWords)
                    out.append((i, e, score))
                }
            }
            i = e
        }
    }

    /// SSA rules: area 001–899 except 666, group 01–99, serial 0001–9999; well-known sample
    /// numbers rejected.
    public static func validSSN(_ d: [Int]) -> Bool {
        guard d.count == 9 else { return false }
        let area = d[0] * 100 + d[1] * 10 + d[2], group = d[3] * 10 + d[4], serial = d[5...].reduce(0) { $0 * 10 + $1 }
        guard area != 0, area != 666, area < 900, group != 0, serial != 0 else { return false }
        let s = d.map(String.init).joined()
        if ["078051120", "219099999", "123456789", "987654320"].contains(s) { return false }
        return Set(d).count > 1
    }

    static let ssnContext = ContextWords(["ssn", "ssns", "ss", "ssa", "social security", "security", "itin", "tin", "taxpayer", "ss#", "soc", "sec"])

    /// SSNs written 3-2-4 with dashes, spaces or dots (mixed too), or unseparated / partly
    /// separated (123456789, 123-456789, 12345-6789). SSA validity decides; a bare or partly
    /// separated run is reported only with a context word ("SSN", "social security").
    static func ssns(_ u: UnsafeBufferPointer<UInt32>, _ out: inout [(Int, Int, Double)]) {
        let n = u.count
        var i = 0
        while i < n {
            guard isDigit(u[i]), i == 0 || !isDigit(u[i - 1]) else { i += 1; continue }
            let (e, groups, seps) = digitGroups(u, i, seps: [ch("-"), ch(" "), ch(".")], maxGroups: 4)
            var end = e, base = 0.0
            if groups == [3, 2, 4] {
                if seps[0] == seps[1] { base = seps[0] == ch("-") ? 0.85 : 0.6 } else if !seps.contains(ch(".")) { base = 0.4 }
            } else if groups.first == 9 && (groups.count == 1 || seps[0] == ch(" ")) {
                end = i + 9; base = 0.3
            } else if groups.count >= 2 && (groups.prefix(2) == [3, 6] || groups.prefix(2) == [5, 4]) && seps[0] == ch("-") {
                end = i + 10; base = 0.3
            } else if groups.count > 3 && groups.prefix(3) == [3, 2, 4] && seps[2] == ch(" ") && seps[0] == seps[1] {
                end = i + 11; base = 0.5   // "536-90-4399 12:00": the run goes on after a space
            }
            if base > 0, boundary(u, i, end), validSSN(digits(u, i, end)) {
                var score = withContext(base, u, i, positive: ssnContext, negative: negativeNumberWords, boost: 0.4)
                if base >= 0.5 && score < base { score = min(score, 0.3) }
                out.append((i, end, score))
            }
            i = max(e, i + 1)
        }
    }

    /// IBAN lengths by country (ISO 13616 registry).
    static let ibanLength: [String: Int] = [
        "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BR": 29, "BY": 28,
        "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18,
        "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22,
        "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20,
        "LU": 20, "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MR": 27, "MT": 31, "MU": 30, "NL": 18, "NO": 15,
        "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24, "SC": 31, "SE": 24, "SI": 19,
        "SK": 24, "SM": 27, "ST": 25, "SV": 28, "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
    ]

    /// ISO 7064 mod 97-10 over the rearranged IBAN (letters A=10 … Z=35).
    public static func ibanChecksumValid(_ s: [UInt32]) -> Bool {
        guard s.count > 4 else { return false }
        var r = 0
        for c in s[4...] + s[..<4] {
            if isDigit(c) { r = (r * 10 + Int(c - 0x30)) % 97 }
            else if isUpper(c) { r = (r * 100 + Int(c - 0x41 + 10)) % 97 }
            else { return false }
        }
        return r == 1
    }

    static func ibans(_ u: UnsafeBufferPointer<UInt32>, _ out: inout [(Int, Int, Double)]) {
        let n = u.count
        var i = 0
        while i + 15 <= n {
            guard isUpper(u[i]), isUpper(u[i + 1]), isDigit(u[i + 2]), isDigit(u[i + 3]), i == 0 || !isWordChar(u[i - 1]) else { i += 1; continue }
            let cc = String(String.UnicodeScalarView([Unicode.Scalar(u[i])!, Unicode.Scalar(u[i + 1])!]))
            guard let len = ibanLength[cc] else { i += 1; continue }
            var chars: [UInt32] = [], e = i
            while e < n && chars.count < len {
                let c = u[e]
                if isUpper(c) || isDigit(c) { chars.append(c); e += 1 }
                else if c == ch(" ") && e + 1 < n && (isUpper(u[e + 1]) || isDigit(u[e + 1])) && chars.count % 4 == 0 { e += 1 }
                else { break }
            }
            if chars.count == len, e == n || !isAlnum(u[e]), ibanChecksumValid(chars) { out.append((i, e, 1.0)); i = e } else { i += 1 }
        }
    }

    static func ips(_ u: UnsafeBufferPointer<UInt32>, _ out: inout [(Int, Int, Double)]) {
        let n = u.count
        var i = 0
        // IPv4: four octets 0–255, not part of a longer dotted number, not after "v"/"version".
        while i < n {
            guard isDigit(u[i]), i == 0 || (!isDigit(u[i - 1]) && u[i - 1] != ch(".") && u[i - 1] != ch(":")) else { i += 1; continue }
            let (e, groups, seps) = digitGroups(u, i, seps: [ch(".")], maxGroups: 5)
            defer { i = max(e, i + 1) }
            guard groups.count == 4, seps.count == 3, groups.allSatisfy({ $0 <= 3 }), boundary(u, i, e) else { continue }
            var octets: [Int] = [], cur = 0
            for k in i..<e { if isDigit(u[k]) { cur = cur * 10 + Int(u[k] - 0x30) } else { octets.append(cur); cur = 0 } }
            octets.append(cur)
            guard octets.allSatisfy({ $0 <= 255 }) else { continue }
            // "21.225.55.00": an octet with a leading zero is a number, not an address
            var lead = false, k = i
            while k < e { let g = k; while k < e && isDigit(u[k]) { k += 1 }; if k - g > 1 && u[g] == ch("0") { lead = true }; k += 1 }
            if lead { continue }
            // "+45 34.62.17.58": dotted digits after a calling code are a phone number
            if i > 2 && u[i - 1] == ch(" ") && isDigit(u[i - 2]) {
                var k = i - 2
                while k > 0 && isDigit(u[k - 1]) { k -= 1 }
                if k > 0 && u[k - 1] == ch("+") { continue }
            }
            if i > 0 && (u[i - 1] | 0x20) == ch("v") { continue }
            if precededByWord(u, i, ["version", "ver", "v", "release", "build"]) { continue }
            out.append((i, e, 0.6))
        }
        // IPv6: hex groups with colons, "::" at most once, optional IPv4 tail.
        i = 0
        while i < n {
            guard isHex(u[i]) || u[i] == ch(":"), i == 0 || !(isWordChar(u[i - 1]) || u[i - 1] == ch(":")) else { i += 1; continue }
            var e = i
            while e < n && (isHex(u[e]) || u[e] == ch(":") || u[e] == ch(".")) { e += 1 }
            while e > i && u[e - 1] == ch(".") { e -= 1 }
            // "2001:db8::1: refused": one trailing colon is punctuation ("::" at the end is not)
            if e - i > 2 && u[e - 1] == ch(":") && u[e - 2] != ch(":") { e -= 1 }
            var colons = 0
            for k in i..<max(i, e) where u[k] == ch(":") { colons += 1 }
            if e - i >= 3, colons >= 2, e == n || !isWordChar(u[e]), validIPv6(Array(UnsafeBufferPointer(rebasing: u[i..<e]))) { out.append((i, e, 0.6)) }
            i = e + 1
        }
    }

    static func validIPv6(_ s: [UInt32]) -> Bool {
        let str = String(String.UnicodeScalarView(s.compactMap(Unicode.Scalar.init)))
        guard str.contains(":"), str.filter({ $0 == ":" }).count >= 2 else { return false }
        let halves = str.components(separatedBy: "::")
        guard halves.count <= 2 else { return false }
        func groups(_ h: String) -> [Substring]? { h.isEmpty ? [] : h.split(separator: ":", omittingEmptySubsequences: false) }
        guard var left = groups(halves[0]) else { return false }
        var right = halves.count == 2 ? (groups(halves[1]) ?? []) : []
        var count = 0
        // an IPv4 tail counts as two groups
        var all = left + right
        if let last = all.last, last.contains(".") {
            let o = last.split(separator: ".", omittingEmptySubsequences: false)
            guard o.count == 4, o.allSatisfy({ !$0.isEmpty && $0.count <= 3 && $0.allSatisfy(\.isNumber) && Int($0)! <= 255 }) else { return false }
            count += 2
            if !right.isEmpty { right.removeLast() } else { left.removeLast() }
            all = left + right
        }
        guard all.allSatisfy({ !$0.isEmpty && $0.count <= 4 && $0.allSatisfy(\.isHexDigit) }) else { return false }
        count += all.count
        // "::" alone is C++ more often than the unspecified address; a compressed form needs a digit
        if halves.count == 2 { return count <= 7 && count >= 1 && str.contains(where: \.isNumber) }
        return count == 8
    }

    /// True when one of `words` (lower case) ends just before position `s` (after spaces).
    static func precededByWord(_ u: UnsafeBufferPointer<UInt32>, _ s: Int, _ words: [String]) -> Bool {
        var k = s
        while k > 0 && (u[k - 1] == ch(" ") || u[k - 1] == ch(":") || u[k - 1] == ch("#")) { k -= 1 }
        var b = k
        while b > 0 && isAlpha(u[b - 1]) { b -= 1 }
        guard b < k, k - b <= 12 else { return false }
        let w = String(String.UnicodeScalarView((b..<k).map { Unicode.Scalar(u[$0] | 0x20)! }))
        return words.contains(w)
    }
}
