// Importers: maildir trees (the Enron layout user/folder/N.), mbox, CSV with an RFC 822 message
// column (the shared emails.csv: file,message), JSONL with configurable fields, and plain-text
// directories. Each streams records to a callback (constant memory in the corpus size);
// malformed messages are skipped, counted and the first few reported, never fatal.

import Foundation
import Support

public enum SubjectRule: Sendable, Equatable {
    /// The sender's normalised address (From, else X-From / Sender).
    case sender
    /// The top-level folder of the record inside the imported directory (Enron: the mailbox owner).
    case folder
    /// The value of a header (normalised address when it holds one).
    case header(String)
}

public struct ImportOptions: Sendable {
    public var subject: SubjectRule = .sender
    public var textField = "text", idField = "id", subjectField = "subject"
    /// CSV column names.
    public var messageColumn = "message", fileColumn = "file"
    public init() {}
}

public struct ImportReport: Codable, Sendable {
    public var imported = 0
    public var skipped = 0
    /// The first problems, each naming the input and what was wrong.
    public var problems: [String] = []
    mutating func skip(_ what: String) { skipped += 1; if problems.count < 20 { problems.append(what) } }
}

public enum Importer {
    public typealias Emit = (Record) throws -> Void

    /// One message → one record, or a reason to skip it.
    public static func record(message bytes: [UInt8], id: String, source: String, folder: String?, options: ImportOptions) -> Result<Record, EmailMessage.ParseError> {
        let m: EmailMessage
        do { m = try EmailMessage.parse(bytes) } catch let e as EmailMessage.ParseError { return .failure(e) } catch { return .failure(.init(reason: "\(error)")) }
        let sender = m.header("From").flatMap(EmailMessage.address) ?? m.header("Sender").flatMap(EmailMessage.address)
        let subject: String?
        switch options.subject {
        case .sender: subject = sender ?? m.header("X-From").map { $0.lowercased() }
        case .folder: subject = folder
        case .header(let h): subject = m.header(h).map { EmailMessage.address($0) ?? $0.trimmingCharacters(in: .whitespaces) }
        }
        guard let subj = subject, !subj.isEmpty else { return .failure(.init(reason: "no sender (From) to take the subject from")) }
        var text = ""
        for h in ["From", "To", "Cc", "Subject"] { if let v = m.header(h), !v.isEmpty { text += "\(h): \(v)\n" } }
        text += "\n" + m.body.trimmingCharacters(in: .newlines)
        var meta: [String: String] = [:]
        for (k, h) in [("message_id", "Message-ID"), ("date", "Date"), ("x_from", "X-From"), ("x_to", "X-To"), ("x_folder", "X-Folder")] {
            if let v = m.header(h) { meta[k] = v }
        }
        let to = (m.header("To").map(EmailMessage.addresses) ?? []) + (m.header("Cc").map(EmailMessage.addresses) ?? [])
        if !to.isEmpty { meta["recipients"] = to.joined(separator: ",") }
        if let sender { meta["sender"] = sender }
        if let folder { meta["folder"] = folder }
        return .success(Record(id: id, subject: subj, text: text, source: source, meta: meta))
    }

