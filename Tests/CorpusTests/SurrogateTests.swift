// Surrogate values (Sources/Corpus/Surrogates.swift): drawn like the corpus's own values (the
// synthetic generator's draws for a synthetic corpus, the domain and layout kept for any other),
// the same surrogate at every occurrence of a value, never a real value or another surrogate.

import Foundation
import PII
import Support
import Testing
@testable import Corpus

@Suite struct SurrogateTests {
    static let scanner = PIIScanner(types: [.email, .phone])

    /// The characters of a string that are not digits (a number's layout).
    static func skeleton(_ s: String) -> String { s.map { $0.isNumber ? "9" : $0 }.reduce("") { $0 + String($1) } }

    @Test func synthSurrogatesComeFromTheGeneratorThatWroteTheCorpus() throws {
        var p = SynthParameters(); p.subjects = 80; p.records = 10; p.seed = 4
        let people = try SynthGenerator.generate(p).people
        let g = SynthSurrogates(people: people, population: 0)
        var rng = SplitMix64(seed: 9)
        for x in people {
            let e = try #require(g.draw(PIIKey(.email, x.email), like: x.email, &rng))
            let local = String(x.email.split(separator: "@")[0]), domain = x.email.split(separator: "@")[1]
            #expect(e.text.hasSuffix("@" + domain), "\(e.text): the domain of \(x.email) is kept")
            // The new address spells the new name in the original's style (first.last, flast, ...).
            let swap = try #require(e.name)
            let parts = swap.to.split(separator: " ").map(String.init)
            #expect(swap.from == x.name && parts.count == 2 && SynthVocabulary.firstNames.contains(parts[0]) && SynthVocabulary.lastNames.contains(parts[1]))
            let style = try #require(SynthGenerator.emailStyle(local, first: x.first, last: x.last))
            #expect(e.text == SynthGenerator.emailLocal(parts[0], parts[1], style: style) + "@" + domain)
            #expect(Self.scanner.scan("From: \(swap.to) <\(e.text)>").map(\.normalized) == [e.text])
            let ph = try #require(g.draw(PIIKey(.phone, PIINormalize.phone(x.phone)), like: x.phone, &rng))
            #expect(Self.skeleton(ph.text) == Self.skeleton(x.phone) && ph.name == nil, "\(ph.text) has the layout of \(x.phone)")
            let found = Self.scanner.scan("Call me at \(ph.text) today")
            #expect(found.count == 1 && found[0].type == .phone && found[0].text == ph.text, "\(ph.text) is read as a phone number")
        }
    }

