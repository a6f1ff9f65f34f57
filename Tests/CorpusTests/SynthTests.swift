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

    /// --verbosity spreads how much each sender writes without touching who sends what: the same
    /// senders, recipients and message count per subject; message lengths spread per sender
    /// (tokens and messages part); the plant's members keep their exact lengths; a spread that is
    /// not a number in [0, 3] is refused.
    @Test func verbositySpreadsLengthsPerSenderAndNothingElse() throws {
        var p = params(); p.records = 800
        var v = p; v.verbosity = 1.5
        let a = try SynthGenerator.generate(p), b = try SynthGenerator.generate(v)
        #expect(a.records.map(\.subject) == b.records.map(\.subject))
        #expect(a.records.map { $0.meta["recipients"] } == b.records.map { $0.meta["recipients"] })
        #expect(try SynthGenerator.generate(v).records == b.records, "deterministic")
        // (σ = 0 is the generator as before: the stored digests of SynthNamesakeTests' unchanged-corpus test.)
        for bad in [Double.nan, -0.5, 4] {
            var x = p; x.verbosity = bad
            #expect(throws: CorpusError.self) { try SynthGenerator.generate(x) }
        }
        // The library refuses rates that are not probabilities (the CLI checks them too).
        for bad in [Double.nan, -0.1, 1.5] {
            var x = p; x.signatureRate = bad
            #expect(throws: CorpusError.self) { try SynthGenerator.generate(x) }
            x = p; x.referralRate = bad
            #expect(throws: CorpusError.self) { try SynthGenerator.generate(x) }
        }
        // Mean characters per message, per sender of ≥ 5 messages: the spread across senders grows.
        func spread(_ c: SynthCorpus) -> Double {
            var chars: [String: (Int, Int)] = [:]
            for r in c.records { let x = chars[r.subject] ?? (0, 0); chars[r.subject] = (x.0 + r.text.count, x.1 + 1) }
            let means = chars.values.filter { $0.1 >= 5 }.map { log(Double($0.0) / Double($0.1)) }
            let m = means.reduce(0, +) / Double(means.count)
            return (means.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(means.count - 1)).squareRoot()
        }
        #expect(spread(b) > 2 * spread(a), "log-length sd \(spread(b)) vs \(spread(a))")
        // A planted corpus: members' messages are the same with and without the spread.
        var q = p; q.namesakeGroups = 3; q.namesakeLight = 2; q.namesakeLightMessages = 10; q.namesakeHeavyNotes = true
        var qv = q; qv.verbosity = 1.5
        let pa = try SynthGenerator.generate(q), pb = try SynthGenerator.generate(qv)
        let members = Set(pa.namesakes.flatMap { [$0.heavy.subject] + $0.light.map(\.subject) })
        #expect(!members.isEmpty)
        // (A member's reply quotes someone else's message, which may be longer: compare their own part.)
        let own = { (c: SynthCorpus) in c.records.filter { members.contains($0.subject) }.map { $0.text.components(separatedBy: "\n\n-----Original Message-----")[0] } }
        let same = own(pa) == own(pb)
        #expect(same, "a plant member's own text changed with --verbosity")
        let ordinaryChanged = zip(pa.records, pb.records).filter { !members.contains($0.0.subject) && $0.0.text != $0.1.text }.count
        #expect(ordinaryChanged > pa.records.count / 4)
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
