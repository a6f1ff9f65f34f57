// Phone numbers in the formats of the world's numbering plans.
//
// A candidate is a run of digits with the separators people type (space, -, ., /, brackets,
// "(0)" after a country code), starting with +, 00/011, "(" or a digit, optionally glued to a
// lower-case word ("is415-555-…") and followed by an extension ("ext. 12", "x12"). It is then
// read, in order, as: an international number (+CC or 00/011 CC: the calling code's plan must
// accept the national number), a NANP number (3-3-4 grouping, area and exchange ≥ 2), a
// national number with a trunk prefix (0 in most of the world, 8 in Russia: some plan with that
// trunk must accept the rest), or a national number without one (some plan must accept it as
// written). Plans come from libphonenumber's metadata (PhonePlans). The form gives the base
// score; phone words before it raise it and words like "order" lower it.

extension Detectors {
    static let phoneContext = ContextWords([
        "phone", "phones", "tel", "telephone", "cell", "cellphone", "mobile", "mob", "fax", "call", "ph", "direct", "office", "home", "work",
        "number", "numbers", "contact", "ring", "dial", "hotline", "whatsapp", "sms", "text", "line", "reach", "t", "m", "f", "p", "tél", "téléphone",
        "telefon", "telefono", "teléfono", "telefone", "telefoon", "handy", "mobil", "mobiel", "numero", "número", "tlf", "puhelin",
        "portable", "cellulare", "celular", "móvil", "movil", "telemóvel", "zadzwoń", "телефон", "тел", "電話", "手机", "电话", "전화", "هاتف",
        "טלפון", "call me", "phone number", "landline", "switchboard", "helpline", "support", "reception", "voicemail", "on", "at",
    ])

    struct PhoneRun {
        var end = 0
        var groups: [Int] = []
        var seps = Set<UInt32>()
        var plus = false
        var trunkInParens = false   // "+44 (0)20 …"
        var parens = false
    }

    /// Digits and separators from `i`: single separators between digit runs, brackets around a
    /// run, "(0)" after a leading +CC group.
    static func phoneRun(_ u: UnsafeBufferPointer<UInt32>, _ i: Int) -> PhoneRun {
        let n = u.count
        var r = PhoneRun(), e = i, run = 0, open = false, digitsSeen = 0
        if u[e] == ch("+") { r.plus = true; e += 1 }
        while e < n && digitsSeen <= 20 {
            let x = u[e]
            if isDigit(x) { run += 1; digitsSeen += 1; e += 1; continue }
            if run > 0 { r.groups.append(run); run = 0 }
            if x == ch("(") && !open && e + 2 < n && isDigit(u[e + 1]) {
                if u[e + 1] == ch("0") && u[e + 2] == ch(")") && r.plus && r.groups.count == 1 {   // (0) trunk
                    r.trunkInParens = true; e += 3
                    if e < n && u[e] == ch(" ") { e += 1 }
                    continue
                }
                open = true; r.parens = true; e += 1; continue
            }
            if x == ch(")") && open && e > i && isDigit(u[e - 1]) {
                open = false; e += 1
                if e < n && (u[e] == ch(" ") || u[e] == ch("-")) && e + 1 < n && isDigit(u[e + 1]) { e += 1 }
                continue
            }
            if (x == ch(" ") || x == ch("-") || x == ch(".") || x == ch("/") || x == 0xA0) && e > i && isDigit(u[e - 1]) && e + 1 < n
                && (isDigit(u[e + 1]) || (u[e + 1] == ch("(") && !open)) {
                r.seps.insert(x == 0xA0 ? ch(" ") : x); e += 1; continue
            }
            break
        }
        if run > 0 { r.groups.append(run) }
        while e > i && !isDigit(u[e - 1]) { e -= 1 }
        r.end = e
        return r
    }

