// The pre-training leakage design (Sources/Study/LeakageDesign.swift), checked on corpora without
// training: which values are targets, the two halves, and what each base's corpus holds — half A
// as written in the main base's only, half B's surrogates the same in both, no original of a value
// a base must not see anywhere in its corpus.

import Corpus
import Foundation
import PII
import Support
import Testing
@testable import Study

@Suite struct LeakageDesignTests {
    static let scanner = PIIScanner(types: [.email, .phone])

    static func keys(_ records: [Record]) -> Set<PIIKey> {
        Set(scanner.scan(all: records.map(\.text)).flatMap { $0 }.map { PIIKey($0.type, $0.normalized) })
    }

    static func synthetic(subjects: Int = 30, records: Int = 200, population: Int, seed: UInt64) throws -> SynthCorpus {
        var p = SynthParameters(); p.subjects = subjects; p.records = records; p.population = population; p.seed = seed; p.zipf = 0.7
        return try SynthGenerator.generate(p)
    }

    /// What every design must hold, whatever the corpus.
    static func checkCorpora(_ d: LeakageDesign, P: [Record], F: [Record]) {
        let a = Set(d.targets.indices.filter { d.halves[$0] == .a }.map { d.targets[$0].key })
        let b = Set(d.targets.indices.filter { d.halves[$0] == .b }.map { d.targets[$0].key })
        #expect(abs(a.count - b.count) <= 1 && a.count + b.count == d.targets.count && d.residual == 0)
        #expect(a.isDisjoint(with: keys(F)) && b.isDisjoint(with: keys(F)), "a target value is in the fine-tuning corpus")
        #expect(d.targets.allSatisfy { $0.owner != nil })
        let main = keys(d.mainCorpus), null = keys(d.nullCorpus)
        #expect(null.isDisjoint(with: a.union(b)), "the null base saw a target")
        #expect(main.isDisjoint(with: b), "the main base saw a value of half B")
        #expect(d.null ? main.isDisjoint(with: a) : a.isSubset(of: main))
        // Half B's surrogates are the same in both bases' corpora; half A's are in the null base's
        // only (a null run's main base has other ones).
        let sB = Set(b.map { surrogate(d.nullTable, $0) }), sA = Set(a.map { surrogate(d.nullTable, $0) })
        #expect(b.allSatisfy { d.mainTable.entries[$0] == d.nullTable.entries[$0] } && sB.count == b.count)
        #expect(sB.isSubset(of: main) && sB.isSubset(of: null) && sA.isSubset(of: null) && sA.isDisjoint(with: main))
        if d.null {
            let mA = Set(a.map { surrogate(d.mainTable, $0) })
            #expect(mA.isSubset(of: main) && mA.isDisjoint(with: sA) && mA.count == a.count)
        } else {
            #expect(a.allSatisfy { d.mainTable.entries[$0] == nil })
        }
        #expect(d.mainCorpus.map(\.id) == P.map(\.id) && d.nullCorpus.map(\.subject) == P.map(\.subject))
    }

    /// The key of value `k`'s surrogate in `table`.
    static func surrogate(_ table: SurrogateTable, _ k: PIIKey) -> PIIKey {
        PIIKey(k.type, PIINormalize.key(k.type, table.entries[k]?.text ?? "missing"))
    }

