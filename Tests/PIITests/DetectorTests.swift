import Testing
import PII

func found(_ text: String, _ type: PIIType) -> [String] {
    PIIScanner(types: [type]).scan(text).map(\.text)
}

@Suite struct EmailTests {
    @Test(arguments: [
        ("Write to john.doe@enron.com today", "john.doe@enron.com"),
        ("<Phillip.Allen@ENRON.com>", "Phillip.Allen@ENRON.com"),
        ("mailto:a.b+tag@sub.example.co.uk.", "a.b+tag@sub.example.co.uk"),
        ("(o'brien@example.org)", "o'brien@example.org"),
    ])
    func finds(text: String, expected: String) { #expect(found(text, .email) == [expected]) }

    @Test(arguments: ["see https://example.com/@handle", "http://user@host.example.com/path", "https://x.com/a/b@c.com",
                      "name@localhost", "foo@bar", "a@b.c", "@twitter", "email me at john@", "x@-bad.com", "version@1.2.3"])
    func rejects(text: String) { #expect(found(text, .email).isEmpty, "\(text)") }

    @Test func offsetsAreUnicodeScalarOffsets() {
        let e = PIIScanner().scan("Café 😀 → dana@example.com")
        #expect(e.count == 1)
        #expect(e[0].start == 9 && e[0].end == 25)
        #expect(e[0].normalized == "dana@example.com")
    }
}

@Suite struct PhoneTests {
    @Test(arguments: [
        ("Call (713) 853-7107 now", "(713) 853-7107", "+17138537107"),
        ("713.853.7107", "713.853.7107", "+17138537107"),
        ("+1 713 853 7107", "+1 713 853 7107", "+17138537107"),
        ("1-800-275-2273 toll free", "1-800-275-2273", "+18002752273"),
        ("London: +44 20 7946 0958.", "+44 20 7946 0958", "+442079460958"),
        ("Berlin +49 30 1234567", "+49 30 1234567", "+49301234567"),
        ("phone: 7138537107", "7138537107", "+17138537107"),
    ])
    func finds(text: String, value: String, normalized: String) {
        let e = PIIScanner(types: [.phone]).scan(text)
        #expect(e.map(\.text) == [value], "\(text)")
        #expect(e.first?.normalized == normalized)
    }

    @Test(arguments: ["on 2026-11-29 at noon", "version 10.2.3.4", "Order #12345678", "invoice 7138537107", "ref 123-45-6789",
                      "IP 192.168.10.254", "ISBN 978-3-16-148410-0", "call (055) 123-4567", "between 1990-2000", "12:30:45", "$1,234,567.89",
                      "4111 1111 1111 1111"])
    func rejects(text: String) { #expect(found(text, .phone).isEmpty, "\(text)") }

    @Test func oneValueOneKey() {
        let keys = Set(["(713) 853-7107", "713.853.7107", "+1 713 853 7107", "713-853-7107"].flatMap { PIIScanner(types: [.phone]).scan($0).map(\.normalized) })
        #expect(keys == ["+17138537107"])
    }
}

@Suite struct NumberTests {
    @Test func creditCardsNeedLuhnAndANetwork() {
        #expect(found("Visa 4111 1111 1111 1111 exp", .creditCard) == ["4111 1111 1111 1111"])
        #expect(found("amex 378282246310005", .creditCard) == ["378282246310005"])
        #expect(found("mc 5555-5555-5555-4444", .creditCard) == ["5555-5555-5555-4444"])
        #expect(found("4111 1111 1111 1112", .creditCard).isEmpty)   // Luhn fails
        #expect(found("1234 5678 9012 3452", .creditCard).isEmpty)   // no network
        #expect(found("order 4111111111111111234567", .creditCard).isEmpty)  // too long
    }

    @Test func ssnFollowsSSARules() {
        #expect(found("SSN 536-90-4399", .ssn) == ["536-90-4399"])
        #expect(found("ssn 536 90 4399", .ssn) == ["536 90 4399"])
        for bad in ["666-12-3456", "000-12-3456", "912-34-5678", "536-00-4399", "536-90-0000", "078-05-1120", "123-45-6789", "536-90 4399", "2536-90-4399"] {
            #expect(found(bad, .ssn).isEmpty, "\(bad)")
        }
    }

    @Test func ibanChecksumAndLength() {
        #expect(found("IBAN: GB82 WEST 1234 5698 7654 32, thanks", .iban) == ["GB82 WEST 1234 5698 7654 32"])
        #expect(found("DE89370400440532013000", .iban) == ["DE89370400440532013000"])
        #expect(found("GB82 WEST 1234 5698 7654 33", .iban).isEmpty)   // mod-97 fails
        #expect(found("DE8937040044053201300", .iban).isEmpty)         // too short for DE
        #expect(found("XX82WEST12345698765432", .iban).isEmpty)        // no such country
    }

    @Test func ipAddresses() {
        #expect(found("from 10.0.0.1 and 192.168.1.254", .ip) == ["10.0.0.1", "192.168.1.254"])
        #expect(found("fe80::1ff:fe23:4567:890a on eth0", .ip) == ["fe80::1ff:fe23:4567:890a"])
        #expect(found("2001:0db8:85a3:0000:0000:8a2e:0370:7334", .ip) == ["2001:0db8:85a3:0000:0000:8a2e:0370:7334"])
        for bad in ["256.1.1.1", "1.2.3.4.5", "version 1.2.3.4", "v1.2.3.4", "at 10:30:00", "1.2.3", "std::vector"] {
            #expect(found(bad, .ip).isEmpty, "\(bad)")
        }
    }

    @Test func urls() {
        #expect(found("see https://www.enron.com/news?id=3). Bye", .url) == ["https://www.enron.com/news?id=3"])
        #expect(found("go to www.example.org.", .url) == ["www.example.org"])
        #expect(found("(http://en.wikipedia.org/wiki/Foo_(bar))", .url) == ["http://en.wikipedia.org/wiki/Foo_(bar)"])
        #expect(found("not a url: httpd.conf or www", .url).isEmpty)
    }
}

@Suite struct PersonTests {
    @Test func headersGreetingsSignatures() {
        let mail = """
        From: Dana Whitfield <dana.whitfield@example.com>
        To: Operations Team <ops@example.com>
        X-From: Allen, Phillip K.
        Subject: Pipeline maintenance

        Hi Marcus,

        The line is down on Thursday.

        Thanks,
        Priya Raman
        Senior Credit Analyst
        """
        let names = PIIScanner(types: [.person]).scan(mail).map(\.text)
        #expect(names == ["Dana Whitfield", "Allen, Phillip K.", "Marcus", "Priya Raman"])
    }

    @Test func nameBeforeAddressAnywhere() {
        #expect(found("please cc Jeff Skilling <jeff.skilling@enron.com> on this", .person) == ["Jeff Skilling"])
        #expect(found("The Meeting <agenda@x.com>", .person).isEmpty)  // "The" is not a name word
    }
}

@Suite struct ScannerTests {
    @Test func overlapsGoToTheHigherPriorityDetector() {
        let e = PIIScanner().scan("Contact: Dana Whitfield <dana@example.com>, (713) 853-7107, card 4111-1111-1111-1111")
        #expect(e.map(\.type) == [.person, .email, .phone, .creditCard])
    }

    @Test func typeNamesMatchPresidio() {
        #expect(PIIType.allCases.map(\.rawValue).sorted() == ["CREDIT_CARD", "EMAIL_ADDRESS", "IBAN_CODE", "IP_ADDRESS", "PERSON", "PHONE_NUMBER", "URL", "US_SSN"])
    }
}

@Suite struct PersonHeaderForms {
    @Test func outlookQuotedHeaders() {
        #expect(found("-----Original Message-----\nFrom: Rachel Wright [mailto:rw@x.com]\nSent: Monday", .person) == ["Rachel Wright"])
        #expect(found("From: Rachel Wright (rw@x.com)", .person) == ["Rachel Wright"])
        #expect(found("From: rw@x.com", .person).isEmpty)
    }
}
