import Foundation
import Study
import Testing

/// The pre-training leakage verdict on real (tiny) training runs with a known answer: a planted
/// positive — a synthetic pre-training corpus of 20 people writing 700 messages, so that every
/// target value occurs many times (most over 20), pre-trained for 4 epochs and lightly fine-tuned
/// — must give `leaks`; its null twin (the base's corpus with half A replaced too: neither base saw
/// a target) must not. The larger, repeated version is Scripts/validate_study.py --leakage.
@Suite(.serialized) struct LeakageStudyTests {
    static func settings(null: Bool) -> StudySettings {
        var s = StudySettings.preset("smoke")!
        s.pretrainSubjects = 20; s.pretrainRecords = 700; s.pretrain.epochs = 4
        s.finetune.epochs = 4; s.finetune.learningRate = 3e-3
        s.seeds = 3; s.selectionSeeds = 1; s.rounds = 0
        s.leakage.null = null ? true : nil
        return s
    }

    func run(null: Bool) throws -> PretrainingLeakage {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("shallot-leakage-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let runner = try StudyRunner(settings: Self.settings(null: null), directory: dir, salt: Data("salt".utf8), revealPII: false, userCorpus: nil,
                                     corpusDescription: ["source": "synthetic"], execution: StudyExecution(jobs: 2, threads: 1)) { _ in }
        return try runner.run().pretrainingLeakage
    }

    @Test func aPlantedPositiveLeaksAndItsNullTwinDoesNot() throws {
        let planted = try run(null: false)
        print("planted: \(planted.verdict.summary)")
        #expect(planted.verdict.outcome == .leaks, "\(planted.verdict.summary)")
        #expect(planted.design.seedPairs == 3 && !planted.design.null && planted.design.targets.a >= 10 && planted.design.targets.b >= 10)
        // The verdict compares the values scored after a clean prefix; the others are counted.
        let d = planted.design
        #expect(d.scored.a + d.withoutCleanPrefix.a == d.targets.a && d.scored.b + d.withoutCleanPrefix.b == d.targets.b)
        #expect(planted.verdict.finetuned.valuesA == d.scored.a && planted.verdict.finetuned.valuesB == d.scored.b)
        #expect((planted.design.targetsByDuplication[">20"].map { $0.a + $0.b } ?? 0) * 2 > planted.design.targets.a + planted.design.targets.b)
        // The base memorised half A: greedy decoding reproduces some of it, and nothing of half B.
        let base = try #require(planted.models.first { $0.role == .mainBase })
        #expect(planted.verdict.base.interval!.low > 0 && base.extracted.a > 0 && base.extracted.b == 0)
        #expect(planted.models.filter { $0.role == .nullBase || $0.role == .nullFinetuned }.allSatisfy { $0.extracted.a == 0 && $0.extracted.b == 0 })

        let null = try run(null: true)
        print("null: \(null.verdict.summary)")
        #expect(null.verdict.outcome != .leaks, "\(null.verdict.summary)")
        #expect(null.design.null && null.models.allSatisfy { $0.extracted.a == 0 && $0.extracted.b == 0 })
    }
}
