import Crypto
import Foundation
import GRDB
import Ledger
import Support
import Testing

/// A ledger path in a new directory of its own (0700): a ledger is refused in a directory others
/// can write, such as the temporary directory itself.
func tempLedger() -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ledger-\(UUID().uuidString)").path
    try! PrivateFile.makeDirectory(dir)
    return dir + "/ledger.sqlite"
}

/// Opens the file behind the ledger's back (as another SQLite client would) and removes the guards.
func rawTamper(_ path: String, _ sql: String) throws {
    let q = try DatabaseQueue(path: path)
    try q.write { db in
        try db.execute(sql: "DROP TRIGGER entries_no_update; DROP TRIGGER entries_no_delete;")
        try db.execute(sql: sql)
    }
}

@Suite struct LedgerTests {
    func filled(_ n: Int) throws -> (Ledger, String) {
        let p = tempLedger()
        let l = try Ledger(path: p, create: true)
        for i in 0..<n { try l.append(.request, ["subject_key": l.subjectKey("s\(i)@x.com"), "masked": "s***", "received": "2026-11-0\(1 + i % 9)", "deadline": "2026-12-01"]) }
        return (l, p)
    }

    @Test func aFreshChainVerifiesAndLinks() throws {
        let (l, _) = try filled(5)
        let r = try l.verifyIntegrity()
        #expect(r.ok && r.entries == 5 && r.problems.isEmpty)
        let es = try l.entries()
        #expect(es[0].prevHash == Ledger.genesis)
        for i in 1..<es.count { #expect(es[i].prevHash == es[i - 1].hash) }
        #expect(r.headHash == es.last!.hash)
        #expect(try l.requests().map(\.state) == Array(repeating: "open", count: 5))
    }

    @Test func updatesAndDeletesAreRefused() throws {
        let (_, p) = try filled(3)
        let q = try DatabaseQueue(path: p)
        #expect(throws: DatabaseError.self) { try q.write { try $0.execute(sql: "UPDATE entries SET payload = '{}' WHERE id = 2") } }
        #expect(throws: DatabaseError.self) { try q.write { try $0.execute(sql: "DELETE FROM entries WHERE id = 3") } }
    }

    @Test func anEditedRowIsDetected() throws {
        let (l, p) = try filled(4)
        try rawTamper(p, "UPDATE entries SET payload = replace(payload, '2026-12-01', '2027-12-01') WHERE id = 2")
        let r = try l.verifyIntegrity()
        #expect(!r.ok)
        #expect(r.problems.contains { $0.hasPrefix("entry 2:") && $0.contains("edited") })
    }

    @Test func aDeletedRowIsDetected() throws {
        let (l, p) = try filled(4)
        try rawTamper(p, "DELETE FROM entries WHERE id = 2")
        let r = try l.verifyIntegrity()
        #expect(!r.ok && r.problems.contains { $0.contains("missing") } && r.problems.contains { $0.hasPrefix("entry 3:") })
    }

    @Test func aTruncatedTailIsCaughtByTheAnchorByDefault() throws {
        let (l, p) = try filled(4)
        let head = try l.verifyIntegrity().headHash
        #expect(try l.verifyIntegrity().anchored == 4)
        try rawTamper(p, "DELETE FROM entries WHERE id = 4")   // truncating the tail leaves a valid chain…
        try DatabaseQueue(path: p).write { try $0.execute(sql: Ledger.triggers.map(\.1).prefix(2).joined(separator: ";")) }
        #expect(try l.verifyIntegrity(checkAnchor: false).ok)
        let r = try l.verifyIntegrity()                         // …but not the anchored head
        #expect(!r.ok && r.problems.contains { $0.hasPrefix("entry 4: anchored but not in the ledger") }, "\(r.problems)")
        #expect(try !l.verifyIntegrity(expectedHead: head, checkAnchor: false).problems.filter { $0.contains("expected head") }.isEmpty)
        // and the truncated ledger is not silently continued
        #expect(throws: LedgerError.self) { try l.append(.dataset, ["x": 1]) }
    }

    @Test func aChainRewrittenWithoutTheKeyIsDetected() throws {
        let (l, p) = try filled(3)
        // A careful forger: edits a payload, recomputes every hash as an unkeyed chain would,
        // puts the triggers back exactly as they were and rewrites the anchor to match.
        let q = try DatabaseQueue(path: p)
        var anchor = ""
        try q.write { db in
            for t in Ledger.triggers { try db.execute(sql: "DROP TRIGGER \(t.0)") }
            try db.execute(sql: "UPDATE entries SET payload = replace(payload, '2026-12-01', '2027-12-01')")
            var prev = Ledger.genesis
            for row in try Row.fetchAll(db, sql: "SELECT * FROM entries ORDER BY id") {
                var h = SHA256()
                for part in [prev, row["kind"] as String, row["created"] as String, row["payload"] as String] { h.update(data: Data(part.utf8)); h.update(data: Data([0])) }
                let hash = h.finalize().map { String(format: "%02x", $0) }.joined()
                try db.execute(sql: "UPDATE entries SET prev_hash = ?, hash = ? WHERE id = ?", arguments: [prev, hash, row["id"] as Int64])
                anchor += "\(row["id"] as Int64) \(hash)\n"
                prev = hash
            }
            for t in Ledger.triggers { try db.execute(sql: t.1) }
        }
        try anchor.write(toFile: l.anchorPath, atomically: true, encoding: .utf8)
        let r = try l.verifyIntegrity()
        #expect(!r.ok)
        #expect(r.problems.filter { $0.contains("keyed hash") }.count == 3, "\(r.problems)")
        #expect(!r.problems.contains { $0.contains("trigger") })
    }

    @Test func insertOrReplaceIsRefusedAndDroppedTriggersAreDetected() throws {
        let (l, p) = try filled(3)
        let q = try DatabaseQueue(path: p)
        let e2 = try l.entries()[1]
        // REPLACE deletes the conflicting row without firing DELETE triggers: the insert guard refuses it.
        for sql in ["INSERT OR REPLACE INTO entries (id, kind, created, payload, prev_hash, hash) VALUES (2, 'request', 'x', '{}', '\(e2.prevHash)', 'h')",
                    "REPLACE INTO entries (id, kind, created, payload, prev_hash, hash) VALUES (9, 'request', 'x', '{}', 'p', '\(e2.hash)')",
                    "INSERT INTO entries (id, kind, created, payload, prev_hash, hash) VALUES (7, 'request', 'x', '{}', 'p', 'h')"] {
            #expect(throws: DatabaseError.self, "\(sql)") { try q.write { try $0.execute(sql: sql) } }
        }
        #expect(try l.entries().count == 3 && l.entries()[1] == e2)
        #expect(try l.verifyIntegrity().ok)
        // Dropping a guard is visible, even with no row touched, and the ledger takes no more entries.
        try q.write { try $0.execute(sql: "DROP TRIGGER entries_append_only") }
        let r = try Ledger(path: p).verifyIntegrity()
        #expect(!r.ok && r.problems == ["trigger entries_append_only was dropped (the append-only guard was removed)"], "\(r.problems)")
        // A look-alike guard that does nothing is not the guard.
        try q.write { try $0.execute(sql: "CREATE TRIGGER entries_append_only BEFORE INSERT ON entries WHEN 0 BEGIN SELECT 1; END") }
        #expect(try l.verifyIntegrity().problems.contains { $0.contains("entries_append_only was altered") })
    }

    @Test func theKeyIsAFileOfItsOwnAndRequired() throws {
        let (l, p) = try filled(1)
        #expect(l.keyPath == p + ".key" && PrivateFile.mode(l.keyPath) == 0o600 && PrivateFile.mode(p) == 0o600)
        #expect(PrivateFile.mode(l.anchorPath) == 0o600)
        // the key, then the line saying the ledger keeps a high-water mark
        let lines = try String(contentsOfFile: l.keyPath, encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(lines.count == 2 && lines[0].count == 64 && lines[1] == "high-water-mark", "\(lines.count) lines")
        #expect(try !String(contentsOfFile: p, encoding: .isoLatin1).contains(lines[0]), "the key must not be in the database")
        // Subject keys are keyed: not the plain SHA-256 of the address, and another ledger's differ.
        let plain = SHA256.hash(data: Data("shallot-subject:s0@x.com".utf8)).map { String(format: "%02x", $0) }.joined()
        let other = try Ledger(path: tempLedger(), create: true)
        #expect(l.subjectKey("s0@x.com") != plain && l.subjectKey("s0@x.com") != other.subjectKey("s0@x.com"))
        #expect(try l.requests()[0].subjectKey == l.subjectKey("S0@X.com "))
        // Without its key (or with another) the ledger cannot be opened or verified.
        try FileManager.default.moveItem(atPath: l.keyPath, toPath: p + ".moved")
        #expect(throws: LedgerError.self) { try Ledger(path: p) }
        #expect(try !Ledger(path: p, keyPath: other.keyPath).verifyIntegrity().ok)
        #expect(try Ledger(path: p, keyPath: p + ".moved").verifyIntegrity().ok)
    }

    @Test func concurrentWritersInOneProcessLoseNothing() async throws {
        let p = tempLedger()
        let a = try Ledger(path: p, create: true), b = try Ledger(path: p)
        await withTaskGroup(of: Void.self) { g in
            for (k, l) in [a, b].enumerated() {
                g.addTask { for i in 0..<50 { _ = try? l.append(.dataset, ["writer": k, "i": i]) } }
            }
        }
        let r = try a.verifyIntegrity()
        #expect(r.ok && r.entries == 100)
    }

    @Test func statusFollowsModelsAndActions() throws {
        let (l, _) = try filled(1)
        let key = l.subjectKey("s0@x.com")
        try l.append(.model, ["path": "m1", "weights_sha256": "aaa", "subject_keys": [key, "other"]])
        #expect(try l.modelsContaining(subjectKey: key).first?["unlearned_in_a_later_model"] as? Bool == false)
        try l.append(.action, ["method": "npo", "requests": [1], "forget_subject_keys": [key], "input_weights_sha256": "aaa", "output_weights_sha256": "bbb"])
        try l.append(.model, ["path": "m2", "weights_sha256": "bbb", "subject_keys": ["other"]])
        let ms = try l.modelsContaining(subjectKey: key)
        #expect(ms.count == 1 && ms[0]["unlearned_in_a_later_model"] as? Bool == true)
        #expect(try l.requests()[0].state == "actioned")
        // A pass on some other model does not verify the request; one on the erasure's output does.
        try l.append(.verification, ["request": 1, "verdict": "pass", "erasure_output": false])
        #expect(try l.requests()[0].state.hasPrefix("actioned (the last verification was not"))
        try l.append(.verification, ["request": 1, "verdict": "pass", "erasure_output": true])
        #expect(try l.requests()[0].state == "verified")
    }

    @Test func aLedgerIsNotCreatedUnlessAsked() throws {
        let p = tempLedger()
        #expect(throws: LedgerError.missing(path: p)) { try Ledger(path: p) }
        #expect(!FileManager.default.fileExists(atPath: p))
        #expect(LedgerError.missing(path: p).description.contains("shallot ledger init --ledger \(p)"))
        let l = try Ledger(path: p, create: true)
        try l.append(.dataset, ["x": 1])
        #expect(throws: LedgerError.exists(path: p)) { try Ledger(path: p, create: true) }
        #expect(try Ledger(path: p).entries().count == 1, "creating over an existing ledger must not touch it")
        // a file that is some other SQLite database is not adopted
        let other = tempLedger()
        try DatabaseQueue(path: other).write { try $0.execute(sql: "CREATE TABLE t (x)") }
        #expect(throws: LedgerError.self) { try Ledger(path: other) }
    }

    @Test func subjectKeysAreNormalised() throws {
        let l = try Ledger(path: tempLedger(), create: true)
        #expect(l.subjectKey(" Alice@X.com\n") == l.subjectKey("alice@x.com"))
        #expect(l.subjectKey("alice@x.com") != l.subjectKey("alice@y.com"))
    }

    @Test func requestIdsCountRequestsOnlyAndSurviveReopening() throws {
        let p = tempLedger()
        var l = try Ledger(path: p, create: true)
        let r1 = try l.append(.request, ["subject_key": l.subjectKey("a@x.com"), "request_id": "R-99"])
        try l.append(.dataset, ["path": "d.jsonl"])
        try l.append(.model, ["path": "m"])
        let r2 = try l.append(.request, ["subject_key": l.subjectKey("b@x.com")])
        #expect(r1.requestID == "R-1" && r2.requestID == "R-2")
        #expect(r2.id == 4, "the entry id counts every entry, the request id only requests")
        l = try Ledger(path: p)
        let r3 = try l.append(.request, ["subject_key": l.subjectKey("c@x.com")])
        #expect(r3.requestID == "R-3")
        #expect(try l.requests().map(\.requestID) == ["R-1", "R-2", "R-3"])
        #expect(try l.request("3").subjectKey == l.subjectKey("c@x.com"))
        #expect(try l.request("r-2").id == 4)
        #expect(throws: LedgerError.self) { try l.request("R-4") }
        #expect(throws: LedgerError.self) { try l.request("R-x") }
        #expect(Ledger.requestID("R-12") == "R-12" && Ledger.requestID("12") == "R-12")
        #expect(Ledger.requestID("0") == nil && Ledger.requestID("-1") == nil && Ledger.requestID("R-") == nil && Ledger.requestID("٣") == nil)
        #expect(try l.verifyIntegrity().ok)
    }

    @Test func concurrentRequestWritersGetDistinctIds() async throws {
        let p = tempLedger()
        let a = try Ledger(path: p, create: true), b = try Ledger(path: p)
        await withTaskGroup(of: Void.self) { g in
            for (k, l) in [a, b].enumerated() {
                g.addTask {
                    for i in 0..<25 {
                        _ = try? l.append(.request, ["subject_key": "\(k)-\(i)"])
                        _ = try? l.append(.dataset, ["writer": k, "i": i])
                    }
                }
            }
        }
        let ids = try a.requests().map(\.requestID)
        #expect(ids == (1...50).map { "R-\($0)" })
    }

    @Test func actionsAndVerificationsNameRequestsByTheirIds() throws {
        let (l, _) = try filled(2)   // R-1 (entry 1), R-2 (entry 2)
        try l.append(.dataset, ["path": "d"])
        try l.append(.action, ["method": "retrain", "requests": ["R-2"]])
        var rs = try l.requests()
        #expect(rs.map(\.state) == ["open", "actioned"])
        try l.append(.verification, ["request": "R-2", "verdict": "inconclusive"])
        rs = try l.requests()
        #expect(rs[1].state == "verification inconclusive" && rs[1].verifications == [5])
        try l.append(.verification, ["request": "R-2", "verdict": "fail"])
        #expect(try l.requests()[1].state == "failed verification")
        #expect(try l.requests()[0].state == "open")
    }
}