    /// Every regular file under `root` is a message (maildir: cur/new/tmp or Enron's folders).
    public static func maildir(_ root: String, options: ImportOptions, emit: Emit) throws -> ImportReport {
        var report = ImportReport()
        let base = URL(fileURLWithPath: root).standardizedFileURL
        guard let en = FileManager.default.enumerator(at: base, includingPropertiesForKeys: [.isRegularFileKey], options: [.skipsHiddenFiles]) else {
            throw CorpusError.unreadable(path: root, reason: "not a directory")
        }
        var files: [String] = []
        for case let u as URL in en where (try? u.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true {
            files.append(String(u.standardizedFileURL.path.dropFirst(base.path.count + 1)))
        }
        // Natural order (1., 2., 10.) so that ids follow the mailbox.
        files.sort { $0.compare($1, options: .numeric) == .orderedAscending }
        for rel in files {
            guard let d = FileManager.default.contents(atPath: base.path + "/" + rel) else { report.skip("\(rel): unreadable"); continue }
            let folder = rel.split(separator: "/").first.map(String.init)
            switch record(message: Array(d), id: "maildir:" + rel, source: "maildir:" + rel, folder: folder, options: options) {
            case .success(let r): try emit(r); report.imported += 1
            case .failure(let e): report.skip("\(rel): \(e.reason)")
            }
        }
        return report
    }

    /// mbox (mboxo/mboxrd): messages start at "From " lines; ">From " lines are unescaped.
    public static func mbox(_ path: String, options: ImportOptions, emit: Emit) throws -> ImportReport {
        guard let lines = LineReader(path: path) else { throw CorpusError.unreadable(path: path, reason: "no such file") }
        var report = ImportReport()
        var current: [UInt8] = [], n = 0, startLine = 0, lineNo = 0, prevBlank = true, tooLong = false
        let name = URL(fileURLWithPath: path).lastPathComponent
        func flush() throws {
            defer { tooLong = false }
            if tooLong {
                n += 1
                report.skip("\(path):\(startLine): message longer than \(EmailMessage.Limits.messageBytes) bytes")
                current = []
                return
            }
            guard !current.isEmpty else { return }
            n += 1
            switch record(message: current, id: "mbox:\(name):\(n)", source: "mbox:\(name):\(startLine)", folder: name, options: options) {
            case .success(let r): try emit(r); report.imported += 1
            case .failure(let e): report.skip("\(path):\(startLine): \(e.reason)")
            }
            current = []
        }
        for var line in lines {
            lineNo += 1
            if line.last == 0x0D { line.removeLast() }
            if prevBlank && line.starts(with: Array("From ".utf8)) {
                try flush(); startLine = lineNo; prevBlank = false; continue
            }
            if line.first == UInt8(ascii: ">") {
                var k = 0
                while k < line.count && line[k] == UInt8(ascii: ">") { k += 1 }
                if line[k...].starts(with: Array("From ".utf8)) { line.removeFirst() }
            }
            prevBlank = line.isEmpty
            if startLine == 0 && lineNo == 1 { startLine = 1 }
            if tooLong { continue }
            if current.count + line.count + 1 > EmailMessage.Limits.messageBytes { tooLong = true; current = []; continue }
            current.append(contentsOf: line); current.append(0x0A)
        }
        try lines.check()
        try flush()
        return report
    }

    /// CSV (RFC 4180: quoted fields, "" escapes, newlines inside quotes) with a message column.
    public static func emailCSV(_ path: String, options: ImportOptions, emit: Emit) throws -> ImportReport {
        guard let rows = CSVReader(path: path) else { throw CorpusError.unreadable(path: path, reason: "no such file") }
        var report = ImportReport()
        var header: [String]?
        var mi = -1, fi = -1, rowNo = 0
        for result in rows {
            rowNo += 1
            let row = try result.get()
            guard let h = header else {
                header = row.map { String(decoding: $0, as: UTF8.self).trimmingCharacters(in: .whitespaces).lowercased() }
                mi = header!.firstIndex(of: options.messageColumn.lowercased()) ?? -1
                fi = header!.firstIndex(of: options.fileColumn.lowercased()) ?? -1
                guard mi >= 0 else { throw CorpusError.badLine(path: path, line: 1, reason: "no \"\(options.messageColumn)\" column (columns: \(header!.joined(separator: ", ")))") }
                continue
            }
            _ = h
            guard mi < row.count else { report.skip("\(path): row \(rowNo): \(row.count) fields, no message"); continue }
            let file = fi >= 0 && fi < row.count ? String(decoding: row[fi], as: UTF8.self) : "row-\(rowNo)"
            let folder = file.split(separator: "/").first.map(String.init)
            switch record(message: row[mi], id: "csv:" + file, source: "email-csv:\(file)", folder: folder, options: options) {
            case .success(let r): try emit(r); report.imported += 1
            case .failure(let e): report.skip("\(path): row \(rowNo) (\(file)): \(e.reason)")
            }
        }
        return report
    }

    /// A corpus JSONL with configurable field names (`subject` optional: else the id).
    public static func jsonl(_ path: String, options: ImportOptions, emit: Emit) throws -> ImportReport {
        var report = ImportReport()
        var reader = RecordReaderJSONL(path: path)
        reader.textField = options.textField; reader.idField = options.idField; reader.subjectField = options.subjectField
        for r in reader {
            switch r {
            case .success(var rec):
                if rec.subject.isEmpty { rec.subject = SubjectID.normalize(rec.id) }
                try emit(rec); report.imported += 1
            case .failure(.unreadable(let p, let why)): throw CorpusError.unreadable(path: p, reason: why)
            case .failure(let e) where e.description.contains("line longer than"): throw e
            case .failure(let e): report.skip(e.description)
            }
        }
        return report
    }

    /// Every file under a directory is one record; the subject is its top-level folder (or the
    /// file name for files at the top).
    public static func textDirectory(_ root: String, options: ImportOptions, emit: Emit) throws -> ImportReport {
        var report = ImportReport()
        let base = URL(fileURLWithPath: root).standardizedFileURL
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: base.path, isDirectory: &isDir) else { throw CorpusError.unreadable(path: root, reason: "no such file or directory") }
        let files: [String]
        if isDir.boolValue {
            let en = FileManager.default.enumerator(at: base, includingPropertiesForKeys: [.isRegularFileKey], options: [.skipsHiddenFiles])!
            files = en.compactMap { ($0 as? URL).flatMap { (try? $0.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true ? String($0.standardizedFileURL.path.dropFirst(base.path.count + 1)) : nil } }
                .sorted { $0.compare($1, options: .numeric) == .orderedAscending }
        } else { files = [""] }
        for rel in files {
            let p = rel.isEmpty ? base.path : base.path + "/" + rel
            guard let d = FileManager.default.contents(atPath: p) else { report.skip("\(p): unreadable"); continue }
            let name = rel.isEmpty ? base.lastPathComponent : rel
            let comps = name.split(separator: "/")
            let subject = comps.count > 1 ? String(comps[0]) : String(name.split(separator: ".").first ?? Substring(name))
            try emit(Record(id: "text:" + name, subject: subject, text: String(decoding: d, as: UTF8.self), source: "text:" + name))
            report.imported += 1
        }
        return report
    }
}

/// Streaming RFC 4180 CSV rows (fields as bytes). A quoted field may span lines, but one left
/// open at the end of the file is an error naming the row and line where it began (never a
/// record swallowing the rest of the file), as is a record longer than `maxRecordBytes` and a
/// read error. So is a quoted field that spans lines and whose closing quote is followed by
/// anything but a comma or the end of the line: that is what an unterminated quote looks like
/// once it has swallowed the next row (`…body\na/2.,"From: …` — the next row's opening quote
/// closes the field and the rest of that row follows it), which would otherwise import two
/// messages as one and exit 0. When the swallowed row's quoted field opens at the end of its line
/// (`b/2,"` and a line break: a message that starts with one), the quote closes at a line end
/// and the row looks whole. Such a row (a multi-line quoted field closing at the end of a line
/// that reads like a row's start) is judged before it is handed out by reading the file both
/// ways from there: as it parses (the rows after that line: the swallowed message's lines, if it
/// is a merge), and with a row starting at that line (the swallowed row, whose quote then closes
/// where its message ends). Each way is read row by row until the two meet at a common row
/// start (`CSVRows.judge`); a way is sound when every row has the header's number of fields, no
/// quoted field spanning lines closes with text after it, and no quote stands inside an unquoted
/// field (where a swallowed message's own closing quote lands). Sound only with a row starting
/// there: an error naming the row. A message that merely ends in `,"` ("Thanks," closing it)
/// reads soundly as it parses and is taken. Before, only the next row's number of fields was
/// compared, and a swallowed message whose first line had exactly one comma (`From: Lee, Marcus
/// …`) passed (issue 22 review, L5). When the two ways do not meet within `lookaheadLines`
/// lines, or neither is sound, the next row's number of fields decides, as before. On one line,
/// text after a closing quote is kept (lenient).
public struct CSVReader: Sequence {
    let lines: LineReader
    /// Longest record (bytes) — a message with its attachments.
    public static let maxRecordBytes = 64 << 20
    /// How far a suspected merge is read ahead to judge it (lines, bytes).
    static let lookaheadLines = 20_000, lookaheadBytes = 16 << 20
    public init?(path: String) { guard let l = LineReader(path: path) else { return nil }; lines = l }
    public func makeIterator() -> AnyIterator<Result<[[UInt8]], CorpusError>> {
        var rows = CSVRows(lines: lines)
        var width: Int?
        return AnyIterator {
            let r = rows.next()
            guard case .success(let fields)? = r else { return r }
            if width == nil { width = fields.count }
            if let s = rows.suspect, let w = width {
                rows.suspect = nil
                if let why = rows.judge(s.line, width: w) {
                    return rows.fail(.badLine(path: rows.path, line: s.startLine, reason: "row \(s.row): its quoted field, opened on line \(s.opened), "
                        + "closes at the end of line \(s.closed), which reads like the start of a new row, and \(why): an unterminated quote has "
                        + "merged the following row(s) into this one"))
                }
            }
            return r
        }
    }
}

/// The row reader behind CSVReader: one row per `next()`, with the line numbers errors name.
struct CSVRows {
    let it: AnyIterator<[UInt8]>
    let reader: LineReader
    var path: String { reader.path }
    var lineNo = 0, rowNo = 0, done = false
    /// Lines read ahead (CSVRows.judge), handed out before the file's next ones.
    var ahead: [[UInt8]] = []
    /// The row just read closed a multi-line quoted field at the end of a line that reads like a
    /// row's start (`line`; CSVReader judges it before handing the row out).
    var suspect: (row: Int, startLine: Int, opened: Int, closed: Int, line: [UInt8])?

