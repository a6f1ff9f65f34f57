import Foundation
import Testing
import Corpus
import PII

/// docs/methods.md, "Ownership": a value belongs to the person it identifies, not to whoever mentions it.
@Suite struct OwnershipTests {
    let ana = Record(id: "a1", subject: "Ana@Corvale.com ", text: """
        From: Ana Ruiz <ana@corvale.com>
        To: Ben Ito <ben@bayline.com>
        Subject: numbers

        Ben, the figures are attached; please check the totals before Friday.

        Regards,
        Ana Ruiz
        Corvale Trading
        (713) 555-0142
        """, source: "t")
    let ben = Record(id: "b1", subject: "ben@bayline.com", text: """
        From: Ben Ito <ben@bayline.com>
        To: Ana Ruiz <ana@corvale.com>, Cy Park <cy@outside.org>

        Thanks. You can reach Ana at 713-555-0142 or ana@corvale.com if I am out, and Cy on 212-555-0199.

        Ben

        -----Original Message-----
        From: Ana Ruiz [mailto:ana@corvale.com]
        Call me at (713) 555-0142
        """, source: "t")

    @Test func subjectsAreNormalisedOnTheWayIn() {
        #expect(ana.subject == "ana@corvale.com")
    }

    @Test func ownersAreThePeopleTheValuesIdentify() {
        let idx = PIIIndex.build(records: [ana, ben])
        func owner(_ t: PIIType, _ v: String) -> String?? { idx.entries.first { $0.type == t && $0.value == v }.map(\.owner) }
        #expect(owner(.email, "ana@corvale.com") == "ana@corvale.com")
        #expect(owner(.email, "ben@bayline.com") == "ben@bayline.com")
        // Ana's number: her signature holds it; Ben only mentions it (and quotes her).
        #expect(owner(.phone, "+17135550142") == "ana@corvale.com")
        // Cy is no subject and signs nothing here: unowned, not Ben's.
        #expect(owner(.email, "cy@outside.org") == .some(nil))
        #expect(owner(.phone, "+12125550199") == .some(nil))
    }

    @Test func deletingASubjectDoesNotHandTheirValuesToCorrespondents() {
        // The ownership fixed on the full corpus keeps Ana's values hers after her records go.
        let fixed = Ownership(index: PIIIndex.build(records: [ana, ben]))
        let afterDeletion = PIIIndex.build(records: [ben])
        let anaMail = afterDeletion.entries.first { $0.value == "ana@corvale.com" }!
        let anaPhone = afterDeletion.entries.first { $0.value == "+17135550142" }!
        #expect(anaMail.owner == nil && anaPhone.owner == nil)   // rebuilt without her: never Ben's
        #expect(fixed.owner(of: anaMail.key) == "ana@corvale.com" && fixed.owner(of: anaPhone.key) == "ana@corvale.com")
        #expect(fixed.values(of: "ana@corvale.com") == [PIIKey(.email, "ana@corvale.com"), PIIKey(.person, "ana ruiz"), PIIKey(.phone, "+17135550142")])
    }

    @Test func anAddressIsOwnedByTheSubjectWhoseHeaderCarriesIt() {
        // Subject ids that are not addresses (a maildir owner): the From: header decides.
        let r1 = Record(id: "1", subject: "allen-p", text: "From: Phillip Allen <phillip.allen@enron.com>\nTo: john.arnold@enron.com\n\nSee you there.\n", source: "t")
        let r2 = Record(id: "2", subject: "arnold-j", text: "From: john.arnold@enron.com\nTo: phillip.allen@enron.com\n\nOk.\n", source: "t")
        let idx = PIIIndex.build(records: [r1, r2])
        #expect(idx.entries.first { $0.value == "phillip.allen@enron.com" }?.owner == "allen-p")
        #expect(idx.entries.first { $0.value == "john.arnold@enron.com" }?.owner == "arnold-j")
    }

    @Test func aShortLineNamingSomeoneElseIsNotASignature() {
        let r = Record(id: "1", subject: "ben@b.com", text: "From: Ben <ben@b.com>\nNote 1: write to ana@corvale.com\n", source: "t")
        #expect(PIIIndex.build(records: [r]).entries.first { $0.value == "ana@corvale.com" }?.owner == .some(nil))
        let sig = Record(id: "2", subject: "ben@b.com", text: "From: Ben <ben@b.com>\n\nOk.\n\nBen\nTel: (212) 555-0101 | ben2@b.com\n", source: "t")
        let idx = PIIIndex.build(records: [sig])
        // His number is his; another address on his line is not (an address subject owns exactly
        // their own address: a second address names someone, or something, else).
        #expect(idx.entries.first { $0.type == .phone }?.owner == "ben@b.com" && idx.entries.first { $0.value == "ben2@b.com" }?.owner == .some(nil))
    }

