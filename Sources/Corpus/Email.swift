// RFC 822 / MIME messages: header unfolding, encoded words (RFC 2047), multipart bodies with
// quoted-printable and base64 parts, charsets. What the importers need to turn a message into
// a record: sender, recipients, subject line, and the readable text.

import Foundation

public struct EmailMessage: Sendable {
    public var headers: [(name: String, value: String)]
    /// The readable body: text/plain parts decoded and joined (text/html stripped of tags when
    /// there is no plain part).
    public var body: String

    public func header(_ name: String) -> String? {
        headers.first { $0.name.caseInsensitiveCompare(name) == .orderedSame }?.value
    }

    public struct ParseError: Error { public let reason: String }

    /// Limits on what one message may hold; a message beyond them is skipped with the reason.
    public enum Limits {
        /// A whole message (with its attachments).
        public static let messageBytes = 64 << 20
        /// Its header section, and that of each MIME part.
        public static let headerBytes = 1 << 20
        /// Nesting of multipart and message/rfc822 parts, counted together.
        public static let depth = 8
    }

    public static func parse(_ bytes: [UInt8]) throws -> EmailMessage {
        guard bytes.count <= Limits.messageBytes else {
            throw ParseError(reason: "message of \(bytes.count) bytes exceeds the limit of \(Limits.messageBytes)")
        }
        return try parse(bytes[...], depth: 0)
    }

    static func parse(_ bytes: ArraySlice<UInt8>, depth: Int) throws -> EmailMessage {
        let (rawHeaders, bodyBytes) = try splitHeaderBody(bytes)
        let headers = parseHeaders(rawHeaders)
        guard !headers.isEmpty else { throw ParseError(reason: "no RFC 822 headers") }
        guard headers.contains(where: { ["from", "to", "subject", "date", "message-id"].contains($0.name.lowercased()) }) else {
            throw ParseError(reason: "no From/To/Subject/Date/Message-ID header")
        }
        let body = try readableText(headers: headers, body: bodyBytes, depth: depth)
        return EmailMessage(headers: headers, body: body)
    }

    /// Splits at the first empty line (LF or CRLF), without copying.
    static func splitHeaderBody(_ b: ArraySlice<UInt8>) throws -> (ArraySlice<UInt8>, ArraySlice<UInt8>) {
        var i = b.startIndex
        while i < b.endIndex {
            if b[i] == 0x0A {
                if i + 1 < b.endIndex && b[i + 1] == 0x0A { return try checked(b[..<i], b[(i + 2)...]) }
                if i + 2 < b.endIndex && b[i + 1] == 0x0D && b[i + 2] == 0x0A { return try checked(b[..<i], b[(i + 3)...]) }
            }
            i += 1
            if i - b.startIndex > Limits.headerBytes { break }
        }
        return try checked(b, b[b.endIndex...])
    }

    static func checked(_ h: ArraySlice<UInt8>, _ body: ArraySlice<UInt8>) throws -> (ArraySlice<UInt8>, ArraySlice<UInt8>) {
        guard h.count <= Limits.headerBytes else {
            throw ParseError(reason: "header section longer than the limit of \(Limits.headerBytes) bytes")
        }
        return (h, body)
    }

