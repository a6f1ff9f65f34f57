@testable import Audit
import Corpus
import Foundation
import Support
import Testing

/// Who the audit calls vulnerable (docs/methods.md, "Extraction"): a subject one of whose own values
/// a greedy continuation reproduced — from a k-token prefix or from an aligned one (the prompts
/// that see what position-bound training memorised). Samples alone, unowned values and other
/// people's values make no one vulnerable.
@Suite struct AuditSubjectRowTests {
    func row(_ id: String, owner: String?, k: Int? = nil, by: [String]? = nil, samples: Double? = nil, ll: Double? = nil) -> AuditValueRow {
        AuditValueRow(id: id, type: "phone", masked: "***", value: nil, owner: owner, occurrences: 3,
                      extracted: k != nil || !(by ?? []).isEmpty || (samples ?? 0) > 0, smallestExtractingK: k, sampleHitRate: samples,
                      extractionPrompts: 6, extractedBy: by, logLikelihoodPerToken: ll)
    }

    @Test func anAlignedPrefixHitMakesItsOwnerVulnerableASampleHitDoesNot() {
        let records = ["k", "aligned", "window", "sampled", "none"].map { Record(id: "r-\($0)", subject: $0, text: "x", source: "test") }
        let rows = [
            row("v1", owner: "k", k: 10, by: ["10"], ll: -0.5),
            row("v2", owner: "aligned", by: ["record_window"], ll: -0.2),
            row("v3", owner: "window", by: ["window"], ll: -0.9),
            row("v4", owner: "sampled", samples: 0.25, ll: -0.1),
            row("v5", owner: "none", by: [], ll: -3),
            row("v6", owner: nil, k: 10, by: ["10"]),
        ]
        let settings = AuditSettings(attacks: [.extraction], types: [.phone], extraction: ExtractionSettings(), exposureValues: 0, exposureCandidates: 0,
                                     exposureContextTokens: 0, bootstrapResamples: 0, limit: nil, seed: 1, revealPII: true)
        let out = AuditRunner.subjectRows(rows: rows, records: records, settings: settings, hash: Hasher16(salt: Data("0123456789abcdef".utf8)))
        let vulnerable = Dictionary(uniqueKeysWithValues: out.map { ($0.subject, $0.vulnerable) })
        #expect(vulnerable == ["k": true, "aligned": true, "window": true, "sampled": false, "none": false])
        // Vulnerable first, then by score.
        #expect(out.map(\.subject) == ["aligned", "k", "window", "sampled", "none"])
        #expect(out.first { $0.subject == "sampled" }?.extractedValues == 1)
    }
}