    @Test func inboxMailIsNotTheMailboxOwnersOwn() {
        // --subject folder: allen-p's inbox holds Cy's mail; Cy's From line and signature are Cy's.
        let inbox = Record(id: "1", subject: "allen-p", text: "From: Cy Park <cy@outside.org>\nTo: phillip.allen@enron.com\n\nSee attached.\n\nCy\n(212) 555-0199\n",
                           source: "maildir:allen-p/inbox/1", meta: ["sender": "cy@outside.org", "folder": "allen-p"])
        let sent = Record(id: "2", subject: "allen-p", text: "From: Phillip Allen <phillip.allen@enron.com>\nTo: cy@outside.org\n\nThanks.\n\nPhillip\n(713) 853-7041\n",
                          source: "maildir:allen-p/sent_mail/2", meta: ["sender": "phillip.allen@enron.com", "folder": "allen-p"])
        let idx = PIIIndex.build(records: [inbox, sent])
        #expect(idx.entries.first { $0.value == "cy@outside.org" }?.owner == .some(nil))
        #expect(idx.entries.first { $0.value == "+12125550199" }?.owner == .some(nil))
        #expect(idx.entries.first { $0.value == "phillip.allen@enron.com" }?.owner == "allen-p")
        #expect(idx.entries.first { $0.value == "+17138537041" }?.owner == "allen-p")
    }

    @Test func quotedMailInOutlookAndNotesFormsIsNotTheReplierS() {
        let outlook = "From: B <b@x.com>\n\nOk.\n\nB\n\n________________________________\nFrom: A\nSent: Monday\n\nA\n(713) 555-0100\n"
        let notes = "From: B <b@x.com>\n\nOk.\n\nB\n\nAna Ruiz\n11/29/2000 10:15 AM\nTo: Ben Ito/HOU/ECT@ECT\ncc:\nSubject: desk\n\nAna\n(713) 555-0100\n"
        for t in [outlook, notes] {
            let sc = Array(t.unicodeScalars)
            let lines = AuthorBlocks.ranges(t).map { String(String.UnicodeScalarView(sc[$0])) }
            #expect(lines == ["From: B <b@x.com>", "Ok.", "B"], "\(lines)")
        }
    }

    @Test func aSignatureBehindADisclaimerIsStillFound() {
        let t = "From: B <b@x.com>\n\nSee the attached schedule for the week, and let me know what you think of it.\n\nBen\n(212) 555-0101\n\nThis e-mail is confidential and intended solely for the addressee. If you have received it in error, please delete it and notify the sender.\n"
        let r = Record(id: "1", subject: "b@x.com", text: t, source: "t")
        #expect(PIIIndex.build(records: [r]).entries.first { $0.type == .phone }?.owner == "b@x.com")
    }

    @Test func aNumberSeveralPeopleSignBelongsToNone() {
        let rs = (0..<5).map { i in Record(id: "\(i)", subject: i < 3 ? "x@a.com" : "y@a.com", text: "From: \(i < 3 ? "x" : "y")@a.com\n\nOk.\n\nMain desk\n(212) 555-0101\n", source: "t") }
        #expect(PIIIndex.build(records: rs).entries.first { $0.type == .phone }?.owner == .some(nil))   // 3 of 5 < 75%
    }

    @Test func aTieLeavesTheValueUnowned() {
        let r1 = Record(id: "1", subject: "x@a.com", text: "Hi,\n\nShared desk\n(212) 555-0101\n", source: "t")
        let r2 = Record(id: "2", subject: "y@a.com", text: "Hello,\n\nShared desk\n(212) 555-0101\n", source: "t")
        #expect(PIIIndex.build(records: [r1, r2]).entries.first { $0.type == .phone }?.owner == .some(nil))
    }

    @Test func signatureBlocksStopAtProseAndQuotedMail() {
        let text = "From: A <a@x.com>\nTo: b@x.com\n\nPlease call Lee at 212-555-0199 today.\n\nThanks,\nA\n555-0100\n\n-----Original Message-----\nFrom: B\n"
        let own = AuthorBlocks.ranges(text)
        let sc = Array(text.unicodeScalars)
        let lines = own.map { r in String(String.UnicodeScalarView(sc[r])) }
        #expect(lines == ["From: A <a@x.com>", "Thanks,", "A", "555-0100"])
    }
}
