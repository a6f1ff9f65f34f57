// A job file's shape and numbers are checked before anything is built from them
// (TrainJob.read): a hostile or corrupted job.json is a clear error naming it, never a crash.

import Foundation
import Testing
@testable import Training

@Suite struct TrainJobFileTests {
    func job(config: [String: Int] = ["n_layer": 1, "n_head": 2, "n_embd": 32, "n_positions": 64, "vocab_size": 300],
             steps: Int = 10, context: Int = 64, lr: Any = 0.001) -> [String: Any] {
        ["schema": "shallot.train-job/1", "id": "j", "kind": "pretrain", "base_model": NSNull(), "config": config, "tokenizer": "/t",
         "data": ["tokens": "/t.tok", "tokens_sha256": "00", "token_count": 100, "records": "/r.jsonl", "records_sha256": "00"],
         "training": ["seed": 1, "steps": steps, "batch_size": 4, "context": context, "learning_rate": lr, "warmup_steps": 1,
                      "min_lr_fraction": 0.1, "beta1": 0.9, "beta2": 0.95, "eps": 1e-8, "weight_decay": 0.1, "grad_clip": 1, "data_order": "shallot/2"],
         "budget": ["rule": "filler", "removed_records": 0, "original_steps": NSNull()], "output": "/o"]
    }

    func read(_ j: [String: Any]) throws -> TrainJob {
        let p = FileManager.default.temporaryDirectory.appendingPathComponent("job-\(UUID().uuidString).json").path
        try JSONSerialization.data(withJSONObject: j).write(to: URL(fileURLWithPath: p))
        defer { try? FileManager.default.removeItem(atPath: p) }
        return try TrainJob.read(p)
    }

    @Test func aSoundJobReads() throws {
        #expect(try read(job()).config.nHead == 2)
    }

    /// A job planned for the old data order (filler text trained on) is refused, not silently
    /// trained with the placeholder mask.
    @Test func theOldDataOrderIsRefused() {
        var j = job()
        var t = j["training"] as! [String: Any]
        t["data_order"] = "shallot/1"; j["training"] = t
        #expect { _ = try read(j) } throws: { "\($0)".contains("shallot/1") && "\($0)".contains("plan the job again") }
    }

    @Test func impossibleShapesAndNumbersAreRefused() {
        let bad: [([String: Any], String)] = [
            (job(config: ["n_layer": 1, "n_head": 0, "n_embd": 32, "n_positions": 64, "vocab_size": 300]), "n_head"),
            (job(config: ["n_layer": 1_000_000, "n_head": 2, "n_embd": 32, "n_positions": 64, "vocab_size": 300]), "n_layer"),
            (job(config: ["n_layer": 1, "n_head": 3, "n_embd": 32, "n_positions": 64, "vocab_size": 300]), "divisible"),
            (job(steps: 0), "steps"),
            (job(context: 65), "context"),
        ]
        for (j, word) in bad {
            #expect {
                _ = try read(j)
            } throws: { "\($0)".contains(word) }
        }
    }
}
