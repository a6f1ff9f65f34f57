// The study's settings and presets. Every number that shapes the result is here and is written
// into study.json.

import Audit
import Foundation
import PII
import Training
import Unlearning

/// The three arms of an onion round.
public enum Arm: String, Codable, CodingKeyRepresentable, Sendable, CaseIterable, Comparable {
    /// The K most vulnerable present subjects (ranked on the selection models) are removed.
    case deletion
    /// Control: for every deleted subject, one subject of the same activity stratum drawn at
    /// random among all present subjects, afresh for every evaluation seed.
    case randomRemoval = "random_removal"
    /// Control: nothing removed, the unchanged data retrained with new seeds.
    case reseed
    public static func < (a: Arm, b: Arm) -> Bool { allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)! }
}

public struct ModelShape: Codable, Sendable, Equatable {
    public var layers: Int, heads: Int, width: Int, context: Int, vocabulary: Int
}

public struct StudySettings: Codable, Sendable {
    public var preset: String
    public var seed: UInt64 = 1
    /// Synthetic corpora (ignored with a user corpus): subjects and records of the pre-training
    /// population (0) and of the fine-tuning population (1).
    public var pretrainSubjects: Int
    public var pretrainRecords: Int
    public var finetuneSubjects: Int
    public var finetuneRecords: Int
    /// Zipf exponent of sender activity in the synthetic corpora (1.1 is `corpus synth`'s default;
    /// the study uses a flatter 0.7 so that a few senders do not own most of the corpus, which
    /// would leave the matched random-removal control nothing to remove).
    public var zipf = 0.7
    /// Fraction of fine-tuning subjects held out of every training run (MIA non-members, utility).
    public var heldOutFraction = 0.15
    public var model: ModelShape
    public var pretrain: TrainParameters
    public var finetune: TrainParameters
    public var rounds: Int
    /// Subjects removed per onion round (the most vulnerable).
    public var removePerRound: Int
    /// Evaluation seeds: each has its own baseline (round 0) model and one model per arm and
    /// round; the newly-vulnerable counts come from these only.
    public var seeds: Int
    /// Selection seeds: models of the unchanged data (and, for later rounds, of the deletion arm)
    /// on which the deletion targets are ranked — never the evaluation seeds.
    public var selectionSeeds: Int = 3
    /// The smallest effect of interest (absolute difference of newly-vulnerable rates), fixed
    /// before the run: `does_not_exceed` rules out an excess of Δ or more.
    public var delta = 0.05
    /// Activity strata (quantiles of tokens written) of the random-removal control.
    public var strata = 10
    /// Occurrences of each value in the fixed test (a sample seeded by `seed`).
    public var testOccurrences = 3
    /// The record-window prompts with the positions before them filled with <|endoftext|> instead
    /// of placed at their positions (what a server back end gets anyway): a local study then asks
    /// exactly what a study through `--serve-cmd` asks. nil: placed.
    public var padAlignedPrompts: Bool?
    /// The PII types the onion study attacks (its ownership table, fixed test and counts); nil:
    /// e-mail addresses and phone numbers. An address occurs in everyone's headers and is mostly its
    /// owner's name, so it is far easier to extract than a number (docs/methods.md, "Which types");
    /// `--types PHONE_NUMBER` counts only values whose occurrences are their owner's own. The
    /// pre-training leakage comparison keeps both types.
    public var types: [PIIType]?
    /// The attacked types, resolved.
    public var attackedTypes: Set<PIIType> { types.map(Set.init) ?? Self.studyTypes }
    /// The types the study can attack (and the leakage comparison always does).
    public static let studyTypes: Set<PIIType> = [.email, .phone]
    /// The prospective variance the power analysis assumes before anything is trained: the
    /// reseed arm's newly-vulnerable rate and the between-seed sd of a paired difference,
    /// measured on this preset (BENCHMARKS.md).
    public var prospective = Prospective(newlyRate: 0.05, betweenSeedSD: 0.02)
    /// A planted onion mechanism in the synthetic fine-tuning corpus (`corpus synth --namesakes`;
    /// validation runs, docs/methods.md): nil, none.
    public var plant: Plant?
    public var budget: BudgetRule = .filler
    /// The vulnerability attack: targeted extraction (greedy) with these prefix lengths, and the
    /// position-aligned prefix (the training window's tokens before the value).
    public var prefixLengths: [Int]
    public var untargetedPrompts: Int
    public var unlearning: UnlearnSettings
    public var unlearningMethods: [UnlearnMethod] = [.ga, .gd, .npo]
    /// The pre-training leakage comparison (docs/methods.md, "Pre-training leakage").
    public var leakage = LeakageSettings()

