// The deletion ledger: one SQLite file (WAL), append-only and hash-chained. Every entry — an
// erasure request, a dataset, a model, an action (unlearning), a verification audit — is a row
// whose hash covers the previous row's hash, its kind, time and canonical JSON payload.
//
// The chain is keyed: each hash is HMAC-SHA-256 under the ledger's key, a random 256-bit key in
// a file of its own beside the database (`F.key`, 0600, made by `Ledger(path:create: true)` /
// `shallot ledger init`). Whoever can write the database but does not hold the key cannot
// rewrite the chain so that it verifies again (an unkeyed chain can simply be recomputed).
//
// Three further guards:
// - SQL triggers refuse UPDATE, DELETE and any INSERT that is not the next entry (so `INSERT OR
//   REPLACE`, whose conflict resolution deletes without firing DELETE triggers, is refused too);
//   `verifyIntegrity` checks that the triggers are still there, unchanged.
// - The head is anchored on every append: one line "id hash" per entry in an append-only side
//   file (`F.anchor`), written under an exclusive lock after the commit. `verifyIntegrity` checks
//   every anchored entry is in the database with that hash, so a truncated tail (which leaves a
//   valid chain) or a rewritten entry is found even by someone holding the key.
// - Appends refuse to continue a ledger whose anchor is ahead of the database.
// - A keyed high-water mark (`F.mark`, LedgerFiles.swift) records the highest entry reached and
//   its hash under the key: a database or anchor behind it was cut, and appends refuse to
//   continue a chain shorter than it (so no entry id or request id is ever given twice).
// The triggers guard against mistakes, not against someone who can write the file: they can be
// dropped and re-created with the same SQL. The keyed chain and the mark are what hold.
// Appends run in IMMEDIATE transactions, so concurrent writers (several processes) serialise and
// a crash mid-write leaves the previous state (SQLite's journal).
//
// Subjects are stored as keyed pseudonyms: HMAC-SHA-256(key, "shallot-subject:" + normalised
// subject), so a guessed address cannot be checked against a copy of the database without the
// key; plus a masked form for people reading the ledger.
//
// A ledger file is made once, on purpose (`Ledger(path:create: true)`, `shallot ledger init`);
// opening a path where there is none is an error, so a typo in --ledger cannot start a second,
// empty ledger. Ledgers from before keyed chains (no key file) are refused with a message.
// Erasure requests have ids of their own, "R-1", "R-2"…, numbered among requests only and
// assigned inside the append transaction.

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
    /// The ledger's key file is missing or unreadable (or the ledger predates keyed chains).
    case key(ledger: String, keyPath: String, reason: String)
    /// The key file can be read or written by users other than its owner.
    case keyExposed(keyPath: String, mode: mode_t)
    case notFound(String)
    case invalid(String)
    public var description: String {
        switch self {
        case .open(let p, let r): return "\(p): cannot open the ledger: \(r)"
        case .missing(let p): return "\(p): no ledger here; create one with `shallot ledger init --ledger \(p)`"
        case .exists(let p): return "\(p): a file is already there; not creating a ledger over it"
        case .key(let l, let k, let r):
            return "\(k): \(r); the ledger \(l) cannot be used without its key (a ledger made before keyed hash chains has none: start a new one with `shallot ledger init`)"
        case .keyExposed(let k, let m):
            return "\(k): the ledger's key is open to other users (mode \(String(format: "%04o", m))): whoever reads it can "
                + "forge the ledger's chain and test guessed subjects against it; `chmod 600 \(k)`, and start a new ledger if "
                + "others may have read it"
        case .notFound(let s): return s
        case .invalid(let s): return s
        }
    }
}

