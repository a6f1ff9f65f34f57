// Issue 22 review, M2: a study reuses a finished stage from OUT/stages/<id>.json without running
// anything (no training, no verification, no test). The stage's fingerprint is no secret —
// plan.json prints it as the audit's input hash — so anyone who can write OUT could write a
// round's test result saying that nobody is vulnerable, and the next run took it. Stage files
// now carry an HMAC under a key derived from the study's salt (outside OUT), like verified.json.

import Foundation
import Testing

@Suite(.serialized) struct StageAuthenticityTests {
    /// study.json without the time it was written and how long this invocation took.
    func normalised(_ dir: String) throws -> String {
        var j = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/study.json"))) as! [String: Any]
        j["created"] = nil; j["seconds"] = nil
        return String(decoding: try JSONSerialization.data(withJSONObject: j, options: [.sortedKeys]), as: UTF8.self)
    }

    /// The stored JSON of a stage file (`{"mac":"…","stored":<this>}`).
    func stored(_ path: String) throws -> [String: Any] {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let prefix = #"{"mac":""# + String(repeating: "0", count: 64) + #"","stored":"#
        return try JSONSerialization.jsonObject(with: Data(text.dropFirst(prefix.count).dropLast().utf8)) as! [String: Any]
    }

    @Test func aPlantedStageSayingNobodyIsVulnerableIsNotReused() throws {
        let d = try tmp()
        defer { try? FileManager.default.removeItem(atPath: d) }
        try writeSalt("a fixed salt of sixteen bytes or more", to: d + "/salt")
        let args = ["study", "--preset", "smoke", "--jobs", "1", "--threads", "1", "--salt-file", d + "/salt", "--out", d + "/out"]
        let first = try shallot(args)
        #expect(first.status == 0, "\(first.stderr)")
        let before = try normalised(d + "/out")
        // What the attacker knows: the audit's fingerprint, printed in plan.json.
        let plan = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: d + "/out/plan.json"))) as! [String: Any]
        let jobs = plan["jobs"] as! [[String: Any]]
        var planted: [String] = []
        for (n, id) in ["round0_seed0", "round0_seed1"].enumerated() {
            let fingerprint = try #require(jobs.first { $0["id"] as? String == "audit_" + id }?["input_sha256"] as? String)
            let path = d + "/out/stages/\(id).json"
            var result = try #require(try stored(path)["result"] as? [String: Any])
            var outcome = try #require(result["outcome"] as? [String: Any])
            #expect((outcome["vulnerable"] as? [Any])?.isEmpty == false, "the real test found nobody vulnerable: no attack to make")
            outcome["vulnerable"] = [String](); outcome["extractedOwners"] = [String](); outcome["extractedValues"] = 0
            result["outcome"] = outcome
            let forged = try JSONSerialization.data(withJSONObject: ["fingerprint": fingerprint, "result": result], options: [.sortedKeys])
            // the file as stages were written before they were keyed, and in the keyed layout with a MAC the attacker made up
            let file = n == 0 ? forged : Data((#"{"mac":""# + String(repeating: "7", count: 64) + #"","stored":"#).utf8) + forged + Data("}".utf8)
            try file.write(to: URL(fileURLWithPath: path))
            planted.append(path)
        }
        let again = try shallot(args)
        #expect(again.status == 0, "\(again.stderr)")
        for (path, id) in zip(planted, ["round0_seed0", "round0_seed1"]) {
            #expect(again.stderr.contains("warning: \(path): not authenticated"), "no warning names \(path):\n\(again.stderr)")
            #expect(again.stderr.contains("fine-tune + test: \(id)"), "the planted result for \(id) was reused:\n\(again.stderr)")
            let outcome = try #require(try stored(path)["result"] as? [String: Any])["outcome"] as? [String: Any]
            #expect((outcome?["vulnerable"] as? [Any])?.isEmpty == false, "\(id): the rewritten stage still says nobody is vulnerable")
        }
        #expect(try normalised(d + "/out") == before, "the planted stages changed the study")
        // and a third run reuses what the second wrote, silently
        let third = try shallot(args)
        #expect(third.status == 0 && !third.stderr.contains("not authenticated") && !third.stderr.contains("fine-tune + test: round0_seed0"), "\(third.stderr)")
    }
}
