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
/// `localhost` or a loopback address: 127.0.0.0/8 and ::1, in every spelling the resolver reads
/// as one — IPv4 as inet_aton reads it (`127.1`, `0x7f.0.0.1`, `2130706433`: getaddrinfo, and so
/// the HTTP client and the server's bind, connect to 127.0.0.1 for them) and IPv4-mapped IPv6
/// (`::ffff:127.0.0.1`, `::ffff:7f00:1`). By its spelling only: another name that resolves to a
/// loopback address today is not taken for one. Not loopback: the IPv4-compatible `::127.0.0.1`
/// and NAT64 `64:ff9b::127.0.0.1` (both routed off the machine), an address with a zone.
public func isLoopbackHost(_ host: String) -> Bool {
    guard let b = ipAddressBytes(host) else { return unbracketed(host).lowercased() == "localhost" }
    if b.count == 4 { return b[0] == 127 }
    if b[0..<15].allSatisfy({ $0 == 0 }) && b[15] == 1 { return true }
    return b[0..<10].allSatisfy { $0 == 0 } && b[10] == 0xFF && b[11] == 0xFF && b[12] == 127
}

/// Whether `host` is the unspecified address (0.0.0.0 or ::, in any spelling the resolver reads
/// as one, IPv4-mapped included): a connection to it reaches this machine, a bind to it every
/// interface.
public func isUnspecifiedHost(_ host: String) -> Bool {
    guard let b = ipAddressBytes(host) else { return false }
    if b.allSatisfy({ $0 == 0 }) { return true }
    return b.count == 16 && b[0..<10].allSatisfy { $0 == 0 } && b[10] == 0xFF && b[11] == 0xFF && b[12..<16].allSatisfy { $0 == 0 }
}

/// The bytes of a numeric host (4 or 16), nil for a name. IPv4 is read as inet_aton (and so
/// getaddrinfo) reads it — one to four parts, each decimal, octal (leading 0) or hex (0x) — but
/// only from digits, `x` and dots (inet_aton ignores whatever follows a space); IPv6 with or
/// without brackets, never with a zone (`%eth0`).
public func ipAddressBytes(_ host: String) -> [UInt8]? {
    let h = unbracketed(host)
    var v6 = in6_addr()
    if h.contains(":") { return inet_pton(AF_INET6, h, &v6) == 1 ? withUnsafeBytes(of: &v6) { Array($0) } : nil }
    guard !h.isEmpty, h.unicodeScalars.allSatisfy({ "0123456789abcdefABCDEFxX.".unicodeScalars.contains($0) }),
          h.first != ".", h.last != "." else { return nil }
    var v4 = in_addr()
    guard inet_aton(h, &v4) != 0 else { return nil }
    return withUnsafeBytes(of: &v4.s_addr) { Array($0) }
}

private func unbracketed(_ host: String) -> String {
    host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
}