    @Test func aSyntheticDesign() throws {
        let p = try Self.synthetic(population: 0, seed: 1), f = try Self.synthetic(population: 1, seed: 2)
        let names = Set((p.people + f.people).map(\.name))
        var d = LeakageDesign.build(P: p.records, F: f.records, generator: SynthSurrogates(people: p.people, population: 0), avoidNames: names,
                                    seed: 7)
        d.place(window: { $0.left.unicodeScalars.count / 4 }, seed: 7, exposurePerHalf: 5)
        // Populations 0 and 1 share no value: every value of a subject of P is a target.
        #expect(d.excludedInFinetuning == 0 && d.withoutSurrogate == 0 && d.targets.count >= 40)
        Self.checkCorpora(d, P: p.records, F: f.records)
        // Names go with addresses: the people whose address is in half B are renamed in the main
        // base's corpus; those of half A are not.
        let byEmail = Dictionary(uniqueKeysWithValues: p.people.map { ($0.email, $0) })
        let text = d.mainCorpus.map(\.text).joined(separator: "\n"), nullText = d.nullCorpus.map(\.text).joined(separator: "\n")
        for (e, h) in zip(d.targets, d.halves) where e.type == .email {
            guard let person = byEmail[e.value], p.people.filter({ $0.name == person.name }).count == 1 else { continue }
            #expect(text.contains(person.name) == (h == .a), "\(person.name) (half \(h.rawValue))")
            #expect(!nullText.contains(person.name))
        }
        #expect(d.replacedMain.names > 0 && d.replacedNull.values > d.replacedMain.values)
        #expect(d.exposureIndices.filter { d.halves[$0] == .a }.count == 5 && d.exposureIndices.filter { d.halves[$0] == .b }.count == 5)
        // The same inputs, the same design.
        let again = LeakageDesign.build(P: p.records, F: f.records, generator: SynthSurrogates(people: p.people, population: 0), avoidNames: names,
                                        seed: 7)
        #expect(again.halves == d.halves && again.mainCorpus == d.mainCorpus && again.nullCorpus == d.nullCorpus)
        // Exposure's candidates: drawn like the value, never the value, the same for every model.
        for i in d.exposureIndices {
            let (c, space) = d.candidates(i, count: 16, seed: 7)
            #expect(c.count == 16 && !c.contains(d.targets[i].value) && Set(c).count == 16 && space >= 16)
            #expect(c == d.candidates(i, count: 16, seed: 7).candidates)
        }
    }

    @Test func aNullRunHidesBothHalvesFromBothBases() throws {
        let p = try Self.synthetic(population: 0, seed: 3), f = try Self.synthetic(population: 1, seed: 4)
        let d = LeakageDesign.build(P: p.records, F: f.records, generator: SynthSurrogates(people: p.people, population: 0),
                                    avoidNames: Set((p.people + f.people).map(\.name)), seed: 7, null: true)
        #expect(d.null && d.replacedMain.values == d.replacedNull.values)
        Self.checkCorpora(d, P: p.records, F: f.records)
    }

    /// A user's corpus split in two (`study --corpus`): correspondents across the halves put some of
    /// P's subjects' values in F too; those are left out and counted, and the surrogates keep the
    /// domain and layout (format-matched).
    @Test func aUserCorpusLeavesOutWhatTheFineTuningCorpusHolds() throws {
        let c = try Self.synthetic(subjects: 40, records: 300, population: 0, seed: 5)
        let subjects = Array(Set(c.records.map(\.subject))).sorted()
        let pre = Set(subjects.prefix(subjects.count / 2))
        let P = c.records.filter { pre.contains($0.subject) }, F = c.records.filter { !pre.contains($0.subject) }
        let d = LeakageDesign.build(P: P, F: F, generator: FormatSurrogates(), seed: 7)
        #expect(d.excludedInFinetuning > 0 && d.generator.kind == .formatMatched && d.replacedMain.names == 0)
        Self.checkCorpora(d, P: P, F: F)
        for e in d.targets where e.type == .email {
            let s = Self.surrogate(d.nullTable, e.key)
            #expect(s.value.split(separator: "@").last == e.value.split(separator: "@").last && s.value != e.value)
        }
    }

    // MARK: Scoring places (issue 21 review, M1)

