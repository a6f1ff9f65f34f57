// The smoke study end to end with the reference external trainer (examples/hf_trainer.py, PyTorch +
// transformers on CPU) through `--trainer command` (docs/trainer-contract.md), beside the same study
// with Shallot's own engine: both complete, same plan, verdicts computed. Skipped where python3
// cannot import torch and transformers (.ci/run installs them).

import Foundation
import Testing

/// The repository root (this file is Tests/ShallotCLITests/…).
private let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

/// Whether `python3 -c "import torch, transformers"` succeeds here.
private let torchAvailable: Bool = {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = ["python3", "-c", "import torch, transformers"]
    p.standardOutput = FileHandle.nullDevice; p.standardError = FileHandle.nullDevice
    guard (try? p.run()) != nil else { return false }
    p.waitUntilExit()
    return p.terminationStatus == 0
}()

private func json(_ path: String) throws -> [String: Any] {
    try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [String: Any]
}

@Suite(.serialized) struct ExternalTrainerTests {
    @Test(.enabled(if: torchAvailable, "python3 cannot import torch and transformers (pip install torch transformers; .ci/run does)"))
    func smokeStudyWithTheReferenceTrainer() throws {
        let d = try tmp()
        defer { try? FileManager.default.removeItem(atPath: d) }
        let salt = d + "/salt"
        try writeSalt("one salt for both runs", to: salt)
        let common = ["study", "--preset", "smoke", "--salt-file", salt, "--threads", "1"]
        let trainer = "python3 \(repoRoot)/examples/hf_trainer.py --threads 1 {job}"
        let ext = try shallot(common + ["--out", d + "/external", "--trainer", "command", "--trainer-cmd", trainer])
        #expect(ext.status == 0, "\(ext.stderr)")
        let local = try shallot(common + ["--out", d + "/local"])
        #expect(local.status == 0, "\(local.stderr)")
        guard ext.status == 0, local.status == 0 else { return }

        // Every training job was handed to hf_trainer.py and answered as the contract says.
        let jobsDir = d + "/external/jobs"
        let jobs = try FileManager.default.contentsOfDirectory(atPath: jobsDir).sorted()
            .filter { FileManager.default.fileExists(atPath: "\(jobsDir)/\($0)/job.json") }
        #expect(jobs.contains("base") && jobs.contains("round0_seed0"), "training jobs in \(jobsDir): \(jobs)")
        for id in jobs {
            let job = try json("\(jobsDir)/\(id)/job.json")
            #expect(job["schema"] as? String == "shallot.train-job/1")
            let out = try #require(job["output"] as? String)
            let result = try json(out + "/shallot-train-result.json")
            #expect(result["schema"] as? String == "shallot.train-result/1")
            #expect(result["job_id"] as? String == id)
            #expect(result["tokens_sha256"] as? String == (job["data"] as? [String: Any])?["tokens_sha256"] as? String)
            #expect(result["steps"] as? Int == (job["training"] as? [String: Any])?["steps"] as? Int)
            #expect((result["trainer"] as? String)?.hasPrefix("hf_trainer.py") == true, "\(id): \(result["trainer"] ?? "no trainer")")
        }

        // The same plan: the same jobs (id, kind, dependencies), whoever trained them.
        let shape = { (dir: String) throws -> [String] in
            let plan = try json(dir + "/plan.json")
            return ((plan["jobs"] as? [[String: Any]]) ?? []).map { j in
                "\(j["id"] ?? "?") \(j["kind"] ?? "?") \(((j["depends_on"] as? [String]) ?? []).joined(separator: ","))"
            }.sorted()
        }
        #expect(try shape(d + "/external") == shape(d + "/local"))
        #expect(try json(d + "/external/plan.json")["trainer"] as? String == "command")

        // Both studies are complete, with the same plan (settings, rounds, seeds, arms) and verdicts.
        let e = try json(d + "/external/study.json"), l = try json(d + "/local/study.json")
        for s in [e, l] {
            #expect(s["schema"] as? String == "shallot.study/3")
            let seeds = ((s["baseline"] as? [String: Any])?["models"] as? [[String: Any]]) ?? []
            #expect(seeds.count == 3 && seeds.allSatisfy { ($0["train_steps"] as? Int ?? 0) > 0 && (($0["final_loss"] as? Double)?.isFinite ?? false) })
            let rounds = (s["rounds"] as? [[String: Any]]) ?? []
            #expect(rounds.count == 1)
            for r in rounds {
                let outcome = (r["verdict"] as? [String: Any])?["outcome"] as? String
                #expect(["exceeds", "fewer", "does_not_exceed", "inconclusive"].contains(outcome ?? ""), "round verdict: \(outcome ?? "missing")")
                #expect(Set(((r["arms"] as? [String: Any]) ?? [:]).keys) == ["deletion", "random_removal", "reseed"])
            }
            #expect(!((s["findings"] as? [String]) ?? []).isEmpty)
        }
        let settings = { (s: [String: Any]) in try JSONSerialization.data(withJSONObject: s["settings"] ?? [:], options: [.sortedKeys]) }
        #expect(try settings(e) == settings(l), "the external and local runs used different settings")
        // Same steps per fine-tune; the losses differ only by the two engines' float rounding.
        let steps = { (s: [String: Any]) in (((s["baseline"] as? [String: Any])?["models"] as? [[String: Any]]) ?? []).map { $0["train_steps"] as? Int ?? -1 } }
        #expect(steps(e) == steps(l))
        // Not asserted, said: how far the two trainers' numbers ended up (float rounding only).
        let losses = { (s: [String: Any]) in (((s["baseline"] as? [String: Any])?["models"] as? [[String: Any]]) ?? []).map { $0["final_loss"] as? Double ?? .nan } }
        print("external vs local trainer, baseline final losses: \(losses(e)) vs \(losses(l))")
    }
}
