// The deletion ledger: one SQLite file (WAL), append-only and hash-chained. Every entry — an
// erasure request, a dataset, a model, an action (unlearning), a verification audit — is a row
// whose hash covers the previous row's hash, its kind, time and canonical JSON payload. SQL
// triggers refuse UPDATE and DELETE; `verifyIntegrity` recomputes the chain, so an edit or a
// deletion made behind the triggers' back (another SQLite client, a hex editor) is detected.
// Appends run in IMMEDIATE transactions, so concurrent writers (several processes) serialise and
// a crash mid-write leaves the previous state (SQLite's journal).
//
// Subjects are stored as pseudonyms: SHA-256("shallot-subject:" + subject), the same key
// `shallot unlearn` writes into shallot.json, plus a masked form for people reading the ledger.

import Crypto
import Foundation
import GRDB

public enum LedgerKind: String, Codable, Sendable, CaseIterable {
    case request, dataset, model, action, verification, study
}

public struct LedgerEntry: Codable, Sendable, Equatable {
    public var id: Int64
    public var kind: String
    public var created: String
    /// Canonical JSON (sorted keys).
    public var payload: String
    public var prevHash: String
    public var hash: String
    enum CodingKeys: String, CodingKey { case id, kind, created, payload, prevHash = "prev_hash", hash }

    public func object() -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(payload.utf8)) as? [String: Any]) ?? [:]
    }
}

public enum LedgerError: Error, CustomStringConvertible {
    case open(path: String, reason: String)
    case notFound(String)
    case invalid(String)
    public var description: String {
        switch self {
        case .open(let p, let r): return "\(p): cannot open the ledger: \(r)"
        case .notFound(let s): return s
        case .invalid(let s): return s
        }
    }
}

public struct IntegrityReport: Codable, Sendable {
    public var entries: Int
    public var ok: Bool
    /// The first problems found: ids whose hash does not match their content, broken links, gaps.
    public var problems: [String]
    public var headHash: String
    enum CodingKeys: String, CodingKey { case entries, ok, problems, headHash = "head_hash" }
}

public final class Ledger: @unchecked Sendable {
    public let path: String
    let db: DatabaseQueue
    public static let genesis = String(repeating: "0", count: 64)

    public init(path: String) throws {
        self.path = path
        var config = Configuration()
        config.busyMode = .timeout(30)
        config.journalMode = .wal
        do {
            db = try DatabaseQueue(path: path, configuration: config)
            try db.write { db in
                try db.execute(sql: """
                    CREATE TABLE IF NOT EXISTS entries (
                      id INTEGER PRIMARY KEY,
                      kind TEXT NOT NULL,
                      created TEXT NOT NULL,
                      payload TEXT NOT NULL,
                      prev_hash TEXT NOT NULL,
                      hash TEXT NOT NULL UNIQUE);
                    CREATE TRIGGER IF NOT EXISTS entries_no_update BEFORE UPDATE ON entries
                      BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;
                    CREATE TRIGGER IF NOT EXISTS entries_no_delete BEFORE DELETE ON entries
                      BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;
                    """)
            }
        } catch let e as DatabaseError {
            throw LedgerError.open(path: path, reason: e.message ?? "\(e)")
        }
    }

    public static func subjectKey(_ subject: String) -> String { hex(SHA256.hash(data: Data(("shallot-subject:" + subject).utf8))) }

    static func hex(_ d: some Sequence<UInt8>) -> String { d.map { String(format: "%02x", $0) }.joined() }

    static func entryHash(prev: String, kind: String, created: String, payload: String) -> String {
        var h = SHA256()
        for part in [prev, kind, created, payload] { h.update(data: Data(part.utf8)); h.update(data: Data([0])) }
        return hex(h.finalize())
    }

    static func canonical(_ payload: [String: Any]) throws -> String {
        let d = try JSONSerialization.data(withJSONObject: payload, options: [.sortedKeys, .withoutEscapingSlashes])
        return String(decoding: d, as: UTF8.self)
    }

    /// Appends an entry atomically after the current head.
    @discardableResult
    public func append(_ kind: LedgerKind, _ payload: [String: Any], now: Date = Date()) throws -> LedgerEntry {
        let body = try Self.canonical(payload)
        let created = ISO8601DateFormatter().string(from: now)
        return try db.writeWithoutTransaction { db in
            var entry: LedgerEntry!
            try db.inTransaction(.immediate) {
                let prev = try String.fetchOne(db, sql: "SELECT hash FROM entries ORDER BY id DESC LIMIT 1") ?? Self.genesis
                let id = (try Int64.fetchOne(db, sql: "SELECT MAX(id) FROM entries") ?? 0) + 1
                let h = Self.entryHash(prev: prev, kind: kind.rawValue, created: created, payload: body)
                try db.execute(sql: "INSERT INTO entries (id, kind, created, payload, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?)",
                               arguments: [id, kind.rawValue, created, body, prev, h])
                entry = LedgerEntry(id: id, kind: kind.rawValue, created: created, payload: body, prevHash: prev, hash: h)
                return .commit
            }
            return entry
        }
    }

