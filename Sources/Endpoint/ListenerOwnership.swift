// Who is listening on a local port: the proof, before a `--serve-cmd` server is sent anything,
// that the listener is the server Shallot started and not someone who bound the port first.
//
// The port a serve command is given is free when it is chosen and closed again; the server binds
// it only once its model is loaded (minutes, for vLLM). Anyone on the machine can bind it in
// between and would be sent the API key and every prompt (PII), and could answer with made-up
// log-probabilities. So, on Linux: the LISTEN sockets on the port that a connection to loopback
// can reach are read from /proc/net/tcp and /proc/net/tcp6 (their inodes), and each must be held
// — `socket:[inode]` among /proc/PID/fd — by a process of the command's tree: its process group
// (the command runs in a group of its own) or a descendant by parent links. Anything else is
// refused, naming the port and what holds it; where /proc cannot tell (no /proc, another
// network namespace), nothing is sent either. Only the listeners a connection to the URL's own
// address can reach count: one bound to that address, or to the wildcard of its family (or the
// IPv6 wildcard for IPv4, which a dual-stack socket also takes) — a server of the command's on
// 127.0.0.2 or ::1 proves nothing about who answers at 127.0.0.1, and a stranger's listener on
// another loopback address is not what the client talks to. Every listener that may take the
// connection must be the command's, and at least one of them must take it for certain: bound
// to the address itself or to the wildcard of the same family. An IPv6 wildcard socket may be
// IPV6_V6ONLY (that cannot be read from /proc/net/tcp6), so for an IPv4 URL it is held against a
// stranger but proves nothing for the command (issue 22 review, L8).
//
// A server can also die while it is used, and whoever binds its port next would be sent the
// next request. So the listener is looked at again before every request attempt
// (ModelServerProcess.checkListener): the sockets listening on the port must be the ones proven
// here, or be proven the command's again (a server may reopen its socket); nothing listening
// there is a dead server, also an error. The window left is between that look and the connect.
//
// Not covered: a process of the same user (it could read the key from the server's environment
// anyway), a server that double-forks out of its group and parent chain (refused: it looks like
// someone else's), and a host that is not this machine's loopback (refused: unprovable here).

import Foundation
import Support
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

enum ListenerOwnership {
    /// A listening TCP socket, from /proc/net/tcp{,6}.
    struct Listener: Equatable {
        var address: String
        var port: Int
        var uid: UInt32
        var inode: UInt64
        /// Reached by a connection to a loopback address: bound to one, or to the unspecified one.
        var loopbackReachable: Bool
        /// The bound address, 4 or 16 bytes in network order.
        var bytes: [UInt8]
    }

    /// What listens at a URL, for the serve command's processes; each case but `ours` says why
    /// nothing may be sent there (naming the address and port).
    enum Finding: Equatable {
        /// Every listener there is held by the command's processes.
        case ours
        /// Nothing listens there yet.
        case nobody(String)
        /// A listener there is held by a process outside the command's.
        case foreign(String)
        /// Not a loopback address: who listens cannot be seen from here.
        case unprovable(String)

        /// A printed URL with this finding is never tried again (ModelServerProcess).
        var passedOver: Bool {
            switch self {
            case .foreign, .unprovable: return true
            case .ours, .nobody: return false
            }
        }
    }

    /// Whether the listeners at `url` (its host and port) are the command's: its process group
    /// `group` and their descendants. An error when /proc cannot tell.
    static func check(url: String, group: pid_t, proc: String = "/proc") throws -> Finding {
        try examine(url: url, group: group, proc: proc).finding
    }

    /// `check`, with the socket inodes of the listeners it found (every one of them the
    /// command's when the finding is `ours`): a later look at the port compares against them.
    static func examine(url: String, group: pid_t, proc: String = "/proc") throws -> (finding: Finding, inodes: Set<UInt64>) {
        guard let host = EndpointURL.host(url), let port = EndpointURL.port(url) else {
            return (.unprovable("\(TerminalText.escape(EndpointURL.redacted(url))): no host and port to check"), [])
        }
        let shown = "\(TerminalText.escape(host.contains(":") ? "[\(host)]" : host)):\(port)"
        guard isLoopbackHost(host) || isUnspecifiedHost(host) else {
            return (.unprovable("\(shown): not a loopback address, so who listens there cannot be checked from this machine (a serve "
                               + "command's server is sent the API key and prompts only once its listener is proven to be one of the "
                               + "command's processes: have it listen on 127.0.0.1, or use {port})"), [])
        }
        let here = try listeners(proc: proc, shown: shown).filter { $0.port == port && reaches(host, $0) }
        let inodes = Set(here.map(\.inode))
        if here.isEmpty { return (.nobody("nothing listens on \(shown) yet"), []) }
        let tree = processTree(of: group, proc: proc)
        for l in here where holder(of: l.inode, among: tree, proc: proc) == nil {
            return (.foreign("\(shown): the listener there (\(l.address), socket inode \(l.inode), user \(l.uid)\(describeHolder(l, proc: proc))) "
                            + "is not the serve command's (process group \(group), \(tree.count) process\(tree.count == 1 ? "" : "es")): another "
                            + "process bound the port first; it was sent nothing, neither the API key nor a prompt"), inodes)
        }
        guard here.contains(where: { l in destinations(host).contains { certainlyTakes(l.bytes, $0) } }) else {
            return (.nobody("nothing listens on \(shown) for certain yet: the command's \(here.map(\.address).joined(separator: ", ")) may be IPv6-only "
                            + "(IPV6_V6ONLY cannot be seen here); have the server listen on \(shown)'s own address"), inodes)
        }
        return (.ours, inodes)
    }

