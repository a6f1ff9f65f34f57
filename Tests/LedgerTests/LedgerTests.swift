import Foundation
import GRDB
import Ledger
import Testing

func tempLedger() -> String {
    FileManager.default.temporaryDirectory.appendingPathComponent("ledger-\(UUID().uuidString).sqlite").path
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
        let l = try Ledger(path: p)
        for i in 0..<n { try l.append(.request, ["subject_key": Ledger.subjectKey("s\(i)@x.com"), "masked": "s***", "received": "2026-11-0\(1 + i % 9)", "deadline": "2026-12-01"]) }
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

    @Test func aRewrittenChainIsCaughtByAnExportedHead() throws {
        let (l, p) = try filled(4)
        let head = try l.verifyIntegrity().headHash
        try rawTamper(p, "DELETE FROM entries WHERE id = 4")   // truncating the tail leaves a valid chain…
        #expect(try l.verifyIntegrity().ok)
        let r = try l.verifyIntegrity(expectedHead: head)       // …but not the head exported before
        #expect(!r.ok && r.problems.contains { $0.contains("expected head") })
    }

    @Test func concurrentWritersInOneProcessLoseNothing() async throws {
        let p = tempLedger()
        let a = try Ledger(path: p), b = try Ledger(path: p)
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
        let key = Ledger.subjectKey("s0@x.com")
        try l.append(.model, ["path": "m1", "weights_sha256": "aaa", "subject_keys": [key, "other"]])
        #expect(try l.modelsContaining(subjectKey: key).first?["unlearned_in_a_later_model"] as? Bool == false)
        try l.append(.action, ["method": "npo", "requests": [1], "forget_subject_keys": [key], "input_weights_sha256": "aaa", "output_weights_sha256": "bbb"])
        try l.append(.model, ["path": "m2", "weights_sha256": "bbb", "subject_keys": ["other"]])
        let ms = try l.modelsContaining(subjectKey: key)
        #expect(ms.count == 1 && ms[0]["unlearned_in_a_later_model"] as? Bool == true)
        #expect(try l.requests()[0].state == "actioned")
        try l.append(.verification, ["request": 1, "verdict": "pass"])
        #expect(try l.requests()[0].state == "verified")
    }
}
