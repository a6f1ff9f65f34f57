// Issue 22 review, L4: where the ledger lives. SQLite opens the database by name, following a
// link, and adopts a write-ahead log it finds beside it; the ledger chmod-ed `-wal` and `-shm` by
// name after the open, following a link planted there since. Each test plants what another user
// (or a careless script) could leave in the ledger's directory and checks that the ledger is not
// opened, says why, and touches nothing.

import Foundation
import Ledger
import Support
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite struct LedgerPlaceTests {
    /// A ledger made, used and closed (no -wal or -shm left), and a file elsewhere the user owns.
    func closedLedger() throws -> (path: String, victim: String) {
        let p = tempLedger()
        do {
            let l = try Ledger(path: p, create: true)
            try l.append(.dataset, ["path": "d.jsonl"])
        }
        for s in ["-wal", "-shm"] { try? FileManager.default.removeItem(atPath: p + s) }
        let victim = URL(fileURLWithPath: p).deletingLastPathComponent().path + "/victim"
        try Data("keep".utf8).write(to: URL(fileURLWithPath: victim))
        chmod(victim, 0o644)
        return (p, victim)
    }

    func error(_ body: () throws -> Void) -> String {
        do { try body(); return "opened" } catch { return "\(error)" }
    }

    /// A `-wal` or `-shm` planted as a link to another file. SQLite refuses to open one ("unable to
    /// open database file", naming neither); the old code's chmod by name came after that open and
    /// followed a link planted in between. Now refused before SQLite is asked, naming the link, and
    /// the file it points at is untouched.
    @Test(arguments: ["-wal", "-shm"]) func aPlantedLinkForTheLogIsRefused(suffix: String) throws {
        let (p, victim) = try closedLedger()
        #expect(symlink(victim, p + suffix) == 0)
        let e = error { _ = try Ledger(path: p).append(.dataset, ["path": "e.jsonl"]) }
        #expect(e.contains(p + suffix) && e.contains("symbolic link"), "\(e)")
        #expect(PrivateFile.mode(victim) == 0o644 && String(decoding: FileManager.default.contents(atPath: victim)!, as: UTF8.self) == "keep",
                "the file behind the link was changed")
    }

    /// The database itself a link (to a ledger of someone's choosing): not opened through it.
    @Test func aDatabaseThatIsALinkIsRefused() throws {
        let (p, _) = try closedLedger()
        let moved = p + ".real"
        try FileManager.default.moveItem(atPath: p, toPath: moved)
        #expect(symlink(moved, p) == 0)
        let e = error { _ = try Ledger(path: p) }
        #expect(e.contains(p) && e.contains("symbolic link"), "\(e)")
    }

    /// A `-wal` left beside a ledger being made would be replayed into it: refused.
    @Test func aLeftoverLogIsNotAdoptedByANewLedger() throws {
        let p = tempLedger()
        try Data("planted".utf8).write(to: URL(fileURLWithPath: p + "-wal"))
        let e = error { _ = try Ledger(path: p, create: true) }
        #expect(e.contains(p + "-wal") && e.contains("new ledger"), "\(e)")
        #expect(!FileManager.default.fileExists(atPath: p), "a ledger was made beside the planted log")
    }

    /// A directory others can write (world-writable, sticky or not): anyone could swap the files
    /// between the checks and SQLite's open. Refused with the mode.
    @Test(arguments: [0o777, 0o1777]) func aLedgerInADirectoryOthersCanWriteIsRefused(mode: Int) throws {
        let (p, _) = try closedLedger()
        let dir = URL(fileURLWithPath: p).deletingLastPathComponent().path
        chmod(dir, mode_t(mode))
        defer { chmod(dir, 0o700) }
        let e = error { _ = try Ledger(path: p) }
        #expect(e.contains("directory") && e.contains("writable by others"), "\(e)")
    }

    /// A `-shm` that belongs to someone else (made before the ledger's owner opened it): refused,
    /// not adopted. Root only: the file must be another user's.
    @Test(.enabled(if: geteuid() == 0)) func aLogOfAnotherUserIsRefused() throws {
        let (p, _) = try closedLedger()
        try Data().write(to: URL(fileURLWithPath: p + "-shm"))
        #expect(chown(p + "-shm", 65534, 65534) == 0)
        let e = error { _ = try Ledger(path: p) }
        #expect(e.contains(p + "-shm") && e.contains("owned by user 65534"), "\(e)")
    }
}
