// The study's settings and presets. Every number that shapes the result is here and is written
// into study.json.

import Audit
import Foundation
import Training
import Unlearning

/// The three arms of an onion round.
public enum Arm: String, Codable, CodingKeyRepresentable, Sendable, CaseIterable, Comparable {
    /// The K most vulnerable present subjects are removed.
    case deletion
    /// Control: subjects never vulnerable are removed, matched on the deletion arm's records.
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
    /// Pre-training subjects: the share whose records the control base replaces by filler
    /// ("targets"), and the share never trained on by any model (their values, where no training
    /// record holds them, are the unseen comparison values: same generator, same population).
    public var pretrainTargetFraction = 0.3
    public var pretrainUnseenFraction = 0.2
    public var model: ModelShape
    public var pretrain: TrainParameters
    public var finetune: TrainParameters
    public var rounds: Int
    /// Subjects removed per onion round (the most vulnerable).
    public var removePerRound: Int
    public var seeds: Int
    public var budget: BudgetRule = .filler
    /// The vulnerability attack: targeted extraction (greedy) with these prefix lengths.
    public var prefixLengths: [Int]
    public var untargetedPrompts: Int
    public var unlearning: UnlearnSettings
    public var unlearningMethods: [UnlearnMethod] = [.ga, .gd, .npo]
    /// Resamples of the verdicts' hierarchical bootstrap (METHODS.md: at least 2,000).
    public var bootstrapResamples = 2000

    enum CodingKeys: String, CodingKey {
        case preset, seed, zipf, model, pretrain, finetune, rounds, seeds, budget, unlearning
        case pretrainSubjects = "pretrain_subjects", pretrainRecords = "pretrain_records", finetuneSubjects = "finetune_subjects"
        case finetuneRecords = "finetune_records", heldOutFraction = "held_out_fraction", pretrainTargetFraction = "pretrain_target_fraction"
        case pretrainUnseenFraction = "pretrain_unseen_fraction", removePerRound = "remove_per_round", prefixLengths = "prefix_lengths"
        case untargetedPrompts = "untargeted_prompts", unlearningMethods = "unlearning_methods", bootstrapResamples = "bootstrap_resamples"
    }

    static func training(batch: Int, context: Int, epochs: Double, lr: Float, seed: UInt64) -> TrainParameters {
        var p = TrainParameters()
        p.batchSize = batch; p.context = context; p.epochs = epochs; p.learningRate = lr; p.seed = seed
        p.checkpointEvery = 0; p.adamw.weightDecay = 0.1
        return p
    }

    /// quick: minutes on 2 cores; default: under half an hour; paper: GPT-2-small scale (hours to days).
    public static func preset(_ name: String) -> StudySettings? {
        switch name {
        case "smoke":
            // Seconds: exercises every stage on toy sizes (tests, CI); its numbers mean nothing.
            let shape = ModelShape(layers: 1, heads: 2, width: 32, context: 64, vocabulary: 300)
            var u = UnlearnSettings(); u.steps = 4; u.context = 64; u.batchSize = 4; u.learningRate = 5e-5
            return StudySettings(preset: name, pretrainSubjects: 24, pretrainRecords: 60, finetuneSubjects: 24, finetuneRecords: 60, model: shape,
                                 pretrain: training(batch: 4, context: 64, epochs: 1, lr: 3e-3, seed: 1),
                                 finetune: training(batch: 4, context: 64, epochs: 1, lr: 3e-3, seed: 1),
                                 rounds: 1, removePerRound: 2, seeds: 2, prefixLengths: [10], untargetedPrompts: 4, unlearning: u, bootstrapResamples: 200)
        case "quick":
            let shape = ModelShape(layers: 2, heads: 4, width: 128, context: 128, vocabulary: 1024)
            var u = UnlearnSettings(); u.steps = 20; u.context = 128; u.learningRate = 5e-5
            return StudySettings(preset: name, pretrainSubjects: 50, pretrainRecords: 250, finetuneSubjects: 50, finetuneRecords: 300, model: shape,
                                 pretrain: training(batch: 8, context: 128, epochs: 3, lr: 2e-3, seed: 1),
                                 finetune: training(batch: 8, context: 128, epochs: 4, lr: 2e-3, seed: 1),
                                 rounds: 1, removePerRound: 5, seeds: 2, prefixLengths: [10, 50], untargetedPrompts: 40, unlearning: u)
        case "default":
            let shape = ModelShape(layers: 2, heads: 4, width: 128, context: 128, vocabulary: 2048)
            var u = UnlearnSettings(); u.steps = 40; u.context = 128; u.learningRate = 5e-5
            return StudySettings(preset: name, pretrainSubjects: 160, pretrainRecords: 1000, finetuneSubjects: 120, finetuneRecords: 700, model: shape,
                                 pretrain: training(batch: 8, context: 128, epochs: 3, lr: 2e-3, seed: 1),
                                 finetune: training(batch: 8, context: 128, epochs: 3, lr: 1e-3, seed: 1),
                                 rounds: 2, removePerRound: 8, seeds: 3, prefixLengths: [10, 50], untargetedPrompts: 96, unlearning: u)
        case "paper":
            let shape = ModelShape(layers: 12, heads: 12, width: 768, context: 512, vocabulary: 8192)
            var u = UnlearnSettings(); u.steps = 200; u.context = 512; u.learningRate = 1e-5
            return StudySettings(preset: name, pretrainSubjects: 2000, pretrainRecords: 40000, finetuneSubjects: 720, finetuneRecords: 12000, model: shape,
                                 pretrain: training(batch: 8, context: 512, epochs: 3, lr: 3e-4, seed: 1),
                                 finetune: training(batch: 8, context: 512, epochs: 3, lr: 5e-5, seed: 1),
                                 rounds: 4, removePerRound: 20, seeds: 3, prefixLengths: [10, 50, 100, 200], untargetedPrompts: 500, unlearning: u)
        default: return nil
        }
    }
}