public struct IntegrityReport: Codable, Sendable {
    public var entries: Int
    public var ok: Bool
    /// The first problems found: ids whose hash does not match their content, broken links, gaps,
    /// anchored entries missing or changed, removed or altered triggers.
    public var problems: [String]
    public var headHash: String
    /// Entries anchored in the side file (nil: the anchor was not checked).
    public var anchored: Int?
    /// Entries after the last anchored one (a writer killed between its commit and its anchor
    /// line; the next append anchors them). Not a failure: the keyed chain covers them.
    public var unanchored: Int?
    /// The entry the keyed high-water mark records (nil: no mark, a ledger from before marks).
    public var highWaterMark: Int64?
    enum CodingKeys: String, CodingKey {
        case entries, ok, problems, anchored, unanchored, headHash = "head_hash", highWaterMark = "high_water_mark"
    }
}

public final class Ledger: @unchecked Sendable {
    public let path: String
    /// The key file (HMAC key of the chain and of subject pseudonyms).
    public let keyPath: String
    /// The append-only anchor file: one "id hash" line per entry.
    public let anchorPath: String
    /// The keyed high-water mark: the highest entry reached, its hash and their HMAC.
    public let markPath: String
    let db: DatabaseQueue
    let key: SymmetricKey
    /// The key file says this ledger keeps a mark (its absence is then a removal).
    let keyMarked: Bool
    public static let genesis = String(repeating: "0", count: 64)

    /// The guards every ledger carries, by name, with their exact SQL (checked by `verifyIntegrity`).
    public static let triggers: [(String, String)] = [
        ("entries_no_update", "CREATE TRIGGER entries_no_update BEFORE UPDATE ON entries BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END"),
        ("entries_no_delete", "CREATE TRIGGER entries_no_delete BEFORE DELETE ON entries BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END"),
        // Only the next entry may be inserted: this also refuses INSERT OR REPLACE over an existing
        // id or hash (REPLACE deletes the old row without firing the DELETE trigger).
        ("entries_append_only", "CREATE TRIGGER entries_append_only BEFORE INSERT ON entries WHEN NEW.id IS NOT (SELECT IFNULL(MAX(id), 0) + 1 FROM entries) OR EXISTS (SELECT 1 FROM entries WHERE hash = NEW.hash) BEGIN SELECT RAISE(ABORT, 'the ledger is append-only: only the next entry may be inserted'); END"),
    ]

    /// The key file of the ledger at `path` unless given: `path` + ".key".
    public static func defaultKeyPath(_ path: String) -> String { path + ".key" }

    /// Opens the ledger at `path`. Without `create` the file and its key must exist
    /// (`LedgerError.missing`, `.key`); with it, a new ledger, key (0600), anchor and high-water
    /// mark are made and the paths must be free (`LedgerError.exists`).
    public init(path: String, create: Bool = false, keyPath: String? = nil) throws {
        self.path = path
        self.keyPath = keyPath ?? Self.defaultKeyPath(path)
        anchorPath = path + ".anchor"
        markPath = path + ".mark"
        try Self.checkPlace(path, create: create)
        let keyFile = try Self.keyFile(path: path, keyPath: self.keyPath, anchorPath: anchorPath, create: create)
        key = keyFile.key
        keyMarked = keyFile.marked
        do {
            db = try Self.openDatabase(path, create: create)
            if create { try raiseMark(to: LedgerMark(id: 0, hash: Self.genesis)) }
        } catch {
            if create {
                for suffix in ["", "-wal", "-shm", ".key", ".anchor", ".mark"] { try? FileManager.default.removeItem(atPath: path + suffix) }
            }
            if let e = error as? DatabaseError { throw LedgerError.open(path: path, reason: e.message ?? "\(e)") }
            throw error
        }
    }

    /// Makes the database file and the key (`create`), or finds them.
    static func keyFile(path: String, keyPath: String, anchorPath: String, create: Bool) throws -> LedgerKeyFile {
        guard create else {
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { throw LedgerError.missing(path: path) }
            if isDir.boolValue { throw LedgerError.open(path: path, reason: "a directory, not a ledger file") }
            return try readKey(at: keyPath, ledger: path)
        }
        // O_EXCL: of two processes creating the same ledger, one wins and the other is told.
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        if fd < 0 {
            if errno == EEXIST { throw LedgerError.exists(path: path) }
            throw LedgerError.open(path: path, reason: errnoText())
        }
        close(fd)
        do { return LedgerKeyFile(key: try createKey(at: keyPath, anchor: anchorPath), marked: true) } catch {
            unlink(path)
            throw error
        }
    }

