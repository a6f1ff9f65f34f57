// The ledger's side files: its key (`LEDGER.key`), its anchor (`LEDGER.anchor`) and its keyed
// high-water mark (`LEDGER.mark`).
//
// The anchor is a plain list of "id hash" lines: it shows a tail cut from the database, but
// whoever can write the database can usually write the anchor too, and an emptied or shortened
// anchor says nothing. The high-water mark closes that: one line "id hash mac" naming the
// highest entry the ledger has reached, its hash, and an HMAC-SHA-256 of both under the ledger's
// key. It only ever rises. A database or anchor behind it was cut; without the key a mark cannot
// be made to say less. Keys of ledgers made with marks carry a second line, `high-water-mark`,
// so that removing the mark is seen too (the line cannot be taken out without writing the key).
//
// What it does not cover: a mark put back from an older copy (it verifies: keep the head hash
// outside the machine, `verify --integrity --expect-head`), and anyone who holds the key.
//
// None of these files is opened through a symbolic link (O_NOFOLLOW), and the key is refused
// when its mode lets anyone but its owner read or write it.
//
// SQLite opens the database, `-wal` and `-shm` by name, following links, and adopts a `-wal` or
// `-shm` it finds (replaying a planted write-ahead log into the ledger). So before it does, the
// ledger's directory must be this user's and writable by nobody else — then nobody else can put
// a file or a link there after the checks — and the database and any `-wal` or `-shm` already
// there must be regular files of this user's with one link, none of them a link (`checkPlace`).

import Crypto
import Foundation
import Support
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The highest entry a ledger has reached: its id and hash.
public struct LedgerMark: Equatable, Sendable {
    public var id: Int64
    public var hash: String
}

/// The ledger's key as read from its file: the HMAC key and whether the ledger keeps a mark.
struct LedgerKeyFile {
    var key: SymmetricKey
    /// Made with a high-water mark (a key file from before marks has no `high-water-mark` line).
    var marked: Bool
    static let markedLine = "high-water-mark"
}

extension Ledger {
    static func errnoText() -> String { String(cString: strerror(errno)) }

