// The child processes a command started and must not leave behind: model servers (`--serve-cmd`)
// and external trainers (`--trainer command`). Each runs in a process group of its own (its pid
// is the group's id), out of reach of the terminal's Ctrl-C and of our exit, so an interrupted or
// failing command stops them itself (`terminateAll`) before it exits.

import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public enum ProcessGroups {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var pids = Set<pid_t>()
    nonisolated(unsafe) private static var closed = false

    /// Runs `start` (which starts a child and returns its pid) under the registry's lock: a child
    /// started while `terminateAll` runs is stopped at once, never missed.
    @discardableResult
    public static func register(_ start: () throws -> pid_t) throws -> pid_t {
        lock.lock(); defer { lock.unlock() }
        let p = try start()
        if closed { send(p, SIGKILL) } else { pids.insert(p) }
        return p
    }

    public static func unregister(_ p: pid_t) { lock.lock(); pids.remove(p); lock.unlock() }

    /// Sends `sig` to the group `p` leads, or to `p` alone when it leads none.
    public static func send(_ p: pid_t, _ sig: Int32) {
        if kill(-p, sig) != 0 && errno == ESRCH { kill(p, sig) }
    }

    /// Whether anything of `p`'s group (or `p` itself) is still there.
    public static func alive(_ p: pid_t) -> Bool {
        if kill(-p, 0) == 0 || errno != ESRCH { return true }
        return kill(p, 0) == 0 || errno != ESRCH
    }

    /// SIGTERM to every registered child's group, SIGKILL to what is left after `grace` seconds;
    /// nothing registers afterwards. For a command about to exit.
    public static func terminateAll(grace: Double = 5) {
        lock.lock(); closed = true; let all = Array(pids); lock.unlock()
        stop(all, grace: grace)
    }

    /// SIGTERM to the groups of `leaders`; each has `grace` seconds to be gone entirely (leader
    /// reaped when it is our child, no member left), then what remains gets SIGKILL.
    public static func stop(_ leaders: [pid_t], grace: Double) {
        for p in leaders { send(p, SIGTERM) }
        let deadline = Date().addingTimeInterval(grace)
        var left = leaders
        var status: Int32 = 0
        while !left.isEmpty && Date() < deadline {
            for p in left { _ = waitpid(p, &status, WNOHANG) }   // a leader that is a zombie of ours still counts as its group
            left = left.filter(alive)
            if !left.isEmpty { usleep(100_000) }
        }
        for p in left { send(p, SIGKILL); kill(p, SIGKILL) }   // the leader too, had it left its group
    }
}

/// `s` as one word for `/bin/sh` (single-quoted): the job files and model directories that the
/// study puts into a user's command templates (`{job}`, `{model}`).
public func shellQuote(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'" }

/// Where a failed child's output is, for an error message — never the output itself: a model
/// server may log the prompts it was sent (email prefixes, PII) and a trainer the records it
/// choked on, and an error message ends up in terminals, CI logs and bug reports.
public func logPointer(_ path: String) -> String {
    var st = stat()
    let size = lstat(path, &st) == 0 ? " (\(st.st_size) bytes)" : ""
    return "its output is in \(path)\(size), not shown here as it may hold prompts or records (`tail \(shellQuote(path))`)"
}
