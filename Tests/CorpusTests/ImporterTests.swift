import Foundation
import Testing
import Corpus

func fixture(_ name: String) -> String {
    Bundle.module.resourceURL!.appendingPathComponent("Fixtures").appendingPathComponent(name).path
}

func collect(_ f: (Importer.Emit) throws -> ImportReport) throws -> ([Record], ImportReport) {
    var out: [Record] = []
    let rep = try f { out.append($0) }
    return (out, rep)
}

@Suite struct EmailParsingTests {
    @Test func foldedHeadersEncodedWordsAndAddresses() throws {
        let m = try EmailMessage.parse(Array("From: =?iso-8859-1?Q?Ren=E9e?= <R@X.com>\nTo: a@b.com,\n \"Doe, J\" <j@d.org>\nSubject: one\n two\n\nbody\n".utf8))
        #expect(m.header("subject") == "one two")
        #expect(m.header("From") == "Renée <R@X.com>")
        #expect(EmailMessage.address(m.header("From")!) == "r@x.com")
        #expect(EmailMessage.addresses(m.header("To")!) == ["a@b.com", "j@d.org"])
        #expect(m.body == "body\n")
    }

    @Test func malformedIsAnError() {
        #expect(throws: EmailMessage.ParseError.self) { try EmailMessage.parse(Array("no headers here\n".utf8)) }
        #expect(throws: EmailMessage.ParseError.self) { try EmailMessage.parse(Array("From: a@b.c\nContent-Type: multipart/mixed\n\nx".utf8)) }
    }
}

@Suite struct ImporterTests {
    @Test func maildirTreeWithMIMEPartsAndCharsets() throws {
        let (recs, rep) = try collect { try Importer.maildir(fixture("maildir"), options: ImportOptions(), emit: $0) }
        #expect(rep.imported == 4 && rep.skipped == 1)
        #expect(rep.problems.first?.contains("lay-k/inbox/2.") == true)
        // natural order: inbox/1. before inbox/10.
        #expect(recs.map(\.id) == ["maildir:allen-p/inbox/1.", "maildir:allen-p/inbox/10.", "maildir:allen-p/sent_items/1.", "maildir:lay-k/inbox/1."])
        let renee = recs[0]
        #expect(renee.subject == "renee.dupre@enron.com")
        #expect(renee.text.contains("Subject: Café meeting"))
        #expect(renee.text.contains("Café at noon? Call me at 713.853.5555 or write to renee.dupre@enron.com."))  // QP soft break joined
        #expect(!renee.text.contains("<p>"))  // the plain part wins over HTML
        let allen = recs[2]
        #expect(allen.subject == "phillip.allen@enron.com")
        #expect(allen.text.contains("Subject: Re: West power positions for June"))
        #expect(allen.meta["x_from"] == "Phillip K Allen")
        #expect(allen.meta["recipients"] == "tim.belden@enron.com,john.lavorato@enron.com")
        #expect(allen.meta["folder"] == "allen-p")
        let lay = recs[3]
        #expect(lay.text.contains("Attached are the numbers.\nThanks,\nKen Lay"))  // base64 part decoded
        #expect(!lay.text.contains("JVBER"))  // attachment skipped
    }

    @Test func subjectByFolder() throws {
        var o = ImportOptions(); o.subject = .folder
        let (recs, _) = try collect { try Importer.maildir(fixture("maildir"), options: o, emit: $0) }
        #expect(Set(recs.map(\.subject)) == ["allen-p", "lay-k"])
    }

    @Test func mboxWithEscapesAndAMalformedMessage() throws {
        let (recs, rep) = try collect { try Importer.mbox(fixture("sample.mbox"), options: ImportOptions(), emit: $0) }
        #expect(recs.count == 2 && rep.skipped == 1)
        #expect(recs[0].subject == "jane.roe@example.org")
        #expect(recs[0].text.contains("\nFrom the archives, line escaped."))
        #expect(recs[1].text.contains("Subject: naïve question"))
        #expect(recs[1].subject == "bob@example.org")
    }

    @Test func emailCSVWithQuotedMultilineMessages() throws {
        let (recs, rep) = try collect { try Importer.emailCSV(fixture("emails.csv"), options: ImportOptions(), emit: $0) }
        #expect(recs.count == 2 && rep.skipped == 1)
        #expect(recs[0].id == "csv:allen-p/_sent_mail/1.")
        #expect(recs[0].text.contains("Here is our forecast."))
        #expect(recs[1].subject == "kenneth.lay@enron.com")
    }

    @Test func jsonlWithCustomFieldsAndTextDirectories() throws {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("imp-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: d + "/docs/alice", withIntermediateDirectories: true)
        try "{\"body\": \"hi\", \"uid\": 7, \"who\": \"u1\"}\nnot json\n{\"body\": \"yo\", \"uid\": \"x\"}\n".write(toFile: d + "/in.jsonl", atomically: true, encoding: .utf8)
        var o = ImportOptions(); o.textField = "body"; o.idField = "uid"; o.subjectField = "who"
        let (recs, rep) = try collect { try Importer.jsonl(d + "/in.jsonl", options: o, emit: $0) }
        #expect(recs.map(\.id) == ["7", "x"] && recs.map(\.subject) == ["u1", "x"] && rep.skipped == 1)
        #expect(rep.problems[0].contains("in.jsonl:2"))
        try "note".write(toFile: d + "/docs/alice/a.txt", atomically: true, encoding: .utf8)
        try "top".write(toFile: d + "/docs/b.txt", atomically: true, encoding: .utf8)
        let (t, _) = try collect { try Importer.textDirectory(d + "/docs", options: ImportOptions(), emit: $0) }
        #expect(t.map(\.subject).sorted() == ["alice", "b"])
    }

    @Test func writerIsAtomic() throws {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("w-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        let w = try RecordWriter(path: d + "/out.jsonl")
        try w.write(Record(id: "1", subject: "s", text: "t", source: "x"))
        #expect(!FileManager.default.fileExists(atPath: d + "/out.jsonl"))
        try w.close()
        let back = RecordReaderJSONL(path: d + "/out.jsonl").compactMap { try? $0.get() }
        #expect(back == [Record(id: "1", subject: "s", text: "t", source: "x")])
    }
}