    /// " ext. 123", " x123", " extension 12", " #12" after a number: the end including it.
    static func phoneExtension(_ u: UnsafeBufferPointer<UInt32>, _ e: Int) -> Int {
        let n = u.count
        var k = e
        while k < n && u[k] == ch(" ") && k - e < 2 { k += 1 }
        if k < n && u[k] == ch(",") { k += 1; while k < n && u[k] == ch(" ") && k - e < 3 { k += 1 } }
        var w = k
        while w < n && isAlpha(u[w]) && w - k < 9 { w += 1 }
        let word = String(String.UnicodeScalarView((k..<w).map { Unicode.Scalar(u[$0] | 0x20)! }))
        guard ["ext", "x", "extn", "extension", "ex", "durchwahl", "poste", "int"].contains(word) || (w == k && k < n && u[k] == ch("#")) else { return e }
        if w == k { w += 1 }
        if w < n && u[w] == ch(".") { w += 1 }
        if w < n && u[w] == ch(":") { w += 1 }
        while w < n && u[w] == ch(" ") && w - k < 12 { w += 1 }
        var d = w
        while d < n && isDigit(u[d]) && d - w < 6 { d += 1 }
        guard d > w, d == n || !isWordChar(u[d]) else { return e }
        return d
    }

    /// Date-like groupings: 2024-01-15, 15.01.2024, 1/15/2024, 2024/01/15.
    static func dateShaped(_ g: [Int], _ d: [Int], _ seps: Set<UInt32>) -> Bool {
        guard g.count == 3, seps.count == 1, !seps.contains(ch(" ")) else { return false }
        func num(_ a: Int, _ l: Int) -> Int { d[a..<(a + l)].reduce(0) { $0 * 10 + $1 } }
        if g[0] == 4 && g[1] <= 2 && g[2] <= 2 { let m = num(4, g[1]); return (1...12).contains(m) }
        if g[2] == 4 || g[2] == 2 && seps.contains(ch("/")) {
            let a = num(0, g[0]), b = num(g[0], g[1])
            return g[0] <= 2 && g[1] <= 2 && a >= 1 && b >= 1 && (a <= 12 || b <= 12) && a <= 31 && b <= 31
        }
        return false
    }

    static func phones(_ u: UnsafeBufferPointer<UInt32>, _ out: inout [(Int, Int, Double)]) {
        let n = u.count
        var i = 0
        while i < n {
            let c = u[i]
            let startsHere = isDigit(c) || ((c == ch("+") || c == ch("(")) && i + 1 < n && isDigit(u[i + 1]))
            guard startsHere else { i += 1; continue }
            var glued = false
            if i > 0 {
                let p = u[i - 1]
                if isDigit(p) || p == ch("+") || p == ch("_") || ((p == ch(".") || p == ch("-") || p == ch(",") || p == ch("/") || p == ch(":")) && i > 1 && isDigit(u[i - 2])) { i += 1; continue }
                if isWordChar(p) {
                    // "is415-555-0100": glued to a lower-case word of two letters or more
                    guard isLower(p), i > 1, isLower(u[i - 2]) else { i += 1; continue }
                    glued = true
                }
            }
            let r = phoneRun(u, i)
            defer { i = max(r.end, i + 1) }
            guard r.end > i, boundary(u, r.end == i ? i : i, r.end) || glued && rightBoundary(u, r.end) else { continue }
            if glued && r.groups.count < 2 && !r.plus { continue }
            let d = digits(u, i, r.end)
            guard let base = phoneScore(r, d, u, i) else { continue }
            var score = base
            if !r.plus { score = withContext(base, u, i, positive: phoneContext, negative: negativeNumberWords) }
            else if precededByPhoneWord(u, i) { score = min(1, score + 0.15) }
            if score >= 0.3 { out.append((i, phoneExtension(u, r.end), score)) }
        }
    }

    static func rightBoundary(_ u: UnsafeBufferPointer<UInt32>, _ e: Int) -> Bool {
        guard e < u.count else { return true }
        let x = u[e]
        if isWordChar(x) { return false }
        if (x == ch(".") || x == ch("-") || x == ch(",") || x == ch("/")) && e + 1 < u.count && isDigit(u[e + 1]) { return false }
        return true
    }

    static func precededByPhoneWord(_ u: UnsafeBufferPointer<UInt32>, _ s: Int) -> Bool {
        // nil: a word is not ASCII, take the String path
        let fast: Bool? = withUnsafeTemporaryAllocation(of: WordKey.self, capacity: 3) { buf -> Bool? in
            guard let count = wordKeysBefore(u, s, count: 3, buf.baseAddress!) else { return nil }
            return buf.prefix(count).contains(where: phoneContext.ascii.contains)
        }
        if let fast { return fast }
        return wordsBefore(u, s, count: 3).contains(where: phoneContext.strings.contains)
    }

