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
        for k in ["schema", "settings", "design", "rounds", "pretraining_leakage", "unlearning"] { #expect(j[k] != nil, "missing \(k)") }
        #expect(j["schema"] as? String == "shallot.study/3")
        #expect(r.ownership.owned + r.ownership.unowned == r.ownership.values && r.ownership.owned > 0)
        #expect(((j["settings"] as! [String: Any])["budget"] as? String) == "filler")
        let d = r.design
        #expect(d.evaluationSeeds.count == s.seeds && d.selectionSeeds.count == s.selectionSeeds)
        #expect(Set(d.evaluationSeeds).isDisjoint(with: d.selectionSeeds), "a selection seed is also an evaluation seed")
        #expect(d.testPrompts["record_window"] ?? 0 > 0 && d.testPrompts["10"] ?? 0 > 0, "the fixed test has k-token and aligned prompts: \(d.testPrompts)")
        #expect((d.power.prospective ?? 0) > 0 && d.power.prospectiveUnavailable == nil && d.delta == 0.05)
        #expect(r.baseline.models.filter { $0.role == "evaluation" }.count == s.seeds && r.baseline.models.filter { $0.role == "selection" }.count == s.selectionSeeds)
        #expect(r.rounds.count == s.rounds || d.stopped != nil)
        for rd in r.rounds {
            let del = rd.arms[.deletion]!, rnd = rd.arms[.randomRemoval]!, re = rd.arms[.reseed]!
            #expect(Set(rd.arms.keys) == Set(Arm.allCases))
            #expect(rd.deletionTargets.count <= s.removePerRound && !rd.deletionTargets.isEmpty)
            // The random control removes exactly as many subjects as the deletion arm, per seed.
            #expect(rnd.removedPerSeed.count == s.seeds && rnd.removedPerSeed.allSatisfy { $0.count == rd.deletionTargets.count })
            #expect(re.seeds.allSatisfy { $0.removedRecords == 0 && $0.collateralSubjects == 0 })
            for i in 0..<s.seeds {
                // One analysis set per seed: every arm is scored on the same subjects.
                #expect(Set(Arm.allCases.map { rd.arms[$0]!.seeds[i].analysisSet }).count == 1)
                let p = rd.paired[.randomRemoval]![i]
                #expect(p.subjects == del.seeds[i].analysisSet && p.deletionNewly == del.seeds[i].newlyVulnerable.count && p.controlNewly == rnd.seeds[i].newlyVulnerable.count)
                for arm in [del, rnd, re] {
                    let sr = arm.seeds[i]
                    #expect(Set(sr.newlyVulnerable).isSubset(of: Set(sr.vulnerable)))
                    #expect(sr.newlyVulnerable.count <= sr.analysisSet)
                    // the filler rule keeps the number of steps of every retraining
                    #expect(sr.trainSteps == r.baseline.models[0].trainSteps)
                }
                #expect(Set(del.seeds[i].vulnerable).isDisjoint(with: rd.deletionTargets), "a removed subject counted vulnerable")
            }
            // The smoke study has 2 evaluation seeds and toy models: it decides nothing, and says why.
            #expect(rd.verdict.outcome == .inconclusive && !rd.verdict.reasons.isEmpty)
            #expect(rd.verdict.comparisons.map(\.control) == [.randomRemoval, .reseed])
        }
        let l = r.pretrainingLeakage, a = l.attribution
        #expect(a.pretraining + a.finetuning + a.both + a.neither == a.total)
        // The two bases and one fine-tune of each per seed pair (smoke: 2 evaluation seeds, so 2
        // pairs: fewer than the 3 a verdict needs, and the verdict says so).
        #expect(l.models.map(\.id) == ["base", "base_control", "round0_seed0", "control_finetuned_seed0", "round0_seed1", "control_finetuned_seed1"])
        #expect(l.design.seedPairs == 2 && l.verdict.outcome == .inconclusive && l.verdict.reasons.contains { $0.contains("seeds per arm") })
        #expect(l.design.targets.a + l.design.targets.b >= 20 && abs(l.design.targets.a - l.design.targets.b) <= 1)
        #expect(l.design.surrogates == .synthetic && l.design.residualOccurrences == 0 && l.design.excludedInFinetuning == 0)
        #expect(l.verdict.finetuned.valuesA == l.design.targets.a && l.verdict.perSeed.count == 2)
        #expect(r.unlearning.map(\.method) == ["original", "retrain", "ga", "gd", "npo"])
        #expect(r.findings.count == (d.stopped == nil ? s.rounds : 1) + 1 + 3)

        // Resume: a second run reuses every stage and reproduces the results.
        let (again, events) = try runStudy()
        #expect(events.contains("model base") && events.contains("model base_control"))
        #expect(!events.contains { $0.hasPrefix("stage fine-tune") }, "a finished fine-tune was recomputed")
        let sorted = JSONEncoder(); sorted.outputFormatting = .sortedKeys
        #expect(try sorted.encode(again.rounds) == sorted.encode(r.rounds))
        #expect(again.pretrainingLeakage.attribution.total == a.total && again.pretrainingLeakage.verdict == l.verdict)

        // study.html: the figures are there, the page's script runs in a real browser.
        let html = StudyHTML.render(r)
        #expect(html.components(separatedBy: "<svg").count - 1 >= 3)
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
