// What the endpoint client says about a URL before and after it uses it: the form that may be
// stored and shown (without the `user:password@` a URL can carry), and whether the prompts and
// the key are about to cross a network in the clear.

import Foundation
import Support

public enum EndpointURL {
    /// `url` without userinfo: `http://user:pw@host:8000/v1` → `http://host:8000/v1`. audit.json,
    /// the HTML report and error messages name the endpoint this way; the credentials stay in
    /// the command line the user typed.
    public static func redacted(_ url: String) -> String {
        guard let scheme = url.range(of: "://") else { return url }
        let rest = url[scheme.upperBound...]
        let authorityEnd = rest.firstIndex(where: { "/?#".contains($0) }) ?? rest.endIndex
        guard let at = rest[..<authorityEnd].lastIndex(of: "@") else { return url }
        return String(url[..<scheme.upperBound]) + rest[rest.index(after: at)...]
    }

    /// The host of `url` (IPv6 without brackets), nil when it has none.
    static func host(_ url: String) -> String? {
        let shown = redacted(url)
        guard let scheme = shown.range(of: "://") else { return nil }
        let rest = shown[scheme.upperBound...]
        let authority = rest.prefix(while: { !"/?#".contains($0) })
        if authority.hasPrefix("["), let close = authority.firstIndex(of: "]") {
            return String(authority[authority.index(after: authority.startIndex)..<close])
        }
        return String(authority.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
    }

    /// The explicit port of `url`, nil when it has none.
    static func port(_ url: String) -> Int? {
        let shown = redacted(url)
        guard let scheme = shown.range(of: "://") else { return nil }
        let authority = shown[scheme.upperBound...].prefix(while: { !"/?#".contains($0) })
        let afterHost = authority.hasPrefix("[") ? authority[(authority.firstIndex(of: "]") ?? authority.endIndex)...].dropFirst() : authority
        guard let colon = afterHost.lastIndex(of: ":"), let p = Int(afterHost[afterHost.index(after: colon)...]) else { return nil }
        return (1...65535).contains(p) ? p : nil
    }

    /// The warning due before anything is sent to `url`: plain `http://` to a host that is not a
    /// loopback name or address carries the API key and the prompts (PII prefixes) unencrypted
    /// across the network. Nil for https, for loopback, and for the unspecified addresses
    /// (`0.0.0.0`, `::`: a connection to them reaches this machine; servers announce themselves so).
    public static func plaintextWarning(_ url: String) -> String? {
        guard url.lowercased().hasPrefix("http://"), let h = host(url), !isLoopbackHost(h), !isUnspecifiedHost(h) else { return nil }
        return "\(TerminalText.escape(redacted(url))) is plain http to \(TerminalText.escape(h)), not a loopback address: the API key and every "
            + "prompt (text from the corpus, PII included) will cross the network unencrypted. Use https, or an SSH tunnel to 127.0.0.1"
    }
}
