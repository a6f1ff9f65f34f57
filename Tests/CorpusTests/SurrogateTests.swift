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
        // The candidate space bounds what is drawn, and is below 26² · 10 (two letters from names).
        let space = g.spaceSize(PIIKey(.email, "ab1@x.org"), like: "ab1@x.org")
        let drawn = Set((0..<3000).compactMap { _ in g.draw(PIIKey(.email, "ab1@x.org"), like: "ab1@x.org", &rng)?.text })
        #expect(Double(drawn.count) <= space && space < 26 * 26 * 10, "\(drawn.count) drawn, space \(space)")
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
        let (out, values, names, _) = table.apply(to: records, scanner: Self.scanner)
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

    // MARK: Names and shapes (issue 21 review, M3)

    /// A replaced person's first name goes with their full name: in a text that holds the full
    /// name, the first name standing alone (greeting, subject line, sign-off) is replaced by the
    /// new first name, consistently; where another person named in the text has the same word in
    /// their name, it is left and counted; in a text without the full name it is left.
    @Test func firstNamesGoWithTheirFullNames() throws {
        let dana = PIIKey(.email, "dana.lee@x.com"), sam = PIIKey(.email, "sam.cole@x.com"), tom = PIIKey(.email, "thomas.wu@x.com")
        let table = SurrogateTable(entries: [dana: Surrogate(text: "eve.fox@x.com", name: NameSwap(from: "Dana Lee", to: "Eve Fox")),
                                             sam: Surrogate(text: "tom.ray@x.com", name: NameSwap(from: "Sam Cole", to: "Tom Ray")),
                                             tom: Surrogate(text: "ann.ito@x.com", name: NameSwap(from: "Thomas Wu", to: "Ann Ito"))],
                                   names: ["Dana Lee", "Sam Cole", "Sam Reed", "Thomas Wu", "Mary Thomas"])
        let plain = "From: Dana Lee <dana.lee@x.com>\nTo: Sam Cole <sam.cole@x.com>\nSubject: Lunch with Sam\n\nHi Sam,\nSamuel says hi.\n\nDana"
        let twoSams = "From: Dana Lee <dana.lee@x.com>\nTo: Sam Cole <sam.cole@x.com>, Sam Reed <sam.reed@x.com>\n\nHi Sam,\n\nDana"
        let thomas = "From: Thomas Wu <thomas.wu@x.com>\nTo: Mary Thomas <mary.thomas@x.com>\n\nHi Mary,\n\nThomas"
        let noFull = "Hi Sam, see you Monday.\nDana"
        let records = [plain, twoSams, thomas, noFull].enumerated().map { Record(id: "r\($0.offset)", subject: "s", text: $0.element, source: "t") }
        let (out, _, names, left) = table.apply(to: records, scanner: Self.scanner)
        #expect(out[0].text == "From: Eve Fox <eve.fox@x.com>\nTo: Tom Ray <tom.ray@x.com>\nSubject: Lunch with Tom\n\nHi Tom,\nSamuel says hi.\n\nEve", "\(out[0].text)")
        // Two Sams: "Sam" alone is ambiguous and left; Dana's first name is not.
        #expect(out[1].text == "From: Eve Fox <eve.fox@x.com>\nTo: Tom Ray <tom.ray@x.com>, Sam Reed <sam.reed@x.com>\n\nHi Sam,\n\nEve", "\(out[1].text)")
        // "Thomas" is also Mary Thomas's surname: left, and her name is untouched.
        #expect(out[2].text == "From: Ann Ito <ann.ito@x.com>\nTo: Mary Thomas <mary.thomas@x.com>\n\nHi Mary,\n\nThomas", "\(out[2].text)")
        #expect(out[3].text == noFull)
        #expect(names == 2 + 3 + 2 + 1 + 1 && left == 1 + 1, "names \(names), left \(left)")
        // The spans the leakage design checks scoring prefixes against are the same replacements.
        let spans = table.nameSpans(in: Array(plain.unicodeScalars))
        #expect(spans.map(\.replacement) == ["Eve Fox", "Tom Ray", "Tom", "Tom", "Eve"] && spans.filter { $0.key == sam }.count == 3)
    }

    /// A synthetic corpus's design: every greeting to a renamed person greets them by the new
    /// first name, and every unsigned sign-off of a renamed sender is the new first name.
    @Test func syntheticSurrogatesRenameGreetingsAndSignOffs() throws {
        var p = SynthParameters(); p.subjects = 30; p.records = 300; p.seed = 8; p.zipf = 0.7
        let c = try SynthGenerator.generate(p)
        let keys = c.people.map { (key: PIIKey(.email, $0.email), text: $0.email) }
        let g = SynthSurrogates(people: c.people, population: 0)
        let table = SurrogateTable.draw(keys, generator: g, seed: 3, avoid: Set(keys.map(\.key)), avoidNames: Set(c.people.map(\.name)))
        let (out, _, _, _) = table.apply(to: c.records, scanner: Self.scanner)
        let byName = Dictionary(table.entries.values.compactMap(\.name).map { ($0.from, $0.to) }, uniquingKeysWith: { a, _ in a })
        var greetings = 0, signOffs = 0
        for (r, o) in zip(c.records, out) {
            let lines = r.text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            let newLines = o.text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            guard lines.count == newLines.count, let to = lines.first(where: { $0.hasPrefix("To: ") }),
                  let from = lines.first.map({ String($0.dropFirst(6).prefix { $0 != "<" }).trimmingCharacters(in: .whitespaces) }) else { continue }
            // The single recipient's greeting ("Hi Dana,"), when no one else in the text shares the name.
            let names = c.people.map(\.name).filter { r.text.contains($0) }
            func unambiguous(_ n: String) -> Bool { let f = n.split(separator: " ")[0]; return !names.contains { $0 != n && $0.split(separator: " ").contains(f) } }
            if !to.contains(","), let recipient = c.people.first(where: { to.contains("\($0.name) <") }), let new = byName[recipient.name], unambiguous(recipient.name),
               let k = lines.firstIndex(where: { $0 == "Hi \(recipient.first)," }) {
                #expect(newLines[k] == "Hi \(new.split(separator: " ")[0]),", "\(r.id): \(newLines[k])")
                greetings += 1
            }
            // The unsigned sign-off: the sender's first name as the last line.
            if let sender = c.people.first(where: { $0.name == from }), let new = byName[sender.name], unambiguous(sender.name), lines.last == sender.first {
                #expect(newLines.last == String(new.split(separator: " ")[0]), "\(r.id): \(newLines.last ?? "")")
                signOffs += 1
            }
        }
        #expect(greetings > 5 && signOffs > 5, "checked \(greetings) greetings and \(signOffs) sign-offs")
    }

    /// A user corpus's addresses keep their local part's shape — separators, digits, case, length —
    /// with letters from names: a run as long as a name is a name.
    @Test func formatSurrogateAddressesAreNameShaped() throws {
        let g = FormatSurrogates()
        var rng = SplitMix64(seed: 21)
        let names = Set((SynthVocabulary.firstNames + SynthVocabulary.lastNames).map { $0.folding(options: .diacriticInsensitive, locale: nil).lowercased() })
        func shape(_ s: Substring) -> String { String(s.map { $0.isUppercase ? "A" : $0.isLowercase ? "a" : $0.isNumber ? "9" : $0 }) }
        for written in ["jsmith@corp.example", "John.Smith42@corp.example", "mary_ann.oneil@corp.example", "kw@corp.example"] {
            let key = PIIKey(.email, written.lowercased())
            for _ in 0..<50 {
                let s = try #require(g.draw(key, like: written, &rng)).text
                let (l, ol) = (s.split(separator: "@")[0], written.split(separator: "@")[0])
                #expect(shape(l) == shape(ol) && s.hasSuffix("@corp.example") && s.lowercased() != key.value, "\(written) → \(s)")
                for run in l.split(whereSeparator: { !$0.isLetter }) where run.count >= 3 && names.contains(where: { $0.count == run.count }) {
                    #expect(names.contains(run.lowercased()), "\(written) → \(s): \(run) is not a name")
                }
            }
        }
    }

    /// A user corpus's NANP numbers keep the corpus's area codes, in its proportions.
    @Test func formatSurrogatePhonesKeepTheCorpusAreaCodes() throws {
        let numbers = (0..<80).map { String(format: "+1713555%04d", $0) } + (0..<20).map { String(format: "+1212555%04d", $0) } + ["+442079460958"]
        let g = FormatSurrogates(numbers: numbers)
        var rng = SplitMix64(seed: 4)
        var counts: [String: Int] = [:]
        for layout in ["(415) 555-0199", "+1 415 555 0199", "415.555.0199"] {
            let key = PIIKey(.phone, PIINormalize.phone(layout))
            for _ in 0..<1000 {
                let s = try #require(g.draw(key, like: layout, &rng)).text
                #expect(Self.skeleton(s) == Self.skeleton(layout), "\(layout) → \(s)")
                counts[String(s.filter(\.isNumber).suffix(10).prefix(3)), default: 0] += 1
            }
            #expect(g.spaceSize(key, like: layout) == 2 * 8 * 1e6)
        }
        #expect(Set(counts.keys) == ["713", "212"], "\(counts)")
        let share = Double(counts["713"] ?? 0) / 3000
        #expect(abs(share - 0.8) < 0.03, "713 in \(share) of draws (0.8 in the corpus)")
        // Without a corpus (or for a number that is not NANP) the draw is as before.
        let intl = PIIKey(.phone, PIINormalize.phone("+44 20 7946 0958"))
        #expect(Self.skeleton(try #require(g.draw(intl, like: "+44 20 7946 0958", &rng)).text) == Self.skeleton("+44 20 7946 0958"))
    }
}
