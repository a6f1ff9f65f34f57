// study.json — schema "shallot.study/2" (docs/study-schema.md).

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
    /// Subjects present, never vulnerable before, and owning at least one value the attack
    /// prompted for (the denominator of the newly-vulnerable rate).
    public var eligible: Int
    public var extractedValues: Int
    public var values: Int
    /// Removed subjects with one of their own values (ownership fixed before any deletion) still
    /// extracted from the remaining corpus — it lives on in other people's mail — and those values.
    public var removedStillExtractable: Int
    public var removedStillExtractableValues: Int
    /// Extracted values that belong to no subject (people who are not subjects), and values of
    /// held-out subjects (never trained on: their values came from other people's mail).
    public var unownedExtracted: Int
    public var heldOutOwnedExtracted: Int
    public var trainSteps: Int
    public var finalLoss: Double
    enum CodingKeys: String, CodingKey {
        case seed, vulnerable, persistence, eligible, values
        case newlyVulnerable = "newly_vulnerable", jaccardPrevious = "jaccard_previous", jaccardEarlier = "jaccard_earlier"
        case extractedValues = "extracted_values", removedStillExtractable = "removed_still_extractable", trainSteps = "train_steps", finalLoss = "final_loss"
        case removedStillExtractableValues = "removed_still_extractable_values", unownedExtracted = "unowned_extracted"
        case heldOutOwnedExtracted = "held_out_owned_extracted"
    }
}

public struct ArmSummary: Codable, Sendable {
    public var vulnerableMean: Double
    public var newlyVulnerableMean: Double
    /// Mean over seeds of newly vulnerable / eligible, with a 95% hierarchical-bootstrap interval
    /// (seeds, then subjects within each seed; Verdict.swift).
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
    /// Records and tokens removed in this round, and records removed in all rounds so far.
    public var removedRecords: Int
    public var removedTokens: Int
    public var cumulativeRecords: Int
    /// Random removal: the deletion arm's cumulative removed records it had to match, whether it
    /// did (within 10%), and how many of its subjects came from the fallback list (the least
    /// exposed of the subjects once vulnerable) because the never-vulnerable ones ran out.
    public var recordsToMatch: Int?
    public var matched: Bool?
    public var fallbackSubjects: Int?
    /// First seed's sets.
    public var vulnerable: [String]
    public var newlyVulnerable: [String]
    public var seeds: ArmSeeds
    enum CodingKeys: String, CodingKey {
        case removed, vulnerable, seeds
        case removedTotal = "removed_total", removedRecords = "removed_records", removedTokens = "removed_tokens", newlyVulnerable = "newly_vulnerable", recordsToMatch = "records_to_match"
        case cumulativeRecords = "cumulative_records", matched, fallbackSubjects = "fallback_subjects"
    }
}

public struct StudyRound: Codable, Sendable {
    public var round: Int
    public var arms: [Arm: ArmRound]
    /// Does the deletion arm's newly-vulnerable rate exceed both controls'? (Verdict.swift)
    public var verdict: RoundVerdict
    /// The verdict in a sentence.
    public var statement: String
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
    /// Mean Secret-Sharer exposure (normal-fit estimate, bits) of the target and unseen values
    /// against sampled candidates of the same format in the same context.
    public var meanExposureTargets: Double
    public var meanExposureUnseen: Double
    enum CodingKeys: String, CodingKey {
        case extracted, values, rate
        case seenVsUnseenAUC = "seen_vs_unseen_auc", meanLogLikelihoodTargets = "mean_log_likelihood_targets", meanLogLikelihoodUnseen = "mean_log_likelihood_unseen"
        case meanExposureTargets = "mean_exposure_targets", meanExposureUnseen = "mean_exposure_unseen"
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
    /// 95% bootstrap interval of `auc_difference` (target and unseen values resampled, the same
    /// resample for both models), its minimum detectable effect, and the verdict on it.
    public var aucDifferenceCI: Interval
    public var aucDifferenceMDE: Double
    public var outcome: VerdictOutcome
    public var reasons: [String]
    public var targetValues: Int
    public var unseenValues: Int
    /// Untargeted generations behind the attribution, and how many were distinct.
    public var generations: Int
    public var distinctGenerations: Int
    /// The findings in a sentence.
    public var statement: String
    enum CodingKeys: String, CodingKey {
        case pretraining, finetuning, both, neither, total, models, statement, outcome, reasons, generations
        case extractionRateDifference = "extraction_rate_difference", aucDifference = "auc_difference"
        case aucDifferenceCI = "auc_difference_ci_95", aucDifferenceMDE = "auc_difference_mde", distinctGenerations = "distinct_generations"
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

/// Who owns the fine-tuning corpus's values (decided once, before any deletion; the full table
/// is in DIR/ownership.json, owner-only).
public struct OwnershipSummary: Codable, Sendable, Equatable {
    public var values: Int
    public var owned: Int
    public var unowned: Int
    /// Values owned, by type.
    public var ownedByType: [String: Int]
    /// Subjects (training members) who own at least one value.
    public var subjectsWithValues: Int
    enum CodingKeys: String, CodingKey { case values, owned, unowned, ownedByType = "owned_by_type", subjectsWithValues = "subjects_with_values" }
}

public struct StudyReport: Codable, Sendable {
    public var schema = "shallot.study/2"
    public var software: String
    public var created: String
    public var settings: StudySettings
    public var corpus: [String: String]
    public var models: [String: [String: String]]
    public var ownership: OwnershipSummary
    public var baseline: StudyBaseline
    public var rounds: [StudyRound]
    public var pretrainingLeakage: PretrainingLeakage
    public var unlearning: [UnlearningRow]
    public var findings: [String]
    public var seconds: Double
    enum CodingKeys: String, CodingKey {
        case schema, software, created, settings, corpus, models, ownership, baseline, rounds, unlearning, findings, seconds
        case pretrainingLeakage = "pretraining_leakage"
    }
}
