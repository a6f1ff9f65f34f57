// Reading a file someone else may have prepared (a trainer's output, a model directory under a
// shared OUT): never through a symbolic link, never a FIFO or device, and read once, so that the
// bytes a caller hashes are the bytes it goes on to use (no second open that could find another
// file in its place).

import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public enum RegularFileError: Error, CustomStringConvertible {
    case unreadable(path: String, reason: String)
    public var description: String {
        switch self { case .unreadable(let p, let r): return "\(p): \(r)" }
    }
}

/// The whole content of the regular file at `path`, at most `limit` bytes, opened with
/// O_NOFOLLOW (a link in its place is an error naming it) and O_NONBLOCK (a FIFO cannot hold the
/// reader), checked with fstat to be a regular file before a byte is read.
public func readRegularFile(_ path: String, limit: Int) throws -> Data {
    let fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
    guard fd >= 0 else {
        let reason = errno == ELOOP ? "a symbolic link: refusing to follow it" : String(cString: strerror(errno))
        throw RegularFileError.unreadable(path: path, reason: reason)
    }
    defer { close(fd) }
    var st = stat()
    guard fstat(fd, &st) == 0 else { throw RegularFileError.unreadable(path: path, reason: String(cString: strerror(errno))) }
    guard st.st_mode & S_IFMT == S_IFREG else { throw RegularFileError.unreadable(path: path, reason: "not a regular file") }
    guard Int(st.st_size) <= limit else {
        throw RegularFileError.unreadable(path: path, reason: "\(st.st_size) bytes, more than the \(limit) allowed")
    }
    _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
    var out = Data(capacity: Int(st.st_size))
    var buf = [UInt8](repeating: 0, count: 1 << 20)
    while out.count <= limit {
        let n = read(fd, &buf, buf.count)
        if n < 0 && errno == EINTR { continue }
        guard n >= 0 else { throw RegularFileError.unreadable(path: path, reason: String(cString: strerror(errno))) }
        if n == 0 { return out }
        out.append(contentsOf: buf[0..<n])
    }
    throw RegularFileError.unreadable(path: path, reason: "it grew beyond the \(limit) bytes allowed while it was read")
}
