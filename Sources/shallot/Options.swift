// Option groups shared by several commands. The command line maps options onto the library's
// settings; defaults live in the library and are only shown here.

import ArgumentParser
import Foundation
import Kernels
import Support

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
    @Option(help: "File with the salt of the keyed hashes for values and subjects (the same file makes runs comparable; 16 to 4096 bytes, yours, mode 600).")
    var saltFile: String?

    /// How long a salt may be: 16 bytes at least (a shorter one can be guessed, and with it every
    /// subject key), 4 KiB at most (a salt, not a file read whole by mistake).
    static let length = 16...4096

    /// The salt in the file, or nil without --salt-file. The salt keys study.json's subject keys
    /// and verified.json's MACs: a file someone else owns, can read or write, or a link, ends the
    /// run (PrivateFile.readSecret), as does one of the wrong length.
    func read() -> Data? {
        guard let s = saltFile else { return nil }
        do { return try PrivateFile.readSecret(s, what: "--salt-file", bytes: Self.length) } catch { fail("\(error)") }
    }
}

/// `--json`: machine-readable progress (JSON lines, numbers as JSON numbers).
struct ProgressOptions: ParsableArguments {
    @Flag(help: "JSON lines progress.") var json = false
}
