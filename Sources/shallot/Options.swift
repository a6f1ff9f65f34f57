// Option groups shared by several commands. The command line maps options onto the library's
// settings; defaults live in the library and are only shown here.

import ArgumentParser
import Foundation
import Kernels

/// `--threads`: worker threads for the kernels and the GEMMs.
struct ThreadOptions: ParsableArguments {
    @Option(help: "Worker threads (default: all cores).") var threads: Int?
    func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
    }
    /// Sets the thread count for the rest of the process.
    func apply() { if let threads { Parallel.threads = threads; BLAS.setThreads(threads) } }
    /// The thread count in effect after `apply()`.
    var effective: Int { threads ?? Parallel.threads }
}

/// `--salt-file`: the salt of the keyed hashes that stand for values and subjects, to compare
/// runs. Without it each command chooses (a random salt, or the study's kept key).
struct SaltOptions: ParsableArguments {
    @Option(help: "File with the salt of the keyed hashes for values and subjects (the same file makes runs comparable).") var saltFile: String?
    /// The salt in the file, or nil without --salt-file; an unreadable or empty file ends the run.
    func read() -> Data? {
        guard let s = saltFile else { return nil }
        guard let d = FileManager.default.contents(atPath: s), !d.isEmpty else { fail("\(s): cannot read the salt") }
        return d
    }
}

/// `--json`: machine-readable progress (JSON lines, numbers as JSON numbers).
struct ProgressOptions: ParsableArguments {
    @Flag(help: "JSON lines progress.") var json = false
}
