// Issue 15, item 5: the ledger's tail. Each test is the attack of someone who can write the
// database and its anchor but does not hold the key: cut the end of the chain, make the anchor
// agree (empty it, or put back an older one), and let the next append carry on as if nothing
// had been there. The keyed high-water mark (`LEDGER.mark`) must see every one of them.

import Foundation
import GRDB
import Ledger
import Support
import Testing

@Suite struct LedgerTailTests {
    /// A ledger of `n` requests.
    func filled(_ n: Int) throws -> (Ledger, String) {
        let p = tempLedger()
        let l = try Ledger(path: p, create: true)
        for i in 0..<n { try l.append(.request, ["subject_key": l.subjectKey("s\(i)@x.com"), "masked": "s***"]) }
        return (l, p)
    }

    /// Removes every entry after `keep`, behind the ledger's back, and puts the guards back
    /// exactly as they were (so the triggers compare equal).
    func truncate(_ p: String, keep: Int64) throws {
        try DatabaseQueue(path: p).write { db in
            for t in Ledger.triggers { try db.execute(sql: "DROP TRIGGER \(t.0)") }
            try db.execute(sql: "DELETE FROM entries WHERE id > ?", arguments: [keep])
            for t in Ledger.triggers { try db.execute(sql: t.1) }
        }
    }

    @Test func aTruncatedChainWithAnEmptiedAnchorFailsVerification() throws {
        let (l, p) = try filled(4)
        #expect(try l.verifyIntegrity().ok)
        try truncate(p, keep: 2)
        try Data().write(to: URL(fileURLWithPath: l.anchorPath))
        let r = try Ledger(path: p).verifyIntegrity()
        #expect(!r.ok, "a ledger cut from 4 entries to 2, with its anchor emptied, verified: \(r.problems)")
        #expect(r.problems.contains { $0.contains("high-water mark") && $0.contains("4") }, "\(r.problems)")
    }

    @Test func anAnchorPutBackAtAnOlderHeadFailsVerification() throws {
        let (l, p) = try filled(2)
        let older = try String(contentsOfFile: l.anchorPath, encoding: .utf8)
        try l.append(.request, ["subject_key": l.subjectKey("late@x.com"), "masked": "l***"])
        try l.append(.dataset, ["path": "d.jsonl"])
        // the anchor alone rolled back: the chain is ahead of it, as after a crash… but the mark is not
        try older.write(toFile: l.anchorPath, atomically: false, encoding: .utf8)
        var r = try l.verifyIntegrity()
        #expect(!r.ok, "an anchor rolled back to entry 2 of 4 verified: \(r.problems)")
        // and both rolled back together: the chain cut to the older anchor's head
        try truncate(p, keep: 2)
        r = try Ledger(path: p).verifyIntegrity()
        #expect(!r.ok, "a chain and an anchor rolled back to entry 2 of 4 verified: \(r.problems)")
        #expect(r.problems.contains { $0.contains("high-water mark") }, "\(r.problems)")
    }

    @Test func anAppendAfterATruncationIsRefusedAndNoIdIsReused() throws {
        let (l, p) = try filled(3)
        try truncate(p, keep: 1)
        try "".write(toFile: l.anchorPath, atomically: false, encoding: .utf8)
        let reopened = try Ledger(path: p)
        var message = "appended"
        do { try reopened.append(.request, ["subject_key": reopened.subjectKey("new@x.com"), "masked": "n***"]) } catch { message = "\(error)" }
        #expect(message.contains("high-water mark") && message.contains(p), "\(message)")
        // R-2 was given once; it is never given again
        #expect(try reopened.requests().map(\.requestID) == ["R-1"])
    }

