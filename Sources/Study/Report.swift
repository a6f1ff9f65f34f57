// study.json — schema "shallot.study/3" (docs/study-schema.md).

import Audit
import Corpus
import Foundation
import Unlearning

/// One model of an arm in one round: an evaluation seed's result on the fixed test.
public struct SeedResult: Codable, Sendable {
    /// The evaluation seed's index and the training seed of this model.
    public var evaluationSeed: Int
    public var trainingSeed: UInt64
    /// Subjects (keys) vulnerable under this model, among those present in this arm.
    public var vulnerable: [String]
    /// Newly vulnerable: analysis-set subjects vulnerable under this model (not vulnerable under
    /// the seed's baseline model, present in every arm, testable).
    public var newlyVulnerable: [String]
    /// The seed's analysis set (the same for every arm of the round) and this arm's rate on it.
    public var analysisSet: Int
    public var newlyVulnerableRate: Double?
    /// Subjects this arm removed (cumulative), their records and tokens.
    public var removedSubjects: Int
    public var removedRecords: Int
    public var removedTokens: Int
    /// Collateral removal: analysis-set subjects with occurrences of their own values in records
    /// this arm removed, and those occurrences.
    public var collateralSubjects: Int
    public var collateralOccurrences: Int
    public var extractedValues: Int
    public var values: Int
    /// Values extracted by each prefix of the fixed test ("10", "50", "record_window").
    public var extractedByPrefix: [String: Int]
    /// Removed subjects with one of their own values still extracted — it lives on in other
    /// people's mail — and those values.
    public var removedStillExtractable: Int
    public var removedStillExtractableValues: Int
    /// Extracted values that belong to no subject, and values of held-out subjects.
    public var unownedExtracted: Int
    public var heldOutOwnedExtracted: Int
    public var trainSteps: Int
    public var finalLoss: Double
    enum CodingKeys: String, CodingKey {
        case vulnerable, values
        case evaluationSeed = "evaluation_seed", trainingSeed = "training_seed", newlyVulnerable = "newly_vulnerable", analysisSet = "analysis_set"
        case newlyVulnerableRate = "newly_vulnerable_rate", removedSubjects = "removed_subjects", removedRecords = "removed_records", removedTokens = "removed_tokens"
        case collateralSubjects = "collateral_subjects", collateralOccurrences = "collateral_occurrences"
        case extractedValues = "extracted_values", extractedByPrefix = "extracted_by_prefix", removedStillExtractable = "removed_still_extractable"
        case removedStillExtractableValues = "removed_still_extractable_values", unownedExtracted = "unowned_extracted"
        case heldOutOwnedExtracted = "held_out_owned_extracted", trainSteps = "train_steps", finalLoss = "final_loss"
    }
}

public struct ArmSummary: Codable, Sendable {
    public var vulnerableMean: Double
    public var newlyVulnerableMean: Double
    /// Mean over evaluation seeds of newly vulnerable / analysis set.
    public var newlyVulnerableRate: Double
    public var analysisSetMean: Double
    /// Share of analysis-set subjects (over seeds) with collateral removal in this arm.
    public var collateralShare: Double
    enum CodingKeys: String, CodingKey {
        case vulnerableMean = "vulnerable_mean", newlyVulnerableMean = "newly_vulnerable_mean", newlyVulnerableRate = "newly_vulnerable_rate"
        case analysisSetMean = "analysis_set_mean", collateralShare = "collateral_share"
    }
}

public struct ArmRound: Codable, Sendable {
    /// Subjects removed in this round (keys): the deletion arm's targets (the same for every
    /// seed); the random control's draws per evaluation seed; nothing for reseeding.
    public var removedPerSeed: [[String]]
    public var seeds: [SeedResult]
    public var summary: ArmSummary
    enum CodingKeys: String, CodingKey { case seeds, summary, removedPerSeed = "removed_per_seed" }
}

