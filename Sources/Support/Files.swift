// Every file Shallot writes is created owner-only (0600), and every directory it makes 0700,
// whatever the umask: audit checkpoints, study stages, salts, ledger keys, scrub outputs and PII
// indexes hold personal data or keys, and so do model weights (they can memorise it), their
// config and provenance, and tokenizer vocabularies learnt from the corpus. docs/security.md
// lists them. There is no world-readable writer: a file to share is chmod-ed by its owner.

import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public enum PrivateFileError: Error, CustomStringConvertible {
    case write(path: String, reason: String)
    /// A secret file refused: `what` it is (e.g. "salt file") and why.
    case read(path: String, what: String, reason: String)
    public var description: String {
        switch self {
        case .write(let p, let r): return "\(p): cannot write: \(r)"
        case .read(let p, let what, let r): return "\(p): \(what) refused: \(r)"
        }
    }
}

public enum PrivateFile {
    public static let fileMode: mode_t = 0o600
    public static let directoryMode: mode_t = 0o700

    static func errnoText() -> String { String(cString: strerror(errno)) }

    /// Writes `data` to `path` atomically (a temporary file beside it, created 0600, then a
    /// rename), so the file is never readable by others, not even while it is being written.
    public static func write(_ data: Data, to path: String) throws {
        try replace(path, with: data, mode: fileMode)
    }

    /// The temporary file is new (O_EXCL: never an old file or a planted one), has an
    /// unpredictable name, is not opened through a link (O_NOFOLLOW), and is checked with fstat
    /// to be a regular file of ours with exactly `mode` before anything is written to it.
    static func replace(_ path: String, with data: Data, mode: mode_t) throws {
        let (fd, tmp) = try createTemporary(beside: path, mode: mode)
        let failure = writeAll(fd, data)
        close(fd)
        if let failure { unlink(tmp); throw PrivateFileError.write(path: path, reason: failure) }
        if rename(tmp, path) != 0 {
            let r = errnoText(); unlink(tmp)
            throw PrivateFileError.write(path: path, reason: r)
        }
    }

