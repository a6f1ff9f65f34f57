// Text that came from elsewhere — a server's answer, a URL a command printed, a log — before it
// is printed on a terminal. A control character there can move the cursor, rewrite lines already
// shown, change the window title or, on some terminals, answer back as if typed; bidirectional
// overrides can make a line read as something it is not. Each is shown as an escape instead.

import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public enum TerminalText {
    /// `text` with control characters (C0, DEL, C1) and the bidirectional embedding, override and
    /// isolate characters written as `\x1b` / `\u{202e}`. Line breaks and tabs are kept only with
    /// `keepLines` (a multi-line message of our own); a one-line value from elsewhere has them
    /// escaped too, so it cannot start a line that looks like ours.
    public static func escape(_ text: String, keepLines: Bool = false) -> String {
        guard text.unicodeScalars.contains(where: { needsEscape($0, keepLines: keepLines) }) else { return text }
        var out = ""
        out.unicodeScalars.reserveCapacity(text.unicodeScalars.count)
        for s in text.unicodeScalars {
            if !needsEscape(s, keepLines: keepLines) { out.unicodeScalars.append(s); continue }
            out += s.value < 0x100 ? String(format: "\\x%02x", s.value) : String(format: "\\u{%x}", s.value)
        }
        return out
    }

    static func needsEscape(_ s: Unicode.Scalar, keepLines: Bool) -> Bool {
        switch s.value {
        case 0x0A, 0x09: return !keepLines
        case 0x00...0x1F, 0x7F...0x9F: return true
        case 0x202A...0x202E, 0x2066...0x2069: return true   // LRE … RLO, LRI … PDI
        default: return false
        }
    }
}

/// Whether `host` (a name, an IPv4 address, or an IPv6 address with or without brackets) is
/// `localhost` or a loopback address (127.0.0.0/8, ::1, ::ffff:127.x.y.z). By its spelling only:
/// another name that resolves to a loopback address today is not taken for one.
public func isLoopbackHost(_ host: String) -> Bool {
    let h = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
    if h.lowercased() == "localhost" { return true }
    var v4 = in_addr()
    if inet_pton(AF_INET, h, &v4) == 1 { return UInt32(bigEndian: v4.s_addr) >> 24 == 127 }
    var v6 = in6_addr()
    guard inet_pton(AF_INET6, h, &v6) == 1 else { return false }
    let b = withUnsafeBytes(of: &v6) { Array($0) }
    if b[0..<15].allSatisfy({ $0 == 0 }) && b[15] == 1 { return true }
    return b[0..<10].allSatisfy { $0 == 0 } && b[10] == 0xFF && b[11] == 0xFF && b[12] == 127
}