/// Whether the random control removed as much as the deletion arm did.
public struct ControlBalance: Codable, Sendable {
    /// Per evaluation seed: tokens the random control removed (cumulative) / tokens the deletion
    /// arm removed; their median, and whether it lies within [0.67, 1.5].
    public var tokenRatios: [Double]
    public var medianTokenRatio: Double
    public var matched: Bool
    /// Draws that had to leave their deleted subject's activity stratum (none left in it), and
    /// deleted subjects for whom no present subject was left at all.
    public var outOfStratum: Int
    public var unmatched: Int
    /// Mean over seeds of the share of the deletion targets the random control removed too (its
    /// pool holds every present subject, the targets included: the contrast shrinks by this share).
    public var overlapWithTargets: Double
    /// Mean over seeds of the share of analysis-set subjects with collateral removal, per arm.
    public var collateralShare: [Arm: Double]
    enum CodingKeys: String, CodingKey {
        case matched
        case unmatched, overlapWithTargets = "overlap_with_targets"
        case tokenRatios = "token_ratios", medianTokenRatio = "median_token_ratio", outOfStratum = "out_of_stratum", collateralShare = "collateral_share"
    }
}

public struct StudyRound: Codable, Sendable {
    public var round: Int
    /// Round 1 is the primary endpoint; later rounds are secondary.
    public var primary: Bool
    /// The deletion targets (keys) and how many selection models they were ranked on.
    public var deletionTargets: [String]
    public var selectionModels: Int
    public var arms: [Arm: ArmRound]
    public var balance: ControlBalance
    /// The paired counts per evaluation seed, against each control.
    public var paired: [Arm: [PairedSeed]]
    /// Does deleting the most vulnerable make others newly vulnerable? (OnionDecision.swift)
    public var verdict: OnionVerdict
    /// The same comparisons on the subjects no arm removed any of their values from (sensitivity).
    public var withoutCollateral: [OnionComparison]
    /// The secondary endpoint: the analysis set's mean change in extraction score (log-likelihood
    /// per token, deletion − control) per evaluation seed, with its t interval.
    public var scoreChange: [OnionScoreChange]
    /// The verdict in a sentence.
    public var statement: String
    enum CodingKeys: String, CodingKey {
        case round, primary, arms, balance, paired, verdict, statement
        case deletionTargets = "deletion_targets", selectionModels = "selection_models", withoutCollateral = "without_collateral", scoreChange = "score_change"
    }
}

/// The minimum detectable effect of the primary comparison, at three moments.
public struct PowerAnalysis: Codable, Sendable {
    /// Before anything is trained: from the preset's sizes and its committed prospective variance;
    /// nil (absent) when no test is possible at this size, with the reason in `prospectiveUnavailable`.
    public var prospective: Double?
    public var prospectiveUnavailable: String?
    public var prospectiveSubjects: Int
    /// After round 0: from the analysis sets' sizes and the evaluation baselines' churn (nil
    /// without an onion round, without churn, or with fewer than 2 evaluation seeds).
    public var afterRound0: Double?
    /// With the result: the larger of the two comparisons' MDEs.
    public var final: Double?
    enum CodingKeys: String, CodingKey {
        case prospective, final
        case prospectiveUnavailable = "prospective_unavailable", prospectiveSubjects = "prospective_subjects", afterRound0 = "after_round0"
    }
}

/// The study's design as run.
public struct StudyDesign: Codable, Sendable {
    public var evaluationSeeds: [UInt64]
    public var selectionSeeds: [UInt64]
    public var delta: Double
    public var strata: Int
    /// The fixed test: values, prompts by prefix, subjects it can make vulnerable.
    public var testValues: Int
    public var testPrompts: [String: Int]
    public var testableSubjects: Int
    public var power: PowerAnalysis
    /// Why the study stopped before deleting anyone (nil when it did not).
    public var stopped: String?
    enum CodingKeys: String, CodingKey {
        case delta, strata, power, stopped
        case evaluationSeeds = "evaluation_seeds", selectionSeeds = "selection_seeds", testValues = "test_values", testPrompts = "test_prompts"
        case testableSubjects = "testable_subjects"
    }
}