    /// A new temporary file beside `path` for writing and renaming over it: an unpredictable name,
    /// created O_EXCL|O_NOFOLLOW, its mode set and checked (a regular file of this user's, one
    /// link) before the descriptor is handed out.
    /// A link in place of the directory is followed only when it is this user's or root's (as
    /// `makeDirectory` follows one): another user's link there would have the file made where
    /// they chose.
    public static func createTemporary(beside path: String, mode: mode_t = fileMode) throws -> (fd: Int32, path: String) {
        let url = URL(fileURLWithPath: path)
        let dir = url.deletingLastPathComponent().path
        var ls = stat()
        if lstat(dir, &ls) == 0 && ls.st_mode & S_IFMT == S_IFLNK && ls.st_uid != geteuid() && ls.st_uid != 0 {
            throw PrivateFileError.write(path: path, reason: "\(dir) is a symbolic link owned by user \(ls.st_uid): refusing to follow it")
        }
        let tmp = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).tmp-\(temporarySuffix())").path
        let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
        guard fd >= 0 else { throw PrivateFileError.write(path: path, reason: errnoText()) }
        var failure: String? = fchmod(fd, mode) == 0 ? nil : "cannot set its mode: " + errnoText()
        if failure == nil { failure = ownedRegularFile(fd, mode: mode) }
        if let failure { close(fd); unlink(tmp); throw PrivateFileError.write(path: path, reason: failure) }
        return (fd, tmp)
    }

    static func writeAll(_ fd: Int32, _ data: Data) -> String? {
        var failure: String?
        data.withUnsafeBytes { buf in
            var off = 0
            while off < buf.count {
                let n = Foundation.write(fd, buf.baseAddress! + off, buf.count - off)
                if n < 0 { if errno == EINTR { continue }; failure = errnoText(); return }
                off += n
            }
        }
        return failure
    }

    /// Why the open file is not a regular file owned by this user with exactly `mode`, or nil.
    static func ownedRegularFile(_ fd: Int32, mode: mode_t) -> String? {
        var st = stat()
        guard fstat(fd, &st) == 0 else { return "cannot stat it: " + errnoText() }
        if st.st_mode & S_IFMT != S_IFREG { return "not a regular file" }
        if st.st_uid != geteuid() { return "owned by user \(st.st_uid), not by this user (\(geteuid()))" }
        if st.st_nlink != 1 { return "it has \(st.st_nlink) hard links (another name could read or replace what is written)" }
        if st.st_mode & 0o777 != mode { return String(format: "its mode is %o, not %o", st.st_mode & 0o777, mode) }
        return nil
    }

    /// Opens a log owner-only for writing: created 0600 if absent, never through a link, never a
    /// FIFO or device (O_NONBLOCK, then fstat), and refused unless it is a regular file of this
    /// user's with one link that nobody else can read or write. `truncate` starts it afresh (a
    /// server's or trainer's output), otherwise it is appended to (a request log).
    public static func openLog(_ path: String, truncate: Bool) throws -> Int32 {
        let fd = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | (truncate ? 0 : O_APPEND), fileMode)
        guard fd >= 0 else { throw PrivateFileError.write(path: path, reason: errnoText()) }
        if let failure = ownedRegularFile(fd, mode: fileMode) {
            close(fd)
            throw PrivateFileError.write(path: path, reason: failure + " (a log may hold prompts: it must be owner-only; chmod 600 it or choose another path)")
        }
        // Only now that it is known to be ours: truncate, and block as files normally do.
        if truncate { ftruncate(fd, 0) }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        return fd
    }

    /// Reads a secret the user keeps in a file (a `--salt-file`): never through a link, never a
    /// FIFO or device, and only a regular file of this user's that nobody else can read or write
    /// (a salt others can read lets them recompute the subject keys it hides and forge the MACs
    /// it keys; one they can write, choose it), of `bytes` length. The reason is an error naming
    /// the file and what to do.
    public static func readSecret(_ path: String, what: String, bytes: ClosedRange<Int>) throws -> Data {
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else {
            let why = errno == ELOOP ? "a symbolic link (not followed: give the file itself)" : errnoText()
            throw PrivateFileError.read(path: path, what: what, reason: why)
        }
        defer { close(fd) }
        var st = stat()
        var why: String?
        if fstat(fd, &st) != 0 { why = "cannot stat it: " + errnoText() }
        else if st.st_mode & S_IFMT != S_IFREG { why = "not a regular file" }
        else if st.st_uid != geteuid() { why = "owned by user \(st.st_uid), not by this user (\(geteuid())): use a file of your own" }
        else if st.st_mode & 0o077 != 0 { why = String(format: "others have access to it (mode %o): chmod 600 it", st.st_mode & 0o777) }
        else if !bytes.contains(Int(st.st_size)) { why = "\(st.st_size) bytes; it must hold \(bytes.lowerBound) to \(bytes.upperBound)" }
        if let why { throw PrivateFileError.read(path: path, what: what, reason: why) }
        var out = Data(), buf = [UInt8](repeating: 0, count: 4096)
        while out.count <= bytes.upperBound {
            let n = read(fd, &buf, buf.count)
            if n < 0 && errno == EINTR { continue }
            if n < 0 { throw PrivateFileError.read(path: path, what: what, reason: errnoText()) }
            if n == 0 { break }
            out.append(contentsOf: buf[0..<n])
        }
        // (the size again: the file may have changed between fstat and read)
        guard bytes.contains(out.count) else { throw PrivateFileError.read(path: path, what: what, reason: "its length changed while it was read") }
        return out
    }

    /// `openLog` for appending, as a FileHandle.
    public static func openForAppending(_ path: String) throws -> FileHandle {
        FileHandle(fileDescriptor: try openLog(path, truncate: false), closeOnDealloc: true)
    }

    /// Creates a directory (and missing parents) owner-only. An existing directory must belong to
    /// this user and be writable by nobody else (another user could swap or plant files in it);
    /// it keeps its mode unless `restrictExisting` (for directories Shallot owns, such as
    /// OUT/.checkpoint or a study's job directories), which also refuses a link in its place.
    public static func makeDirectory(_ path: String, restrictExisting: Bool = false) throws {
        var ls = stat()
        if lstat(path, &ls) != 0 {
            guard errno == ENOENT || errno == ENOTDIR else { throw PrivateFileError.write(path: path, reason: errnoText()) }
            if try createMissing(path) { return }
            // Someone else made it in between: checked below like any existing directory.
            guard lstat(path, &ls) == 0 else { throw PrivateFileError.write(path: path, reason: errnoText()) }
        }
        try checkExisting(path, link: ls, restrict: restrictExisting)
        if restrictExisting { try restrictOwn(path) }
    }

    /// Throws unless `path` is an existing directory of this user's that nobody else can write (a
    /// link to one only if the link is the user's): the check `makeDirectory` makes of a
    /// directory that is there, for one a file is kept in (the ledger's).
    public static func checkDirectory(_ path: String) throws {
        var ls = stat()
        guard lstat(path, &ls) == 0 else { throw PrivateFileError.write(path: path, reason: errnoText()) }
        try checkExisting(path, link: ls, restrict: false)
    }

    /// Makes the missing components of `path`, parents first, one at a time, each with mkdirat
    /// and openat relative to a descriptor of its parent, never following a link (FileManager's
    /// `withIntermediateDirectories` follows any link planted where a parent should be). The
    /// directory they are made in must not let others rename them (`checkCreationParent`); a
    /// component that appears meanwhile must be a directory of this user's that others cannot
    /// write. True when the last component was made here (it is then 0700); false when it
    /// appeared meanwhile (the caller checks it).
    static func createMissing(_ path: String) throws -> Bool {
        let parts = path.split(separator: "/").map(String.init)
        var have = parts.count
        var st = stat()
        while have > 0 && lstat(prefix(path, parts, have), &st) != 0 { have -= 1 }
        let missing = parts[have...]
        if missing.isEmpty { return false }   // there after all (a trailing "/" after a link): checked by the caller
        if let bad = missing.first(where: { $0 == "." || $0 == ".." }) {
            throw PrivateFileError.write(path: path, reason: "cannot make the component \"\(bad)\" of a directory path; give the path without it")
        }
        var fd = try openCreationParent(prefix(path, parts, have), of: path)
        defer { close(fd) }
        for (i, name) in missing.enumerated() {
            let made = mkdirat(fd, name, directoryMode) == 0
            guard made || errno == EEXIST else { throw PrivateFileError.write(path: path, reason: errnoText()) }
            if !made && i == missing.count - 1 { return false }
            let next = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            guard next >= 0 else {
                let why = errno == ELOOP || errno == ENOTDIR ? "not a directory (a link?): refusing to follow it" : errnoText()
                throw PrivateFileError.write(path: path, reason: "\(name): " + why)
            }
            close(fd); fd = next
            if made {
                guard fchmod(fd, directoryMode) == 0 else { throw PrivateFileError.write(path: path, reason: "cannot set its mode: " + errnoText()) }
            } else if let why = unsafeDirectory(fd) {
                throw PrivateFileError.write(path: path, reason: "\(name), made by someone else meanwhile, \(why)")
            }
        }
        return true
    }

    /// The first `n` components of `path` (absolute or relative as `path` is; "." for none).
    static func prefix(_ path: String, _ parts: [String], _ n: Int) -> String {
        let joined = parts.prefix(n).joined(separator: "/")
        return path.hasPrefix("/") ? "/" + joined : (joined.isEmpty ? "." : joined)
    }

    /// A descriptor of the deepest existing directory of the path being made. It was there before
    /// (its own ancestors are the system's), but it is followed when it is a link only if the link
    /// is this user's or root's, and new directories go into it only if nobody else can rename
    /// them there: it is this user's or root's and not writable by others (or sticky, as /tmp).
    static func openCreationParent(_ dir: String, of path: String) throws -> Int32 {
        var ls = stat()
        guard lstat(dir, &ls) == 0 else { throw PrivateFileError.write(path: path, reason: "\(dir): " + errnoText()) }
        if ls.st_mode & S_IFMT == S_IFLNK && ls.st_uid != geteuid() && ls.st_uid != 0 {
            throw PrivateFileError.write(path: path, reason: "\(dir) is a symbolic link owned by user \(ls.st_uid): refusing to follow it")
        }
        let fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw PrivateFileError.write(path: path, reason: "\(dir): " + errnoText()) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { close(fd); throw PrivateFileError.write(path: path, reason: "\(dir): " + errnoText()) }
        let owner = st.st_uid == geteuid() || st.st_uid == 0
        let sticky = st.st_mode & S_ISVTX != 0
        let acl = ACLRead.of(fd: fd)
        if !owner || (!sticky && othersCanWrite(st, acl)) {
            close(fd)
            let why = !owner ? "belongs to user \(st.st_uid)" : "is writable by others (\(modeAndACL(st, acl))) without the sticky bit"
            throw PrivateFileError.write(path: path, reason: "\(dir), where it would be made, \(why): others could replace what is made there; "
                                         + "choose a directory of your own")
        }
        if let real = realPath(dir), let why = unsafeAbove(real) {
            close(fd)
            throw PrivateFileError.write(path: path, reason: why)
        }
        return fd
    }

    /// Why the open directory is not one of this user's that nobody else can write, or nil.
    static func unsafeDirectory(_ fd: Int32) -> String? {
        var st = stat()
        guard fstat(fd, &st) == 0 else { return "cannot be checked: " + errnoText() }
        if st.st_uid != geteuid() { return "belongs to user \(st.st_uid)" }
        let acl = ACLRead.of(fd: fd)
        if othersCanWrite(st, acl) { return "is writable by others (\(modeAndACL(st, acl)))" }
        return nil
    }

    /// Writable by other users: by all, or by a group that is not this user's private group; or,
    /// when it has an access ACL (`acl`: ACLRead.of), by a named user or group, or the owning
    /// group, that the ACL lets write (its mask included), or when its ACL cannot be read.
    static func othersCanWrite(_ st: stat, _ acl: ACLRead) -> Bool {
        if st.st_mode & 0o002 != 0 { return true }
        switch acl {
        case .none: return st.st_mode & 0o020 != 0 && !privateGroup(st.st_gid)
        case .unreadable: return true
        case .acl(let a): return !a.writers(me: geteuid(), owningGroup: st.st_gid, isPrivate: privateGroup).isEmpty
        }
    }

    /// "mode 770", with what the ACL grants when it lets others write ("mode 770; its ACL lets user 1001 write").
    static func modeAndACL(_ st: stat, _ acl: ACLRead) -> String {
        let mode = String(format: "mode %o", st.st_mode & (st.st_mode & S_ISVTX != 0 || st.st_mode & S_ISGID != 0 ? 0o7777 : 0o777))
        switch acl {
        case .none: return mode
        case .unreadable(let why): return mode + "; its ACL cannot be read: " + why
        case .acl(let a):
            let who = a.writers(me: geteuid(), owningGroup: st.st_gid, isPrivate: privateGroup)
            return who.isEmpty ? mode : mode + "; its ACL lets " + who.joined(separator: ", ") + " write"
        }
    }

    /// Sets a directory of this user's to 0700 through a descriptor opened without following a link.
    static func restrictOwn(_ path: String) throws {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw PrivateFileError.write(path: path, reason: errnoText()) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_uid == geteuid() else { throw PrivateFileError.write(path: path, reason: "not a directory of this user's") }
        guard fchmod(fd, directoryMode) == 0 else { throw PrivateFileError.write(path: path, reason: "cannot set its mode: " + errnoText()) }
    }

    static func checkExisting(_ path: String, link ls: stat, restrict: Bool) throws {
        let me = geteuid()
        if ls.st_mode & S_IFMT == S_IFLNK {
            guard !restrict else { throw PrivateFileError.write(path: path, reason: "a symbolic link where Shallot keeps its own directory: refusing to follow it") }
            guard ls.st_uid == me else { throw PrivateFileError.write(path: path, reason: "a symbolic link owned by user \(ls.st_uid): refusing to follow it") }
        }
        var st = stat()
        guard stat(path, &st) == 0 else { throw PrivateFileError.write(path: path, reason: errnoText()) }
        guard st.st_mode & S_IFMT == S_IFDIR else { throw PrivateFileError.write(path: path, reason: "a file, not a directory") }
        guard st.st_uid == me else {
            throw PrivateFileError.write(path: path, reason: "the directory belongs to user \(st.st_uid), not to this user (\(me)): choose a directory of your own")
        }
        // Group-writable is others-writable unless the group is this user's own private group
        // (umask 002 systems give every user a group of their own, with nobody else in it).
        let acl = ACLRead.of(path: path)
        guard !othersCanWrite(st, acl) else {
            throw PrivateFileError.write(path: path, reason: "the directory is writable by others (\(modeAndACL(st, acl))): chmod go-w it (setfacl -b for an ACL) or choose another")
        }
        try checkHolders(path, isLink: ls.st_mode & S_IFMT == S_IFLNK)
    }

    /// Throws unless nobody but this user and root can take the existing directory `path` away:
    /// move it (a rename in the same directory needs write permission there, none on what is
    /// moved) and put a directory or a link of their own in its place, which every later open
    /// by name would then reach. The directory that holds it (and, for a link, the one that holds
    /// the link) must be this user's or root's, and it and every directory above it must be
    /// writable by nobody else unless sticky (as /tmp: there only an entry's owner can rename it).
    /// The rule `openCreationParent` applies where a directory is made.
    static func checkHolders(_ path: String, isLink: Bool) throws {
        guard let real = realPath(path) else { throw PrivateFileError.write(path: path, reason: "cannot resolve it: " + errnoText()) }
        var holders = [parent(real)]
        if isLink, let linkHolder = realPath(parent(path)), linkHolder != holders[0] { holders.append(linkHolder) }
        for h in holders {
            var st = stat()
            guard stat(h, &st) == 0 else { throw PrivateFileError.write(path: path, reason: "\(h), which holds it, cannot be checked: " + errnoText()) }
            if st.st_uid != geteuid() && st.st_uid != 0 {
                throw PrivateFileError.write(path: path, reason: "\(h), which holds it, belongs to user \(st.st_uid), who can move it and put another "
                                             + "in its place: choose an output directory in a directory of your own")
            }
            if let why = unsafeAbove(h, including: true) { throw PrivateFileError.write(path: path, reason: why) }
        }
    }

    /// Why others could move `dir` (a resolved path) or what is in it away, or nil: the first of
    /// the directories above it (and `dir` itself with `including`), nearest first, that others
    /// can write and that is not sticky.
    static func unsafeAbove(_ dir: String, including: Bool = false) -> String? {
        var chain = including ? [dir] : []
        var p = dir
        while p != "/" && !p.isEmpty { p = parent(p); chain.append(p) }
        for d in chain {
            var st = stat()
            guard stat(d, &st) == 0 else { return "\(d) cannot be checked: " + errnoText() }
            let acl = ACLRead.of(path: d)
            if st.st_mode & S_ISVTX == 0 && othersCanWrite(st, acl) {
                return d + " is writable by others (\(modeAndACL(st, acl))) without the sticky bit: "
                    + "anyone who can write it can move what is in it and put a directory or a link of their own in its place; "
                    + "choose a directory elsewhere, or have its owner make it sticky (chmod +t)"
            }
        }
        return nil
    }

    /// The directory that holds `path` ("." for a bare name, "/" for "/" and its children).
    static func parent(_ path: String) -> String {
        let trimmed = path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path
        guard let slash = trimmed.lastIndex(of: "/") else { return "." }
        return slash == trimmed.startIndex ? "/" : String(trimmed[..<slash])
    }

    /// `path` with every link and `.`/`..` resolved (realpath), nil when it cannot be.
    static func realPath(_ path: String) -> String? {
        guard let r = realpath(path, nil) else { return nil }
        defer { free(r) }
        return String(cString: r)
    }

    /// Whether `gid` is this user's private group (user private groups: a group of one's own,
    /// named after the user). Listed members are not all of a group's members: every user whose
    /// primary group it is belongs to it too, unlisted — a shared primary group such as `users`
    /// or `nogroup` lists nobody and holds everyone. So the group must be this user's primary
    /// group, carry the user's name, list nobody else, and be no other account's primary group.
    static func privateGroup(_ gid: gid_t) -> Bool {
        guard gid == getegid(), let me = currentUserName(), let g = getgrgid(gid) else { return false }
        var listed: [String] = []
        if let members = g.pointee.gr_mem {
            var i = 0
            while let m = members[i] { listed.append(String(cString: m)); i += 1 }
        }
        return isPrivateGroup(name: String(cString: g.pointee.gr_name), listed: listed, primaryOf: accounts(withPrimaryGroup: gid), user: me)
    }

    /// The rule of `privateGroup` on what the account databases say.
    static func isPrivateGroup(name: String, listed: [String], primaryOf: [String], user: String) -> Bool {
        name == user && listed.allSatisfy { $0 == user } && primaryOf.allSatisfy { $0 == user }
    }

    /// The accounts whose primary group is `gid` (the passwd database, enumerated under a lock:
    /// getpwent keeps one cursor per process).
    static func accounts(withPrimaryGroup gid: gid_t) -> [String] {
        passwdLock.lock(); defer { passwdLock.unlock() }
        setpwent(); defer { endpwent() }
        var out: [String] = []
        while let pw = getpwent() { if pw.pointee.pw_gid == gid { out.append(String(cString: pw.pointee.pw_name)) } }
        return out
    }

    static func currentUserName() -> String? {
        guard let pw = getpwuid(geteuid()) else { return nil }
        return String(cString: pw.pointee.pw_name)
    }

    /// The permission bits of a file (for tests and checks), nil if it does not exist.
    public static func mode(_ path: String) -> mode_t? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return st.st_mode & 0o777
    }
}

/// Process id, a per-process count and 64 random bits: two threads writing the same file never
/// share a temporary file (the last rename wins, whole), and nobody can predict its name.
func temporarySuffix() -> String {
    temporaryLock.lock(); defer { temporaryLock.unlock() }
    temporaryCount += 1
    var g = SystemRandomNumberGenerator()
    return "\(getpid())-\(temporaryCount)-" + String(g.next() as UInt64, radix: 16)
}
private let temporaryLock = NSLock()
private let passwdLock = NSLock()
nonisolated(unsafe) private var temporaryCount = 0