    public func entries(kind: LedgerKind? = nil) throws -> [LedgerEntry] {
        try db.read { db in
            let rows = try Row.fetchAll(db, sql: kind == nil ? "SELECT * FROM entries ORDER BY id" : "SELECT * FROM entries WHERE kind = ? ORDER BY id",
                                        arguments: kind == nil ? [] : [kind!.rawValue])
            return rows.map { LedgerEntry(id: $0["id"], kind: $0["kind"], created: $0["created"], payload: $0["payload"], prevHash: $0["prev_hash"], hash: $0["hash"]) }
        }
    }

    /// Recomputes every hash and link. `expectedHead`: a head hash exported earlier — detects a
    /// truncated tail, which a chain alone cannot.
    public func verifyIntegrity(expectedHead: String? = nil) throws -> IntegrityReport {
        let all = try entries()
        var problems: [String] = []
        var prev = Self.genesis
        var expectedId: Int64 = 1
        for e in all {
            if e.id != expectedId { problems.append("entry \(expectedId)\(e.id > expectedId + 1 ? "–\(e.id - 1)" : "") missing (deleted)") }
            if e.prevHash != prev { problems.append("entry \(e.id): does not follow the entry before it (an entry was removed or replaced)") }
            if Self.entryHash(prev: e.prevHash, kind: e.kind, created: e.created, payload: e.payload) != e.hash {
                problems.append("entry \(e.id): content does not match its hash (edited)")
            }
            prev = e.hash
            expectedId = e.id + 1
        }
        if let h = expectedHead, !all.contains(where: { $0.hash == h }) {
            problems.append("the expected head \(h.prefix(16))… is not in the ledger (entries were removed from the end)")
        }
        return IntegrityReport(entries: all.count, ok: problems.isEmpty, problems: Array(problems.prefix(50)), headHash: all.last?.hash ?? Self.genesis)
    }

    // MARK: domain queries

    /// Requests, with their state: open, actioned (an action names the request), verified pass/fail.
    public struct RequestState: Codable, Sendable {
        public var id: Int64
        public var subjectKey: String
        public var masked: String
        public var received: String
        public var deadline: String
        public var state: String
        public var actions: [Int64]
        public var verifications: [Int64]
        enum CodingKeys: String, CodingKey { case id, masked, received, deadline, state, actions, verifications, subjectKey = "subject_key" }
    }

    public func requests() throws -> [RequestState] {
        let all = try entries()
        return all.filter { $0.kind == "request" }.map { r in
            let o = r.object()
            let actions = all.filter { $0.kind == "action" && (($0.object()["requests"] as? [Int]) ?? []).contains(Int(r.id)) }.map(\.id)
            let ver = all.filter { $0.kind == "verification" && ($0.object()["request"] as? Int) == Int(r.id) }
            var state = actions.isEmpty ? "open" : "actioned"
            if let last = ver.last { state = (last.object()["verdict"] as? String) == "pass" ? "verified" : "failed verification" }
            return RequestState(id: r.id, subjectKey: o["subject_key"] as? String ?? "", masked: o["masked"] as? String ?? "", received: o["received"] as? String ?? "",
                                deadline: o["deadline"] as? String ?? "", state: state, actions: actions, verifications: ver.map(\.id))
        }
    }

    /// Registered models whose training manifest holds the subject, and whether a later model
    /// registered as unlearning them replaced it.
    public func modelsContaining(subjectKey: String) throws -> [[String: Any]] {
        let all = try entries()
        var out: [[String: Any]] = []
        for m in all where m.kind == "model" {
            let o = m.object()
            guard ((o["subject_keys"] as? [String]) ?? []).contains(subjectKey) else { continue }
            let weights = o["weights_sha256"] as? String ?? ""
            let superseded = all.contains { a in
                a.kind == "action" && (a.object()["input_weights_sha256"] as? String) == weights && ((a.object()["forget_subject_keys"] as? [String]) ?? []).contains(subjectKey)
            }
            out.append(["entry": Int(m.id), "path": o["path"] as? String ?? "", "weights_sha256": weights, "unlearned_in_a_later_model": superseded])
        }
        return out
    }
}