    /// Opens the SQLite file; makes the table and its guards when `create`.
    static func openDatabase(_ path: String, create: Bool) throws -> DatabaseQueue {
        var config = Configuration()
        config.busyMode = .timeout(30)
        config.journalMode = .wal
        let db = try DatabaseQueue(path: path, configuration: config)
        try db.write { db in
            // An existing SQLite file that is something else is not adopted.
            let tables = try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table'")
            if !tables.isEmpty && !tables.contains("entries") {
                throw LedgerError.open(path: path, reason: "an SQLite database, but not a Shallot ledger (no entries table)")
            }
            // The schema and its guards are made once, with the ledger. They are not re-created
            // when a ledger is opened: a dropped trigger must stay visible to `verifyIntegrity`.
            guard tables.isEmpty else { return }
            guard create else { throw LedgerError.open(path: path, reason: "an empty file, not a ledger") }
            try db.execute(sql: """
                CREATE TABLE entries (
                  id INTEGER PRIMARY KEY,
                  kind TEXT NOT NULL,
                  created TEXT NOT NULL,
                  payload TEXT NOT NULL,
                  prev_hash TEXT NOT NULL,
                  hash TEXT NOT NULL UNIQUE)
                """)
            for (_, sql) in Self.triggers { try db.execute(sql: sql) }
        }
        return db
    }

    /// The keyed pseudonym of a data subject: HMAC-SHA-256 under the ledger's key of the
    /// normalised id (`SubjectID.normalize`), so "Alice@X.com " and "alice@x.com" are one key, and
    /// without the key file nobody can tell whether an address they guess is in the ledger.
    public func subjectKey(_ subject: String) -> String {
        hex(HMAC<SHA256>.authenticationCode(for: Data(("shallot-subject:" + SubjectID.normalize(subject)).utf8), using: key))
    }

    /// "R-3", "r-3" and "3" all name request R-3; nil for anything else.
    public static func requestID(_ s: String) -> String? {
        var t = s.trimmingCharacters(in: .whitespaces)
        if t.hasPrefix("R-") || t.hasPrefix("r-") { t.removeFirst(2) }
        guard !t.isEmpty, t.allSatisfy(\.isASCII), t.allSatisfy(\.isNumber), let n = Int(t), n >= 1 else { return nil }
        return "R-\(n)"
    }


    func entryHash(prev: String, kind: String, created: String, payload: String) -> String {
        var h = HMAC<SHA256>(key: key)
        for part in [prev, kind, created, payload] { h.update(data: Data(part.utf8)); h.update(data: Data([0])) }
        return hex(h.finalize())
    }

    static func canonical(_ payload: [String: Any]) throws -> String {
        let d = try JSONSerialization.data(withJSONObject: payload, options: [.sortedKeys, .withoutEscapingSlashes])
        return String(decoding: d, as: UTF8.self)
    }

    /// Appends an entry atomically after the current head, then anchors it. A request gets its
    /// `request_id` ("R-n", n = the number of requests before it + 1) in the same transaction; one
    /// given in `payload` is replaced.
    @discardableResult
    public func append(_ kind: LedgerKind, _ payload: [String: Any], now: Date = Date()) throws -> LedgerEntry {
        let created = ISO8601DateFormatter().string(from: now)
        let entry: LedgerEntry = try db.writeWithoutTransaction { db in
            var entry: LedgerEntry!
            try db.inTransaction(.immediate) {
                let last = try Row.fetchOne(db, sql: "SELECT id, hash FROM entries ORDER BY id DESC LIMIT 1")
                let lastID: Int64 = last?["id"] ?? 0
                try refuseToContinue(db, lastID: lastID)
                var payload = payload
                if kind == .request {
                    let n = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM entries WHERE kind = ?", arguments: [kind.rawValue]) ?? 0
                    payload["request_id"] = "R-\(n + 1)"
                }
                let body = try Self.canonical(payload)
                let prev: String = last?["hash"] ?? Self.genesis
                let id = lastID + 1
                let h = entryHash(prev: prev, kind: kind.rawValue, created: created, payload: body)
                try db.execute(sql: "INSERT INTO entries (id, kind, created, payload, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?)",
                               arguments: [id, kind.rawValue, created, body, prev, h])
                entry = LedgerEntry(id: id, kind: kind.rawValue, created: created, payload: body, prevHash: prev, hash: h)
                return .commit
            }
            return entry
        }
        try anchor()
        return entry
    }

