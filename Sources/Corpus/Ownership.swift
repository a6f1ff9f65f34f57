// Who a value belongs to (docs/methods.md, "Ownership"): the person it identifies, not whoever
// mentions it. An e-mail address belongs to the subject whose (normalised) address it is; any
// other value — a phone number, or an address of a subject whose id is not an address — to the
// subject in whose own header (From / Sender / Reply-To) or signature block it appears most
// often, ties and no such appearance leaving it unowned. A study decides ownership once, from the
// full original corpus, and keeps it for every later model: deleting a subject's records does not
// hand their address to the correspondents whose mail still quotes it.

import Foundation
import PII
import Support

/// The parts of a message in which its author identifies themself.
public enum AuthorBlocks {
    static let ownHeaders: Set<String> = ["from", "sender", "reply-to", "x-from"]
    static let quotedHeaders: Set<String> = ["from", "sent", "to", "cc", "subject", "date"]
    static let disclaimerWords = ["confidential", "intended recipient", "privileged", "disclaimer", "if you have received", "virus"]
    /// Longest line taken as part of a signature block (prose lines are longer).
    static let signatureLineLimit = 72
    static let signatureMaxLines = 10

    /// Unicode-scalar ranges of `text` that are the author's own: the From / Sender / Reply-To
    /// header lines of a leading header block, and the signature block — the trailing short
    /// lines of the author's own text, before any quoted or forwarded message.
    public static func ranges(_ text: String) -> [Range<Int>] {
        let sc = Array(text.unicodeScalars)
        var lines: [Range<Int>] = []
        var start = 0
        for (i, c) in sc.enumerated() where c == "\n" { lines.append(start..<i); start = i + 1 }
        lines.append(start..<sc.count)
        func line(_ r: Range<Int>) -> String { var v = String.UnicodeScalarView(); v.append(contentsOf: sc[r]); return String(v) }
        func blank(_ r: Range<Int>) -> Bool { sc[r].allSatisfy { $0 == " " || $0 == "\t" || $0 == "\r" } }
        func headerName(_ r: Range<Int>) -> String? {
            guard let colon = sc[r].firstIndex(of: ":"), colon > r.lowerBound, colon - r.lowerBound <= 40 else { return nil }
            let name = sc[r.lowerBound..<colon]
            guard name.allSatisfy({ ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "-" }) else { return nil }
            var v = String.UnicodeScalarView(); v.append(contentsOf: name); return String(v).lowercased()
        }
        var out: [Range<Int>] = []
        var i = 0
        if let first = lines.first, headerName(first) != nil {
            var current: String?
            while i < lines.count && !blank(lines[i]) {
                if let n = headerName(lines[i]) { current = n } else if !(sc[lines[i].lowerBound] == " " || sc[lines[i].lowerBound] == "\t") { break }
                if let c = current, ownHeaders.contains(c) { out.append(lines[i]) }
                i += 1
            }
        }
        let bodyStart = i
        // The author's own text ends where quoted or forwarded mail begins: a "> " line, an
        // Outlook or forwarding separator, a line of underscores, "… wrote:", or a header-like
        // block in the body (From: / Sent: / To: / cc: / Subject:, Outlook's and Lotus Notes'
        // quoted headers — with Notes' name and date lines just above it).
        var end = lines.count
        for j in bodyStart..<lines.count {
            let t = line(lines[j]).trimmingCharacters(in: .whitespaces), l = t.lowercased()
            let quotedHeader = headerName(lines[j]).map { quotedHeaders.contains($0) } ?? false
            if t.hasPrefix(">") || l.contains("-----original message-----") || (l.hasPrefix("-----") && l.contains("forward"))
                || l.hasPrefix("begin forwarded message") || l.hasSuffix("wrote:") || (t.count >= 10 && t.allSatisfy { $0 == "_" })
                || quotedHeader {
                end = j
                // Lotus Notes: "Name" and "11/29/2000 10:15 AM" lines directly above the To: line.
                if quotedHeader, j - 1 >= bodyStart, looksLikeDate(line(lines[j - 1])) {
                    end = j - 1
                    if j - 2 >= bodyStart, !blank(lines[j - 2]), lines[j - 2].count <= signatureLineLimit { end = j - 2 }
                }
                break
            }
        }
        var j = end - 1
        while j >= bodyStart && blank(lines[j]) { j -= 1 }
        // A trailing disclaimer (a block of prose about confidentiality) is not the signature:
        // skip up to two such blocks.
        for _ in 0..<2 {
            var k = j, text = ""
            while k >= bodyStart && !blank(lines[k]) { text = line(lines[k]) + " " + text; k -= 1 }
            let l = text.lowercased()
            guard k < j, disclaimerWords.contains(where: { l.contains($0) }), text.count > 120 else { break }
            j = k
            while j >= bodyStart && blank(lines[j]) { j -= 1 }
        }
        var taken = 0, blanks = 0
        while j >= bodyStart && taken < signatureMaxLines {
            if blank(lines[j]) {
                blanks += 1
                if blanks > 1 { break }
            } else {
                blanks = 0
                if lines[j].count > signatureLineLimit || prose(line(lines[j])) { break }
                out.append(lines[j]); taken += 1
            }
            j -= 1
        }
        return out.sorted { $0.lowerBound < $1.lowerBound }
    }

