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
        let url = URL(fileURLWithPath: path)
        let tmp = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).tmp-\(temporarySuffix())").path
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, fileMode)
        guard fd >= 0 else { throw PrivateFileError.write(path: path, reason: errnoText()) }
        fchmod(fd, fileMode)   // an old temporary file of the same name keeps its mode otherwise
        var ok = true
        data.withUnsafeBytes { buf in
            var off = 0
            while off < buf.count {
                let n = Foundation.write(fd, buf.baseAddress! + off, buf.count - off)
                if n < 0 { if errno == EINTR { continue }; ok = false; return }
                off += n
            }
        }
        let reason = ok ? "" : errnoText()
        close(fd)
        guard ok else { unlink(tmp); throw PrivateFileError.write(path: path, reason: reason) }
        if rename(tmp, path) != 0 {
            let r = errnoText(); unlink(tmp)
            throw PrivateFileError.write(path: path, reason: r)
        }
    }

    /// Creates `path` 0600 and empty if it does not exist (for files written by other means,
    /// e.g. a streamed JSONL output), or restricts an existing file to 0600.
    public static func restrict(_ path: String) {
        if !FileManager.default.fileExists(atPath: path) { close(open(path, O_WRONLY | O_CREAT, fileMode)) }
        chmod(path, fileMode)
    }

    /// Creates a directory (and missing parents) owner-only. An existing directory keeps its mode
    /// unless `restrictExisting` (for directories Shallot owns, such as OUT/.checkpoint).
    public static func makeDirectory(_ path: String, restrictExisting: Bool = false) throws {
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDir) {
            guard isDir.boolValue else { throw PrivateFileError.write(path: path, reason: "a file, not a directory") }
            if restrictExisting { chmod(path, directoryMode) }
            return
        }
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: Int(directoryMode)])
        chmod(path, directoryMode)   // createDirectory applies the umask
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
/// Files that hold personal data or keys use `PrivateFile.write` (the same, created 0600).
public func atomicWrite(_ data: Data, to path: String) throws {
    let url = URL(fileURLWithPath: path)
    let tmp = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).tmp-\(temporarySuffix())")
    do { try data.write(to: tmp) } catch {
        try? FileManager.default.removeItem(at: tmp)
        throw PrivateFileError.write(path: path, reason: error.localizedDescription)
    }
    if rename(tmp.path, url.path) != 0 {
        let err = String(cString: strerror(errno))
        try? FileManager.default.removeItem(at: tmp)
        throw PrivateFileError.write(path: path, reason: err)
    }
}

/// Process id and a per-process count: two threads writing the same file never share a
/// temporary file (the last rename wins, whole).
func temporarySuffix() -> String {
    temporaryLock.lock(); defer { temporaryLock.unlock() }
    temporaryCount += 1
    return "\(getpid())-\(temporaryCount)"
}
private let temporaryLock = NSLock()
nonisolated(unsafe) private var temporaryCount = 0