    /// A known answer: five addresses in five records, scored after a 20-scalar prefix. a1 opens
    /// r1 (clean); b1 follows a1 within 20 scalars in r1 but stands 40 scalars after its end in r2
    /// (scored in r2); c1 always follows d1 (left out); d1 opens r3; e1 opens r5, then follows
    /// itself (its first occurrence counts). A name replaced for another value in the prefix makes
    /// it unclean; a name replaced for the value itself does not; a wider window reaches a1 in r2.
    @Test func eachValueIsScoredAfterAPrefixWithoutAnyOtherTarget() throws {
        let texts = ["r1": "Write to a1@x.com or b1@x.com today.", "r2": "a1@x.com is away; for the next forty days write b1@x.com please.",
                     "r3": "d1@x.com c1@x.com", "r4": "ok d1@x.com c1@x.com", "r5": "e1@x.com e1@x.com"]
        let owners = ["r1": "a1@x.com", "r2": "b1@x.com", "r3": "c1@x.com", "r4": "d1@x.com", "r5": "e1@x.com"]
        let P = texts.keys.sorted().map { Record(id: $0, subject: owners[$0]!, text: texts[$0]!, source: "test") }
        var d = LeakageDesign.build(P: P, F: [], generator: FormatSurrogates(), seed: 3)
        #expect(d.targets.map(\.value) == ["a1@x.com", "b1@x.com", "c1@x.com", "d1@x.com", "e1@x.com"])
        #expect(d.scored.isEmpty, "nothing is scored before the places are chosen")
        d.place(window: { min($0.left.unicodeScalars.count, 20) }, seed: 3, exposurePerHalf: 1)
        func place(_ v: String) -> String? { d.scoringPlaces[d.targets.firstIndex { $0.value == v }!].map { "\($0.record):\($0.start)" } }
        #expect(place("a1@x.com") == "r1:9" && place("b1@x.com") == "r2:48" && place("c1@x.com") == nil)
        #expect(place("d1@x.com") == "r3:0" && place("e1@x.com") == "r5:0")
        let (scored, without) = d.scoredCounts
        #expect(scored.a + scored.b == 4 && without.a + without.b == 1 && d.scored.count == 4)
        #expect(d.exposureIndices.allSatisfy { d.scoringPlaces[$0] != nil } && d.exposureIndices.count == 2)
        // A wider window reaches a1 in r2: b1 has no clean prefix left.
        var wide = d
        wide.place(window: { $0.left.unicodeScalars.count }, seed: 3, exposurePerHalf: 1)
        #expect(wide.scoringPlaces[1] == nil && wide.scoringPlaces[0] != nil)
        // A name replaced for a1 in b1's window in r2 (at "write"): b1 is left out; b1's
        // own owner's name there is allowed.
        let a1 = d.targets[0].key, b1 = d.targets[1].key
        var named = d
        named.nameSpans["r2"] = [NameSpan(start: 42, end: 47, key: a1, replacement: "Zed")]
        named.place(window: { min($0.left.unicodeScalars.count, 20) }, seed: 3, exposurePerHalf: 1)
        #expect(named.scoringPlaces[1] == nil)
        named.nameSpans["r2"] = [NameSpan(start: 42, end: 47, key: b1, replacement: "Zed")]
        named.place(window: { min($0.left.unicodeScalars.count, 20) }, seed: 3, exposurePerHalf: 1)
        #expect(named.scoringPlaces[1]?.record == "r2")
    }

    /// On a synthetic design, checked without the positions `place` used: the text a scored value
    /// is conditioned on holds no target as written anywhere in P, and no full name replaced for
    /// another person's value; so for a value of half B both bases' corpora write that prefix alike.
    @Test func scoredPrefixesHoldNoOtherTargetOrReplacedName() throws {
        let p = try Self.synthetic(subjects: 20, records: 200, population: 0, seed: 11), f = try Self.synthetic(population: 1, seed: 12)
        var d = LeakageDesign.build(P: p.records, F: f.records, generator: SynthSurrogates(people: p.people, population: 0),
                                    avoidNames: Set((p.people + f.people).map(\.name)), seed: 5)
        let window = 120
        d.place(window: { min($0.left.unicodeScalars.count, window) }, seed: 5, exposurePerHalf: 4)
        #expect(d.scored.count * 2 > d.targets.count, "most values have a clean prefix: \(d.scored.count) of \(d.targets.count)")
        for i in d.scored {
            let occ = d.scoringPlaces[i]!, prefix = String(String.UnicodeScalarView(occ.left.unicodeScalars.suffix(window)))
            for (j, e) in d.targets.enumerated() {
                for text in Set(e.places.map(\.text)) { #expect(!prefix.contains(text), "\(d.targets[i].value)'s prefix holds \(text)") }
                if e.owner != d.targets[i].owner, let n = d.nullTable.entries[e.key]?.name { #expect(!prefix.contains(n.from), "\(d.targets[i].value)'s prefix holds \(n.from)") }
            }
        }
    }
}
