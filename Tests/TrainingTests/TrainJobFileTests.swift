// A job file's shape and numbers are checked before anything is built from them
// (TrainJob.read): a hostile or corrupted job.json is a clear error naming it, never a crash.

import Foundation
import Testing
@testable import Training

@Suite struct TrainJobFileTests {
    /// Where `read` writes its job files: data and output must be inside the job's directory.
    static let home = FileManager.default.temporaryDirectory.appendingPathComponent("jobs-\(UUID().uuidString)").path

    func job(config: [String: Int] = ["n_layer": 1, "n_head": 2, "n_embd": 32, "n_positions": 64, "vocab_size": 300],
             steps: Int = 10, context: Int = 64, lr: Any = 0.001) -> [String: Any] {
        let d = Self.home
        return ["schema": "shallot.train-job/1", "id": "j", "kind": "pretrain", "base_model": NSNull(), "config": config, "tokenizer": "/t",
         "data": ["tokens": d + "/t.tok", "tokens_sha256": "00", "token_count": 100, "records": d + "/r.jsonl", "records_sha256": "00"],
         "training": ["seed": 1, "steps": steps, "batch_size": 4, "context": context, "learning_rate": lr, "warmup_steps": 1,
                      "min_lr_fraction": 0.1, "beta1": 0.9, "beta2": 0.95, "eps": 1e-8, "weight_decay": 0.1, "grad_clip": 1, "data_order": "shallot/2"],
         "budget": ["rule": "filler", "removed_records": 0, "original_steps": NSNull()], "output": d + "/model"]
    }

    func read(_ j: [String: Any]) throws -> TrainJob {
        try FileManager.default.createDirectory(atPath: Self.home, withIntermediateDirectories: true)
        let p = Self.home + "/job-\(UUID().uuidString).json"
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

    /// Issue 22 §8: a job file edited to point its output at another model (here its base, or
    /// a path that climbs out with "..") or its data elsewhere is refused before a trainer
    /// (`shallot study-job`) writes or reads anything there.
    @Test func dataAndOutputOutsideTheJobsDirectoryAreRefused() {
        for (key, value) in [("output", "/work/out/jobs/base/model"), ("output", Self.home + "/../base/model"),
                             ("tokens", "/etc/t.tok"), ("records", "r.jsonl")] {
            var j = job()
            if key == "output" { j["output"] = value } else {
                var d = j["data"] as! [String: Any]; d[key] = value; j["data"] = d
            }
            #expect { _ = try read(j) } throws: { "\($0)".contains("not inside the job's directory") && "\($0)".contains(value) }
        }
    }
}