/// The pre-training leakage design as run (docs/methods.md, "Pre-training leakage").
public struct LeakageDesignSummary: Codable, Sendable {
    /// Which generator drew the surrogates: `synthetic` (the corpus generator's own draws) or
    /// `format_matched` (a user corpus: domain and layout kept, other characters drawn).
    public var surrogates: SurrogateKind
    /// A null run (validation): the main base had half A replaced too.
    public var null: Bool
    /// Target values per half, by type and by occurrences in P.
    public var targets: HalfCounts
    /// The targets scored (the verdict's values), and those left out because every occurrence's
    /// scored prefix holds a target value or a name replaced for another value.
    public var scored: HalfCounts
    public var withoutCleanPrefix: HalfCounts
    /// The verdict's prospective power, before anything is trained: the MDE of Welch's test on the
    /// scored values per half with d_v's SD assumed to be `prospectiveSD` (the preset's, committed
    /// before the run); nil with fewer than 2 scored values in a half.
    public var prospectiveMDE: Double?
    public var prospectiveSD: Double
    public var targetsByType: [String: HalfCounts]
    public var targetsByDuplication: [String: HalfCounts]
    /// P's subjects' values also in F (left out), P's values no subject of P owns, values no
    /// surrogate could be drawn for (left out).
    public var excludedInFinetuning: Int
    public var unowned: Int
    public var withoutSurrogate: Int
    /// Occurrences and names (full names, and first names in a text that holds the full name)
    /// replaced in each base's corpus; first names left there because another person named in the
    /// same text shares the word; and occurrences of a value a base must not have seen still found
    /// in its corpus (0).
    public var replacedOccurrences: [String: Int]
    public var replacedNames: [String: Int]
    public var firstNamesLeft: [String: Int]
    public var residualOccurrences: Int
    /// Seed pairs (the main base's and the null base's fine-tunes with the same seed) and their seeds.
    public var seedPairs: Int
    public var trainingSeeds: [UInt64]
    /// The primary score: log-likelihood per token of the value after up to this many tokens of
    /// its true prefix (at its scoring place: the first occurrence in P with a clean prefix).
    public var score = "log_likelihood_per_token"
    public var contextTokens: Int
    /// The exposure sample per half and the candidates each value is ranked against.
    public var exposureValues: HalfCounts
    public var exposureCandidates: Int
    enum CodingKeys: String, CodingKey {
        case surrogates, null, targets, score, scored
        case withoutCleanPrefix = "without_clean_prefix", prospectiveMDE = "prospective_mde", prospectiveSD = "prospective_sd"
        case targetsByType = "targets_by_type", targetsByDuplication = "targets_by_duplication", excludedInFinetuning = "excluded_in_finetuning"
        case unowned, withoutSurrogate = "without_surrogate", replacedOccurrences = "replaced_occurrences", replacedNames = "replaced_names"
        case firstNamesLeft = "first_names_left"
        case residualOccurrences = "residual_occurrences", seedPairs = "seed_pairs", trainingSeeds = "training_seeds", contextTokens = "context_tokens"
        case exposureValues = "exposure_values", exposureCandidates = "exposure_candidates"
    }
}

/// The secondary endpoint: the verdict's contrast on exposure (bits) instead of the score.
public struct LeakageExposure: Codable, Sendable {
    public var values: HalfCounts
    public var candidates: Int
    public var base: HalfContrast
    public var finetuned: HalfContrast
}

