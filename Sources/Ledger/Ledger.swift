// The deletion ledger: one SQLite file (WAL), append-only and hash-chained. Every entry — an
// erasure request, a dataset, a model, an action (unlearning), a verification audit — is a row
// whose hash covers the previous row's hash, its kind, time and canonical JSON payload. SQL
// triggers refuse UPDATE and DELETE; `verifyIntegrity` recomputes the chain, so an edit or a
// deletion made behind the triggers' back (another SQLite client, a hex editor) is detected.
// Appends run in IMMEDIATE transactions, so concurrent writers (several processes) serialise and
// a crash mid-write leaves the previous state (SQLite's journal).
//
// Subjects are stored as pseudonyms: SHA-256("shallot-subject:" + normalised subject), the same
// key `shallot unlearn` writes into shallot.json, plus a masked form for people reading the ledger.
//
// A ledger file is made once, on purpose (`Ledger(path:create: true)`, `shallot ledger init`);
// opening a path where there is none is an error, so a typo in --ledger cannot start a second,
// empty ledger. Erasure requests have ids of their own, "R-1", "R-2"…, numbered among requests
// only and assigned inside the append transaction.

import Crypto
import Foundation
import GRDB
import Support

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

    /// A request entry's own id ("R-3"); nil for other kinds.
    public var requestID: String? { kind == LedgerKind.request.rawValue ? object()["request_id"] as? String : nil }
}

public enum LedgerError: Error, CustomStringConvertible, Equatable {
    case open(path: String, reason: String)
    /// No file at the path (and creating one was not asked for).
    case missing(path: String)
    /// Creating a ledger where a file already is.
    case exists(path: String)
    case notFound(String)
    case invalid(String)
    public var description: String {
        switch self {
        case .open(let p, let r): return "\(p): cannot open the ledger: \(r)"
        case .missing(let p): return "\(p): no ledger here; create one with `shallot ledger init --ledger \(p)`"
        case .exists(let p): return "\(p): a file is already there; not creating a ledger over it"
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

    /// Opens the ledger at `path`. Without `create` the file must exist (`LedgerError.missing`);
    /// with it, a new ledger is made and the path must be free (`LedgerError.exists`).
    public init(path: String, create: Bool = false) throws {
        self.path = path
        if create {
            // O_EXCL: of two processes creating the same ledger, one wins and the other is told.
            let fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
            if fd < 0 {
                if errno == EEXIST { throw LedgerError.exists(path: path) }
                throw LedgerError.open(path: path, reason: String(cString: strerror(errno)))
            }
            close(fd)
        } else {
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { throw LedgerError.missing(path: path) }
            if isDir.boolValue { throw LedgerError.open(path: path, reason: "a directory, not a ledger file") }
        }
        var config = Configuration()
        config.busyMode = .timeout(30)
        config.journalMode = .wal
        do {
            db = try DatabaseQueue(path: path, configuration: config)
            try db.write { db in
                // An existing SQLite file that is something else is not adopted.
                let tables = try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table'")
                if !tables.isEmpty && !tables.contains("entries") {
                    throw LedgerError.open(path: path, reason: "an SQLite database, but not a Shallot ledger (no entries table)")
                }
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
        } catch {
            if create { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
            if let e = error as? DatabaseError { throw LedgerError.open(path: path, reason: e.message ?? "\(e)") }
            throw error
        }
    }

    /// The pseudonym of a data subject: SHA-256 of the normalised id (`SubjectID.normalize`), so
    /// "Alice@X.com " and "alice@x.com" are one key.
    public static func subjectKey(_ subject: String) -> String {
        hex(SHA256.hash(data: Data(("shallot-subject:" + SubjectID.normalize(subject)).utf8)))
    }

    /// "R-3", "r-3" and "3" all name request R-3; nil for anything else.
    public static func requestID(_ s: String) -> String? {
        var t = s.trimmingCharacters(in: .whitespaces)
        if t.hasPrefix("R-") || t.hasPrefix("r-") { t.removeFirst(2) }
        guard !t.isEmpty, t.allSatisfy(\.isASCII), t.allSatisfy(\.isNumber), let n = Int(t), n >= 1 else { return nil }
        return "R-\(n)"
    }

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

    /// Appends an entry atomically after the current head. A request gets its `request_id`
    /// ("R-n", n = the number of requests before it + 1) in the same transaction; one given in
    /// `payload` is replaced.
    @discardableResult
    public func append(_ kind: LedgerKind, _ payload: [String: Any], now: Date = Date()) throws -> LedgerEntry {
        let created = ISO8601DateFormatter().string(from: now)
        return try db.writeWithoutTransaction { db in
            var entry: LedgerEntry!
            try db.inTransaction(.immediate) {
                var payload = payload
                if kind == .request {
                    let n = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM entries WHERE kind = ?", arguments: [kind.rawValue]) ?? 0
                    payload["request_id"] = "R-\(n + 1)"
                }
                let body = try Self.canonical(payload)
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

    /// Requests, with their state: open, actioned (an action names the request), verified,
    /// failed verification, verification inconclusive (the last verification decides).
    public struct RequestState: Codable, Sendable {
        /// The request's own id, "R-n".
        public var requestID: String
        /// The ledger entry holding it.
        public var id: Int64
        public var subjectKey: String
        public var masked: String
        public var received: String
        public var deadline: String
        public var state: String
        public var actions: [Int64]
        public var verifications: [Int64]
        enum CodingKeys: String, CodingKey {
            case id, masked, received, deadline, state, actions, verifications, subjectKey = "subject_key", requestID = "request_id"
        }
    }

    /// Whether an action's or verification's reference names this request: its "R-n" id, or
    /// (entries written before request ids existed) its entry id as a number.
    static func names(_ ref: Any?, requestID: String, entry: Int64) -> Bool {
        if let s = ref as? String { return Self.requestID(s) == requestID }
        if let n = ref as? Int { return Int64(n) == entry }
        return false
    }

    public func requests() throws -> [RequestState] {
        let all = try entries()
        var ordinal = 0
        return all.filter { $0.kind == "request" }.map { r in
            ordinal += 1
            let o = r.object()
            // entries from before request ids: the id they would have been given
            let rid = o["request_id"] as? String ?? "R-\(ordinal)"
            let actions = all.filter { a in a.kind == "action" && ((a.object()["requests"] as? [Any]) ?? []).contains { Self.names($0, requestID: rid, entry: r.id) } }.map(\.id)
            let ver = all.filter { $0.kind == "verification" && Self.names($0.object()["request"], requestID: rid, entry: r.id) }
            var state = actions.isEmpty ? "open" : "actioned"
            if let last = ver.last {
                switch last.object()["verdict"] as? String {
                case "pass": state = "verified"
                case "inconclusive": state = "verification inconclusive"
                default: state = "failed verification"
                }
            }
            return RequestState(requestID: rid, id: r.id, subjectKey: o["subject_key"] as? String ?? "", masked: o["masked"] as? String ?? "",
                                received: o["received"] as? String ?? "", deadline: o["deadline"] as? String ?? "", state: state,
                                actions: actions, verifications: ver.map(\.id))
        }
    }

    /// The request with this id ("R-3" or "3"); `LedgerError.notFound` naming the ledger otherwise.
    public func request(_ id: String) throws -> RequestState {
        guard let rid = Self.requestID(id) else { throw LedgerError.invalid("\(id): not a request id (R-1, R-2, … or 1, 2, …)") }
        guard let r = try requests().first(where: { $0.requestID == rid }) else { throw LedgerError.notFound("\(path): no request \(rid)") }
        return r
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
