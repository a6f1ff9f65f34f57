// Golden outputs: an audit (every attack), a sampled audit, both unlearning kinds and a smoke study
// with fixed seeds and salt must write the same files as the committed fixtures, byte for byte,
// once the lines that legitimately change between runs are removed (the time written, the
// seconds taken, the software version) and the temporary directory is written OUT. The fixtures
// were written by the program as it was before the orchestration refactor of issue #13 (commit
// e93f8ed, run through SHALLOT_BINARY), so these tests show that the refactor changed no number,
// no verdict, no key and no formatting.
//
// Same numbers need the same arithmetic: the runs use one thread and OpenBLAS's Haswell kernel
// (AVX2), which both kinds of machine here have (AVX2-only EPYC and AVX-512 Xeon), so the GEMMs
// round alike everywhere. Elsewhere (no AVX2, not Linux) the tests are skipped, saying why.
//
// To rewrite the fixtures after an intended change of output:
//   SHALLOT_UPDATE_GOLDEN=1 swift test --skip-build --filter GoldenTests
// (add SHALLOT_BINARY=/path/to/shallot to write them with another build) and explain the
// difference in the commit message.

import Foundation
import Testing

/// Whether this CPU has AVX2 (the fixtures' GEMM kernel is OpenBLAS's Haswell one).
let goldenCPUHasAVX2: Bool = {
    guard let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return false }
    return info.split(separator: "\n").contains { $0.hasPrefix("flags") && $0.split(separator: " ").contains("avx2") }
}()

