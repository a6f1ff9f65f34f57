// audit.json (schema "shallot.audit/1", documented in docs/audit-schema.md): every setting and
// seed, model and corpus hashes, one row per PII value and per subject, aggregate metrics.
// Values and subject ids are stored as salted hashes plus a masked form unless revealed.

import Crypto
import Foundation
import PII

public struct AuditSettings: Codable, Sendable {
    public var attacks: [String]
    public var types: [String]
    public var extraction: ExtractionSettings
    public var untargeted = UntargetedSettings()
    public var exposureValues: Int
    public var exposureCandidates: Int
    public var exposureContextTokens: Int
    public var bootstrapResamples: Int
    public var limit: Int?
    /// Audit a seeded uniform sample of this many values instead of all.
    public var sample: Int?
    public var seed: UInt64
    public var revealPII: Bool
    enum CodingKeys: String, CodingKey {
        case attacks, types, extraction, untargeted, limit, sample, seed
        case exposureValues = "exposure_values", exposureCandidates = "exposure_candidates", exposureContextTokens = "exposure_context_tokens"
        case bootstrapResamples = "bootstrap_resamples", revealPII = "reveal_pii"
    }
    public init(attacks: [String], types: [String], extraction: ExtractionSettings, exposureValues: Int, exposureCandidates: Int,
                exposureContextTokens: Int, bootstrapResamples: Int, limit: Int?, seed: UInt64, revealPII: Bool) {
        self.attacks = attacks; self.types = types; self.extraction = extraction; self.exposureValues = exposureValues
        self.exposureCandidates = exposureCandidates; self.exposureContextTokens = exposureContextTokens
        self.bootstrapResamples = bootstrapResamples; self.limit = limit; self.seed = seed; self.revealPII = revealPII
    }
}

extension AuditSettings {
    /// Greedy targeted extraction only, values revealed: the vulnerability verdict the study and
    /// the ledger's verification use.
    public static func targetedOnly(prefixLengths: [Int], types: [String], seed: UInt64 = 0) -> AuditSettings {
        var ex = ExtractionSettings(); ex.prefixLengths = prefixLengths
        return AuditSettings(attacks: ["extraction"], types: types, extraction: ex, exposureValues: 0, exposureCandidates: 0,
                             exposureContextTokens: 64, bootstrapResamples: 0, limit: nil, seed: seed, revealPII: true)
    }
}

public struct AuditValueRow: Codable, Sendable {
    public var id: String
    public var type: String
    public var masked: String
    public var value: String?
    public var owner: String
    public var occurrences: Int
    public var extracted: Bool?
    public var smallestExtractingK: Int?
    public var sampleHitRate: Double?
    public var exposure: ExposureResult?
    /// Mean log-probability per token of the value after its true prefix (the continuous score).
    public var logLikelihoodPerToken: Double?
    /// The association attack produced this address from its owner's name.
    public var associated: Bool?
    /// With a base model (--reference): whether the base model's targeted extraction produced it too.
    public var baseExtracted: Bool?
    /// For extracted values with a base model: "finetuning" (only the fine-tuned model leaks it) or
    /// "both" (the base leaks it too, or its pre-training corpus holds it).
    public var lineage: String?
    enum CodingKeys: String, CodingKey {
        case id, type, masked, value, owner, occurrences, extracted, exposure, associated, lineage
        case baseExtracted = "base_extracted"
        case smallestExtractingK = "smallest_extracting_k", sampleHitRate = "sample_hit_rate", logLikelihoodPerToken = "log_likelihood_per_token"
    }
}

public struct AuditSubjectRow: Codable, Sendable {
    public var subject: String
    public var masked: String
    public var records: Int
    public var values: Int
    public var extractedValues: Int
    public var vulnerable: Bool
    /// Ranking score: the highest log-likelihood per token among the subject's values.
    public var score: Double?
    public var maxExposure: Double?
    enum CodingKeys: String, CodingKey {
        case subject, masked, records, values, vulnerable, score
        case extractedValues = "extracted_values", maxExposure = "max_exposure"
    }
}

public struct AuditCanaryRow: Codable, Sendable {
    public var secretHash: String
    public var repeats: Int
    /// Whether the canary's records were in the audited corpus (a member).
    public var member: Bool
    public var extracted: Bool
    public var exposure: ExposureResult
    enum CodingKeys: String, CodingKey { case repeats, member, extracted, exposure, secretHash = "secret_hash" }
}

public struct AuditReport: Codable, Sendable {
    public var schema = "shallot.audit/1"
    public var software: String
    public var created: String
    public var settings: AuditSettings
    public var model: [String: String]
    public var corpus: [String: String]
    public var summary: [String: Double]
    public var extractionByDuplication: [String: [String: Int]]
    public var values: [AuditValueRow]
    public var subjects: [AuditSubjectRow]
    public var membershipInference: [String: MIAMetrics]?
    public var canaries: [AuditCanaryRow]?
    public var untargeted: UntargetedResult?
    public var association: AssociationResult?
    /// Extracted values by lineage (targeted attack; only with a base model).
    public var targetedLineage: [String: Int]?
    enum CodingKeys: String, CodingKey {
        case schema, software, created, settings, model, corpus, summary, values, subjects, canaries, untargeted, association
        case targetedLineage = "targeted_lineage"
        case extractionByDuplication = "extraction_by_duplication", membershipInference = "membership_inference"
    }
}

/// Salted, keyed hashes for values and subjects (HMAC-SHA256, first 16 hex digits).
public struct Hasher16: Sendable {
    let salt: Data
    public init(salt: Data) { self.salt = salt }
    public func callAsFunction(_ s: String) -> String {
        HMAC<SHA256>.authenticationCode(for: Data(s.utf8), using: SymmetricKey(data: salt)).prefix(8).map { String(format: "%02x", $0) }.joined()
    }
}