    /// Every layout `makePhone` writes, redrawn: the same layout, and digits in the ranges
    /// `makePhone` draws them from (a NANP area code of the population, exchange 200–999;
    /// international groups without a leading zero, a London third group from 7000–7999).
    @Test(arguments: [0, 1])
    func redrawnNumbersAreNumbersMakePhoneCouldHaveWritten(population: Int) {
        var p = SynthParameters(); p.population = population; p.internationalPhones = 0.5
        var rng = SplitMix64(seed: 3)
        for _ in 0..<2000 {
            let phone = SynthGenerator.makePhone(p, &rng)
            let new = SynthGenerator.redrawPhone(phone, population: population, &rng)
            #expect(Self.skeleton(new) == Self.skeleton(phone), "\(phone) → \(new)")
            let g = new.split(whereSeparator: { !$0.isNumber }).map(String.init), o = phone.split(whereSeparator: { !$0.isNumber }).map(String.init)
            if !phone.hasPrefix("+") || phone.hasPrefix("+1 ") {
                let nanp = Array(g.suffix(3))
                #expect(SynthGenerator.areaCodes(population: population).contains(Int(nanp[0])!) && (200...999).contains(Int(nanp[1])!))
            } else {
                #expect(g[0] == o[0] && g[1] == o[1], "\(phone) → \(new): country and city code kept")
                #expect(g.dropFirst(2).allSatisfy { !$0.hasPrefix("0") })
                if g[0] == "44" { #expect(g[2].hasPrefix("7")) }
            }
        }
    }

    @Test func formatSurrogatesKeepTheDomainAndTheLayout() throws {
        let g = FormatSurrogates()
        var rng = SplitMix64(seed: 5)
        for address in ["dana.whitfield@corvale-energy.com", "jd_42@mail.example.org", "x@y.de"] {
            let s = try #require(g.draw(PIIKey(.email, address), like: address, &rng))
            let (l, d) = (address.split(separator: "@")[0], address.split(separator: "@")[1])
            #expect(s.text.hasSuffix("@" + d) && s.text != address && s.name == nil)
            #expect(Self.skeleton(String(s.text.split(separator: "@")[0])).map { $0.isLetter ? "a" : $0 } == Self.skeleton(String(l)).map { $0.isLetter ? "a" : $0 })
            #expect(Self.scanner.scan("write to \(s.text) now").map(\.normalized) == [s.text])
        }
        #expect(g.spaceSize(PIIKey(.email, "ab1@x.org"), like: "ab1@x.org") == 26 * 26 * 10)
        for phone in ["+44 20 7946 0958", "(713) 555-0199", "+1 713 555 0199", "+49 69 123 4567"] {
            let key = PIIKey(.phone, PIINormalize.phone(phone))
            let s = try #require(g.draw(key, like: phone, &rng))
            #expect(Self.skeleton(s.text) == Self.skeleton(phone), "\(phone) → \(s.text)")
            let cc = PhoneLayout.countryDigits(phone, normalized: key.value)
            #expect(s.text.filter(\.isNumber).prefix(cc) == phone.filter(\.isNumber).prefix(cc))
            #expect(Self.scanner.scan("Call \(s.text) today").count == 1, "\(s.text) is read as a phone number")
        }
    }

    @Test func aTableReplacesEveryOccurrenceOfAValueAlikeAndWholeNamesOnly() {
        let text = """
        From: Dana Whitfield <dana.whitfield@corvale.com>
        Dana Whitfieldson and Dana Whitfield met. Call (713) 555-0199 or +1 713 555 0199.
        Copy dana.whitfield@corvale.com, not ana.lee@corvale.com.
        """
        let records = [Record(id: "r1", subject: "dana.whitfield@corvale.com", text: text, source: "t"),
                       Record(id: "r2", subject: "x@corvale.com", text: "ring (713) 555-0199", source: "t")]
        let dana = PIIKey(.email, "dana.whitfield@corvale.com"), phone = PIIKey(.phone, "+17135550199")
        let table = SurrogateTable(entries: [dana: Surrogate(text: "ryan.cole@corvale.com", name: NameSwap(from: "Dana Whitfield", to: "Ryan Cole")),
                                             phone: Surrogate(text: "(415) 321-7788")])
        let (out, values, names) = table.apply(to: records, scanner: Self.scanner)
        #expect(values == 5 && names == 2)
        #expect(out[0].text.contains("From: Ryan Cole <ryan.cole@corvale.com>") && out[0].text.contains("Dana Whitfieldson and Ryan Cole met"))
        #expect(out[0].text.contains("Call (415) 321-7788 or +1 415 321 7788") && out[1].text == "ring (415) 321-7788")
        #expect(out[0].text.contains("ana.lee@corvale.com") && out.map(\.subject) == records.map(\.subject) && out.map(\.id) == ["r1", "r2"])
        let left = Set(Self.scanner.scan(all: out.map(\.text)).flatMap { $0 }.map { PIIKey($0.type, $0.normalized) })
        #expect(!left.contains(dana) && !left.contains(phone) && left.contains(PIIKey(.phone, "+14153217788")))
    }

    /// A generator that gives fixed values in turn (to force collisions).
    struct Fixed: SurrogateGenerator {
        let values: [String]
        var kind: SurrogateKind { .formatMatched }
        func draw(_ key: PIIKey, like text: String, _ rng: inout SplitMix64) -> Surrogate? {
            Surrogate(text: values[rng.int(values.count)], name: NameSwap(from: key.value, to: "Name " + values[rng.int(values.count)]))
        }
        func spaceSize(_ key: PIIKey, like text: String) -> Double { Double(values.count) }
    }

    @Test func surrogatesAreNeverRealValuesOrEachOther() {
        let keys = ["a@x.org", "b@x.org", "c@x.org"].map { (key: PIIKey(.email, $0), text: $0) }
        // Only two values can be drawn, one of them real: one value gets the other, the rest none.
        let t = SurrogateTable.draw(keys, generator: Fixed(values: ["b@x.org", "z@x.org"]), seed: 1, avoid: Set(keys.map(\.key)), avoidNames: [])
        #expect(t.entries.count == 1 && t.entries.values.first?.text == "z@x.org")
        // Plenty to draw from: every value gets one, all different, none real, names all new.
        let pool = (0..<50).map { "s\($0)@x.org" }
        let u = SurrogateTable.draw(keys, generator: Fixed(values: pool), seed: 2, avoid: Set(keys.map(\.key)), avoidNames: ["Name s0@x.org"])
        #expect(u.entries.count == 3 && Set(u.entries.values.map(\.text)).count == 3 && Set(u.entries.values.compactMap(\.name?.to)).count == 3)
        #expect(!u.entries.values.contains { $0.name?.to == "Name s0@x.org" })
        // The same seed, the same surrogates.
        #expect(SurrogateTable.draw(keys, generator: Fixed(values: pool), seed: 2, avoid: Set(keys.map(\.key)), avoidNames: ["Name s0@x.org"]) == u)
    }
}