    /// Refuses to append after `lastID` when the ledger is behind its anchor or its high-water
    /// mark (it was cut: the next entry would take an id given before), when the anchor is behind
    /// the mark (it was emptied or put back: the append would re-fill it and hide that), or when
    /// the mark is missing, forged or names another entry.
    func refuseToContinue(_ db: Database, lastID: Int64) throws {
        // The mark before the anchor: another writer raises the mark only after its anchor lines
        // are written, so a mark read first is never ahead of an honest anchor read after it.
        let marked = try? readMark()
        let anchored = try Self.lastAnchor(anchorPath)
        if let a = anchored, a.id > lastID {
            throw LedgerError.invalid("\(path): the anchor \(anchorPath) records entry \(a.id) but the ledger ends at \(lastID): it was truncated; "
                                      + "see `shallot ledger verify --integrity`")
        }
        var refusal = try markRefusal(lastID: lastID) { id in
            try String.fetchOne(db, sql: "SELECT hash FROM entries WHERE id = ?", arguments: [id])
        }
        // The anchor is written before the mark is raised, so it never ends before the mark on
        // its own: one that does was cut back or emptied behind the ledger's back.
        if refusal == nil, let mark = marked ?? nil, mark.id > (anchored?.id ?? 0) {
            refusal = "the anchor \(anchorPath) ends at entry \(anchored?.id ?? 0) but the high-water mark \(markPath) records entry \(mark.id): "
                + "the anchor was emptied or put back, and appending would fill it again over what was removed"
        }
        if let refusal {
            throw LedgerError.invalid("\(path): not appending (the next entry could take an id given before): \(refusal); "
                                      + "see `shallot ledger verify --integrity`")
        }
    }

    /// The last line of the anchor file (not followed through a link).
    static func lastAnchor(_ path: String) throws -> (id: Int64, hash: String)? {
        guard let fd = try openSideFile(path, flags: O_RDONLY, what: "anchor") else { return nil }
        defer { close(fd) }
        let size = lseek(fd, 0, SEEK_END)
        guard size >= 0, lseek(fd, size > 512 ? size - 512 : 0, SEEK_SET) >= 0 else {
            throw LedgerError.open(path: path, reason: "cannot read the anchor: \(errnoText())")
        }
        let tail = String(decoding: readAll(fd, limit: 512), as: UTF8.self)
        guard let line = tail.split(separator: "\n").last else { return nil }
        let f = line.split(separator: " ")
        guard f.count == 2, let id = Int64(f[0]) else { return nil }
        return (id, String(f[1]))
    }

    /// Writes an anchor line for every entry after the last anchored one, in order, under an
    /// exclusive lock of the anchor file (so concurrent writers keep it ordered), then raises the
    /// high-water mark to the anchored head. Stops at an entry whose hash does not verify: only
    /// the ledger's own entries are anchored and marked.
    func anchor() throws {
        guard let fd = try Self.openSideFile(anchorPath, flags: O_WRONLY | O_CREAT | O_APPEND, what: "anchor") else { return }
        defer { close(fd) }
        guard flock(fd, LOCK_EX) == 0 else { throw LedgerError.open(path: anchorPath, reason: "cannot lock: \(Self.errnoText())") }
        defer { flock(fd, LOCK_UN) }
        let from = try Self.lastAnchor(anchorPath)
        let rows = try entries(after: from?.id ?? 0)
        var prev = from?.hash ?? Self.genesis
        var text = ""
        var head: LedgerMark? = try from.flatMap { a in try verified(a.id, a.hash) ? LedgerMark(id: a.id, hash: a.hash) : nil }
        for e in rows {
            guard e.prevHash == prev, entryHash(prev: e.prevHash, kind: e.kind, created: e.created, payload: e.payload) == e.hash else { break }
            text += "\(e.id) \(e.hash)\n"
            prev = e.hash
            head = LedgerMark(id: e.id, hash: e.hash)
        }
        if !text.isEmpty {
            guard Self.writeAll(fd, Data(text.utf8)), fsync(fd) == 0 else {
                throw LedgerError.open(path: anchorPath, reason: "cannot write the anchor: \(Self.errnoText())")
            }
        }
        if let head { try raiseMark(to: head) }
    }

