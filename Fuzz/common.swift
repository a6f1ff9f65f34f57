// Shared by every fuzz target: the input as bytes, and a private scratch directory for the
// parsers that read files (one per process; files are overwritten on each input).

import Foundation

let scratch: String = {
    let d = NSTemporaryDirectory() + "shallot-fuzz-\(getpid())"
    try? FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
    return d
}()

@inline(__always) func bytes(_ data: UnsafePointer<UInt8>, _ size: Int) -> [UInt8] {
    Array(UnsafeBufferPointer(start: data, count: size))
}

/// Writes `b` to `scratch/name` (replacing it) and returns the path.
func put(_ name: String, _ b: some Collection<UInt8>) -> String {
    let p = scratch + "/" + name
    FileManager.default.createFile(atPath: p, contents: Data(b))
    return p
}

func remove(_ name: String) { try? FileManager.default.removeItem(atPath: scratch + "/" + name) }
