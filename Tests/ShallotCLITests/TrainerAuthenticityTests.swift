// Issue 22 §8: the study's verification must prove that a model was trained on its job, not only
// that the trainer's result file agrees with job.json. Each test is the attack: a trainer that
// "fine-tunes" by copying its base and echoing every hash, and someone who can write OUT planting
// a model and the record that it was verified.

import Foundation
import Testing
import Support

@Suite(.serialized) struct TrainerAuthenticityTests {
    func salted() throws -> (String, [String]) {
        let d = try tmp()
        try writeSalt("a fixed salt of sixteen bytes or more", to: d + "/salt")
        return (d, ["study", "--preset", "smoke", "--jobs", "1", "--salt-file", d + "/salt"])
    }

    /// Pre-trainings are real (`shallot study-job`); every fine-tune is its base model copied, with
    /// a result file that echoes the job's id, tokens hash, steps and data order — everything the
    /// old check compared. The study must refuse the first fine-tune, naming it.
    @Test func aTrainerThatCopiesTheBaseAndEchoesTheHashesIsRefused() throws {
        let (d, args) = try salted()
        defer { try? FileManager.default.removeItem(atPath: d) }
        let field = { (key: String, indent: String) in "$(sed -n 's/^\(indent)\"\(key)\" : \"*\\([^\",]*\\)\"*,*$/\\1/p' \"$1\")" }
        let script = """
            kind=\(field("kind", "  ")); out=\(field("output", "  "))
            if [ "$kind" = pretrain ]; then exec '\(shallotBinary().path)' study-job "$1"; fi
            base=\(field("base_model", "  ")); id=\(field("id", "  ")); sha=\(field("tokens_sha256", "    ")); steps=\(field("steps", "    "))
            mkdir -p "$out" && cp "$base/config.json" "$base/model.safetensors" "$out/" || exit 1
            printf '{"schema": "shallot.train-result/1", "job_id": "%s", "tokens_sha256": "%s", "steps": %s, "final_loss": 1.25, "trainer": "copycat", "data_order": "shallot/2"}' \\
                "$id" "$sha" "$steps" > "$out/shallot-train-result.json"
            """
        try script.write(toFile: d + "/copycat.sh", atomically: true, encoding: .utf8)
        let r = try shallot(args + ["--trainer", "command", "--trainer-cmd", "sh '\(d)/copycat.sh' {job}", "--out", d + "/out"])
        #expect(r.status == 1, "the copycat trainer's study finished:\n\(r.stderr)")
        #expect(r.stderr.range(of: #"job (round0_seed\d|round0_select0|control_finetuned_seed\d): "#, options: .regularExpression) != nil, "\(r.stderr)")
        #expect(r.stderr.contains("did not learn the job's data") && r.stderr.contains("a drop of 0.00%"), "\(r.stderr)")
        // the copy really was accepted by the contract's old checks: the result file echoes the job
        let result = try String(contentsOfFile: d + "/out/jobs/round0_seed0/model/shallot-train-result.json", encoding: .utf8)
        #expect(result.contains("copycat"))
        #expect(!FileManager.default.fileExists(atPath: d + "/out/jobs/round0_seed0/verified.json"))
    }

    /// Someone who can write OUT swaps a fine-tune's weights for its base's and writes the
    /// verification record for them (the input hash copied, the weights' hash computed, a MAC
    /// they cannot make without the key). The next run must not reuse that model: it trains the
    /// job again, and the model the study audits is a trained one.
    @Test func aPlantedModelWithAForgedVerificationRecordIsNotReused() throws {
        let (d, args) = try salted()
        defer { try? FileManager.default.removeItem(atPath: d) }
        let first = try shallot(args + ["--out", d + "/out"])
        #expect(first.status == 0, "\(first.stderr)")
        let job = d + "/out/jobs/round0_seed0", base = d + "/out/jobs/base/model"
        let record = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: job + "/verified.json"))) as! [String: Any]
        try FileManager.default.removeItem(atPath: job + "/model/model.safetensors")
        try FileManager.default.copyItem(atPath: base + "/model.safetensors", toPath: job + "/model/model.safetensors")
        var forged = record
        forged["weights_sha256"] = try sha256(file: base + "/model.safetensors")
        forged["mac"] = String(repeating: "0", count: 64)
        try JSONSerialization.data(withJSONObject: forged).write(to: URL(fileURLWithPath: job + "/verified.json"))
        let again = try shallot(args + ["--out", d + "/out"])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.stderr.contains("training round0_seed0"), "the planted model was reused:\n\(again.stderr)")
        #expect(try sha256(file: job + "/model/model.safetensors") != sha256(file: base + "/model.safetensors"))
    }
}