    /// Entries with ids above `id`, in order.
    func entries(after id: Int64) throws -> [LedgerEntry] {
        try db.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM entries WHERE id > ? ORDER BY id", arguments: [id]).map(Self.entry)
        }
    }

    static func entry(_ r: Row) -> LedgerEntry {
        LedgerEntry(id: r["id"], kind: r["kind"], created: r["created"], payload: r["payload"], prevHash: r["prev_hash"], hash: r["hash"])
    }

    /// Whether entry `id` is in the ledger with this hash, and its hash is its content's.
    func verified(_ id: Int64, _ hash: String) throws -> Bool {
        let row = try db.read { db in try Row.fetchOne(db, sql: "SELECT * FROM entries WHERE id = ?", arguments: [id]) }
        guard let e = row.map(Self.entry) else { return false }
        return e.hash == hash && entryHash(prev: e.prevHash, kind: e.kind, created: e.created, payload: e.payload) == e.hash
    }

    public func entries(kind: LedgerKind? = nil) throws -> [LedgerEntry] {
        try db.read { db in
            let rows = try Row.fetchAll(db, sql: kind == nil ? "SELECT * FROM entries ORDER BY id" : "SELECT * FROM entries WHERE kind = ? ORDER BY id",
                                        arguments: kind == nil ? [] : [kind!.rawValue])
            return rows.map(Self.entry)
        }
    }

    /// Recomputes every keyed hash and link and checks the guards (triggers) are in place; and —
    /// by default (`checkAnchor`: the side files) — that every entry anchored in the side file is
    /// in the ledger with that hash (a truncated tail or a rewritten entry) and that the ledger
    /// and its anchor reach the keyed high-water mark. `expectedHead`: a head hash recorded
    /// elsewhere (by an auditor, off the machine).
    public func verifyIntegrity(expectedHead: String? = nil, checkAnchor: Bool = true) throws -> IntegrityReport {
        let all = try entries()
        var problems = chainProblems(all)
        problems += try triggerProblems()
        var anchored: Int?, unanchored: Int?, mark: LedgerMark?
        if checkAnchor {
            let a = try anchorProblems(all)
            let m = markProblems(all, anchorEnd: a.lastID)
            problems += a.problems + m.problems
            (anchored, unanchored, mark) = (a.anchored, a.unanchored, m.mark)
        }
        if let h = expectedHead, !all.contains(where: { $0.hash == h }) {
            problems.append("the expected head \(h.prefix(16))… is not in the ledger (entries were removed from the end)")
        }
        return IntegrityReport(entries: all.count, ok: problems.isEmpty, problems: Array(problems.prefix(50)), headHash: all.last?.hash ?? Self.genesis,
                               anchored: anchored, unanchored: unanchored, highWaterMark: mark?.id)
    }

    /// Entries whose keyed hash or link is wrong, and gaps in the ids.
    func chainProblems(_ all: [LedgerEntry]) -> [String] {
        var problems: [String] = []
        var prev = Self.genesis
        var expectedId: Int64 = 1
        for e in all {
            if e.id != expectedId { problems.append("entry \(expectedId)\(e.id > expectedId + 1 ? "–\(e.id - 1)" : "") missing (deleted)") }
            if e.prevHash != prev { problems.append("entry \(e.id): does not follow the entry before it (an entry was removed or replaced)") }
            if entryHash(prev: e.prevHash, kind: e.kind, created: e.created, payload: e.payload) != e.hash {
                problems.append("entry \(e.id): content does not match its keyed hash (edited, or rewritten without the ledger's key)")
            }
            prev = e.hash
            expectedId = e.id + 1
        }
        return problems
    }

    /// Triggers dropped or altered. (They are compared by their SQL: one dropped and made again
    /// as it was is not seen. They guard against mistakes; the keyed chain and mark hold.)
    func triggerProblems() throws -> [String] {
        let present = try db.read { db in
            Dictionary(try Row.fetchAll(db, sql: "SELECT name, sql FROM sqlite_master WHERE type = 'trigger'").map { ($0["name"] as String, $0["sql"] as String? ?? "") },
                       uniquingKeysWith: { a, _ in a })
        }
        var problems: [String] = []
        for (name, sql) in Self.triggers {
            if let p = present[name] { if p != sql { problems.append("trigger \(name) was altered (the append-only guard may be void)") } }
            else { problems.append("trigger \(name) was dropped (the append-only guard was removed)") }
        }
        return problems
    }

    /// Every anchored entry must be in the ledger with the anchored hash, in order.
    func anchorProblems(_ all: [LedgerEntry]) throws -> (problems: [String], anchored: Int?, unanchored: Int?, lastID: Int64?) {
        let d: Data?
        do { d = try Self.readSideFile(anchorPath, what: "anchor") } catch { return (["\(error)"], nil, nil, nil) }
        guard let d else {
            return (["\(anchorPath): the anchor file is missing (it was removed: a truncated tail could not be detected)"], nil, nil, nil)
        }
        let byId = Dictionary(uniqueKeysWithValues: all.map { ($0.id, $0.hash) })
        var problems: [String] = [], lastID: Int64 = 0, count = 0
        for (n, line) in String(decoding: d, as: UTF8.self).split(separator: "\n").enumerated() {
            let f = line.split(separator: " ")
            guard f.count == 2, let id = Int64(f[0]) else { problems.append("anchor line \(n + 1): malformed"); continue }
            if id <= lastID { problems.append("anchor line \(n + 1): entry \(id) anchored again or out of order (the anchor was edited)") }
            lastID = max(lastID, id); count += 1
            if let h = byId[id] {
                if h != f[1] { problems.append("entry \(id): not the entry anchored when it was appended (hash \(f[1].prefix(16))…): the ledger was rewritten") }
            } else {
                problems.append("entry \(id): anchored but not in the ledger (the tail was truncated or the entry removed)")
            }
        }
        return (problems, count, all.filter { $0.id > lastID }.count, lastID)
    }

    /// The ledger (and its anchor, when it was read) must reach the keyed high-water mark, and
    /// the entry it names must be the one it recorded.
    func markProblems(_ all: [LedgerEntry], anchorEnd: Int64?) -> (problems: [String], mark: LedgerMark?) {
        let end = all.last?.id ?? 0
        let refusal = try? markRefusal(lastID: end) { id in all.first { $0.id == id }?.hash }
        let mark = try? readMark()
        var problems = refusal.map { [$0] } ?? []
        if let mark, let anchorEnd, anchorEnd < mark.id {
            problems.append("the anchor \(anchorPath) ends at entry \(anchorEnd) but the high-water mark \(markPath) records entry \(mark.id): "
                            + "the anchor was emptied or cut")
        }
        return (problems, mark)
    }

    // MARK: domain queries

    /// Requests, with their state: open, actioned (an action names the request), verified (the
    /// last verification passed, on a model an action answering the request produced), failed
    /// verification, verification inconclusive (the last verification decides).
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
                // Only a verification of an erasure's output model can verify the request.
                let ofOutput = (last.object()["erasure_output"] as? Bool) == true
                switch last.object()["verdict"] as? String {
                case "pass": state = ofOutput ? "verified" : (actions.isEmpty ? "open" : "actioned") + " (the last verification was not of an erasure's output model)"
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