    /// "11/29/2000 10:15 AM", "2000-11-29 10:15": digits with a date separator and a time.
    static func looksLikeDate(_ l: String) -> Bool {
        let t = l.uppercased()
        return t.contains(where: \.isNumber) && (t.contains("/") || t.contains("-")) && (t.contains(":") || t.contains(" AM") || t.contains(" PM"))
    }

    /// A sentence, not a signature line: four or more words ending in . ? ! or ;
    static func prose(_ l: String) -> Bool {
        let t = l.trimmingCharacters(in: .whitespaces)
        guard let last = t.last, ".?!;".contains(last) else { return false }
        return t.split(whereSeparator: { $0 == " " || $0 == "\t" }).count >= 4
    }

    /// Whether the value at scalars `start..<end` is the author's own: on a From / Sender /
    /// Reply-To header line, or on a signature line that holds little else (at most two other
    /// words, not counting numbers and addresses: "Tel: …", "Dana Whitfield, …", "… | dana@x.com")
    /// — a short line such as "write to ana@x.com" names someone else.
    public static func owns(_ text: String, blocks: [Range<Int>], start: Int, end: Int) -> Bool {
        guard let line = blocks.first(where: { $0.lowerBound <= start && end <= $0.upperBound }) else { return false }
        let sc = Array(text.unicodeScalars)
        var rest = String.UnicodeScalarView()
        rest.append(contentsOf: sc[line.lowerBound..<start]); rest.append(" "); rest.append(contentsOf: sc[end..<line.upperBound])
        let words = String(rest).split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" })
        if let first = words.first, first.hasSuffix(":"), ownHeaders.contains(first.dropLast().lowercased()) { return true }
        return words.filter { w in w.contains(where: \.isLetter) && !w.contains("@") }.count <= 2
    }
}

/// The owner of every value of a corpus, decided once.
public struct Ownership: Sendable {
    public private(set) var owners: [PIIKey: String]
    /// Every value of the corpus, owned or not.
    public private(set) var values: Set<PIIKey>

    public init(owners: [PIIKey: String], values: Set<PIIKey>) { self.owners = owners; self.values = values }

    /// From an index built over the full original corpus.
    public init(index: PIIIndex) {
        var o: [PIIKey: String] = [:]
        for e in index.entries { if let w = e.owner { o[PIIKey(e.type, e.value)] = w } }
        owners = o
        values = Set(index.entries.map { PIIKey($0.type, $0.value) })
    }

    /// nil: unowned (a person who is not a subject, or no subject identifies with it).
    public func owner(of key: PIIKey) -> String? { owners[key] }

    /// The subjects' own values.
    public func values(of subject: String) -> [PIIKey] { owners.filter { $0.value == subject }.map(\.key).sorted() }

    /// Below this share of the own-block occurrences the top signer does not own a value.
    static let sharedShare = 0.75

    /// Whether `r`'s header and signature are its subject's own: the record's sender (its
    /// `meta["sender"]`, else its From: header) is the subject; for a subject that is not an
    /// address (a mailbox owner, `--subject folder`), only mail in a sent folder is theirs — an
    /// inbox message's From: line and signature are its sender's.
    public static func authoredBySubject(_ r: Record) -> Bool {
        let sender = r.meta["sender"].map(SubjectID.normalize) ?? fromAddress(r.text)
        if r.subject.contains("@") { return sender == nil || sender == r.subject }
        if r.meta["sender"] != nil || r.meta["folder"] != nil {
            return (r.source + " " + (r.meta["x_folder"] ?? "") + " " + (r.meta["folder"] ?? "")).lowercased().contains("sent")
        }
        return true
    }

    /// The address on the first From: line of a leading header block.
    static func fromAddress(_ text: String) -> String? {
        for l in text.split(separator: "\n", omittingEmptySubsequences: false).prefix(40) {
            if l.trimmingCharacters(in: .whitespaces).isEmpty { return nil }
            guard l.lowercased().hasPrefix("from:") else { continue }
            let v = l.dropFirst(5)
            if let a = v.firstIndex(of: "<"), let b = v[a...].firstIndex(of: ">") { return SubjectID.normalize(String(v[v.index(after: a)..<b])) }
            return v.split(separator: " ").first { $0.contains("@") }.map { SubjectID.normalize(String($0)) }
        }
        return nil
    }

    /// The rule: an address equal to a subject's id is theirs; otherwise the subject with the most
    /// occurrences in their own header/signature blocks, a tie or none leaving it unowned.
    static func decide(type: PIIType, value: String, subjects: Set<String>, authorCounts: [String: Int]) -> String? {
        if type == .email, subjects.contains(value) { return value }
        let ranked = authorCounts.filter { $0.value > 0 }.sorted { ($0.value, $1.key) > ($1.value, $0.key) }
        guard let top = ranked.first else { return nil }
        if ranked.count > 1 && ranked[1].value == top.value { return nil }
        // A number several people sign (a switchboard, a shared fax) belongs to none of them
        // unless one clearly dominates.
        let total = ranked.reduce(0) { $0 + $1.value }
        if Double(top.value) < sharedShare * Double(total) { return nil }
        return top.key
    }
}
