import Foundation
import Testing

/// The study as a plan of jobs (issue #15): plan.json, concurrency that leaves the results
/// unchanged, and training by an external command under the trainer contract.
@Suite(.serialized) struct StudyPlanTests {
    /// study.json without the time it was written, the seconds it took and the output directory.
    func normalised(_ dir: String) throws -> String {
        var j = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/study.json"))) as! [String: Any]
        j["created"] = nil; j["seconds"] = nil
        let d = try JSONSerialization.data(withJSONObject: j, options: [.sortedKeys])
        return String(decoding: d, as: UTF8.self).replacingOccurrences(of: dir.replacingOccurrences(of: "/", with: "\\/"), with: "OUT")
    }

    func plan(_ dir: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/plan.json"))) as! [String: Any]
    }

    /// A job's token stream's hash.
    func tokensOf(_ byId: [String: [String: Any]], _ id: String) -> String? { (byId[id]?["inputs"] as? [String: String])?["tokens_sha256"] }

    /// Job id → input hash.
    func hashes(_ plan: [String: Any]) -> [String: String] {
        var out: [String: String] = [:]
        for j in plan["jobs"] as! [[String: Any]] { out[j["id"] as! String] = j["input_sha256"] as? String ?? "" }
        return out
    }

    func salted() throws -> (String, [String]) {
        let d = try tmp()
        try writeSalt("a fixed salt of sixteen bytes or more", to: d + "/salt")
        return (d, ["study", "--preset", "smoke", "--salt-file", d + "/salt"])
    }

