// Hashes and hex: content hashes of files and strings (provenance, manifests, ledger) and the
// hex form every target prints them in.

import Crypto
import Foundation

public enum HashingError: Error, CustomStringConvertible {
    case unreadable(path: String, reason: String)
    public var description: String {
        switch self { case .unreadable(let p, let r): return "\(p): \(r)" }
    }
}

/// Lower-case hex of bytes.
public func hex(_ d: some Sequence<UInt8>) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var out: [UInt8] = []
    for b in d { out.append(digits[Int(b >> 4)]); out.append(digits[Int(b & 15)]) }
    return String(decoding: out, as: UTF8.self)
}

public func sha256(_ s: String) -> String { hex(SHA256.hash(data: Data(s.utf8))) }
public func sha256(data: Data) -> String { hex(SHA256.hash(data: data)) }

/// SHA-256 of a file, read in 4 MiB chunks.
public func sha256(file path: String) throws -> String {
    guard let h = FileHandle(forReadingAtPath: path) else { throw HashingError.unreadable(path: path, reason: "cannot open") }
    defer { try? h.close() }
    var hasher = SHA256()
    do {
        while let chunk = try h.read(upToCount: 1 << 22), !chunk.isEmpty { hasher.update(data: chunk) }
    } catch { throw HashingError.unreadable(path: path, reason: "cannot read: \(error.localizedDescription)") }
    return hex(hasher.finalize())
}

/// The 16-hex-digit keyed hash that stands for a value or a subject in reports: HMAC-SHA256 under
/// the run's salt, first 8 bytes. `domain` separates kinds ("subject", "canary", …) so equal
/// strings of different kinds get unrelated ids.
public struct Hasher16: Sendable {
    let salt: Data
    public init(salt: Data) { self.salt = salt }
    public func callAsFunction(_ s: String) -> String {
        hex(HMAC<SHA256>.authenticationCode(for: Data(s.utf8), using: SymmetricKey(data: salt)).prefix(8))
    }
    public func callAsFunction(_ domain: String, _ s: String) -> String { self(domain + "\u{1F}" + s) }
}

/// HMAC-SHA-256 of `message` under `key` (for records kept where others may write: a MAC made
/// with a key they cannot read says who wrote them).
public func hmacSHA256(key: Data, _ message: Data) -> Data {
    Data(HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: key)))
}

/// Whether two byte strings are equal, in time that depends only on the longer one's length (for
/// MACs and API keys: an early exit would tell an attacker how many leading bytes of a guess were
/// right, or how long the secret is). The one comparison for the ledger, the study and the server.
public func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    var diff = UInt8(a.count == b.count ? 0 : 1)
    for i in 0..<max(a.count, b.count) { diff |= (i < a.count ? a[i] : 0) ^ (i < b.count ? b[i] : 0) }
    return diff == 0
}
