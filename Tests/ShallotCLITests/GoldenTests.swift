// Golden outputs: an audit (every attack) and a smoke study with fixed seeds and salt must give
// the same audit.json and study.json as the committed fixtures, byte for byte once the fields that
// legitimately change between runs are removed (the time written, the seconds taken, the temporary
// directory). The fixtures were written by the program before the orchestration refactor of issue
// #13, so these tests show that the refactor changed no number, no verdict and no key.
//
// Same numbers need the same arithmetic: the runs use one thread and OpenBLAS's Haswell kernel
// (AVX2), which both kinds of machine here have (AVX2-only EPYC and AVX-512 Xeon), so the GEMMs
// round alike everywhere. On a CPU without AVX2 the tests say so and do not run.
//
// To rewrite the fixtures after an intended change of output:
//   SHALLOT_UPDATE_GOLDEN=1 swift test --skip-build --filter GoldenTests
// and explain the difference in the commit message.

import Foundation
import Testing

@Suite(.serialized) struct GoldenTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/golden")
    static let environment = ["OPENBLAS_CORETYPE": "Haswell"]
    static var cpuHasAVX2: Bool {
        guard let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return false }
        return info.split(separator: "\n").contains { $0.hasPrefix("flags") && $0.split(separator: " ").contains("avx2") }
    }

    /// `file` without its per-run fields, keys sorted, the run directory written as OUT.
    static func normalised(_ file: String, dir: String) throws -> String {
        var j = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: file))) as! [String: Any]
        j["created"] = nil; j["seconds"] = nil
        let d = try JSONSerialization.data(withJSONObject: j, options: [.sortedKeys, .prettyPrinted])
        return String(decoding: d, as: UTF8.self).replacingOccurrences(of: dir.replacingOccurrences(of: "/", with: "\\/"), with: "OUT") + "\n"
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

    @Test func auditOfEveryAttackIsUnchanged() throws {
        guard Self.cpuHasAVX2 else { print("GoldenTests: skipped, this CPU has no AVX2 (the fixtures' GEMM kernel)"); return }
        let d = try tmp()
        defer { try? FileManager.default.removeItem(atPath: d) }
        let tiny = ["--layers", "1", "--heads", "2", "--dim", "32", "--context", "64", "--batch", "4", "--lr", "3e-3", "--dropout", "0", "--threads", "1", "--seed", "3"]
        try Data("a fixed salt for the golden audit".utf8).write(to: URL(fileURLWithPath: d + "/salt"))
        try run(["corpus", "synth", "--subjects", "30", "--records", "200", "--seed", "3", "--canary-repeats", "1,10", "--canaries-per-repeat", "2", "--out", d + "/corpus.jsonl"])
        try run(["corpus", "split", d + "/corpus.jsonl", "--fraction", "0.8", "--seed", "3", "--out-a", d + "/members.jsonl", "--out-b", d + "/nonmembers.jsonl"])
        try run(["train", "--data", d + "/nonmembers.jsonl", "--vocab-size", "400", "--epochs", "2", "--out", d + "/base"] + tiny)
        try run(["train", "--data", d + "/members.jsonl", "--init", d + "/base", "--epochs", "4", "--out", d + "/model"] + tiny)
        try run(["audit", "--model", d + "/model", "--reference", d + "/base", "--data", d + "/members.jsonl", "--nonmembers", d + "/nonmembers.jsonl",
                 "--canaries", d + "/corpus.jsonl.canaries.json", "--pretraining-data", d + "/nonmembers.jsonl", "--types", "EMAIL_ADDRESS", "--types", "PHONE_NUMBER",
                 "--untargeted-prompts", "16", "--exposure-values", "20", "--candidates", "50", "--bootstrap", "100", "--seed", "5",
                 "--salt-file", d + "/salt", "--out", d + "/audit"])
        try Self.check(Self.normalised(d + "/audit/audit.json", dir: d), fixture: "audit.json")
    }

    @Test func smokeStudyIsUnchanged() throws {
        guard Self.cpuHasAVX2 else { print("GoldenTests: skipped, this CPU has no AVX2 (the fixtures' GEMM kernel)"); return }
        let d = try tmp()
        defer { try? FileManager.default.removeItem(atPath: d) }
        try Data("a fixed salt for the golden study".utf8).write(to: URL(fileURLWithPath: d + "/salt"))
        try run(["study", "--preset", "smoke", "--seed", "2", "--salt-file", d + "/salt", "--threads", "1", "--out", d + "/study"])
        try Self.check(Self.normalised(d + "/study/study.json", dir: d), fixture: "study.json")
    }
}
