// Atomic writes: a temporary file in the same directory, then a rename, so a reader never sees a
// half-written file and an interrupted write leaves the old one intact. Files that hold personal
// data or keys use `PrivateFile.write` instead (same, created 0600).

import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public enum AtomicWriteError: Error, CustomStringConvertible {
    case failed(path: String, reason: String)
    public var description: String {
        switch self { case .failed(let p, let r): return "\(p): cannot write: \(r)" }
    }
}

public func atomicWrite(_ data: Data, to path: String) throws {
    let url = URL(fileURLWithPath: path)
    let tmp = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())")
    do { try data.write(to: tmp) } catch {
        try? FileManager.default.removeItem(at: tmp)
        throw AtomicWriteError.failed(path: path, reason: error.localizedDescription)
    }
    if rename(tmp.path, url.path) != 0 {
        let err = String(cString: strerror(errno))
        try? FileManager.default.removeItem(at: tmp)
        throw AtomicWriteError.failed(path: path, reason: err)
    }
}