    @Test func planListsEveryJobAndTwoJobsAtATimeGiveTheSameStudy() throws {
        let (d, args) = try salted()
        defer { try? FileManager.default.removeItem(atPath: d) }
        let one = try shallot(args + ["--jobs", "1", "--out", d + "/one"])
        #expect(one.status == 0, "\(one.stderr)")
        let two = try shallot(args + ["--jobs", "2", "--out", d + "/two"])
        #expect(two.status == 0, "\(two.stderr)")
        #expect(try normalised(d + "/one") == normalised(d + "/two"), "--jobs 2 changed the results")

        let p = try plan(d + "/one")
        #expect(p["schema"] as? String == "shallot.plan/1")
        let jobs = p["jobs"] as! [[String: Any]]
        let byId = Dictionary(uniqueKeysWithValues: jobs.map { ($0["id"] as! String, $0) })
        // smoke: 2 bases, 2 evaluation baselines + 1 selection model + the control base's fine-tune per seed pair (2), 1 round × 3 arms × 2 seeds, a test per fine-tune but the control's
        for id in ["base", "base_control", "round0_seed0", "round0_seed1", "round0_select0", "control_finetuned_seed0", "control_finetuned_seed1", "pretraining_leakage"] + ["deletion", "random_removal", "reseed"].flatMap({ a in
            (0..<2).map { "round1_\(a)_seed\($0)" } }) {
            #expect(byId[id] != nil, "plan.json misses \(id)")
        }
        #expect(jobs.filter { $0["kind"] as? String == "finetune" }.count == 11)
        #expect(jobs.filter { $0["kind"] as? String == "audit" }.count == 9)
        #expect(byId["round0_seed0"]?["depends_on"] as? [String] == ["base"])
        #expect(byId["control_finetuned_seed1"]?["depends_on"] as? [String] == ["base_control"])
        // The control base's fine-tune of a seed is its evaluation baseline's job on another base.
        #expect(byId["control_finetuned_seed1"]?["seed"] as? Int == byId["round0_seed1"]?["seed"] as? Int)
        #expect(tokensOf(byId, "control_finetuned_seed1") == tokensOf(byId, "round0_seed1"))
        #expect(byId["pretraining_leakage"]?["depends_on"] as? [String] == ["base", "base_control", "round0_seed0", "control_finetuned_seed0", "round0_seed1", "control_finetuned_seed1"])
        // The two bases train on the same records with other values in them: the same manifest, other tokens.
        let inputs = { (id: String) in byId[id]?["inputs"] as? [String: String] ?? [:] }
        #expect(inputs("base")["records_manifest_sha256"] == inputs("base_control")["records_manifest_sha256"] && tokensOf(byId, "base") != tokensOf(byId, "base_control"))
        #expect(byId["audit_round1_deletion_seed0"]?["depends_on"] as? [String] == ["round1_deletion_seed0"])
        #expect(jobs.filter { ["pretrain", "finetune", "audit"].contains($0["kind"] as? String) }.allSatisfy { ($0["status"] as? String) == "done" })
        let rounds = p["rounds"] as! [[String: Any]]
        #expect(rounds.count == 1 && rounds[0]["planned"] as? Bool == true && (rounds[0]["jobs"] as! [String]).count == 6)
        // The reseed arm trains the unchanged data: its tokens are the baseline's, its seed another.
        let tokens = { (id: String) in (byId[id]?["inputs"] as? [String: String])?["tokens_sha256"] }
        #expect(tokens("round1_reseed_seed0") == tokens("round0_seed0") && tokens("round1_deletion_seed0") != tokens("round0_seed0"))
        // The deletion arm removes the same subjects under every evaluation seed.
        #expect(tokens("round1_deletion_seed0") == tokens("round1_deletion_seed1"))
        // Input hashes are content addresses: the same in another output directory, unique per job.
        let h1 = hashes(p), h2 = hashes(try plan(d + "/two"))
        #expect(h1 == h2)
        // Jobs of different content have different addresses (a random draw that equals the
        // deletion targets under the same seed is the same job, and has the same address).
        let trainings = jobs.filter { ["pretrain", "finetune"].contains($0["kind"] as? String) }
        let content = { (j: [String: Any]) in "\(j["kind"] ?? "") \(j["seed"] ?? "") \(j["base"] ?? "") \((j["inputs"] as? [String: String])?["tokens_sha256"] ?? "")" }
        #expect(Set(trainings.map(content)).count == Set(trainings.map { $0["input_sha256"] as! String }).count)
        // The job files honour the contract.
        let job = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: d + "/one/jobs/round0_seed0/job.json"))) as! [String: Any]
        #expect(job["schema"] as? String == "shallot.train-job/1" && job["kind"] as? String == "finetune")
        #expect((job["base_model"] as? String)?.hasSuffix("/one/jobs/base/model") == true)
        let base = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: d + "/one/jobs/base/job.json"))) as! [String: Any]
        #expect(base["base_model"] is NSNull, "a pretrain job's base_model must be null")
        let perms = try FileManager.default.attributesOfItem(atPath: d + "/one/jobs/round0_seed0/records.jsonl")[.posixPermissions] as! Int
        #expect(perms == 0o600)

        // Run again: every job is reused, nothing trained or audited.
        let again = try shallot(args + ["--jobs", "2", "--out", d + "/two"])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(!again.stderr.contains(" trainer)") && !again.stderr.contains("fine-tune + audit"), "a finished job was run again:\n\(again.stderr)")
        #expect(try normalised(d + "/two") == normalised(d + "/one"))

        // A moved study directory resumes in its new place: nothing trained again, the job files
        // rewritten with the new paths.
        try FileManager.default.moveItem(atPath: d + "/two", toPath: d + "/moved")
        let moved = try shallot(args + ["--jobs", "2", "--out", d + "/moved"])
        #expect(moved.status == 0, "\(moved.stderr)")
        #expect(!moved.stderr.contains(" trainer)") && !moved.stderr.contains("fine-tune + audit"), "a moved study trained again:\n\(moved.stderr)")
        let movedJob = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: d + "/moved/jobs/round0_seed0/job.json"))) as! [String: Any]
        #expect((movedJob["output"] as? String)?.hasSuffix("/moved/jobs/round0_seed0/model") == true, "\(movedJob["output"] ?? "")")
        #expect(try normalised(d + "/moved") == normalised(d + "/one"))
    }

    @Test func anExternalTrainerCommandGivesTheSameStudy() throws {
        let (d, args) = try salted()
        defer { try? FileManager.default.removeItem(atPath: d) }
        let local = try shallot(args + ["--jobs", "2", "--out", d + "/local"])
        #expect(local.status == 0, "\(local.stderr)")
        let bin = shallotBinary().path
        let ext = try shallot(args + ["--jobs", "2", "--trainer", "command", "--trainer-cmd", "'\(bin)' study-job --threads 1 {job}", "--out", d + "/ext"])
        #expect(ext.status == 0, "\(ext.stderr)")
        #expect(try normalised(d + "/ext") == normalised(d + "/local"))
        #expect(FileManager.default.fileExists(atPath: d + "/ext/jobs/round0_seed0/trainer.log"))
        #expect((try plan(d + "/ext"))["trainer"] as? String == "command")
    }

    @Test func aFailingOrLyingTrainerIsAClearError() throws {
        let (d, args) = try salted()
        defer { try? FileManager.default.removeItem(atPath: d) }
        let failing = try shallot(args + ["--trainer", "command", "--trainer-cmd", "echo no GPU $((6 * 7)) here >&2; exit 1 # {job}", "--out", d + "/fail"])
        #expect(failing.status == 1)
        #expect(failing.stderr.contains("job base") && failing.stderr.contains("exited with status 1"), "\(failing.stderr)")
        // the trainer's log is named, not printed (a trainer may print the records it choked on):
        // what it wrote ("no GPU 42 here") is not in the message, only the command that wrote it
        #expect(failing.stderr.contains("jobs/base/trainer.log") && !failing.stderr.contains("GPU 42"), "\(failing.stderr)")

        let bin = shallotBinary().path
        let lie = "'\(bin)' study-job {job} >/dev/null && sed -i 's/\"tokens_sha256\" : \"[0-9a-f]*\"/\"tokens_sha256\" : \"0123\"/' \"$(dirname {job})/model/shallot-train-result.json\""
        let lying = try shallot(args + ["--trainer", "command", "--trainer-cmd", lie, "--out", d + "/lie"])
        #expect(lying.status == 1)
        #expect(lying.stderr.contains("tokens_sha256") && lying.stderr.contains("other data"), "\(lying.stderr)")

        // A trainer that trained without the placeholder mask (it says so, or says nothing) is refused.
        let unmasked = "'\(bin)' study-job {job} >/dev/null && sed -i 's#\"data_order\" : \"shallot/2\"#\"data_order\" : \"shallot/1\"#' \"$(dirname {job})/model/shallot-train-result.json\""
        let old = try shallot(args + ["--trainer", "command", "--trainer-cmd", unmasked, "--out", d + "/old"])
        #expect(old.status == 1)
        #expect(old.stderr.contains("data_order \"shallot/1\"") && old.stderr.contains("loss mask"), "\(old.stderr)")

        let noPlaceholder = try shallot(args + ["--trainer", "command", "--trainer-cmd", "true", "--out", d + "/np"])
        #expect(noPlaceholder.status != 0 && noPlaceholder.stderr.contains("{job}"))
    }

    /// Processes whose command line mentions `text` (from /proc).
    func processes(mentioning text: String) -> [String] {
        let procs = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return procs.filter { Int($0) != nil }.compactMap { pid in
            guard let d = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return nil }
            let cmd = String(decoding: d.map { $0 == 0 ? 0x20 : $0 }, as: UTF8.self)
            return cmd.contains(text) ? pid + ": " + cmd : nil
        }
    }

    /// Vulnerable subjects per arm and seed, round by round (what the verdicts are computed from).
    func vulnerableSets(_ dir: String) throws -> [String] {
        let j = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/study.json"))) as! [String: Any]
        var out: [String] = []
        for s in (j["baseline"] as! [String: Any])["models"] as! [[String: Any]] { out.append("0: \(s["vulnerable"] ?? "")") }
        for r in j["rounds"] as? [[String: Any]] ?? [] {
            for (arm, a) in (r["arms"] as! [String: Any]).sorted(by: { $0.key < $1.key }) {
                for s in (a as! [String: Any])["seeds"] as! [[String: Any]] { out.append("\(r["round"] ?? ""), \(arm): \(s["vulnerable"] ?? "")") }
            }
        }
        return out
    }

    @Test func roundAuditsThroughAServerPerModel() throws {
        let (d, args) = try salted()
        defer { try? FileManager.default.removeItem(atPath: d) }
        let bin = shallotBinary().path
        let served = try shallot(args + ["--jobs", "2", "--serve-cmd", "'\(bin)' serve --model {model} --port {port} --api-key-env SHALLOT_SERVE_API_KEY", "--out", d + "/served"])
        #expect(served.status == 0, "\(served.stderr)")
        // A server cannot start a sequence at a position: the local study is asked to pad the
        // record-window prompts the same way.
        let local = try shallot(args + ["--jobs", "2", "--pad-aligned-prompts", "--out", d + "/local"])
        #expect(local.status == 0, "\(local.stderr)")
        guard served.status == 0, local.status == 0 else { return }
        // Every round audit went through its own server, logged, and the server is gone.
        let audited = ["round0_seed0", "round0_seed1", "round1_deletion_seed0", "round1_random_removal_seed1", "round1_reseed_seed0"]
        for id in audited {
            let log = (try? String(contentsOfFile: "\(d)/served/jobs/\(id)/server.log", encoding: .utf8)) ?? ""
            #expect(log.contains("serving"), "\(id): server log \(log)")
            let req = "\(d)/served/jobs/\(id)/requests.jsonl"
            let lines = ((try? String(contentsOfFile: req, encoding: .utf8)) ?? "").split(separator: "\n")
            #expect(lines.count > 10, "\(id): \(lines.count) logged requests")
            let perms = (try? FileManager.default.attributesOfItem(atPath: req)[.posixPermissions] as? Int) ?? nil
            #expect(perms == 0o600)
        }
        #expect(processes(mentioning: d + "/served/jobs").isEmpty, "servers left running: \(processes(mentioning: d + "/served/jobs"))")
        // The same engine behind HTTP: greedy extraction finds the same values, so the same
        // subjects are vulnerable in every round, arm and seed.
        #expect(try vulnerableSets(d + "/served") == vulnerableSets(d + "/local"))

        // Resumed: a trained model is reused (verified by its files), only the missing audit runs.
        try FileManager.default.removeItem(atPath: d + "/served/stages/round0_seed0.json")
        let again = try shallot(args + ["--jobs", "2", "--serve-cmd", "'\(bin)' serve --model {model} --port {port} --api-key-env SHALLOT_SERVE_API_KEY", "--out", d + "/served"])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(!again.stderr.contains("training round0_seed0") && again.stderr.contains("serving round0_seed0"), "\(again.stderr)")
        #expect(try vulnerableSets(d + "/served") == vulnerableSets(d + "/local"))
    }

    @Test func aServerThatPrintsItsURLOrFailsToStart() throws {
        let (d, args) = try salted()
        defer { try? FileManager.default.removeItem(atPath: d) }
        let bin = shallotBinary().path
        // No {port}: the first URL the command prints (`shallot serve` names it on stderr).
        let printed = try shallot(args + ["--rounds", "0", "--serve-cmd",
                                          "'\(bin)' serve --model {model} --port 0 --served-model-name {model} --api-key-env SHALLOT_SERVE_API_KEY",
                                          "--out", d + "/printed"])
        #expect(printed.status == 0, "\(printed.stderr)")
        #expect(FileManager.default.fileExists(atPath: d + "/printed/jobs/round0_seed0/requests.jsonl"))
        // A server that answers without the key (no --api-key-env) is refused, and stopped.
        let open = try shallot(args + ["--rounds", "0", "--serve-cmd", "'\(bin)' serve --model {model} --port {port}", "--out", d + "/open"])
        #expect(open.status == 1)
        #expect(open.stderr.contains("without the API key") && open.stderr.contains("SHALLOT_SERVE_API_KEY"), "\(open.stderr)")
        #expect(processes(mentioning: d + "/open/jobs").isEmpty, "the refused server was left running")
        // A server of another model (by name) at the printed URL is not taken for this one.
        let other = try shallot(args + ["--rounds", "0", "--serve-timeout", "20", "--serve-cmd", "'\(bin)' serve --model {model} --port 0 --served-model-name other",
                                        "--out", d + "/other"])
        #expect(other.status == 1)
        #expect(other.stderr.contains("it serves other, not"), "\(other.stderr)")
        let exits = try shallot(args + ["--rounds", "0", "--serve-cmd", "echo no GPU $((6 * 7)) for {model} >&2; exit 3", "--out", d + "/exits"])
        #expect(exits.status == 1)
        #expect(exits.stderr.contains("exited with status 3") && exits.stderr.contains("server.log") && !exits.stderr.contains("GPU 42"), "\(exits.stderr)")
        // (`sleep …; echo {model}`: the shell stays, its command line names the directory)
        let silent = try shallot(args + ["--rounds", "0", "--serve-timeout", "2", "--serve-cmd", "sleep 60; echo {model}", "--out", d + "/silent"])
        #expect(silent.status == 1)
        #expect(silent.stderr.contains("did not serve within 2 s"), "\(silent.stderr)")
        #expect(processes(mentioning: "sleep 60; echo").filter { $0.contains(d) }.isEmpty, "the timed-out command was left running")
        // Interrupted while a server is starting: the server's process group is stopped too.
        let p = Process()
        p.executableURL = shallotBinary()
        p.arguments = args + ["--rounds", "0", "--serve-timeout", "600", "--serve-cmd", "sleep 300; echo {model}", "--out", d + "/int"]
        p.standardOutput = FileHandle.nullDevice; p.standardError = FileHandle.nullDevice
        try p.run()
        let deadline = Date().addingTimeInterval(120)
        while !FileManager.default.fileExists(atPath: d + "/int/jobs/round0_seed0/server.log") && Date() < deadline && p.isRunning { usleep(100_000) }
        while !processes(mentioning: "sleep 300; echo").contains(where: { $0.contains(d) }) && Date() < deadline && p.isRunning { usleep(100_000) }
        let shell = processes(mentioning: "sleep 300; echo").first { $0.contains(d) }
        #expect(shell != nil, "the serve command never started")
        let group = shell.flatMap { Int32($0.prefix { $0 != ":" }) } ?? 0
        p.interrupt()
        let exitBy = Date().addingTimeInterval(60)
        while p.isRunning && Date() < exitBy { usleep(100_000) }
        if p.isRunning { p.terminate(); Issue.record("the interrupted study did not exit") }
        p.waitUntilExit()
        #expect(p.terminationStatus == 130)
        usleep(200_000)
        // the shell and its `sleep` child: the whole process group is gone
        #expect(group > 0 && kill(-group, 0) != 0 && errno == ESRCH, "an interrupted study left its server's process group \(group) running")
        let noModel = try shallot(args + ["--serve-cmd", "vllm serve --port {port}", "--out", d + "/nomodel"])
        #expect(noModel.status != 0 && noModel.stderr.contains("{model}"))
    }

    /// --types restricts the onion study to the types asked for: its ownership table holds exactly
    /// the default study's rows of that type, study.json records the choice (absent by default),
    /// and a type the study cannot attack is refused before anything runs.
    @Test func typesRestrictTheOnionStudy() throws {
        let (d, args) = try salted()
        defer { try? FileManager.default.removeItem(atPath: d) }
        let both = try shallot(args + ["--rounds", "0", "--out", d + "/both"])
        let phones = try shallot(args + ["--rounds", "0", "--types", "PHONE_NUMBER", "--out", d + "/phones"])
        #expect(both.status == 0 && phones.status == 0, "\(both.stderr)\n\(phones.stderr)")
        guard both.status == 0, phones.status == 0 else { return }
        func rows(_ dir: String) throws -> [[String: String]] {
            let rows = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/ownership.json"))) as! [[String: Any]]
            return rows.map { $0.compactMapValues { $0 as? String } }
        }
        let all = try rows(d + "/both"), onlyPhones = try rows(d + "/phones")
        #expect(Set(all.compactMap { $0["type"] }) == ["EMAIL_ADDRESS", "PHONE_NUMBER"])
        #expect(!onlyPhones.isEmpty && onlyPhones == all.filter { $0["type"] == "PHONE_NUMBER" })
        func settings(_ dir: String) throws -> [String: Any] {
            let j = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/study.json"))) as! [String: Any]
            return j["settings"] as! [String: Any]
        }
        #expect(try settings(d + "/phones")["types"] as? [String] == ["PHONE_NUMBER"])
        #expect(try settings(d + "/both")["types"] == nil)
        // The fixed test holds only numbers (fewer values than both types, no more than the numbers
        // owned or not); the pre-training leakage comparison still scores both types.
        func study(_ dir: String) throws -> [String: Any] {
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/study.json"))) as! [String: Any]
        }
        let (sp, sb) = (try study(d + "/phones"), try study(d + "/both"))
        let tested = { (j: [String: Any]) in (j["design"] as? [String: Any])?["test_values"] as? Int ?? -1 }
        #expect(tested(sp) > 0 && tested(sp) < tested(sb) && tested(sp) <= onlyPhones.count, "\(tested(sp)) of \(tested(sb))")
        let leakTypes = { (j: [String: Any]) in Set((((j["pretraining_leakage"] as? [String: Any])?["design"] as? [String: Any])?["targets_by_type"] as? [String: Any] ?? [:]).keys) }
        #expect(leakTypes(sp) == ["EMAIL_ADDRESS", "PHONE_NUMBER"] && leakTypes(sp) == leakTypes(sb))
        // Both types named explicitly are the default: the same settings, the same study.
        let explicit = try shallot(args + ["--rounds", "0", "--types", "PHONE_NUMBER", "EMAIL_ADDRESS", "--out", d + "/explicit"])
        #expect(explicit.status == 0, "\(explicit.stderr)")
        if explicit.status == 0 { #expect(try settings(d + "/explicit")["types"] == nil) }
        let refused = try shallot(args + ["--types", "US_SSN", "--out", d + "/ssn"])
        #expect(refused.status != 0 && refused.stderr.contains("US_SSN"), "\(refused.stderr)")
        #expect(!FileManager.default.fileExists(atPath: d + "/ssn"))
    }
}
