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
        let url = URL(fileURLWithPath: path)
        let tmp = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).tmp-\(temporarySuffix())").path
        let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
        guard fd >= 0 else { throw PrivateFileError.write(path: path, reason: errnoText()) }
        var failure: String?
        if fchmod(fd, mode) != 0 { failure = "cannot set its mode: " + errnoText() }
        if failure == nil { failure = ownedRegularFile(fd, mode: mode) }
        if failure == nil { failure = writeAll(fd, data) }
        close(fd)
        if let failure { unlink(tmp); throw PrivateFileError.write(path: path, reason: failure) }
        if rename(tmp, path) != 0 {
            let r = errnoText(); unlink(tmp)
            throw PrivateFileError.write(path: path, reason: r)
        }
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
        if st.st_mode & 0o777 != mode { return String(format: "its mode is %o, not %o", st.st_mode & 0o777, mode) }
        return nil
    }

    /// Creates `path` 0600 and empty if it does not exist (for files written by other means,
    /// e.g. a streamed JSONL output), or restricts an existing file to 0600 — never through a
    /// link, and only a regular file of this user's.
    public static func restrict(_ path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, fileMode)
        guard fd >= 0 else { throw PrivateFileError.write(path: path, reason: errnoText()) }
        defer { close(fd) }
        var failure: String? = fchmod(fd, fileMode) == 0 ? nil : "cannot set its mode: " + errnoText()
        if failure == nil { failure = ownedRegularFile(fd, mode: fileMode) }
        if let failure { throw PrivateFileError.write(path: path, reason: failure) }
    }

    /// Opens `path` for appending (a log): created 0600 if absent, never through a link, and
    /// refused unless it is a regular file of this user's that nobody else can read or write.
    public static func openForAppending(_ path: String) throws -> FileHandle {
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, fileMode)
        guard fd >= 0 else { throw PrivateFileError.write(path: path, reason: errnoText()) }
        if let failure = ownedRegularFile(fd, mode: fileMode) {
            close(fd)
            throw PrivateFileError.write(path: path, reason: failure + " (a log of prompts must be owner-only: chmod 600 it or choose another path)")
        }
        return FileHandle(fileDescriptor: fd, closeOnDealloc: true)
    }

    /// Creates a directory (and missing parents) owner-only. An existing directory must belong to
    /// this user and be writable by nobody else (another user could swap or plant files in it);
    /// it keeps its mode unless `restrictExisting` (for directories Shallot owns, such as
    /// OUT/.checkpoint or a study's job directories), which also refuses a link in its place.
    public static func makeDirectory(_ path: String, restrictExisting: Bool = false) throws {
        var ls = stat()
        if lstat(path, &ls) == 0 {
            try checkExisting(path, link: ls, restrict: restrictExisting)
            if restrictExisting { chmod(path, directoryMode) }
            return
        }
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: Int(directoryMode)])
        chmod(path, directoryMode)   // createDirectory applies the umask
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
        guard st.st_mode & 0o022 == 0 else {
            throw PrivateFileError.write(path: path, reason: String(format: "the directory is writable by others (mode %o): chmod go-w it or choose another", st.st_mode & 0o777))
        }
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
