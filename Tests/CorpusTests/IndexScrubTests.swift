import Foundation
import Testing
import Corpus
import PII

let mails = [
    Record(id: "1", subject: "dana@example.com", text: "From: Dana Whitfield <dana@example.com>\nTo: marcus@example.com\n\nCall me at (713) 853-7107.\n\nThanks,\nDana Whitfield\n713.853.7107", source: "t"),
    Record(id: "2", subject: "marcus@example.com", text: "From: Marcus Lee <marcus@example.com>\n\nDana's number is +1 713 853 7107; card 4111 1111 1111 1111.", source: "t"),
]

@Suite struct PIIIndexTests {
    @Test func oneKeyPerValueWithOwnersAndContexts() {
        let idx = PIIIndex.build(records: mails, contextLength: 10)
        let phone = idx.entries.first { $0.type == .phone }!
        #expect(idx.entries.filter { $0.type == .phone }.count == 1)   // three spellings, one value
        #expect(phone.value == "+17138537107" && phone.occurrences == 3)
        #expect(phone.subjects == ["dana@example.com": 2, "marcus@example.com": 1])
        #expect(phone.owner == "dana@example.com")
        #expect(phone.places[0].left == "\n\nCall me at ".suffix(10).description)
        let marcus = idx.entries.first { $0.type == .email && $0.value == "marcus@example.com" }!
        #expect(marcus.owner == "marcus@example.com")  // an address that is a subject belongs to that subject
        #expect(marcus.occurrences == 2)
    }

    @Test func writesAndReadsBack() throws {
        let p = FileManager.default.temporaryDirectory.appendingPathComponent("idx-\(UUID().uuidString).jsonl").path
        let idx = PIIIndex.build(records: mails)
        try idx.write(to: p)
        let back = try PIIIndex.read(p)
        #expect(back.entries.map(\.value) == idx.entries.map(\.value))
    }
}

@Suite struct ScrubTests {
    @Test func redactLeavesNoPII() {
        let (out, rep) = Scrubber(mode: .redact, secret: "").scrub(records: mails)
        #expect(rep.residual.isEmpty)
        #expect(out[0].text.hasPrefix("From: <PERSON> <<EMAIL_ADDRESS>>"))
        #expect(!out[1].text.contains("4111"))
    }

    @Test func pseudonymsAreConsistentFormatPreservingAndKeyed() {
        let s = Scrubber(mode: .pseudonymize, secret: "k1")
        let (out, rep) = s.scrub(records: mails)
        #expect(rep.residual.isEmpty)
        let ents = out.map { PIIScanner().scan($0.text) }
        // the same phone written three ways maps to one fake number (keyed on the normalised value)
        let phones = Set(ents.flatMap { $0.filter { $0.type == .phone }.map(\.normalized) })
        #expect(phones.count == 1 && !phones.contains("+17138537107"))
        // formats survive: the (713) 853-7107 spelling stays parenthesised, cards stay valid
        #expect(out[0].text.contains(where: { $0 == "(" }))
        let card = ents[1].first { $0.type == .creditCard }!
        #expect(PIIValidators.luhn(card.normalized.map { Int(String($0))! }))
        // another key gives other fakes; the same key the same ones
        let (other, _) = Scrubber(mode: .pseudonymize, secret: "k2").scrub(records: mails)
        #expect(other[0].text != out[0].text)
        #expect(Scrubber(mode: .pseudonymize, secret: "k1").scrub(records: mails).0 == out)
    }
}

@Suite struct ScrubAllFieldsTests {
    let mail = Record(id: "maildir:whitfield-d/sent/1.", subject: "Dana@Example.com", text: "From: dana@example.com\nTo: marcus@example.com\n\nThanks,\nDana Whitfield",
                      source: "maildir:whitfield-d/sent/1.",
                      meta: ["sender": "dana@example.com", "recipients": "marcus@example.com", "message_id": "<1.2.JavaMail.evans@thyme>",
                             "x_from": "Whitfield, Dana", "folder": "whitfield-d"])

    @Test func everyFieldIsScrubbedAndTheSubjectKeepsItsPseudonym() {
        let (out, rep) = Scrubber(mode: .pseudonymize, secret: "k1").scrub(records: [mail, mail])
        let r = out[0]
        let fake = String(r.text.split(separator: "\n")[0].dropFirst("From: ".count))
        #expect(r.subject == fake && r.meta["sender"] == fake && fake != "dana@example.com")
        for (name, value) in Scrubber.fields(r) {
            for raw in ["dana@", "marcus@", "whitfield", "evans", "Dana Whitfield"] { #expect(!value.lowercased().contains(raw.lowercased()), "\(name): \(value)") }
        }
        #expect(rep.residual.isEmpty && rep.residualFields.isEmpty)
        #expect(rep.fieldsChanged["id"] == 2 && rep.fieldsChanged["meta.message_id"] == 2 && rep.fieldsChanged["subject"] == 2)
        #expect(out[1] == r, "one key, one output")
    }

    @Test func redactNumbersSubjectsAndLocators() {
        let (o, rep) = Scrubber(mode: .redact, secret: "").scrub(records: [mail, Record(id: "2", subject: "x-folder", text: "hi", source: ""), mail])
        #expect(o.map(\.subject) == ["subject-1", "subject-2", "subject-1"], "one subject, one number")
        #expect(o.map(\.id) == ["maildir:1", "2", "maildir:3"] && o[0].source == "maildir:1" && o[1].source == "")
        #expect(o[0].meta["x_from"] == "<PERSON>" && o[0].meta["message_id"] == "<MESSAGE_ID>" && o[0].meta["sender"] == "<EMAIL_ADDRESS>")
        #expect(rep.residual.isEmpty)
    }

    @Test func secretsMustBeLongAndVaried() {
        #expect(ScrubSecret.problem("") != nil && ScrubSecret.problem("   ") != nil && ScrubSecret.problem("k1") != nil)
        #expect(ScrubSecret.problem(String(repeating: "ab", count: 32)) != nil)
        #expect(ScrubSecret.problem("q7Xk2vR9mB4tW8zL1nC6hJ3fD5sG0aYe") == nil)
    }
}
