// The record model (docs/design.md, "The record model"): one JSON object a line,
//   {"id": "r-000017", "subject": "jdoe", "text": "...", "source": "maildir:allen-p/inbox/12", "meta": {...}}
// `subject` is the data subject who can ask for deletion; deletion removes every record of a subject.
// Subjects are normalised on the way in (SubjectID.normalize: trimmed, lower-cased).

import Foundation
import Support

public enum CorpusError: Error, CustomStringConvertible {
    case unreadable(path: String, reason: String)
    case badLine(path: String, line: Int, reason: String)
    case invalidArgument(String)

    public var description: String {
        switch self {
        case .unreadable(let p, let r): return "\(p): cannot read: \(r)"
        case .badLine(let p, let l, let r): return "\(p):\(l): \(r)"
        case .invalidArgument(let r): return r
        }
    }
}

public struct Record: Codable, Sendable, Equatable {
    public var id: String
    public var subject: String
    public var text: String
    public var source: String
    public var meta: [String: String]

    public init(id: String, subject: String, text: String, source: String, meta: [String: String] = [:]) {
        self.id = id; self.subject = SubjectID.normalize(subject); self.text = text; self.source = source; self.meta = meta
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(String.self, forKey: .id)
        subject = SubjectID.normalize(try c.decodeIfPresent(String.self, forKey: .subject) ?? "")
        text = try c.decode(String.self, forKey: .text)
        source = try c.decodeIfPresent(String.self, forKey: .source) ?? ""
        meta = try c.decodeIfPresent([String: String].self, forKey: .meta) ?? [:]
    }
}

/// Streams records to a JSONL file (mode 0600), written to a temporary file and renamed on `close`.
public final class RecordWriter {
    let path: String, tmp: String
    let handle: FileHandle
    let encoder: JSONEncoder
    var buffer = Data()
    public private(set) var count = 0

    public init(path: String) throws {
        self.path = path
        // Owner-only (0600) from the start: a corpus holds personal data. A new temporary file
        // with an unpredictable name, no link followed (PrivateFile.createTemporary).
        let fd: Int32
        do { (fd, tmp) = try PrivateFile.createTemporary(beside: path) } catch {
            throw CorpusError.unreadable(path: path, reason: "cannot create the output file: \(error)")
        }
        handle = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
        encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    }

    public func write(_ r: Record) throws {
        buffer.append(try encoder.encode(r))
        buffer.append(0x0A)
        count += 1
        if buffer.count > 1 << 20 { try flush() }
    }

    func flush() throws { try handle.write(contentsOf: buffer); buffer.removeAll(keepingCapacity: true) }

    /// Finishes the file and moves it into place.
    public func close() throws {
        try flush()
        try handle.close()
        if rename(tmp, path) != 0 { throw CorpusError.unreadable(path: path, reason: "cannot rename \(tmp): \(String(cString: strerror(errno)))") }
    }

    /// Abandons the output (the temporary file is removed; an existing file at `path` stays).
    public func discard() { try? handle.close(); try? FileManager.default.removeItem(atPath: tmp) }
}

/// Reads a corpus JSONL file line by line (constant memory).
public struct RecordReaderJSONL: Sequence {
    public let path: String
    public var textField = "text", idField = "id", subjectField = "subject"

    public init(path: String) { self.path = path }

    public func makeIterator() -> AnyIterator<Result<Record, CorpusError>> {
        guard let lines = LineReader(path: path) else {
            var done = false
            return AnyIterator { if done { return nil }; done = true; return .failure(.unreadable(path: path, reason: "no such file")) }
        }
        let it = lines.makeIterator()
        var n = 0, reported = false
        let (tf, idf, sf) = (textField, idField, subjectField)
        return AnyIterator {
            while let line = it.next() {
                n += 1
                if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }
                guard let o = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any] else {
                    return .failure(.badLine(path: path, line: n, reason: "not a JSON object"))
                }
                guard let text = o[tf] as? String else { return .failure(.badLine(path: path, line: n, reason: "no string field \"\(tf)\"")) }
                let id = (o[idf] as? String) ?? (o[idf] as? Int).map(String.init) ?? "line-\(n)"
                let subject = (o[sf] as? String) ?? ""
                var meta: [String: String] = [:]
                if let m = o["meta"] as? [String: Any] { for (k, v) in m { meta[k] = "\(v)" } }
                return .success(Record(id: id, subject: subject, text: text, source: (o["source"] as? String) ?? "jsonl:\(path):\(n)", meta: meta))
            }
            if let e = lines.error, !reported { reported = true; return .failure(e) }
            return nil
        }
    }
}

/// Lines of a file as byte arrays, read in 1 MiB chunks. A read error or a line longer than
/// `maxLineBytes` ends the sequence and is kept in `error`: callers check it after the loop, so
/// that a failing disk is never mistaken for the end of the file.
public final class LineReader: Sequence {
    let handle: FileHandle
    public let path: String
    /// Longest line (bytes) before reading stops with an error.
    public static let maxLineBytes = 256 << 20
    public private(set) var error: CorpusError?

    public init?(path: String) {
        guard let h = FileHandle(forReadingAtPath: path) else { return nil }
        handle = h
        self.path = path
    }

    /// Throws the error that ended the reading, if any.
    public func check() throws { if let error { throw error } }

    public func makeIterator() -> AnyIterator<[UInt8]> {
        var buf: [UInt8] = [], pos = 0, eof = false, scanned = 0, lineNo = 0
        let h = handle
        return AnyIterator { [self] in
            while true {
                if let nl = buf[Swift.min(pos + scanned, buf.count)...].firstIndex(of: 0x0A) {
                    let line = Array(buf[pos..<nl])
                    pos = nl + 1
                    scanned = 0
                    lineNo += 1
                    return line
                }
                scanned = buf.count - pos  // do not search the same bytes again
                if eof {
                    if pos < buf.count { let line = Array(buf[pos...]); pos = buf.count; return line }
                    try? h.close()
                    return nil
                }
                if buf.count - pos > LineReader.maxLineBytes {
                    error = .badLine(path: path, line: lineNo + 1, reason: "line longer than \(LineReader.maxLineBytes) bytes")
                    try? h.close()
                    return nil
                }
                buf.removeFirst(pos); pos = 0
                let chunk: Data?
                do { chunk = try h.read(upToCount: 1 << 20) } catch {
                    self.error = .unreadable(path: path, reason: "read error after line \(lineNo): \(error.localizedDescription)")
                    try? h.close()
                    return nil
                }
                if let chunk, !chunk.isEmpty { buf.append(contentsOf: chunk) } else { eof = true }
            }
        }
    }
}