@Suite(.serialized, .enabled(if: goldenCPUHasAVX2, "the fixtures' arithmetic needs OpenBLAS's Haswell (AVX2) kernel on Linux"))
struct GoldenTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/golden")
    static let environment = ["OPENBLAS_CORETYPE": "Haswell"]

    /// The file as written, without the lines that change from run to run, the run directory as OUT.
    static func normalised(_ file: String, dir: String) throws -> String {
        let text = try String(contentsOfFile: file, encoding: .utf8)
        let perRun = ["\"created\"", "\"seconds\"", "\"software\""]
        let kept = text.split(separator: "\n", omittingEmptySubsequences: false).filter { line in
            let t = line.drop { $0 == " " }
            return !perRun.contains { t.hasPrefix($0) }
        }
        return kept.joined(separator: "\n").replacingOccurrences(of: dir, with: "OUT")
    }

    /// Compares with the fixture (or rewrites it), naming the first line that differs.
    static func check(_ actual: String, fixture name: String) throws {
        let url = fixtures.appendingPathComponent(name)
        if ProcessInfo.processInfo.environment["SHALLOT_UPDATE_GOLDEN"] == "1" {
            try FileManager.default.createDirectory(at: fixtures, withIntermediateDirectories: true)
            try Data(actual.utf8).write(to: url)
            return
        }
        let expected = try String(contentsOf: url, encoding: .utf8)
        if actual == expected { return }
        let a = actual.split(separator: "\n", omittingEmptySubsequences: false), e = expected.split(separator: "\n", omittingEmptySubsequences: false)
        let i = (0..<min(a.count, e.count)).first { a[$0] != e[$0] } ?? min(a.count, e.count)
        Issue.record("\(name) differs from the golden fixture at line \(i + 1):\n  expected: \(i < e.count ? String(e[i]) : "<end>")\n  actual:   \(i < a.count ? String(a[i]) : "<end>")")
    }

    func run(_ args: [String]) throws {
        let r = try shallot(args, environment: Self.environment)
        #expect(r.status == 0, "shallot \(args.first ?? ""): \(r.stderr)")
    }

    /// A synthetic corpus with canaries, members and non-members, a base trained on the
    /// non-members and a model fine-tuned from it on the members long enough to memorise.
    func prepare(_ d: String) throws {
        let tiny = ["--layers", "2", "--heads", "2", "--dim", "64", "--context", "128", "--batch", "8", "--lr", "3e-3", "--dropout", "0", "--threads", "1", "--seed", "3"]
        try writeSalt("a fixed salt for the golden audit", to: d + "/salt")
        try run(["corpus", "synth", "--subjects", "30", "--records", "200", "--seed", "3", "--canary-repeats", "1,30", "--canaries-per-repeat", "2", "--out", d + "/corpus.jsonl"])
        try run(["corpus", "split", d + "/corpus.jsonl", "--fraction", "0.8", "--seed", "3", "--out-a", d + "/members.jsonl", "--out-b", d + "/nonmembers.jsonl"])
        try run(["train", "--data", d + "/nonmembers.jsonl", "--vocab-size", "400", "--epochs", "2", "--out", d + "/base"] + tiny)
        try run(["train", "--data", d + "/members.jsonl", "--init", d + "/base", "--epochs", "12", "--out", d + "/model"] + tiny)
    }

    @Test func auditsAndUnlearningAreUnchanged() throws {
        let d = try tmp()
        defer { try? FileManager.default.removeItem(atPath: d) }
        try prepare(d)
        // Every attack, with a base model for lineage and the pre-training corpus for attribution.
        try run(["audit", "--model", d + "/model", "--reference", d + "/base", "--data", d + "/members.jsonl", "--nonmembers", d + "/nonmembers.jsonl",
                 "--canaries", d + "/corpus.jsonl.canaries.json", "--pretraining-data", d + "/nonmembers.jsonl", "--types", "EMAIL_ADDRESS", "--types", "PHONE_NUMBER",
                 "--untargeted-prompts", "16", "--exposure-values", "20", "--candidates", "50", "--bootstrap", "100", "--seed", "5",
                 "--salt-file", d + "/salt", "--out", d + "/audit"])
        try Self.check(Self.normalised(d + "/audit/audit.json", dir: d), fixture: "audit.json")
        try Self.check(Self.normalised(d + "/audit/subjects.csv", dir: d), fixture: "subjects.csv")
        // A seeded sample of values (the audited index differs from the training keys), two attacks, values revealed.
        try run(["audit", "--model", d + "/model", "--data", d + "/members.jsonl", "--attacks", "extraction,untargeted", "--sample", "15",
                 "--samples", "2", "--untargeted-prompts", "16", "--seed", "9", "--reveal-pii", "--salt-file", d + "/salt", "--out", d + "/sampled"])
        try Self.check(Self.normalised(d + "/sampled/audit.json", dir: d), fixture: "audit-sampled.json")
        // Unlearning: exact retraining from the recorded parent, and NPO; what shallot.json records
        // (including the new weights' hash).
        let members = try String(contentsOfFile: d + "/members.jsonl", encoding: .utf8).split(separator: "\n")
        let subjects = Set(try members.map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }.compactMap { $0["subject"] as? String }).sorted()
        let forget = ["--forget"] + subjects.prefix(2)
        for (method, extra) in [("retrain", [String]()), ("npo", ["--steps", "6"])] {
            try run(["unlearn", "--model", d + "/model", "--data", d + "/members.jsonl", "--method", method, "--threads", "1", "--out", d + "/" + method] + forget + extra)
            try Self.check(Self.normalised(d + "/" + method + "/shallot.json", dir: d), fixture: "unlearn-\(method).json")
        }
    }

    @Test func smokeStudyIsUnchanged() throws {
        let d = try tmp()
        defer { try? FileManager.default.removeItem(atPath: d) }
        try writeSalt("a fixed salt for the golden study", to: d + "/salt")
        try run(["study", "--preset", "smoke", "--seed", "2", "--finetune-epochs", "25", "--finetune-lr", "1e-2", "--salt-file", d + "/salt", "--threads", "1", "--out", d + "/study"])
        try Self.check(Self.normalised(d + "/study/study.json", dir: d), fixture: "study.json")
    }
}