    /// The socket inodes listening at `url`'s port where a connection to its host reaches them:
    /// a read of /proc/net/tcp{,6}, cheap enough to make before every request.
    static func inodes(url: String, proc: String = "/proc") throws -> Set<UInt64> {
        guard let host = EndpointURL.host(url), let port = EndpointURL.port(url) else { return [] }
        let all = try listeners(proc: proc, shown: TerminalText.escape(EndpointURL.redacted(url)))
        return Set(all.filter { $0.port == port && reaches(host, $0) }.map(\.inode))
    }

    /// Whether a connection to `host` (a loopback or unspecified address, or `localhost`) can be
    /// taken by listener `l`: bound to the address connected to, or to a wildcard that takes it.
    static func reaches(_ host: String, _ l: Listener) -> Bool {
        destinations(host).contains { takes(l.bytes, $0) }
    }

    /// The addresses a connection to `host` goes to: a numeric host its own (IPv4-mapped IPv6 as
    /// the IPv4 address, as the kernel routes it), the unspecified ones as the loopback ones Linux
    /// connects them to (0.0.0.0 to 127.0.0.1, :: to ::1); `localhost` both 127.0.0.1 and ::1
    /// (the resolver may give either, and the client tries both).
    static func destinations(_ host: String) -> [[UInt8]] {
        let v4Loopback: [UInt8] = [127, 0, 0, 1], v6Loopback = [UInt8](repeating: 0, count: 15) + [1]
        guard var b = ipAddressBytes(host) else { return [v4Loopback, v6Loopback] }
        if b.count == 16 && isMapped(b) { b = Array(b[12..<16]) }
        if b.allSatisfy({ $0 == 0 }) { b = b.count == 4 ? v4Loopback : v6Loopback }
        return [b]
    }

    /// Whether a socket bound to `bound` takes a connection to `to`: the same address, the
    /// wildcard of its family, or for IPv4 the IPv6 wildcard or mapped address (a dual-stack
    /// socket takes IPv4 too; whether it is IPV6_V6ONLY cannot be seen, so it counts).
    static func takes(_ bound: [UInt8], _ to: [UInt8]) -> Bool {
        let wildcard = bound.allSatisfy { $0 == 0 }
        if bound.count == to.count { return bound == to || wildcard }
        guard to.count == 4, bound.count == 16 else { return false }
        return wildcard || (isMapped(bound) && (Array(bound[12..<16]) == to || bound[12..<16].allSatisfy { $0 == 0 }))
    }

    /// Whether a socket bound to `bound` takes a connection to `to` whatever its options: the same
    /// address (an IPv4-mapped one for IPv4: a socket bound to one cannot be IPv6-only), or the
    /// wildcard of the same family. Not the IPv6 wildcard for IPv4: it may be IPV6_V6ONLY.
    static func certainlyTakes(_ bound: [UInt8], _ to: [UInt8]) -> Bool {
        if bound.count == to.count { return bound == to || bound.allSatisfy { $0 == 0 } }
        return to.count == 4 && isMapped(bound) && Array(bound[12..<16]) == to
    }

    /// An IPv4-mapped IPv6 address (::ffff:a.b.c.d).
    static func isMapped(_ b: [UInt8]) -> Bool {
        b.count == 16 && b[0..<10].allSatisfy { $0 == 0 } && b[10] == 0xFF && b[11] == 0xFF
    }

    /// Every LISTEN socket in /proc/net/tcp and /proc/net/tcp6; an error when neither can be read.
    static func listeners(proc: String, shown: String) throws -> [Listener] {
        var out: [Listener] = [], read = 0
        for (file, v6) in [("tcp", false), ("tcp6", true)] {
            guard let d = FileManager.default.contents(atPath: "\(proc)/net/\(file)") else { continue }
            read += 1
            for line in String(decoding: d, as: UTF8.self).split(separator: "\n").dropFirst() {
                if let l = parse(line, v6: v6) { out.append(l) }
            }
        }
        guard read > 0 else {
            throw EndpointError("\(shown): cannot tell who listens there (\(proc)/net/tcp cannot be read: not Linux, or /proc is not mounted); "
                                + "a serve command's server is sent nothing until its listener is proven to be the command's")
        }
        return out
    }