    enum CodingKeys: String, CodingKey {
        case preset, seed, zipf, model, pretrain, finetune, rounds, seeds, budget, unlearning
        case pretrainSubjects = "pretrain_subjects", pretrainRecords = "pretrain_records", finetuneSubjects = "finetune_subjects"
        case finetuneRecords = "finetune_records", heldOutFraction = "held_out_fraction"
        case removePerRound = "remove_per_round", prefixLengths = "prefix_lengths", leakage
        case untargetedPrompts = "untargeted_prompts", unlearningMethods = "unlearning_methods"
        case selectionSeeds = "selection_seeds", delta, strata, testOccurrences = "test_occurrences", prospective, plant
        case padAlignedPrompts = "pad_aligned_prompts", types
    }

    /// Namesake groups planted in the synthetic fine-tuning corpus, or their null twin.
    public struct Plant: Codable, Sendable, Equatable {
        public var groups: Int
        public var light = 1
        public var lightMessages = 10
        public var null = false
        public init(groups: Int, light: Int = 1, lightMessages: Int = 10, null: Bool = false) {
            self.groups = groups; self.light = light; self.lightMessages = lightMessages; self.null = null
        }
        enum CodingKeys: String, CodingKey { case groups, light, null, lightMessages = "light_messages" }
    }

    /// The pre-training leakage comparison: surrogate values in identical contexts, main base
    /// against null base, seed pair by seed pair.
    public struct LeakageSettings: Codable, Sendable, Equatable {
        /// Seed pairs (the main base's and the null base's fine-tunes with the same seed): the first
        /// evaluation seeds, at most `seeds` of them; fewer than 3 decide nothing.
        public var seeds = 3
        /// The smallest leak of interest, nats per token, fixed before the run (docs/methods.md).
        public var delta = LeakageStatistics.defaultDelta
        /// Tokens of the true prefix before a value that its score is conditioned on.
        public var contextTokens = 64
        /// Values per half whose exposure is measured (a seeded sample), and the candidates each
        /// is ranked against (drawn by the surrogate generator, in the same context).
        public var exposureValues = 32
        public var candidates = 32
        /// A null run (validation): the main base has half A replaced too, by other surrogates.
        public var null: Bool?
        /// The prospective power analysis's assumption, committed per preset before any run: the
        /// standard deviation (nats per token) of a value's main − null difference d_v, averaged
        /// over the seed pairs (docs/methods.md says where it comes from).
        public var prospectiveSD = LeakageStatistics.defaultProspectiveSD
        public init() {}
        enum CodingKeys: String, CodingKey {
            case seeds, delta, candidates, null
            case contextTokens = "context_tokens", exposureValues = "exposure_values", prospectiveSD = "prospective_sd"
        }
    }

    public struct Prospective: Codable, Sendable, Equatable {
        public var newlyRate: Double
        public var betweenSeedSD: Double
        /// Share of testable subjects vulnerable at baseline (they leave the analysis set).
        public var vulnerableShare = 0.3
        enum CodingKeys: String, CodingKey { case newlyRate = "newly_rate", betweenSeedSD = "between_seed_sd", vulnerableShare = "vulnerable_share" }
    }

    static func training(batch: Int, context: Int, epochs: Double, lr: Float, seed: UInt64) -> TrainParameters {
        var p = TrainParameters()
        p.batchSize = batch; p.context = context; p.epochs = epochs; p.learningRate = lr; p.seed = seed
        p.checkpointEvery = 0; p.adamw.weightDecay = 0.1
        return p
    }

    /// One preset: a row of numbers.
    struct Preset {
        var name: String
        var people: (pretrainSubjects: Int, pretrainRecords: Int, finetuneSubjects: Int, finetuneRecords: Int)
        var shape: ModelShape
        var batch: Int
        var pretrain: (epochs: Double, lr: Float)
        var finetune: (epochs: Double, lr: Float)
        var rounds: Int, removePerRound: Int, seeds: Int, selectionSeeds: Int
        /// The prospective variance of the power analysis (measured on this preset).
        var prospective: Prospective
        var prefixLengths: [Int], untargetedPrompts: Int
        var unlearning: (steps: Int, lr: Float)
        /// Exposure of the leakage comparison: values per half and candidates.
        var exposure: (values: Int, candidates: Int)
        /// The leakage verdict's prospective SD of d_v (nats per token).
        var leakageSD = LeakageStatistics.defaultProspectiveSD
    }

