// Corpus statistics and subject-level splits.

import Foundation
import Support
import PII

public struct CorpusStats: Codable, Sendable {
    public var records = 0
    public var subjects = 0
    public var bytes = 0
    public var tokens: Int?
    /// Occurrences of each PII type.
    public var piiOccurrences: [String: Int] = [:]
    /// Distinct values of each PII type.
    public var piiValues: [String: Int] = [:]
    /// How many distinct PII values occur 1, 2–5, 6–20 and more than 20 times.
    public var duplication: [String: Int] = ["1": 0, "2-5": 0, "6-20": 0, ">20": 0]
    /// Records per subject: the largest and the median.
    public var maxRecordsPerSubject = 0
    public var medianRecordsPerSubject = 0

    enum CodingKeys: String, CodingKey {
        case records, subjects, bytes, tokens, duplication
        case piiOccurrences = "pii_occurrences", piiValues = "pii_values"
        case maxRecordsPerSubject = "max_records_per_subject", medianRecordsPerSubject = "median_records_per_subject"
    }

    /// The duplication bucket of a value that occurs `n` times: "1", "2-5", "6-20" or ">20" (the
    /// same buckets in corpus stats, audit.json and study.json).
    public static func duplicationBucket(_ n: Int) -> String { n == 1 ? "1" : n <= 5 ? "2-5" : n <= 20 ? "6-20" : ">20" }

    /// Scans every record (PII detection on all cores, record by record).
    public static func compute(records: [Record], scanner: PIIScanner = PIIScanner(), tokenCount: (([String]) -> Int)? = nil) -> CorpusStats {
        var s = CorpusStats()
        s.records = records.count
        var perSubject: [String: Int] = [:]
        for r in records { perSubject[r.subject, default: 0] += 1; s.bytes += r.text.utf8.count }
        s.subjects = perSubject.count
        let counts = perSubject.values.sorted()
        s.maxRecordsPerSubject = counts.last ?? 0
        s.medianRecordsPerSubject = counts.isEmpty ? 0 : counts[counts.count / 2]
        let found = scanner.scan(all: records.map(\.text))
        var valueCount: [String: Int] = [:]
        var types: [String: Set<String>] = [:]
        for ents in found {
            for e in ents {
                s.piiOccurrences[e.type.rawValue, default: 0] += 1
                valueCount[PIIKey(e.type, e.normalized).string, default: 0] += 1
                types[e.type.rawValue, default: []].insert(e.normalized)
            }
        }
        s.piiValues = types.mapValues(\.count)
        for (_, c) in valueCount { s.duplication[duplicationBucket(c), default: 0] += 1 }
        s.tokens = tokenCount?(records.map(\.text))
        return s
    }
}

public enum CorpusSplit {
    /// Splits subjects (never a subject's records) into two sets with a seeded shuffle; `fraction`
    /// of the subjects go to the first. Returns the subject lists.
    public static func bySubject(_ subjects: [String], fraction: Double, seed: UInt64) -> (a: Set<String>, b: Set<String>) {
        var rng = SynthRNG(synth: seed)
        let s = Array(Set(subjects)).sorted().seededShuffled(using: &rng)
        let k = Int((Double(s.count) * fraction).rounded())
        return (Set(s.prefix(k)), Set(s.dropFirst(k)))
    }
}