    @Test func aKeyFileOthersCanReadIsRefused() throws {
        let (l, p) = try filled(1)
        chmod(l.keyPath, 0o644)
        var message = "opened"
        do { _ = try Ledger(path: p) } catch { message = "\(error)" }
        #expect(message.contains(l.keyPath) && message.contains("0644"), "\(message)")
        chmod(l.keyPath, 0o640)
        #expect(throws: LedgerError.self) { try Ledger(path: p) }
        chmod(l.keyPath, 0o600)
        #expect(try Ledger(path: p).verifyIntegrity().ok)
    }
}

extension LedgerTailTests {
    @Test func anAnchorReplacedByALinkIsNotFollowed() throws {
        let (l, _) = try filled(2)
        let elsewhere = tempLedger() + ".elsewhere"
        try "keep\n".write(toFile: elsewhere, atomically: false, encoding: .utf8)
        try FileManager.default.removeItem(atPath: l.anchorPath)
        try FileManager.default.createSymbolicLink(atPath: l.anchorPath, withDestinationPath: elsewhere)
        #expect(throws: LedgerError.self) { try l.append(.dataset, ["path": "d"]) }
        #expect(try String(contentsOfFile: elsewhere, encoding: .utf8) == "keep\n", "the append wrote through the link")
        let r = try l.verifyIntegrity()
        #expect(!r.ok && r.problems.contains { $0.contains(l.anchorPath) && $0.contains("link") }, "\(r.problems)")
    }
}

extension LedgerTailTests {
    /// Issue 22 leftover: the chain is whole, the anchor emptied (or put back at an older head).
    /// `verify --integrity` saw it, but the next append carried on and wrote every line of the
    /// anchor again from entry 1, so that afterwards nothing showed it had been emptied.
    @Test func anAppendRefusesAnAnchorBehindTheMark() throws {
        let (l, p) = try filled(3)
        let twoLines = try String(contentsOfFile: l.anchorPath, encoding: .utf8).split(separator: "\n").prefix(2).joined(separator: "\n") + "\n"
        for anchor in ["", twoLines] {
            try anchor.write(toFile: l.anchorPath, atomically: false, encoding: .utf8)
            let reopened = try Ledger(path: p)
            var message = "appended"
            do { try reopened.append(.dataset, ["path": "d.jsonl"]) } catch { message = "\(error)" }
            #expect(message.contains("high-water mark") && message.contains(l.anchorPath) && message.contains("entry 3"), "\(message)")
            #expect(try String(contentsOfFile: l.anchorPath, encoding: .utf8) == anchor, "the append filled the anchor again")
            #expect(try reopened.entries().count == 3)
            #expect(!(try reopened.verifyIntegrity().ok))
        }
    }
}


extension LedgerTailTests {
    /// Issue 22 review, L9: the key file was opened following a link and its owner was never
    /// checked (the anchor and the mark had both checks). A link in its place is refused now,
    /// never followed, and so is a key file of another user's (root only can make one here).
    @Test func aKeyFileThatIsALinkIsNotFollowed() throws {
        let (l, p) = try filled(1)
        let real = l.keyPath + ".real"
        try FileManager.default.moveItem(atPath: l.keyPath, toPath: real)
        try FileManager.default.createSymbolicLink(atPath: l.keyPath, withDestinationPath: real)
        var message = "opened"
        do { _ = try Ledger(path: p) } catch { message = "\(error)" }
        #expect(message.contains(l.keyPath) && message.contains("symbolic link"), "\(message)")
        try FileManager.default.removeItem(atPath: l.keyPath)
        try FileManager.default.moveItem(atPath: real, toPath: l.keyPath)
        #expect(try Ledger(path: p).verifyIntegrity().ok)
    }

    @Test(.enabled(if: geteuid() == 0, "only root can hand a file to another user"))
    func aKeyFileOfAnotherUserIsRefused() throws {
        let (l, p) = try filled(1)
        #expect(chown(l.keyPath, 65534, 65534) == 0)
        var message = "opened"
        do { _ = try Ledger(path: p) } catch { message = "\(error)" }
        #expect(message.contains(l.keyPath) && message.contains("owned by user 65534"), "\(message)")
    }
}