    /// One line of /proc/net/tcp{,6}: `sl local rem st … uid timeout inode`; nil unless LISTEN (0A).
    static func parse(_ line: Substring, v6: Bool) -> Listener? {
        let f = line.split(separator: " ", omittingEmptySubsequences: true)
        guard f.count >= 10, f[3] == "0A" else { return nil }
        let local = f[1].split(separator: ":")
        guard local.count == 2, let port = Int(local[1], radix: 16), let uid = UInt32(f[7]), let inode = UInt64(f[9]),
              let bytes = addressBytes(local[0]), bytes.count == (v6 ? 16 : 4) else { return nil }
        return Listener(address: format(bytes), port: port, uid: uid, inode: inode, loopbackReachable: loopbackReachable(bytes), bytes: bytes)
    }

    /// The address in network order. The kernel prints each 32-bit word as a host-order number,
    /// so its bytes in memory are the address's.
    static func addressBytes(_ hex: Substring) -> [UInt8]? {
        guard hex.count % 8 == 0 else { return nil }
        var out: [UInt8] = []
        var i = hex.startIndex
        while i < hex.endIndex {
            let j = hex.index(i, offsetBy: 8)
            guard let word = UInt32(hex[i..<j], radix: 16) else { return nil }
            withUnsafeBytes(of: word) { out += $0 }
            i = j
        }
        return out
    }

    static func format(_ b: [UInt8]) -> String {
        if b.count == 4 { return b.map(String.init).joined(separator: ".") }
        let words = stride(from: 0, to: 16, by: 2).map { String(UInt16(b[$0]) << 8 | UInt16(b[$0 + 1]), radix: 16) }
        return "[" + words.joined(separator: ":") + "]"
    }

    /// 127.0.0.0/8, 0.0.0.0, ::1, ::, and the IPv4-mapped forms of the first two.
    static func loopbackReachable(_ b: [UInt8]) -> Bool {
        if b.count == 4 { return b[0] == 127 || b.allSatisfy { $0 == 0 } }
        if b[0..<15].allSatisfy({ $0 == 0 }) && (b[15] == 1 || b[15] == 0) { return true }
        guard b[0..<10].allSatisfy({ $0 == 0 }) && b[10] == 0xFF && b[11] == 0xFF else { return false }
        return loopbackReachable(Array(b[12..<16]))
    }

    /// The processes of process group `group` and their descendants (by parent links).
    static func processTree(of group: pid_t, proc: String) -> Set<pid_t> {
        var parent: [pid_t: pid_t] = [:], members: Set<pid_t> = [group]
        for name in (try? FileManager.default.contentsOfDirectory(atPath: proc)) ?? [] {
            guard let pid = pid_t(name), let stat = FileManager.default.contents(atPath: "\(proc)/\(name)/stat") else { continue }
            // "pid (comm) state ppid pgrp …": comm may hold spaces and parentheses; fields follow the last ')'
            let text = String(decoding: stat, as: UTF8.self)
            guard let close = text.lastIndex(of: ")") else { continue }
            let f = text[text.index(after: close)...].split(separator: " ")
            guard f.count >= 3, let ppid = pid_t(f[1]), let pgrp = pid_t(f[2]) else { continue }
            parent[pid] = ppid
            if pgrp == group { members.insert(pid) }
        }
        var grew = true
        while grew {
            grew = false
            for (pid, ppid) in parent where !members.contains(pid) && members.contains(ppid) { members.insert(pid); grew = true }
        }
        return members
    }

    /// The first of `pids` holding socket `inode` among its open file descriptors.
    static func holder(of inode: UInt64, among pids: some Sequence<pid_t>, proc: String) -> pid_t? {
        let target = "socket:[\(inode)]"
        for pid in pids {
            let dir = "\(proc)/\(pid)/fd"
            for fd in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] {
                if (try? FileManager.default.destinationOfSymbolicLink(atPath: dir + "/" + fd)) == target { return pid }
            }
        }
        return nil
    }

    /// ", held by process PID (comm)" when a process this user can see holds the socket.
    static func describeHolder(_ l: Listener, proc: String) -> String {
        let pids = ((try? FileManager.default.contentsOfDirectory(atPath: proc)) ?? []).compactMap { pid_t($0) }
        guard let pid = holder(of: l.inode, among: pids, proc: proc) else {
            return l.uid == geteuid() ? ", held by no process of this user's that can be seen" : ", another user's"
        }
        let comm = (FileManager.default.contents(atPath: "\(proc)/\(pid)/comm")).map { String(decoding: $0, as: UTF8.self) } ?? "?"
        return ", held by process \(pid) (\(TerminalText.escape(comm.trimmingCharacters(in: .whitespacesAndNewlines))))"
    }
}
