import Foundation
import Report
import Study
import Testing

/// A miniature study (the "smoke" preset: toy sizes, seconds) checked for the structure and the
/// internal consistency of study.json, then resumed.
@Suite(.serialized) struct MiniatureStudyTests {
    static let dir = FileManager.default.temporaryDirectory.appendingPathComponent("shallot-study-\(UUID().uuidString)").path

    func runStudy() throws -> (StudyReport, [String]) {
        var events: [String] = []
        let runner = try StudyRunner(settings: StudySettings.preset("smoke")!, directory: Self.dir, salt: Data("salt".utf8), revealPII: true,
                                     userCorpus: nil, corpusDescription: ["source": "synthetic"]) { ev in
            if case .resumed(let s) = ev { events.append(s) }
            if case .stage(let s) = ev { events.append("stage " + s) }
        }
        return (try runner.run(), events)
    }

    @Test func studyJSONIsCompleteAndConsistentAndResumes() throws {
        defer { try? FileManager.default.removeItem(atPath: Self.dir) }
        let (r, _) = try runStudy()
        let s = StudySettings.preset("smoke")!
        // The schema's required keys, through the encoder.
        let enc = JSONEncoder()
        enc.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        let j = try JSONSerialization.jsonObject(with: enc.encode(r)) as! [String: Any]
        for k in ["schema", "settings", "rounds", "pretraining_leakage", "unlearning"] { #expect(j[k] != nil, "missing \(k)") }
        #expect(j["schema"] as? String == "shallot.study/2")
        #expect(r.ownership.owned + r.ownership.unowned == r.ownership.values && r.ownership.owned > 0)
        #expect(((j["settings"] as! [String: Any])["budget"] as? String) == "filler")
        let rounds = j["rounds"] as! [[String: Any]]
        #expect(rounds.count == s.rounds)
        for rd in rounds {
            #expect(rd["round"] as? Int != nil)
            let arms = rd["arms"] as! [String: Any]
            #expect(Set(arms.keys) == ["deletion", "random_removal", "reseed"])
            #expect(["exceeds", "does_not_exceed", "inconclusive"].contains((rd["verdict"] as! [String: Any])["outcome"] as! String))
            for (_, a) in arms {
                let a = a as! [String: Any]
                for k in ["removed", "vulnerable", "newly_vulnerable", "seeds"] { #expect(a[k] != nil, "arm misses \(k)") }
                let seeds = a["seeds"] as! [String: Any]
                #expect((seeds["results"] as! [Any]).count == s.seeds && seeds["summary"] != nil)
            }
        }
        let baselineVulnerable = r.baseline.seeds.reduce(Set<String>()) { $0.union($1.vulnerable) }
        for rd in r.rounds {
            let del = rd.arms[.deletion]!, rnd = rd.arms[.randomRemoval]!, re = rd.arms[.reseed]!
            #expect(del.removed.count == s.removePerRound)
            #expect(re.removed.isEmpty && re.removedRecords == 0)
            // the random control removes a subject that was vulnerable before only as a fallback
            #expect(Set(rnd.removed).isDisjoint(with: baselineVulnerable) || (rnd.fallbackSubjects ?? 0) > 0)
            // the smoke study is too small for a verdict, and says so
            #expect(rd.verdict.outcome == .inconclusive && rd.verdict.reasons.contains { $0.contains("eligible") })
            for arm in [del, rnd, re] {
                #expect(arm.vulnerable == arm.seeds.results[0].vulnerable)
                for sr in arm.seeds.results {
                    #expect(Set(sr.newlyVulnerable).isSubset(of: Set(sr.vulnerable)))
                    #expect(Set(sr.vulnerable).isDisjoint(with: Set(arm.removed)), "a removed subject counted vulnerable")
                    #expect(sr.newlyVulnerable.count <= sr.eligible)
                }
                let sm = arm.seeds.summary
                #expect(sm.newlyVulnerableRateCI.high > 0, "a zero-width interval")
            }
            // the filler rule keeps the number of steps of every retraining
            for arm in [del, rnd, re] { for sr in arm.seeds.results { #expect(sr.trainSteps == r.baseline.seeds[0].trainSteps) } }
        }
        let l = r.pretrainingLeakage
        #expect(l.pretraining + l.finetuning + l.both + l.neither == l.total)
        #expect(Set(l.models.keys) == ["base", "control_base", "finetuned", "control_finetuned"])
        #expect(r.unlearning.map(\.method) == ["original", "retrain", "ga", "gd", "npo"])
        #expect(r.findings.count == s.rounds + 1 + 3)

        // Resume: a second run reuses every stage and reproduces the results.
        let (again, events) = try runStudy()
        #expect(events.contains("model base") && events.contains("model base_control"))
        #expect(!events.contains { $0.hasPrefix("stage fine-tune") }, "a finished fine-tune was recomputed")
        let sorted = JSONEncoder(); sorted.outputFormatting = .sortedKeys
        #expect(try sorted.encode(again.rounds) == sorted.encode(r.rounds))
        #expect(again.pretrainingLeakage.total == l.total)

        // study.html: the figures are there, the page's script runs in a real browser.
        let html = StudyHTML.render(r)
        #expect(html.components(separatedBy: "<svg").count - 1 >= 4)
        #expect(html.components(separatedBy: "<script").count == 2)
        if let dom = try headlessDOM(html) {
            #expect(dom.contains("data-shallot-ready=\"1\"") && !dom.contains("data-shallot-errors=\""))
        }
    }
}

/// The DOM Chromium builds from `html` after running its script, or nil without Chromium.
func headlessDOM(_ html: String) throws -> String? {
    guard let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
        print("Chromium is not installed (apt-get install chromium): the browser check of study.html is skipped")
        return nil
    }
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("shallot-html-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let file = dir.appendingPathComponent("page.html")
    try Data(html.utf8).write(to: file)
    let p = Process()
    p.executableURL = URL(fileURLWithPath: chromium)
    p.arguments = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--user-data-dir=" + dir.appendingPathComponent("profile").path,
                   "--virtual-time-budget=2000", "--dump-dom", file.absoluteString]
    let out = Pipe(), err = Pipe()
    p.standardOutput = out; p.standardError = err
    try p.run()
    let dom = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    _ = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return dom
}