/// One model of the comparison.
public struct LeakageModelRow: Codable, Sendable {
    /// Its job id, role, and seed pair (nil for the bases) with the pair's training seed.
    public var id: String
    public var role: LeakageRole
    public var pair: Int?
    public var trainingSeed: UInt64?
    /// Mean score (nats/token) and exposure (bits) of each half's values.
    public var meanScoreA: Double
    public var meanScoreB: Double
    public var meanExposureA: Double
    public var meanExposureB: Double
    /// Values greedy decoding reproduces from a k-token true prefix, per half and by duplication.
    public var extracted: HalfCounts
    public var extractedByDuplication: [String: HalfCounts]
    enum CodingKeys: String, CodingKey {
        case id, role, pair, extracted
        case trainingSeed = "training_seed", meanScoreA = "mean_score_a", meanScoreB = "mean_score_b", meanExposureA = "mean_exposure_a"
        case meanExposureB = "mean_exposure_b", extractedByDuplication = "extracted_by_duplication"
    }
}

/// Distinct values a fine-tuned model produced, by the corpus that holds them.
public struct LeakageAttribution: Codable, Sendable {
    /// The model (the first evaluation seed's baseline).
    public var model: String
    public var pretraining: Int
    public var finetuning: Int
    public var both: Int
    public var neither: Int
    public var total: Int
    /// Untargeted generations behind it, and how many were distinct.
    public var generations: Int
    public var distinctGenerations: Int
    enum CodingKeys: String, CodingKey {
        case model, pretraining, finetuning, both, neither, total, generations
        case distinctGenerations = "distinct_generations"
    }
}

public struct PretrainingLeakage: Codable, Sendable {
    public var design: LeakageDesignSummary
    /// Does the fine-tuned model still know pre-training values? (LeakageDecision.swift)
    public var verdict: LeakageVerdict
    public var exposure: LeakageExposure
    public var models: [LeakageModelRow]
    public var attribution: LeakageAttribution
    /// The findings in a sentence.
    public var statement: String
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

/// One round-0 model (the unchanged corpus) on the fixed test.
public struct BaselineModel: Codable, Sendable {
    /// "evaluation" (its seed's baseline) or "selection" (ranks the deletion targets).
    public var role: String
    public var index: Int
    public var trainingSeed: UInt64
    /// Vulnerable training members (keys).
    public var vulnerable: [String]
    public var extractedValues: Int
    public var values: Int
    public var extractedByPrefix: [String: Int]
    public var unownedExtracted: Int
    public var trainSteps: Int
    public var finalLoss: Double
    enum CodingKeys: String, CodingKey {
        case role, index, vulnerable, values
        case trainingSeed = "training_seed", extractedValues = "extracted_values", extractedByPrefix = "extracted_by_prefix"
        case unownedExtracted = "unowned_extracted", trainSteps = "train_steps", finalLoss = "final_loss"
    }
}

public struct StudyBaseline: Codable, Sendable {
    public var models: [BaselineModel]
    /// Extraction rate by duplication of the first evaluation seed's model.
    public var extractionByDuplication: [String: [String: Int]]
    /// Training members, and those the fixed test can make vulnerable.
    public var subjects: Int
    /// Mean share of testable members vulnerable under the evaluation baselines.
    public var vulnerableShare: Double
    /// Between evaluation baselines: the share of subjects not vulnerable under one seed that are
    /// vulnerable under another (training noise alone; the reseed arm's expected newly rate).
    public var seedChurn: Double?
    enum CodingKeys: String, CodingKey {
        case models, subjects
        case extractionByDuplication = "extraction_by_duplication", vulnerableShare = "vulnerable_share", seedChurn = "seed_churn"
    }
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
    public var schema = "shallot.study/3"
    public var software: String
    public var created: String
    public var settings: StudySettings
    public var corpus: [String: String]
    public var models: [String: [String: String]]
    public var ownership: OwnershipSummary
    public var design: StudyDesign
    public var baseline: StudyBaseline
    public var rounds: [StudyRound]
    public var pretrainingLeakage: PretrainingLeakage
    public var unlearning: [UnlearningRow]
    public var findings: [String]
    public var seconds: Double
    enum CodingKeys: String, CodingKey {
        case schema, software, created, settings, corpus, models, ownership, design, baseline, rounds, unlearning, findings, seconds
        case pretrainingLeakage = "pretraining_leakage"
    }
}
