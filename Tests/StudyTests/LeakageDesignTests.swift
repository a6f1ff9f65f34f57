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
        let d = LeakageDesign.build(P: p.records, F: f.records, generator: SynthSurrogates(people: p.people, population: 0), avoidNames: names,
                                    seed: 7, exposurePerHalf: 5)
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
                                        seed: 7, exposurePerHalf: 5)
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
                                    avoidNames: Set((p.people + f.people).map(\.name)), seed: 7, null: true, exposurePerHalf: 5)
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
        let d = LeakageDesign.build(P: P, F: F, generator: FormatSurrogates(), seed: 7, exposurePerHalf: 8)
        #expect(d.excludedInFinetuning > 0 && d.generator.kind == .formatMatched && d.replacedMain.names == 0)
        Self.checkCorpora(d, P: P, F: F)
        for e in d.targets where e.type == .email {
            let s = Self.surrogate(d.nullTable, e.key)
            #expect(s.value.split(separator: "@").last == e.value.split(separator: "@").last && s.value != e.value)
        }
    }
}
