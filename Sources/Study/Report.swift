// study.json — schema "shallot.study/1" (docs/study-schema.md).

import Audit
import Foundation
import Unlearning

public struct SeedResult: Codable, Sendable {
    public var seed: UInt64
    public var vulnerable: [String]
    public var newlyVulnerable: [String]
    /// Share of the previous round's vulnerable subjects (still present) that are vulnerable again.
    public var persistence: Double?
    /// Jaccard overlap of this round's vulnerable set with the previous round's (present subjects).
    public var jaccardPrevious: Double?
    /// Jaccard overlap with the union of all earlier rounds' vulnerable sets.
    public var jaccardEarlier: Double?
    /// Subjects present and never vulnerable before (the denominator of the newly-vulnerable rate).
    public var eligible: Int
    public var extractedValues: Int
    public var values: Int
    /// Removed subjects whose values the model still produces (from other people's records).
    public var removedStillExtractable: Int
    public var trainSteps: Int
    public var finalLoss: Double
    enum CodingKeys: String, CodingKey {
        case seed, vulnerable, persistence, eligible, values
        case newlyVulnerable = "newly_vulnerable", jaccardPrevious = "jaccard_previous", jaccardEarlier = "jaccard_earlier"
        case extractedValues = "extracted_values", removedStillExtractable = "removed_still_extractable", trainSteps = "train_steps", finalLoss = "final_loss"
    }
}

public struct ArmSummary: Codable, Sendable {
    public var vulnerableMean: Double
    public var newlyVulnerableMean: Double
    /// Newly vulnerable / eligible, pooled over seeds, with a 95% bootstrap interval over subjects.
    public var newlyVulnerableRate: Double
    public var newlyVulnerableRateCI: Interval
    public var persistenceMean: Double?
    public var jaccardPreviousMean: Double?
    enum CodingKeys: String, CodingKey {
        case vulnerableMean = "vulnerable_mean", newlyVulnerableMean = "newly_vulnerable_mean", newlyVulnerableRate = "newly_vulnerable_rate"
        case newlyVulnerableRateCI = "newly_vulnerable_rate_ci_95", persistenceMean = "persistence_mean", jaccardPreviousMean = "jaccard_previous_mean"
    }
}

public struct ArmSeeds: Codable, Sendable {
    public var results: [SeedResult]
    public var summary: ArmSummary
}

public struct ArmRound: Codable, Sendable {
    /// Subjects removed in this round (keys), and the cumulative removal.
    public var removed: [String]
    public var removedTotal: Int
    public var removedRecords: Int
    public var removedTokens: Int
    /// Random removal: the deletion arm's removed records it had to match (it may fall short
    /// when too few non-vulnerable subjects remain).
    public var recordsToMatch: Int?
    /// First seed's sets.
    public var vulnerable: [String]
    public var newlyVulnerable: [String]
    public var seeds: ArmSeeds
    enum CodingKeys: String, CodingKey {
        case removed, vulnerable, seeds
        case removedTotal = "removed_total", removedRecords = "removed_records", removedTokens = "removed_tokens", newlyVulnerable = "newly_vulnerable", recordsToMatch = "records_to_match"
    }
}

public struct StudyRound: Codable, Sendable {
    public var round: Int
    public var arms: [String: ArmRound]
    /// Plain statement: does the deletion arm's newly-vulnerable rate exceed both controls'?
    public var verdict: String
    public var deletionExceedsControls: Bool
    enum CodingKeys: String, CodingKey { case round, arms, verdict, deletionExceedsControls = "deletion_exceeds_controls" }
}

public struct ModelLeak: Codable, Sendable {
    public var extracted: Int
    public var values: Int
    public var rate: Double
    /// AUC of the log-likelihood per token of the pre-training target values (seen by the base)
    /// against never-seen values of the same population.
    public var seenVsUnseenAUC: Double
    public var meanLogLikelihoodTargets: Double
    public var meanLogLikelihoodUnseen: Double
    enum CodingKeys: String, CodingKey {
        case extracted, values, rate
        case seenVsUnseenAUC = "seen_vs_unseen_auc", meanLogLikelihoodTargets = "mean_log_likelihood_targets", meanLogLikelihoodUnseen = "mean_log_likelihood_unseen"
    }
}

public struct PretrainingLeakage: Codable, Sendable {
    public var pretraining: Int
    public var finetuning: Int
    public var both: Int
    public var neither: Int
    /// Distinct values the fine-tuned model produced (untargeted attack + targeted attack on P's values).
    public var total: Int
    /// Greedy extraction and scores of the target values under each model: "base", "control_base",
    /// "finetuned", "control_finetuned".
    public var models: [String: ModelLeak]
    /// Difference-in-differences: fine-tuned minus control fine-tuned.
    public var extractionRateDifference: Double
    public var aucDifference: Double
    public var targetValues: Int
    public var unseenValues: Int
    public var verdict: String
    enum CodingKeys: String, CodingKey {
        case pretraining, finetuning, both, neither, total, models, verdict
        case extractionRateDifference = "extraction_rate_difference", aucDifference = "auc_difference"
        case targetValues = "target_values", unseenValues = "unseen_values"
    }
}

public struct UnlearningRow: Codable, Sendable {
    public var method: String
    /// Forget subjects with a value still extracted; the forget set's values extracted.
    public var forgetVulnerable: Int
    public var forgetExtractedValues: Int
    public var forgetValues: Int
    public var forgetMeanLogLikelihood: Double
    /// Loss-score MIA AUC, forget records vs held-out records (0.5 = looks like a non-member).
    public var forgetMIAAUC: Double
    public var retainPerplexity: Double
    public var heldOutPerplexity: Double
    /// Subjects outside the forget set vulnerable now but not under the original model.
    public var newlyVulnerableOthers: Int
    public var steps: Int?
    enum CodingKeys: String, CodingKey {
        case method, steps
        case forgetVulnerable = "forget_vulnerable", forgetExtractedValues = "forget_extracted_values", forgetValues = "forget_values"
        case forgetMeanLogLikelihood = "forget_mean_log_likelihood", forgetMIAAUC = "forget_mia_auc", retainPerplexity = "retain_perplexity"
        case heldOutPerplexity = "held_out_perplexity", newlyVulnerableOthers = "newly_vulnerable_others"
    }
}

public struct StudyBaseline: Codable, Sendable {
    public var seeds: [SeedResult]
    /// Extraction rate by duplication of the first seed's audit.
    public var extractionByDuplication: [String: [String: Int]]
    public var subjects: Int
    enum CodingKeys: String, CodingKey { case seeds, subjects, extractionByDuplication = "extraction_by_duplication" }
}

public struct StudyReport: Codable, Sendable {
    public var schema = "shallot.study/1"
    public var software: String
    public var created: String
    public var settings: StudySettings
    public var corpus: [String: String]
    public var models: [String: [String: String]]
    public var baseline: StudyBaseline
    public var rounds: [StudyRound]
    public var pretrainingLeakage: PretrainingLeakage
    public var unlearning: [UnlearningRow]
    public var findings: [String]
    public var seconds: Double
    enum CodingKeys: String, CodingKey {
        case schema, software, created, settings, corpus, models, baseline, rounds, unlearning, findings, seconds
        case pretrainingLeakage = "pretraining_leakage"
    }
}
