// Hostile mail and CSV: each is skipped with a reason or is an error naming the row — never a
// trap, a stack overflow or a record that swallows the rest of the file.

import Foundation
import Testing
@testable import Corpus

@Suite struct HostileInputTests {
    func write(_ s: String) throws -> String {
        let p = FileManager.default.temporaryDirectory.appendingPathComponent("hostile-\(UUID().uuidString)").path
        try Data(s.utf8).write(to: URL(fileURLWithPath: p))
        return p
    }

    /// message/rfc822 inside multipart inside message/rfc822 …: the depth counts across both.
    func nested(_ levels: Int) -> String {
        var body = "Subject: innermost\n\nhello"
        for i in 0..<levels {
            if i % 2 == 0 {
                body = "Subject: m\(i)\nContent-Type: message/rfc822\n\n" + body
            } else {
                body = "Subject: p\(i)\nContent-Type: multipart/mixed; boundary=b\(i)\n\n--b\(i)\nContent-Type: message/rfc822\n\n" + body + "\n--b\(i)--\n"
            }
        }
        return "From: a@example.com\n" + body
    }

    @Test func nestingThroughMessageRFC822IsLimited() throws {
        #expect(throws: EmailMessage.ParseError.self) { try EmailMessage.parse(Array(nested(2000).utf8)) }
        let shallow = try EmailMessage.parse(Array(nested(4).utf8))
        #expect(shallow.body.contains("hello"))
    }

    @Test func oversizedHeaderIsSkippedWithAReason() throws {
        let m = "From: a@example.com\nX-Long: " + String(repeating: "x", count: EmailMessage.Limits.headerBytes + 10) + "\n\nbody"
        let r = Importer.record(message: Array(m.utf8), id: "x", source: "t", folder: nil, options: ImportOptions())
        guard case .failure(let e) = r else { Issue.record("accepted"); return }
        #expect(e.reason.contains("header section"))
    }

    @Test func multipartPartsAreSlicesOfTheMessage() throws {
        let m = "From: a@example.com\nContent-Type: multipart/alternative; boundary=\"zz\"\r\n\r\n--zz\r\nContent-Type: text/plain\r\n\r\nplain one\r\n--zz\r\nContent-Type: text/plain\r\n\r\nplain two\r\n--zz--\r\n"
        let e = try EmailMessage.parse(Array(m.utf8))
        #expect(e.body == "plain one\n\nplain two")
    }

    /// Found by the mail fuzz target: an mbox whose last line has no newline trapped the line reader.
    @Test func mboxWithoutFinalNewline() throws {
        var n = 0
        let rep = try Importer.mbox(fixture("hostile/fuzz-crash-mbox-no-final-newline.mbox"), options: ImportOptions()) { _ in n += 1 }
        #expect(rep.imported + rep.skipped >= 1)
        let p = try write("From x\nFrom: a@example.com\nSubject: s\n\nlast line")
        let rep2 = try Importer.mbox(p, options: ImportOptions()) { _ in }
        #expect(rep2.imported == 1)
    }

    @Test func csvUnterminatedQuoteIsAnErrorNamingTheRow() throws {
        let p = try write("file,message\na/1,\"From: a@example.com\nSubject: one\n\nbody\"\nb/2,\"From: b@example.com\n\nnever closed\nc/3,plain\n")
        var imported = 0
        #expect {
            _ = try Importer.emailCSV(p, options: ImportOptions()) { _ in imported += 1 }
        } throws: { e in
            "\(e)".contains("row 3") && "\(e)".contains("never closed") && "\(e)".contains(p)
        }
        #expect(imported == 1)
    }

    @Test func jsonlWithoutFinalNewline() throws {
        let p = try write(#"{"id": "a", "text": "one"}"# + "\n" + #"{"id": "b", "text": "two"}"#)
        var ids: [String] = []
        _ = try Importer.jsonl(p, options: ImportOptions()) { ids.append($0.id) }
        #expect(ids == ["a", "b"])
    }
}
