// `shallot study` killed with SIGKILL at several points (while training, auditing, writing) and
// run again gives the same study.json as an uninterrupted run.

import Foundation
import Testing

@Suite(.serialized) struct StudyResumeTests {
    /// study.json without what legitimately differs between two runs: the time it was written,
    /// the seconds this invocation took, and the output directory inside model paths.
    func normalised(_ dir: String) throws -> String {
        var j = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/study.json"))) as! [String: Any]
        j["created"] = nil; j["seconds"] = nil
        let d = try JSONSerialization.data(withJSONObject: j, options: [.sortedKeys])
        return String(decoding: d, as: UTF8.self).replacingOccurrences(of: dir.replacingOccurrences(of: "/", with: "\\/"), with: "OUT")
    }

    @Test func killedAnywhereAndRerunGivesTheSameStudy() throws {
        let d = try tmp()
        let salt = d + "/salt"
        try writeSalt("a fixed salt for both runs", to: salt)
        let args = ["study", "--preset", "smoke", "--salt-file", salt, "--threads", "1"]
        let t0 = Date()
        let clean = try shallot(args + ["--out", d + "/clean"])
        #expect(clean.status == 0, "\(clean.stderr)")
        let duration = Date().timeIntervalSince(t0)
        // Kill a second run three times (each run resumes the last: about 10%, 30% and 60% of the
        // way through), then let it finish.
        var killedWhileRunning = 0
        for fraction in [0.1, 0.2, 0.3] {
            let p = Process()
            p.executableURL = shallotBinary()
            p.arguments = args + ["--out", d + "/killed"]
            p.standardOutput = FileHandle.nullDevice; p.standardError = FileHandle.nullDevice
            try p.run()
            Thread.sleep(forTimeInterval: duration * fraction)
            if p.isRunning { killedWhileRunning += 1 }
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
        }
        #expect(killedWhileRunning >= 2, "the study finished before it could be killed")
        let resumed = try shallot(args + ["--out", d + "/killed"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(try normalised(d + "/killed") == normalised(d + "/clean"))
        // the trained models' step counts came back with them (not 0 / NaN)
        let j = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: d + "/killed/study.json"))) as! [String: Any]
        let seeds = ((j["baseline"] as! [String: Any])["models"] as! [[String: Any]])
        #expect(seeds.allSatisfy { ($0["train_steps"] as? Int ?? 0) > 0 && ($0["final_loss"] as? Double) != nil })
        try? FileManager.default.removeItem(atPath: d)
    }
}