    init(lines: LineReader) { reader = lines; it = lines.makeIterator() }

    mutating func fail(_ e: CorpusError) -> Result<[[UInt8]], CorpusError> { done = true; return .failure(e) }

    mutating func nextLine() -> [UInt8]? { ahead.isEmpty ? it.next() : ahead.removeFirst() }

    /// The `k`-th line after those read (0: the next), read ahead as needed; nil past the end.
    mutating func peek(_ k: Int) -> [UInt8]? {
        while ahead.count <= k { guard let l = it.next() else { return nil }; ahead.append(l) }
        return ahead[k]
    }

    mutating func next() -> Result<[[UInt8]], CorpusError>? {
        if done { return nil }
        var fields: [[UInt8]] = [], field: [UInt8] = [], inQuotes = false, sawAny = false, size = 0, quoteLine = 0
        let startLine = lineNo + 1
        rowNo += 1
        while let line = nextLine() {
            lineNo += 1
            sawAny = true
            size += line.count + 1
            if size > CSVReader.maxRecordBytes {
                return fail(.badLine(path: path, line: startLine, reason: "row \(rowNo) is longer than \(CSVReader.maxRecordBytes) bytes (an unterminated quote?)"))
            }
            var i = 0
            while i < line.count {
                let c = line[i]
                if inQuotes {
                    if c == UInt8(ascii: "\"") {
                        if i + 1 < line.count && line[i + 1] == UInt8(ascii: "\"") { field.append(c); i += 2; continue }
                        inQuotes = false
                        if lineNo > quoteLine && !CSVReader.endsField(line, after: i) {
                            return fail(.badLine(path: path, line: startLine, reason: "row \(rowNo): its quoted field, opened on line \(quoteLine), closes on "
                                                 + "line \(lineNo) with text after the closing quote: an unterminated quote has merged the following "
                                                 + "row(s) into this one"))
                        }
                        if lineNo > quoteLine && CSVReader.readsLikeRowStart(line, quoteAt: i) {
                            suspect = (rowNo, startLine, quoteLine, lineNo, line)
                        }
                    } else { field.append(c) }
                } else if c == UInt8(ascii: "\"") && field.isEmpty { inQuotes = true; quoteLine = lineNo }
                else if c == UInt8(ascii: ",") { fields.append(field); field = [] }
                else if !(c == 0x0D && i == line.count - 1) { field.append(c) }
                i += 1
            }
            if inQuotes { field.append(0x0A); continue }  // newline inside a quoted field
            fields.append(field)
            return .success(fields)
        }
        if let e = reader.error { return fail(e) }
        if inQuotes { return fail(.badLine(path: path, line: startLine, reason: "row \(rowNo) has a quoted field that is never closed")) }
        done = true
        if sawAny && (!field.isEmpty || !fields.isEmpty) { fields.append(field); return .success(fields) }
        return nil
    }
}

extension CSVRows {
    /// One row read from line `start` of `line` by the rules of `next()`, for judging only.
    enum Scan: Equatable { case row(fields: Int, next: Int, sound: Bool), end, open }

