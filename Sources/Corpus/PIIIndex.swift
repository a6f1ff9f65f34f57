// The PII index of a corpus: every distinct value (by type and normalised key) with its
// occurrences, the subjects whose records hold it, its owner (Ownership.swift), and where it
// occurs with its left context. Audits build prompts from the contexts and match what a model emits against the keys.

import Foundation
import PII
import Support

public struct PIIOccurrence: Codable, Sendable, Equatable {
    public var record: String
    /// Unicode scalar offsets in the record's text, end exclusive.
    public var start: Int
    public var end: Int
    /// Up to `contextLength` scalars before the value (the natural extraction prompt).
    public var left: String
    /// The value as written at this occurrence.
    public var text: String
}

public struct PIIIndexEntry: Codable, Sendable {
    public var type: PIIType
    /// The normalised key (one real value, one key).
    public var value: String
    public var occurrences: Int
    /// Record subjects holding the value, with counts.
    public var subjects: [String: Int]
    /// The data subject the value belongs to (Ownership's rule: the subject whose address it is,
    /// else the subject who writes it most in their own header or signature; nil: unowned).
    public var owner: String?
    /// Occurrences in each subject's own header or signature blocks (AuthorBlocks).
    public var authorOccurrences: [String: Int]
    public var places: [PIIOccurrence]
    enum CodingKeys: String, CodingKey {
        case type, value, occurrences, subjects, owner, places
        case authorOccurrences = "author_occurrences"
    }
    public var key: PIIKey { PIIKey(type, value) }
}

public struct PIIIndex: Sendable {
    public var entries: [PIIIndexEntry]
    public init(entries: [PIIIndexEntry]) { self.entries = entries }

    public static func build(records: [Record], scanner: PIIScanner = PIIScanner(), contextLength: Int = 400) -> PIIIndex {
        let found = scanner.scan(all: records.map(\.text))
        var byKey: [PIIKey: PIIIndexEntry] = [:]
        let subjects = Set(records.map(\.subject))
        for (r, ents) in zip(records, found) {
            guard !ents.isEmpty else { continue }
            let scalars = Array(r.text.unicodeScalars)
            // The author's own blocks count for the record's subject only when the subject wrote
            // it; an address counts only for subjects whose id is not an address (an address
            // subject owns exactly their own address).
            let authored = Ownership.authoredBySubject(r)
            let own = authored ? AuthorBlocks.ranges(r.text) : []
            let subjectIsAddress = r.subject.contains("@")
            for e in ents {
                let k = PIIKey(e.type, e.normalized)
                let ls = max(0, e.start - contextLength)
                var left = String.UnicodeScalarView(); left.append(contentsOf: scalars[ls..<e.start])
                let occ = PIIOccurrence(record: r.id, start: e.start, end: e.end, left: String(left), text: e.text)
                if byKey[k] == nil { byKey[k] = PIIIndexEntry(type: e.type, value: e.normalized, occurrences: 0, subjects: [:], owner: nil, authorOccurrences: [:], places: []) }
                byKey[k]!.occurrences += 1
                if !(e.type == .email && subjectIsAddress), AuthorBlocks.owns(r.text, blocks: own, start: e.start, end: e.end) { byKey[k]!.authorOccurrences[r.subject, default: 0] += 1 }
                byKey[k]!.subjects[r.subject, default: 0] += 1
                byKey[k]!.places.append(occ)
            }
        }
        var entries = Array(byKey.values)
        for i in entries.indices {
            entries[i].owner = Ownership.decide(type: entries[i].type, value: entries[i].value, subjects: subjects, authorCounts: entries[i].authorOccurrences)
        }
        entries.sort { ($0.type.rawValue, $0.value) < ($1.type.rawValue, $1.value) }
        return PIIIndex(entries: entries)
    }

    /// One JSON object per value, written atomically.
    public func write(to path: String) throws {
        let w = try RecordLinesWriter(path: path)
        for e in entries { try w.write(e) }
        try w.close()
    }

    public static func read(_ path: String) throws -> PIIIndex {
        guard let lines = LineReader(path: path) else { throw CorpusError.unreadable(path: path, reason: "no such file") }
        var out: [PIIIndexEntry] = []
        var n = 0
        for l in lines where !l.isEmpty {
            n += 1
            do { out.append(try JSONDecoder().decode(PIIIndexEntry.self, from: Data(l))) } catch {
                throw CorpusError.badLine(path: path, line: n, reason: "not a PII index entry")
            }
        }
        try lines.check()
        return PIIIndex(entries: out)
    }
}

/// Writes any Encodable values as JSON lines (mode 0600) through a temporary file.
public final class RecordLinesWriter {
    let path: String, tmp: String
    var data = Data()
    let enc = JSONEncoder()
    public init(path: String) throws {
        self.path = path; tmp = path + ".tmp-\(getpid())"
        enc.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    }
    public func write(_ v: some Encodable) throws { data.append(try enc.encode(v)); data.append(0x0A) }
    public func close() throws {
        // Owner-only (0600): index lines hold raw values and their contexts.
        do { try PrivateFile.write(data, to: path) } catch { throw CorpusError.unreadable(path: path, reason: "\(error)") }
    }
}
