// Files that can hold personal data or keys (audit checkpoints, study stages, salts, ledger keys,
// scrub outputs, PII indexes) are created owner-only: files 0600, directories 0700, whatever the
// umask. docs/security.md lists which files these are. Other outputs are written atomically too.

import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public enum PrivateFileError: Error, CustomStringConvertible {
    case write(path: String, reason: String)
    public var description: String {
        switch self { case .write(let p, let r): return "\(p): cannot write: \(r)" }
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
    public static func createTemporary(beside path: String, mode: mode_t = fileMode) throws -> (fd: Int32, path: String) {
        let url = URL(fileURLWithPath: path)
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
            let parent = (path as NSString).deletingLastPathComponent
            if !parent.isEmpty, !FileManager.default.fileExists(atPath: parent) {
                try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true, attributes: [.posixPermissions: Int(directoryMode)])
            }
            // The last component by mkdir itself: if someone else made it in between, it is
            // checked below like any existing directory, never silently adopted.
            if mkdir(path, directoryMode) == 0 {
                try restrictOwn(path)
                return
            }
            guard errno == EEXIST, lstat(path, &ls) == 0 else { throw PrivateFileError.write(path: path, reason: errnoText()) }
        }
        try checkExisting(path, link: ls, restrict: restrictExisting)
        if restrictExisting { try restrictOwn(path) }
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
        let others = st.st_mode & 0o002 != 0 || (st.st_mode & 0o020 != 0 && !privateGroup(st.st_gid))
        guard !others else {
            throw PrivateFileError.write(path: path, reason: String(format: "the directory is writable by others (mode %o): chmod go-w it or choose another", st.st_mode & 0o777))
        }
    }

    /// Whether `gid` is this user's primary group with no other members listed.
    static func privateGroup(_ gid: gid_t) -> Bool {
        guard gid == getegid(), let g = getgrgid(gid) else { return false }
        guard let members = g.pointee.gr_mem else { return true }
        var i = 0
        while let m = members[i] {
            if String(cString: m) != currentUserName() { return false }
            i += 1
        }
        return true
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

/// Writes `data` to `path` atomically (a temporary file in the same directory, then a rename), so
/// a reader never sees a half-written file and an interrupted write leaves the old one intact.
/// Files that hold personal data or keys use `PrivateFile.write` (the same, created 0600); these
/// are 0644. The temporary file is created as `PrivateFile.write`'s is (new, unpredictable name,
/// no links followed).
public func atomicWrite(_ data: Data, to path: String) throws {
    try PrivateFile.replace(path, with: data, mode: 0o644)
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
nonisolated(unsafe) private var temporaryCount = 0