    /// The row at line `start` (`line(k)`: nil past the end): how many fields it has, the line
    /// after it, and whether it is sound (no multi-line quoted field closes with text after it,
    /// no quote inside an unquoted field); `.end` with no line there, `.open` when a quoted field
    /// is still open when the lines run out or `budget` bytes were read.
    static func scan(at start: Int, budget: Int, _ line: (Int) -> [UInt8]?) -> Scan {
        var fields = 0, content = false, inQuotes = false, quoteLine = 0, sound = true, k = start, bytes = 0
        let quote = UInt8(ascii: "\"")
        while let l = line(k) {
            bytes += l.count + 1
            if bytes > budget { return .open }
            var i = 0
            while i < l.count {
                let c = l[i]
                if inQuotes {
                    if c == quote && i + 1 < l.count && l[i + 1] == quote { content = true; i += 2; continue }
                    if c == quote {
                        inQuotes = false
                        if k > quoteLine && !CSVReader.endsField(l, after: i) { sound = false }
                    } else { content = true }
                } else if c == quote { if content { sound = false } else { inQuotes = true; quoteLine = k } }
                else if c == UInt8(ascii: ",") { fields += 1; content = false }
                else if !(c == 0x0D && i == l.count - 1) { content = true }
                i += 1
            }
            k += 1
            if inQuotes { content = true; continue }
            return .row(fields: fields + 1, next: k, sound: sound)
        }
        return start == k && !inQuotes ? .end : .open
    }

