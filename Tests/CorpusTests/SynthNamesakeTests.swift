import Foundation
import Testing
import Corpus
import PII

/// The namesake plant of `corpus synth --namesakes` (Corpus/SynthNamesakes.swift) and its null twin.
@Suite struct SynthNamesakeTests {
    func params(groups: Int = 6, light: Int = 2, null: Bool = false, population: Int = 0, seed: UInt64 = 4) -> SynthParameters {
        var p = SynthParameters(); p.subjects = 120; p.records = 1500; p.seed = seed; p.population = population
        p.namesakeGroups = groups; p.namesakeLight = light; p.namesakeLightMessages = 8; p.namesakeHeavyMessages = 30; p.namesakeNull = null
        return p
    }

    /// FNV-1a (64 bits) of the corpus as `corpus synth` writes it (RecordWriter's JSON lines).
    static func fingerprint(_ records: [Record]) throws -> UInt64 {
        let enc = JSONEncoder(); enc.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for r in records {
            for b in try enc.encode(r) + [0x0A] { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
        }
        return h
    }

    /// Without groups the generator is byte for byte what it was before the plant existed: the
    /// fingerprints of `corpus synth` output recorded with the pre-plant binary (commit e268f5d).
    @Test(arguments: [
        (120, 1500, UInt64(1), 0, 1.1, [Int](), UInt64(0x57a7_5579_1b93_4a4a)),
        (120, 700, UInt64(3), 1, 0.7, [Int](), UInt64(0xdcdd_22c6_5574_703a)),
        (30, 200, UInt64(3), 0, 1.1, [1, 30], UInt64(0xd210_a83d_e8fb_b6b0)),
    ])
    func withoutGroupsTheCorpusIsUnchanged(subjects: Int, records: Int, seed: UInt64, population: Int, zipf: Double, canaries: [Int], expected: UInt64) throws {
        var p = SynthParameters(); p.subjects = subjects; p.records = records; p.seed = seed; p.population = population; p.zipf = zipf
        p.canaryRepeats = canaries; p.canariesPerRepeat = 2
        let c = try SynthGenerator.generate(p)
        #expect(try Self.fingerprint(c.records) == expected)
        #expect(c.namesakes.isEmpty)
        // The settings a corpus records (OUT.canaries.json) carry no namesake keys without a plant.
        let json = String(decoding: try JSONEncoder().encode(p), as: UTF8.self)
        #expect(!json.contains("namesake"))
        #expect(try JSONDecoder().decode(SynthParameters.self, from: Data(json.utf8)) == p)
        var q = p; q.namesakeGroups = 3; q.namesakeNull = true
        #expect(try JSONDecoder().decode(SynthParameters.self, from: JSONEncoder().encode(q)) == q)
    }

    @Test func membersShareEverythingButTheirNumbersAndAddresses() throws {
        let p = params()
        let c = try SynthGenerator.generate(p)
        #expect(c.namesakes.count == 6 && c.namesakes.allSatisfy { $0.light.count == 2 })
        let byEmail = Dictionary(uniqueKeysWithValues: c.people.map { ($0.email, $0) })
        // Every phone number and address is still one person's.
        #expect(Set(c.people.map { PIINormalize.phone($0.phone) }).count == c.people.count)
        #expect(Set(c.people.map(\.email)).count == c.people.count)
        var sent: [String: Int] = [:]
        for r in c.records { sent[r.subject, default: 0] += 1 }
        let layout = { (s: String) in String(s.map { $0.isNumber ? "9" : $0 }) }
        for g in c.namesakes {
            let heavy = byEmail[g.heavy.email]!
            #expect(heavy.name == g.name && g.heavy.name == g.name && g.heavy.nullName == nil)
            #expect(sent[heavy.email]! >= p.namesakeHeavyMessages && sent[heavy.email] == g.heavy.records)
            for l in g.light {
                let x = byEmail[l.email]!
                #expect(x.first == heavy.first && x.last == heavy.last && x.title == heavy.title && x.department == heavy.department && x.company == heavy.company)
                #expect(x.phone != heavy.phone && x.email != heavy.email && l.nullName != g.name)
                // Same layout and the same country and area code: the shadowing is about the value.
                #expect(layout(x.phone) == layout(heavy.phone))
                #expect(x.phone.prefix(x.phone.hasPrefix("+") ? 4 : 3) == heavy.phone.prefix(heavy.phone.hasPrefix("+") ? 4 : 3))
                #expect(x.email.hasSuffix("@" + heavy.email.split(separator: "@").last!))
                // The address is made of the shared name: only a style or a number tells it apart.
                let local = String(x.email.split(separator: "@")[0]).filter(\.isLetter)
                let fold = { (s: String) in s.folding(options: .diacriticInsensitive, locale: nil).lowercased().filter(\.isLetter) }
                #expect(local.contains(fold(heavy.last)) && local.contains(fold(heavy.first).prefix(1)), "\(x.email) for \(heavy.name)")
                #expect(sent[x.email] == p.namesakeLightMessages && l.records == p.namesakeLightMessages)
                #expect(l.phoneNormalized == PIINormalize.phone(x.phone))
            }
        }
        // The heavy members are the most active senders.
        let heavies = Set(c.namesakes.map(\.heavy.email))
        let top = sent.sorted { ($0.value, $0.key) > ($1.value, $1.key) }.prefix(heavies.count).map(\.key)
        #expect(Set(top) == heavies)
        // The only namesakes are the planted ones.
        var named: [String: Set<String>] = [:]
        for x in c.people { named[x.name, default: []].insert(x.email) }
        let shared = Dictionary(uniqueKeysWithValues: c.namesakes.map { ($0.name, Set([$0.heavy.email] + $0.light.map(\.email))) })
        #expect(named.filter { $0.value.count > 1 } == shared)
    }

    @Test func aMembersNumberOccursOnlyInTheirOwnSignatures() throws {
        let c = try SynthGenerator.generate(params())
        for g in c.namesakes {
            let prefix = "\n\(g.name)\n\(g.title), \(g.department)\n\(g.company)\n"
            for m in [g.heavy] + g.light {
                var own = 0, signed = 0
                for r in c.records {
                    let n = r.text.components(separatedBy: m.phone).count - 1
                    if r.subject == m.subject {
                        own += n
                        if r.text.contains(prefix + m.phone) { signed += 1 }
                    } else {
                        #expect(n == 0, "\(m.subject)'s number in \(r.id), another subject's record")
                    }
                }
                // Every occurrence is behind the shared signature prefix, once per signed message.
                #expect(own == signed && signed == m.signed)
                #expect(Double(m.signed) >= 0.7 * Double(m.records), "\(m.subject): \(m.signed) of \(m.records) signed")
            }
        }
    }

    /// The null twin's light members differ in their names and in their title and department
    /// (their signatures share only the company line with the heavy member's).
    @Test(arguments: [false, true])
    func theNullTwinDiffersOnlyInTheLightMembersNamesAndTitles(allOptions: Bool) throws {
        // Every option that shapes the plant (variants, notes to a desk list, exact and spread
        // counts) draws the same in both twins.
        func shaped(_ p: SynthParameters) -> SynthParameters {
            var q = p
            if allOptions { q.namesakeVariants = true; q.namesakeHeavyNotes = true; q.namesakeHeavyExact = true; q.namesakeHeavySpread = true }
            return q
        }
        let planted = try SynthGenerator.generate(shaped(params())), null = try SynthGenerator.generate(shaped(params(null: true)))
        #expect(planted.records.count == null.records.count && planted.people.count == null.people.count)
        #expect(Set(null.people.map(\.name)).count == null.people.count, "every display name is one person's")
        // light member's address → (own name, own first name, shared name, shared first name)
        var back: [String: (own: String, ownFirst: String, shared: String, sharedFirst: String)] = [:]
        var lines: [String: String] = [:]  // a null light member's "Title, Department" → the planted one's
        for (a, b) in zip(planted.namesakes, null.namesakes) {
            #expect(a.heavy == b.heavy && a.name == b.name)
            let heavy = planted.people.first { $0.email == a.heavy.email }!
            for (x, y) in zip(a.light, b.light) {
                #expect(x.subject == y.subject && x.phone == y.phone && x.email == y.email && x.records == y.records && x.signed == y.signed)
                #expect(x.name == a.name && y.name == x.nullName && y.nullName == x.nullName)
                let own = null.people.first { $0.email == y.email }!
                back[y.email] = (own.name, own.first, heavy.name, heavy.first)
                // Planted: one of the heavy member's lines; null: a title and department unlike all of them.
                #expect(x.signature.count == 1 && a.heavy.signature.contains(x.signature[0]) && y.signature == ["\(own.title), \(own.department)"])
                for v in a.heavy.signature {
                    let parts = v.components(separatedBy: ", ")
                    #expect(parts[0] != own.title && parts[1] != own.department, "\(v) against \(own.title), \(own.department)")
                }
                lines["\n\(own.name)\n\(own.title), \(own.department)\n"] = "\n\(heavy.name)\n\(x.signature[0])\n"
            }
        }
        for (x, y) in zip(planted.people, null.people) {
            #expect(x.email == y.email && x.phone == y.phone && x.company == y.company)
            #expect(back[x.email] != nil || (x.title == y.title && x.department == y.department))
            #expect(x.name == (back[x.email]?.shared ?? y.name))
        }
        // Same records, same senders; the texts are equal once the names are put back: full names
        // first, then each remaining word that differs must be a light member's own first name
        // where the planted corpus has the shared one (greetings, unsigned closings).
        let firsts = Set(back.values.map { "\($0.ownFirst)→\($0.sharedFirst)" })
        var differing = 0
        for (x, y) in zip(planted.records, null.records) {
            #expect(x.id == y.id && x.subject == y.subject && x.meta == y.meta && x.source == y.source)
            if x.text != y.text { differing += 1 }
            var t = y.text
            for (own, shared) in lines { t = t.replacingOccurrences(of: own, with: shared) }
            for n in back.values { t = t.replacingOccurrences(of: n.own, with: n.shared) }
            let a = Self.words(x.text), b = Self.words(t)
            #expect(a.count == b.count, "\(x.id)")
            guard a.count == b.count else { continue }
            for (u, v) in zip(a, b) where u != v { #expect(firsts.contains("\(v)→\(u)"), "\(x.id): \(v) for \(u)") }
        }
        #expect(differing >= 6 * 2 * 8, "every light member's message names them")
    }

    /// Runs of letters and runs of everything else, in order.
    static func words(_ s: String) -> [Substring] {
        var out: [Substring] = [], start = s.startIndex
        for i in s.indices.dropFirst() where s[i].isLetter != s[s.index(before: i)].isLetter { out.append(s[start..<i]); start = i }
        if start < s.endIndex { out.append(s[start...]) }
        return out
    }

    @Test func theNullTwinsLightMembersHaveNamesOfTheirOwn() throws {
        let c = try SynthGenerator.generate(params(null: true))
        let people = Dictionary(uniqueKeysWithValues: c.people.map { ($0.email, $0) })
        for g in c.namesakes {
            let heavy = people[g.heavy.email]!
            for l in g.light {
                let x = people[l.email]!
                #expect(x.first != heavy.first && x.last != heavy.last && x.name == l.nullName && x.title != heavy.title && x.company == heavy.company)
            }
        }
    }

    /// With signature variants, light member j shares only the heavy member's j-th "Title,
    /// Department" line; the heavy member signs with every variant, and no two variants (nor two
    /// light members) share a title: the light members no longer shadow each other.
    @Test func variantsGiveEachLightMemberTheirOwnSharedPrefix() throws {
        var p = params(groups: 4, light: 3); p.namesakeVariants = true; p.namesakeLightMessages = 10
        let c = try SynthGenerator.generate(p)
        let people = Dictionary(uniqueKeysWithValues: c.people.map { ($0.email, $0) })
        for g in c.namesakes {
            let heavy = people[g.heavy.email]!
            #expect(g.heavy.signature.count == 3 && Set(g.heavy.signature.map { $0.split(separator: ",")[0] }).count == 3)
            #expect(g.heavy.signature[0] == "\(heavy.title), \(heavy.department)")
            for (j, l) in g.light.enumerated() {
                let x = people[l.email]!
                #expect(l.signature == [g.heavy.signature[j]] && "\(x.title), \(x.department)" == g.heavy.signature[j] && x.name == heavy.name)
            }
            // The heavy member's signed messages use every variant, and nothing else.
            var used: [String: Int] = [:]
            for r in c.records where r.subject == heavy.email {
                for v in g.heavy.signature where r.text.contains("\n\(heavy.name)\n\(v)\n\(heavy.company)\n\(heavy.phone)") { used[v, default: 0] += 1 }
            }
            #expect(Set(used.keys) == Set(g.heavy.signature) && used.values.reduce(0, +) == g.heavy.signed)
        }
        // Without variants the corpus is what it was: the option draws nothing when off.
        var q = params(groups: 4, light: 3); q.namesakeLightMessages = 10
        let plain = try SynthGenerator.generate(q)
        #expect(plain.namesakes.allSatisfy { g in g.heavy.signature.count == 1 && g.light.allSatisfy { $0.signature == g.heavy.signature } })
        #expect(plain.records.map(\.text) != c.records.map(\.text))
    }

    /// Short notes: a heavy member's messages are one sentence and a signature to a desk list,
    /// never a reply, about half the tokens of other mail; with the exact count they send exactly H and no more.
    @Test func heavyNotesAreShortAndTheExactCountHolds() throws {
        var p = params(groups: 4, light: 1); p.namesakeHeavyNotes = true; p.namesakeHeavyExact = true; p.namesakeHeavyMessages = 25
        let c = try SynthGenerator.generate(p)
        let heavies = Set(c.namesakes.map(\.heavy.email))
        var notes: [Int] = [], others: [Int] = [], sent: [String: Int] = [:]
        for r in c.records {
            sent[r.subject, default: 0] += 1
            if heavies.contains(r.subject) {
                notes.append(r.text.count)
                #expect(!r.text.contains("-----Original Message-----") && !r.text.contains("Subject: RE: "), "\(r.id) is a reply")
                // Addressed to a desk list: no other person's address or number is in a note.
                #expect(r.text.contains("-desk@") && r.meta["recipients"]?.hasSuffix("-desk@" + r.subject.split(separator: "@").last!) == true)
                for x in c.people where x.email != r.subject { #expect(!r.text.contains(x.email) && !r.text.contains(x.phone), "\(r.id) names \(x.email)") }
            } else { others.append(r.text.count) }
        }
        #expect(heavies.allSatisfy { sent[$0] == 25 })
        let mean = { (xs: [Int]) in Double(xs.reduce(0, +)) / Double(xs.count) }
        #expect(mean(notes) < 0.7 * mean(others), "notes \(mean(notes)) chars, others \(mean(others))")
        // Without the exact count the heavy members take the top activity ranks on top of H.
        p.namesakeHeavyExact = false
        let ranked = try SynthGenerator.generate(p)
        #expect(ranked.namesakes.allSatisfy { $0.heavy.records > 25 })
    }

    /// Shared notes: a light member's message is one of their heavy namesake's signed notes, sent
    /// from the desk's address, identical up to the number in the planted twin (so the prefix of
    /// every occurrence of the light member's number is the prefix of one of the heavy member's),
    /// and with the light member's own name and title in the null twin; the heavy member's notes
    /// name the desk, not their own address; the option needs heavy notes.
    @Test(arguments: [false, true])
    func sharedNotesDifferOnlyFromTheNumberOn(variants: Bool) throws {
        var p = params(groups: 3, light: 2); p.namesakeHeavyNotes = true; p.namesakeHeavyExact = true; p.namesakeSharedNotes = true
        p.namesakeVariants = variants; p.namesakeSignatureRate = 1
        let c = try SynthGenerator.generate(p)
        var q = p; q.namesakeNull = true
        let null = try SynthGenerator.generate(q)
        #expect(c.records.map(\.subject) == null.records.map(\.subject))
        for (g, ng) in zip(c.namesakes, null.namesakes) {
            let heavyTexts = c.records.filter { $0.subject == g.heavy.email }.map(\.text)
            #expect(heavyTexts.count == 30 && heavyTexts.allSatisfy { $0.hasPrefix("From: \(g.name) <") && !$0.prefix { $0 != "\n" }.contains(g.heavy.email) })
            for (l, nl) in zip(g.light, ng.light) {
                let mine = c.records.filter { $0.subject == l.email }
                #expect(mine.count == 8 && mine.allSatisfy { $0.text.contains(l.phone) })
                for r in mine {
                    let prefix = String(r.text[..<r.text.range(of: l.phone)!.lowerBound])
                    #expect(heavyTexts.contains { $0.hasPrefix(prefix + g.heavy.phone) }, "\(r.id): no heavy note has its prefix")
                }
                for r in null.records where r.subject == nl.email {
                    let prefix = String(r.text[..<r.text.range(of: nl.phone)!.lowerBound])
                    #expect(prefix.contains(nl.name) && !heavyTexts.contains { $0.hasPrefix(prefix) }, "\(r.id)")
                }
                // The twins copy the same notes: the null copy is the planted one with the light
                // member's own name, title and department in From: and the signature.
                let nullMine = null.records.filter { $0.subject == nl.email }
                #expect(nullMine.count == mine.count)
                let plantedBlock = "\n\(g.name)\n\(l.signature[0])\n\(g.company)\n", nullBlock = "\n\(nl.name)\n\(nl.signature[0])\n\(g.company)\n"
                for (r, nr) in zip(mine, nullMine) {
                    #expect(r.meta["date"] == nr.meta["date"] && !r.text.contains(g.heavy.email))
                    let asPlanted = nr.text.replacingOccurrences(of: "From: \(nl.name) <", with: "From: \(g.name) <").replacingOccurrences(of: nullBlock, with: plantedBlock)
                    #expect(asPlanted == r.text, "\(r.id) and \(nr.id) copy different notes")
                }
            }
        }
        p.namesakeHeavyNotes = false
        #expect(throws: CorpusError.self) { try SynthGenerator.generate(p) }
        // A heavy member who signs nothing leaves nothing to copy: an error, not unshadowed mail.
        p.namesakeHeavyNotes = true; p.namesakeSignatureRate = 0
        #expect(throws: CorpusError.self) { try SynthGenerator.generate(p) }
    }

    /// Spread counts run from H down to about H/2 over the groups, in group order.
    @Test func spreadHeavyCountsRunFromHToHalfOfIt() throws {
        var p = params(groups: 5, light: 1); p.namesakeHeavyExact = true; p.namesakeHeavySpread = true; p.namesakeHeavyMessages = 40
        let c = try SynthGenerator.generate(p)
        #expect(c.namesakes.map(\.heavy.records) == [40, 35, 30, 25, 20])
    }

    @Test func deterministicAndPopulationsStayDisjoint() throws {
        let a = try SynthGenerator.generate(params()), b = try SynthGenerator.generate(params())
        #expect(a.records == b.records && a.namesakes == b.namesakes)
        #expect(try SynthGenerator.generate(params(seed: 5)).records.map(\.text) != a.records.map(\.text))
        let one = try SynthGenerator.generate(params(population: 1))
        #expect(Set(a.people.map(\.email)).isDisjoint(with: one.people.map(\.email)))
        #expect(Set(a.people.map { PIINormalize.phone($0.phone) }).isDisjoint(with: one.people.map { PIINormalize.phone($0.phone) }))
    }

    @Test func impossibleSettingsSayWhichNumbers() throws {
        func message(_ f: (inout SynthParameters) -> Void) -> String {
            var p = params(); f(&p)
            do { _ = try SynthGenerator.generate(p); return "" } catch { return "\(error)" }
        }
        #expect(message { $0.namesakeGroups = 41; $0.namesakeLight = 2 }.contains("41 × 3 = 123 subjects, but there are only 120"))
        #expect(message { $0.namesakeGroups = 30; $0.namesakeLight = 1; $0.records = 1000 }.contains("30 × (30 heavy + 1 × 8 light messages) = 1140 records, but there are only 1000"))
        #expect(message { $0.namesakeLight = 0 }.contains("at least 1 light member"))
        #expect(message { $0.namesakeLightMessages = 0 }.contains("at least 1 message"))
        #expect(message { $0.namesakeSignatureRate = 1.5 }.contains("[0, 1]"))
        #expect(message { $0.namesakeGroups = Int.max / 2; $0.namesakeLight = 3 }.contains("subjects, but there are only 120"))
        #expect(message { $0.namesakeGroups = 0; $0.namesakeLight = 0 }.isEmpty, "without groups the namesake settings are not used")
        #expect(message { $0.namesakeLight = 13 }.contains("at most 12 light members"))
        // Exact heavy counts with every subject in a group leave the rest of the mail no sender.
        #expect(message { $0.namesakeGroups = 40; $0.namesakeLight = 2; $0.namesakeHeavyMessages = 10; $0.namesakeHeavyExact = true }
            .contains("need senders outside it"))
    }
}