    static func parseHeaders(_ raw: ArraySlice<UInt8>) -> [(name: String, value: String)] {
        var out: [(String, String)] = []
        let text = String(decoding: raw, as: UTF8.self).replacingOccurrences(of: "\r\n", with: "\n")
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = rawLine.hasSuffix("\r") ? rawLine.dropLast() : rawLine
            if let f = line.first, f == " " || f == "\t" {
                if !out.isEmpty { out[out.count - 1].1 += " " + line.trimmingCharacters(in: .whitespaces) }
                continue
            }
            guard let colon = line.firstIndex(of: ":") else {
                if out.isEmpty && line.hasPrefix("From ") { continue }  // mbox separator line
                continue
            }
            let name = String(line[..<colon]).trimmingCharacters(in: .whitespaces)
            guard !name.isEmpty, !name.contains(" ") else { continue }
            let value = String(line[line.index(after: colon)...]).trimmingCharacters(in: .whitespaces)
            out.append((name, decodeEncodedWords(value)))
        }
        return out
    }

    /// RFC 2047 encoded words: =?charset?B|Q?text?=
    public static func decodeEncodedWords(_ s: String) -> String {
        guard s.contains("=?") else { return s }
        var out = ""
        var rest = Substring(s)
        var lastWasWord = false
        while let start = rest.range(of: "=?") {
            let before = rest[..<start.lowerBound]
            let after = rest[start.upperBound...]
            let parts = after.split(separator: "?", maxSplits: 3, omittingEmptySubsequences: false)
            guard parts.count == 4, parts[3].hasPrefix("="), let enc = parts[1].first else { out += rest; return out }
            if !(lastWasWord && before.allSatisfy(\.isWhitespace)) { out += before }
            let charset = String(parts[0]), payload = String(parts[2])
            var bytes: [UInt8] = []
            if enc == "B" || enc == "b" { bytes = Array(Data(base64Encoded: padBase64(payload)) ?? Data()) }
            else { bytes = quotedPrintable(Array(payload.replacingOccurrences(of: "_", with: " ").utf8), header: true) }
            out += decodeCharset(bytes, charset: charset)
            rest = parts[3].dropFirst()
            lastWasWord = true
        }
        return out + rest
    }

    static func padBase64(_ s: String) -> String {
        let clean = s.filter { !$0.isWhitespace }
        return clean + String(repeating: "=", count: (4 - clean.count % 4) % 4)
    }

    /// Content-Type (lower-cased) and its parameters.
    static func contentType(_ headers: [(name: String, value: String)]) -> (String, [String: String]) {
        guard let v = headers.first(where: { $0.name.lowercased() == "content-type" })?.value else { return ("text/plain", [:]) }
        var parts = v.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
        let type = parts.isEmpty ? "text/plain" : parts.removeFirst().lowercased()
        var params: [String: String] = [:]
        for p in parts {
            guard let eq = p.firstIndex(of: "=") else { continue }
            var val = String(p[p.index(after: eq)...]).trimmingCharacters(in: .whitespaces)
            if val.hasPrefix("\""), val.hasSuffix("\""), val.count >= 2 { val = String(val.dropFirst().dropLast()) }
            params[p[..<eq].trimmingCharacters(in: .whitespaces).lowercased()] = val
        }
        return (type, params)
    }

    static func readableText(headers: [(name: String, value: String)], body: ArraySlice<UInt8>, depth: Int) throws -> String {
        let (type, params) = contentType(headers)
        let cte = headers.first(where: { $0.name.lowercased() == "content-transfer-encoding" })?.value.lowercased() ?? "7bit"
        if type.hasPrefix("multipart/") || type == "message/rfc822" {
            guard depth < Limits.depth else { throw ParseError(reason: "MIME parts nested deeper than \(Limits.depth) levels") }
        }
        if type.hasPrefix("multipart/") {
            guard let boundary = params["boundary"], !boundary.isEmpty else { throw ParseError(reason: "multipart without a boundary") }
            var plain: [String] = [], html: [String] = []
            for p in splitMultipart(body, boundary: boundary) {
                let (h, b) = try splitHeaderBody(p)
                let ph = parseHeaders(h)
                let (pt, _) = contentType(ph)
                let disp = ph.first(where: { $0.name.lowercased() == "content-disposition" })?.value.lowercased() ?? ""
                if disp.hasPrefix("attachment") { continue }
                if pt.hasPrefix("multipart/") || pt == "text/plain" || pt == "message/rfc822" {
                    let t = try readableText(headers: ph, body: b, depth: depth + 1)
                    if !t.isEmpty { plain.append(t) }
                } else if pt == "text/html" {
                    html.append(try readableText(headers: ph, body: b, depth: depth + 1))
                }
            }
            return (plain.isEmpty ? html : plain).joined(separator: "\n\n")
        }
        if type == "message/rfc822" {
            // The nested message counts against the same depth; a deeper one is an error, not
            // an empty part.
            do { return try EmailMessage.parse(body, depth: depth + 1).body } catch let e as ParseError where e.reason.hasPrefix("MIME parts nested") {
                throw e
            } catch { return "" }
        }
        guard type.hasPrefix("text/") else { return "" }
        var bytes = Array(body)
        if cte.contains("quoted-printable") { bytes = quotedPrintable(bytes, header: false) }
        else if cte.contains("base64") {
            guard let d = Data(base64Encoded: padBase64(String(decoding: bytes, as: UTF8.self))) else { throw ParseError(reason: "invalid base64 body") }
            bytes = Array(d)
        }
        var text = decodeCharset(bytes, charset: params["charset"] ?? "us-ascii").replacingOccurrences(of: "\r\n", with: "\n")
        if type == "text/html" { text = stripTags(text) }
        return text
    }

    /// The parts between "--boundary" lines, as slices of `body` (no copies). A part runs from
    /// the line after one delimiter to the end of the line before the next (its final line
    /// break belongs to the delimiter, RFC 2046 §5.1.1).
    static func splitMultipart(_ body: ArraySlice<UInt8>, boundary: String) -> [ArraySlice<UInt8>] {
        let delim = Array(("--" + boundary).utf8)
        var parts: [ArraySlice<UInt8>] = []
        var partStart: Int? = nil
        var lineStart = body.startIndex
        func isSpace(_ c: UInt8) -> Bool { c == 0x20 || c == 0x09 || c == 0x0D }
        while lineStart < body.endIndex {
            let nl = body[lineStart...].firstIndex(of: 0x0A) ?? body.endIndex
            var s = lineStart, e = nl
            while s < e, isSpace(body[s]) { s += 1 }
            while e > s, isSpace(body[e - 1]) { e -= 1 }
            let line = body[s..<e]
            let isClose = line.count == delim.count + 2 && line.starts(with: delim) && line.suffix(2).elementsEqual([0x2D, 0x2D])
            if isClose || line.elementsEqual(delim) {
                if let ps = partStart {
                    var end = max(ps, lineStart - 1)
                    if end > ps && body[end - 1] == 0x0D { end -= 1 }
                    parts.append(body[ps..<end])
                }
                if isClose { return parts }
                partStart = min(nl + 1, body.endIndex)
            }
            lineStart = nl + 1
        }
        if let ps = partStart { parts.append(body[ps..<body.endIndex]) }
        return parts
    }

    static func quotedPrintable(_ b: [UInt8], header: Bool) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(b.count)
        var i = 0
        func hex(_ c: UInt8) -> UInt8? {
            switch c { case 0x30...0x39: return c - 0x30; case 0x41...0x46: return c - 0x37; case 0x61...0x66: return c - 0x57; default: return nil }
        }
        while i < b.count {
            if b[i] == UInt8(ascii: "=") {
                if i + 1 < b.count && b[i + 1] == 0x0A { i += 2; continue }  // soft line break
                if i + 2 < b.count && b[i + 1] == 0x0D && b[i + 2] == 0x0A { i += 3; continue }
                if i + 2 < b.count, let h = hex(b[i + 1]), let l = hex(b[i + 2]) { out.append(h << 4 | l); i += 3; continue }
            }
            out.append(b[i]); i += 1
        }
        return out
    }

    /// Bytes in a declared charset → String (invalid sequences become U+FFFD).
    public static func decodeCharset(_ b: [UInt8], charset: String) -> String {
        switch charset.lowercased().trimmingCharacters(in: .whitespaces) {
        case "iso-8859-1", "latin1", "latin-1", "iso8859-1", "l1":
            return String(String.UnicodeScalarView(b.map { Unicode.Scalar($0) }))
        case "windows-1252", "cp1252", "win-1252":
            return String(String.UnicodeScalarView(b.map { Unicode.Scalar(cp1252($0)) ?? "\u{FFFD}" }))
        default:
            // utf-8, us-ascii and anything unknown: UTF-8, which is also what mislabelled mail usually is
            if String(validating: b, as: UTF8.self) == nil, b.contains(where: { $0 >= 0x80 }),
               !b.contains(where: { $0 >= 0xC2 && $0 <= 0xF4 }) {
                return String(String.UnicodeScalarView(b.map { Unicode.Scalar(cp1252($0)) ?? "\u{FFFD}" }))  // 8-bit mail without a charset
            }
            return String(decoding: b, as: UTF8.self)
        }
    }

    static let cp1252High: [UInt32] = [0x20AC, 0xFFFD, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0xFFFD, 0x017D, 0xFFFD,
                                       0xFFFD, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0xFFFD, 0x017E, 0x0178]
    static func cp1252(_ b: UInt8) -> UInt32 { (0x80...0x9F).contains(b) ? cp1252High[Int(b) - 0x80] : UInt32(b) }

    static func stripTags(_ html: String) -> String {
        var out = "", inTag = false
        for c in html { if c == "<" { inTag = true } else if c == ">" { inTag = false } else if !inTag { out.append(c) } }
        return out.replacingOccurrences(of: "&nbsp;", with: " ").replacingOccurrences(of: "&amp;", with: "&")
            .replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">").replacingOccurrences(of: "&quot;", with: "\"")
    }

    /// The address in "Name <addr>", "addr (Name)" or "addr", lower-cased; nil without an @.
    public static func address(_ v: String) -> String? {
        var s = Substring(v)
        if let lt = s.lastIndex(of: "<"), let gt = s[lt...].firstIndex(of: ">") { s = s[s.index(after: lt)..<gt] }
        else if let p = s.firstIndex(of: "(") { s = s[..<p] }
        let a = s.trimmingCharacters(in: CharacterSet.whitespaces.union(CharacterSet(charactersIn: "\"'"))).lowercased()
        return a.contains("@") && !a.contains(" ") ? a : nil
    }

    /// Every address in an address-list header (To, Cc).
    public static func addresses(_ v: String) -> [String] {
        var out: [String] = [], cur = "", inQuote = false, depth = 0
        for c in v {
            if c == "\"" { inQuote.toggle() }
            if c == "<" { depth += 1 } else if c == ">" { depth -= 1 }
            if c == ",", !inQuote, depth == 0 { if let a = address(cur) { out.append(a) }; cur = "" } else { cur.append(c) }
        }
        if let a = address(cur) { out.append(a) }
        return out
    }

    /// The display name of "Name <addr>" (quotes removed), if any.
    public static func displayName(_ v: String) -> String? {
        guard let lt = v.lastIndex(of: "<") else { return nil }
        let n = v[..<lt].trimmingCharacters(in: CharacterSet.whitespaces.union(CharacterSet(charactersIn: "\"'")))
        return n.isEmpty ? nil : n
    }
}