    /// The base score of a run read as a phone number, or nil when no reading fits.
    static func phoneScore(_ r: PhoneRun, _ d: [Int], _ u: UnsafeBufferPointer<UInt32>, _ i: Int) -> Double? {
        let g = r.groups, count = d.count
        guard count >= 7, count <= 17 else { return nil }
        let grouped = g.count >= 2
        // international: +CC, 00 CC, 011 CC
        var intl: ArraySlice<Int>? = nil
        if r.plus { intl = d[...] }
        else if d.count >= 10 && d[0] == 0 && d[1] == 0 && d[2] != 0 { intl = d[2...] }
        else if d.count >= 12 && d.prefix(3) == [0, 1, 1] && !r.parens { intl = d[3...] }
        if let rest = intl {
            guard rest.count >= 7, rest.count <= 15 else { return nil }
            if let cc = PhonePlans.callingCode(rest) {
                let nsn = rest.dropFirst(String(cc).count)
                if PhonePlans.valid(cc: cc, nsn: nsn) { return r.plus ? 0.75 : (grouped ? 0.6 : 0.4) }
                // the CC's own trunk digit written after it ("+44 020 …")
                if let first = nsn.first, first == 0, PhonePlans.valid(cc: cc, nsn: nsn.dropFirst()) { return r.plus ? 0.6 : 0.4 }
            }
            // a "+" number the plans do not know (new ranges, fictitious numbers) in a phone's shape
            if r.plus && rest.count >= 8 && grouped && g.dropFirst().allSatisfy({ $0 >= 2 }) && (1...4).contains(g[0]) { return 0.55 }
            if r.plus && g.count == 1 && rest.count >= 10 { return 0.5 }
            return nil
        }
        if r.plus { return nil }
        if dateShaped(g, d, r.seps) { return nil }
        if g.count > 1 && g.dropFirst().contains(where: { $0 == 1 }) { return nil }   // 978-3-16-…
        if g.count >= 4 && r.seps == [ch(".")] && g.allSatisfy({ $0 <= 3 }) && !(g.allSatisfy { $0 == 2 } || g == [3, 3, 4]) { return nil }  // versions, IPs
        if r.seps.contains(ch("/")) && g.count != 2 { return nil }
        // NANP: (1) 3-3-4, area code and exchange from 2
        var nanp = g, nd = d[...]
        if nanp.first == 1 && d.first == 1 && count == 11 { nanp.removeFirst(); nd = d.dropFirst() }
        if nanp == [3, 3, 4] && nd.count == 10 {
            if nd.first! >= 2 && nd.dropFirst(3).first! >= 2 { return 0.75 }
            if r.parens { return nil }   // "(055) 123-4567": a NANP shape with an impossible area code
        }
        if (nanp == [10] && nd.count == 10) || (g == [11] && d.first == 1) {
            if nd.first! >= 2 && nd.dropFirst(3).first! >= 2 && PhonePlans.valid(cc: 1, nsn: nd) { return 0.3 }
        }
        if g == [3, 4] && count == 7 && d[0] >= 2 { return 0.25 }   // a local number: only after a phone word
        guard count <= 13 else { return nil }
        if grouped && g.contains(where: { $0 > 8 }) { return nil }
        // national with a trunk prefix
        if let trunkCCs = PhonePlans.trunkCodes[d[0]] {
            let nsn = d.dropFirst()
            if !(d[0] == 0 && d[1] == 0), trunkCCs.contains(where: { PhonePlans.valid(cc: $0, nsn: nsn) }) {
                if d[0] != 0 { return grouped && (r.parens || g.count >= 3) ? 0.55 : nil }   // "8 (912) 345-67-89"
                return grouped ? 0.55 : 0.35
            }
        }
        // national without one (Italy, Spain, Brazil's "(11) 96123-4567", China's mobiles)
        guard grouped, g.dropFirst().allSatisfy({ $0 >= 2 }), g[0] >= 2 || r.parens else { return nil }
        for (cc, _) in PhonePlans.plans where PhonePlans.valid(cc: cc, nsn: d[...]) {
            _ = cc
            return r.parens ? 0.5 : 0.4
        }
        return nil
    }
}