    /// Why the row that closed on `closing` (a line reading like a row's start) merged the rows
    /// after it, or nil. Line 0 is `closing`, line k the k-th line after it (read ahead). The file
    /// is read as it parses (rows from line 1) and with a row starting at line 0, the one behind
    /// advancing a row at a time, until both are at the same row start (or at the end).
    mutating func judge(_ closing: [UInt8], width: Int) -> String? {
        var lines = 0, bytes = 0, cut = false
        func line(_ k: Int) -> [UInt8]? {
            if k == 0 { return closing }
            guard k <= CSVReader.lookaheadLines, bytes <= CSVReader.lookaheadBytes else { cut = true; return nil }
            let l = peek(k - 1)
            if k > lines { lines = k; bytes += (l?.count ?? 0) + 1 }
            return l
        }
        func scanned(_ at: Int) -> Scan {
            let r = Self.scan(at: at, budget: CSVReader.lookaheadBytes, line)
            return cut ? .open : r
        }
        let first = scanned(1)
        var asIs = 1, asRow = 0, asIsSound = true, asRowSound = true, met = false
        while !met {
            let behindIsAsIs = asIs < asRow
            switch scanned(behindIsAsIs ? asIs : asRow) {
            case .row(let n, let next, let sound):
                if behindIsAsIs { asIsSound = asIsSound && sound && n == width; asIs = next } else { asRowSound = asRowSound && sound && n == width; asRow = next }
                met = asIs == asRow
            case .end:
                if behindIsAsIs { asIs = .max } else { asRow = .max }
                met = asIs == asRow
            case .open:
                met = true   // the two ways do not meet: undecided
                asIs = -1
            }
        }
        if asIs == asRow && !asIsSound && asRowSound {
            return "read from that line the file parses as rows of the header's \(width) fields, while the rows after it do not"
        }
        if case .row(let n, _, _) = first, n != width {   // undecided, or neither way sound: the rule before
            return "the row after it has \(n) field\(n == 1 ? "" : "s"), not the header's \(width)"
        }
        return nil
    }
}

extension CSVReader {
    /// Whether the quote at `line[i]` ends its field: a comma or the end of the line (a CR at the end included) follows.
    static func endsField(_ line: [UInt8], after i: Int) -> Bool {
        i + 1 == line.count || line[i + 1] == UInt8(ascii: ",") || (line[i + 1] == 0x0D && i + 2 == line.count)
    }

    /// Whether the quote at `line[i]`, closing a field at the end of the line, is where a new row's
    /// quoted field would open: it ends the line, directly after a comma, with no quote before it
    /// on the line (`b/2,"`).
    static func readsLikeRowStart(_ line: [UInt8], quoteAt i: Int) -> Bool {
        let atEnd = i + 1 == line.count || (line[i + 1] == 0x0D && i + 2 == line.count)
        return atEnd && i > 0 && line[i - 1] == UInt8(ascii: ",") && !line[..<i].contains(UInt8(ascii: "\""))
    }
}
