import Foundation
import Testing
import Corpus
import PII

@Suite struct SynthTests {
    func params(_ pop: Int = 0, seed: UInt64 = 1) -> SynthParameters {
        var p = SynthParameters(); p.subjects = 120; p.records = 1500; p.population = pop; p.seed = seed
        return p
    }

    @Test func deterministicForASeed() throws {
        let a = try SynthGenerator.generate(params()), b = try SynthGenerator.generate(params())
        #expect(a.records == b.records)
        let c = try SynthGenerator.generate(params(seed: 2))
        #expect(a.records.map(\.text) != c.records.map(\.text))
    }

    @Test func heavyTailedActivityAndDuplicationFromOneToHundreds() throws {
        let c = try SynthGenerator.generate(params())
        var perSubject: [String: Int] = [:]
        for r in c.records { perSubject[r.subject, default: 0] += 1 }
        let counts = perSubject.values.sorted()
        #expect(counts.last! > 100, "the heaviest sender writes hundreds")
        #expect(counts[counts.count / 2] < 15, "the median subject writes few")
        let stats = CorpusStats.compute(records: c.records, scanner: PIIScanner(types: [.email, .phone]))
        #expect(stats.duplication["1"]! > 0 && stats.duplication[">20"]! > 0)
        // every subject's own address is found by the PII detector
        let found = Set(PIIScanner(types: [.email]).scan(all: c.records.map(\.text)).flatMap { $0.map(\.normalized) })
        #expect(Set(c.records.map(\.subject)).isSubset(of: found))
    }

    @Test func populationsAreDisjoint() throws {
        let a = try SynthGenerator.generate(params(0)), b = try SynthGenerator.generate(params(1))
        let emails = { (c: SynthCorpus) in Set(c.people.map(\.email)) }
        let phones = { (c: SynthCorpus) in Set(c.people.map { PIINormalize.phone($0.phone) }) }
        #expect(emails(a).isDisjoint(with: emails(b)))
        #expect(phones(a).isDisjoint(with: phones(b)))
        // and the phones are what the detector normalises them to
        let detected = Set(PIIScanner(types: [.phone]).scan(all: a.records.map(\.text)).flatMap { $0.map(\.normalized) })
        #expect(phones(a).intersection(detected).count > a.people.count / 2)
    }

    @Test func canariesAreInsertedAsRecorded() throws {
        var p = params(); p.canaryRepeats = [1, 4]; p.canariesPerRepeat = 3
        let c = try SynthGenerator.generate(p)
        #expect(c.canaries.count == 6)
        for k in c.canaries {
            let n = c.records.reduce(0) { $0 + $1.text.components(separatedBy: k.sentence).count - 1 }
            #expect(n == k.repeats, "\(k.secret)")
            #expect(k.records.allSatisfy { id in c.records.first { $0.id == id }!.subject == k.subject })
        }
    }
}

@Suite struct SplitTests {
    @Test func subjectsAreNeverSplitAndTheSeedDecides() throws {
        let subjects = (0..<100).flatMap { i in Array(repeating: "s\(i)", count: 1 + i % 4) }
        let (a, b) = CorpusSplit.bySubject(subjects, fraction: 0.3, seed: 5)
        #expect(a.count == 30 && b.count == 70 && a.isDisjoint(with: b))
        #expect(CorpusSplit.bySubject(subjects, fraction: 0.3, seed: 5).a == a)
        #expect(CorpusSplit.bySubject(subjects, fraction: 0.3, seed: 6).a != a)
    }
}