    /// Creates the key (O_EXCL, 0600) and an empty anchor; the key file says the ledger keeps a mark.
    static func createKey(at keyPath: String, anchor: String) throws -> SymmetricKey {
        let key = SymmetricKey(size: .bits256)
        let text = key.withUnsafeBytes { hex($0) } + "\n" + LedgerKeyFile.markedLine + "\n"
        let fd = open(keyPath, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        if fd < 0 {
            if errno == EEXIST { throw LedgerError.exists(path: keyPath) }
            throw LedgerError.open(path: keyPath, reason: errnoText())
        }
        let ok = fchmod(fd, 0o600) == 0 && writeAll(fd, Data(text.utf8)) && fsync(fd) == 0
        close(fd)
        guard ok else { unlink(keyPath); throw LedgerError.open(path: keyPath, reason: "cannot write the key") }
        let afd = open(anchor, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0o600)
        if afd >= 0 { fchmod(afd, 0o600); close(afd) }
        return key
    }

    /// Reads the key file as `--salt-file` is read: never through a link (O_NOFOLLOW), never a
    /// FIFO or device (O_NONBLOCK, then fstat); refused unless it is a regular file of this
    /// user's that gives group and others nothing, whose first line is 64 or more hex digits.
    /// (Before the review of issue 22, L9, a link was followed and the owner not checked: a
    /// root-run ledger, or a --ledger-key in a shared place, took another user's 0600 key — a key
    /// that user knows.)
    static func readKey(at keyPath: String, ledger: String) throws -> LedgerKeyFile {
        let fd = open(keyPath, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else {
            let reason = errno == ENOENT ? "no key file" : errno == ELOOP ? "a symbolic link (not followed: give the key file itself)"
                : "cannot read the key file (\(errnoText()))"
            throw LedgerError.key(ledger: ledger, keyPath: keyPath, reason: reason)
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_mode & S_IFMT == S_IFREG else {
            throw LedgerError.key(ledger: ledger, keyPath: keyPath, reason: "not a regular file")
        }
        guard st.st_uid == geteuid() else {
            throw LedgerError.key(ledger: ledger, keyPath: keyPath, reason: "owned by user \(st.st_uid), not by this user (\(geteuid())): "
                                  + "a key someone else holds is no secret of yours")
        }
        if st.st_mode & 0o077 != 0 { throw LedgerError.keyExposed(keyPath: keyPath, mode: st.st_mode & 0o777) }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        let lines = String(decoding: readAll(fd, limit: 4096), as: UTF8.self).split(whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard let first = lines.first, let bytes = hexBytes(first), bytes.count >= 32,
              lines.dropFirst().allSatisfy({ $0 == LedgerKeyFile.markedLine }) else {
            throw LedgerError.key(ledger: ledger, keyPath: keyPath, reason: "not a ledger key (64 or more hex digits)")
        }
        return LedgerKeyFile(key: SymmetricKey(data: bytes), marked: lines.contains(LedgerKeyFile.markedLine))
    }

    static func hexBytes(_ text: String) -> [UInt8]? {
        let u = Array(text.utf8)
        guard u.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        for i in stride(from: 0, to: u.count, by: 2) {
            guard let b = UInt8(String(decoding: u[i..<i + 2], as: UTF8.self), radix: 16) else { return nil }
            out.append(b)
        }
        return out
    }

    static func writeAll(_ fd: Int32, _ data: Data) -> Bool {
        data.withUnsafeBytes { buf in
            var off = 0
            while off < buf.count {
                let n = Foundation.write(fd, buf.baseAddress! + off, buf.count - off)
                if n < 0 { if errno == EINTR { continue }; return false }
                off += n
            }
            return true
        }
    }

    static func readAll(_ fd: Int32, limit: Int) -> Data {
        var out = Data(), buf = [UInt8](repeating: 0, count: 4096)
        while out.count < limit {
            let n = read(fd, &buf, min(buf.count, limit - out.count))
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            out.append(contentsOf: buf[0..<n])
        }
        return out
    }

    /// Refuses the ledger's place unless SQLite can open it safely by name: its directory this
    /// user's and not writable by others; the database (when it is not being made) a regular file
    /// of this user's, not a link; a `-wal` or `-shm` one too (and none at all for a new ledger:
    /// SQLite would replay a write-ahead log left there into it). Each is then made 0600 by name:
    /// safe once the directory is known to be ours alone, and never through a descriptor of our
    /// own, whose close would drop the POSIX locks SQLite holds on the file in this process (the
    /// other writer then rebuilt `-shm` under our mapping: SIGBUS). SQLite makes new `-wal` and
    /// `-shm` files with the database's mode.
    static func checkPlace(_ path: String, create: Bool) throws {
        let dir = URL(fileURLWithPath: path).deletingLastPathComponent().path
        do { try PrivateFile.checkDirectory(dir) } catch {
            throw LedgerError.open(path: path, reason: "its directory is not safe to keep a ledger in: \(error)")
        }
        var st = stat()
        // A new ledger over an existing file: refused as such by the O_EXCL|O_NOFOLLOW create.
        if create && lstat(path, &st) == 0 { return }
        for suffix in ["", "-wal", "-shm"] {
            // absent: made by SQLite (or reported missing)
            guard lstat(path + suffix, &st) == 0 else { continue }
            if create && suffix != "" {
                throw LedgerError.open(path: path, reason: "\(path + suffix) is there already, for a new ledger: remove it")
            }
            if st.st_mode & S_IFMT == S_IFDIR && suffix == "" { continue }   // reported by keyFile
            var why: String?
            if st.st_mode & S_IFMT == S_IFLNK { why = "a symbolic link (SQLite would follow it)" }
            else if st.st_mode & S_IFMT != S_IFREG { why = "not a regular file" }
            else if st.st_uid != geteuid() { why = "owned by user \(st.st_uid), not by this user (\(geteuid()))" }
            else if st.st_nlink != 1 { why = "it has \(st.st_nlink) hard links" }
            if let why { throw LedgerError.open(path: path, reason: "\(path + suffix): \(why); refusing to open it") }
            if st.st_mode & 0o077 != 0 && chmod(path + suffix, 0o600) != 0 {
                throw LedgerError.open(path: path, reason: "\(path + suffix): cannot set its mode: \(errnoText())")
            }
        }
    }

    /// Opens a side file (anchor, mark) without following a link: nil when there is none; an
    /// error naming it when it is a link, not a regular file, or another user's.
    static func openSideFile(_ path: String, flags: Int32, what: String) throws -> Int32? {
        let fd = open(path, flags | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0o600)
        if fd < 0 {
            if errno == ENOENT && flags & O_CREAT == 0 { return nil }
            let why = errno == ELOOP ? "a symbolic link, not the ledger's \(what) (not followed)" : "cannot open the \(what): \(errnoText())"
            throw LedgerError.invalid("\(path): \(why)")
        }
        var st = stat()
        var why: String?
        if fstat(fd, &st) != 0 { why = "cannot stat the \(what): \(errnoText())" }
        else if st.st_mode & S_IFMT != S_IFREG { why = "not a regular file (the ledger's \(what) must be one)" }
        else if st.st_uid != geteuid() { why = "the \(what) belongs to user \(st.st_uid), not to this user (\(geteuid()))" }
        if let why { close(fd); throw LedgerError.invalid("\(path): \(why)") }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        return fd
    }

    /// The whole side file, read without following a link; nil when there is none.
    static func readSideFile(_ path: String, what: String, limit: Int = 1 << 30) throws -> Data? {
        guard let fd = try openSideFile(path, flags: O_RDONLY, what: what) else { return nil }
        defer { close(fd) }
        return readAll(fd, limit: limit)
    }

    // MARK: the high-water mark

    func markMAC(_ id: Int64, _ hash: String) -> String {
        hex(HMAC<SHA256>.authenticationCode(for: Data("shallot-ledger-mark\u{0}\(id)\u{0}\(hash)".utf8), using: key))
    }

    /// The mark, checked under the key: nil when there is no mark file; an error naming the file
    /// when it is malformed, a link, or its MAC does not verify (forged, or another ledger's).
    public func readMark() throws -> LedgerMark? {
        guard let d = try Self.readSideFile(markPath, what: "high-water mark", limit: 4096) else { return nil }
        let f = String(decoding: d, as: UTF8.self).split(whereSeparator: \.isWhitespace)
        let isHex64 = { (s: Substring) in s.utf8.count == 64 && s.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) } }
        guard f.count == 3, let id = Int64(f[0]), id >= 0, isHex64(f[1]), isHex64(f[2]) else {
            throw LedgerError.invalid("\(markPath): the high-water mark is malformed (expected \"id hash mac\")")
        }
        // Compared in constant time: how far a guess matches must not show in how long it takes.
        guard constantTimeEqual(Array(markMAC(id, String(f[1])).utf8), Array(f[2].utf8)) else {
            throw LedgerError.invalid("\(markPath): the high-water mark does not verify under the ledger's key (forged, or another ledger's)")
        }
        return LedgerMark(id: id, hash: String(f[1]))
    }

    /// Raises the mark to `to` (never lowers it): a new 0600 file beside it, synced, renamed over it.
    func raiseMark(to mark: LedgerMark) throws {
        if let current = try readMark(), current.id >= mark.id { return }
        let line = "\(mark.id) \(mark.hash) \(markMAC(mark.id, mark.hash))\n"
        let (fd, tmp) = try PrivateFile.createTemporary(beside: markPath)
        let ok = Self.writeAll(fd, Data(line.utf8)) && fsync(fd) == 0
        close(fd)
        guard ok, rename(tmp, markPath) == 0 else {
            let why = Self.errnoText()
            unlink(tmp)
            throw LedgerError.open(path: markPath, reason: "cannot write the high-water mark: \(why)")
        }
    }

    /// What is wrong with a ledger ending at entry `lastID` (`hashAt`: an entry's hash) against
    /// its mark: behind it, the entry it names rewritten, or the mark missing (when the key says
    /// there is one), forged or unreadable. Nil: nothing.
    func markRefusal(lastID: Int64, hashAt: (Int64) throws -> String?) throws -> String? {
        let mark: LedgerMark?
        do { mark = try readMark() } catch { return "\(error)" }
        guard let mark else {
            return keyMarked ? "\(markPath): the high-water mark is missing (it was removed, and with it the record of how far the ledger reached)" : nil
        }
        if mark.id > lastID {
            return "the ledger ends at entry \(lastID) but its high-water mark \(markPath) records entry \(mark.id): entries were removed from the end"
        }
        if mark.id > 0, try hashAt(mark.id) != mark.hash {
            return "entry \(mark.id) is not the entry the high-water mark \(markPath) recorded: the ledger was rewritten"
        }
        return nil
    }
}