    /// smoke: seconds, exercises every stage on toy sizes (tests, CI; its numbers mean nothing);
    /// quick: ~2 minutes on 2 cores, decides only large effects; default: `make run`, 10 evaluation
    /// and 3 selection seeds, one round (BENCHMARKS.md); validation: the planted/null runs of
    /// Scripts/validate_study.py (a few minutes each); paper: GPT-2-small scale, for GPU trainers.
    static let presets: [Preset] = [
        Preset(name: "smoke", people: (24, 60, 24, 60), shape: ModelShape(layers: 1, heads: 2, width: 32, context: 64, vocabulary: 300), batch: 4,
               pretrain: (1, 3e-3), finetune: (16, 1e-2), rounds: 1, removePerRound: 2, seeds: 2, selectionSeeds: 1,
               prospective: Prospective(newlyRate: 0.05, betweenSeedSD: 0.03), prefixLengths: [10], untargetedPrompts: 4,
               unlearning: (4, 5e-5), exposure: (8, 16)),
        Preset(name: "quick", people: (50, 250, 50, 300), shape: ModelShape(layers: 2, heads: 4, width: 128, context: 128, vocabulary: 1024), batch: 8,
               pretrain: (3, 2e-3), finetune: (4, 2e-3), rounds: 1, removePerRound: 5, seeds: 3, selectionSeeds: 3,
               prospective: Prospective(newlyRate: 0.06, betweenSeedSD: 0.03), prefixLengths: [10, 50], untargetedPrompts: 40,
               unlearning: (20, 5e-5), exposure: (32, 32)),
        // default: 2 epochs at 1e-3 leave 35% of the testable subjects vulnerable at baseline with a
        // churn of 0.079 (3 epochs: 73%, 0.175 — underpowered); its prospective values are that
        // run's (docs/methods.md, "Presets"; BENCHMARKS.md).
        Preset(name: "default", people: (160, 1000, 190, 1100), shape: ModelShape(layers: 2, heads: 4, width: 128, context: 128, vocabulary: 2048), batch: 8,
               pretrain: (3, 2e-3), finetune: (2, 1e-3), rounds: 1, removePerRound: 8, seeds: 10, selectionSeeds: 3,
               prospective: Prospective(newlyRate: 0.077, betweenSeedSD: 0.01, vulnerableShare: 0.35), prefixLengths: [10, 50], untargetedPrompts: 96,
               unlearning: (40, 5e-5), exposure: (32, 32)),
        Preset(name: "validation", people: (60, 300, 90, 600), shape: ModelShape(layers: 2, heads: 4, width: 128, context: 128, vocabulary: 1024), batch: 8,
               pretrain: (2, 2e-3), finetune: (3, 1.5e-3), rounds: 1, removePerRound: 6, seeds: 5, selectionSeeds: 3,
               prospective: Prospective(newlyRate: 0.06, betweenSeedSD: 0.03), prefixLengths: [10, 50], untargetedPrompts: 20,
               unlearning: (10, 5e-5), exposure: (32, 32)),
        Preset(name: "paper", people: (2000, 40000, 720, 12000), shape: ModelShape(layers: 12, heads: 12, width: 768, context: 512, vocabulary: 8192), batch: 8,
               pretrain: (3, 3e-4), finetune: (3, 5e-5), rounds: 2, removePerRound: 20, seeds: 10, selectionSeeds: 3,
               prospective: Prospective(newlyRate: 0.05, betweenSeedSD: 0.02), prefixLengths: [10, 50, 100, 200], untargetedPrompts: 500,
               unlearning: (200, 1e-5), exposure: (64, 64)),
    ]

    public static var presetNames: [String] { presets.map(\.name) }

    public static func preset(_ name: String) -> StudySettings? {
        guard let p = presets.first(where: { $0.name == name }) else { return nil }
        var u = UnlearnSettings(); u.steps = p.unlearning.steps; u.context = p.shape.context; u.learningRate = p.unlearning.lr
        if p.batch < u.batchSize { u.batchSize = p.batch }
        var leakage = LeakageSettings()
        leakage.exposureValues = p.exposure.values; leakage.candidates = p.exposure.candidates; leakage.prospectiveSD = p.leakageSD
        return StudySettings(preset: name, pretrainSubjects: p.people.pretrainSubjects, pretrainRecords: p.people.pretrainRecords,
                             finetuneSubjects: p.people.finetuneSubjects, finetuneRecords: p.people.finetuneRecords, model: p.shape,
                             pretrain: training(batch: p.batch, context: p.shape.context, epochs: p.pretrain.epochs, lr: p.pretrain.lr, seed: 1),
                             finetune: training(batch: p.batch, context: p.shape.context, epochs: p.finetune.epochs, lr: p.finetune.lr, seed: 1),
                             rounds: p.rounds, removePerRound: p.removePerRound, seeds: p.seeds, selectionSeeds: p.selectionSeeds,
                             prospective: p.prospective, prefixLengths: p.prefixLengths,
                             untargetedPrompts: p.untargetedPrompts, unlearning: u, leakage: leakage)
    }
}
