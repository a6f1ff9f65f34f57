// Runs the real `shallot` binary in temporary directories and checks what it wrote.

import Foundation
import Testing
import SafeTensors

func shallotBinary() -> URL {
    // Another build's binary (e.g. the commit before a refactor, to write golden fixtures).
    if let b = ProcessInfo.processInfo.environment["SHALLOT_BINARY"], !b.isEmpty { return URL(fileURLWithPath: b) }
    var candidates: [URL] = [Bundle.main.bundleURL.deletingLastPathComponent(), Bundle.main.bundleURL,
                             URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()]
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    candidates += [root.appendingPathComponent(".build/debug"), root.appendingPathComponent(".build/release")]
    for c in candidates {
        let u = c.appendingPathComponent("shallot")
        if FileManager.default.isExecutableFile(atPath: u.path) { return u }
    }
    fatalError("shallot binary not found near \(candidates)")
}

struct RunResult { let status: Int32; let stdout: String; let stderr: String }

@discardableResult
func shallot(_ args: [String], cwd: String? = nil, environment: [String: String] = [:]) throws -> RunResult {
    let p = Process()
    p.executableURL = shallotBinary()
    p.arguments = args
    // (it was ignored: a test's `touch pwned` would have landed in the test process's directory)
    if let cwd { p.currentDirectoryURL = URL(fileURLWithPath: cwd) }
    if !environment.isEmpty { p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
    let out = Pipe(), err = Pipe()
    p.standardOutput = out; p.standardError = err
    try p.run()
    let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return RunResult(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
}

func tmp() throws -> String {
    let d = FileManager.default.temporaryDirectory.appendingPathComponent("cli-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
    return d
}

/// A --salt-file as Shallot takes one: the user's own, mode 600, 16 bytes or more.
func writeSalt(_ text: String, to path: String) throws {
    try Data(text.utf8).write(to: URL(fileURLWithPath: path))
    chmod(path, 0o600)
}

let trainArgs = ["--layers", "2", "--heads", "2", "--dim", "64", "--context", "64", "--batch", "8", "--lr", "3e-3", "--seed", "11"]

@Suite(.serialized) struct CLITests {
    /// A record without a subject stands for itself, under its id normalised like every subject
    /// (trimmed, lower-cased): `forget` and the ledger, which normalise what they are given, can
    /// then find it.
    @Test func aRecordWithoutASubjectIsItsNormalisedId() throws {
        let d = try tmp()
        let lines = [#"{"id": "Mail-A", "text": "hello"}"#, #"{"id": "mail-a ", "text": "again"}"#, #"{"id": "B", "subject": "b", "text": "x"}"#]
        try (lines.joined(separator: "\n") + "\n").write(toFile: d + "/c.jsonl", atomically: true, encoding: .utf8)
        let r = try shallot(["corpus", "split", d + "/c.jsonl", "--fraction", "1", "--out-a", d + "/a.jsonl", "--out-b", d + "/b.jsonl"])
        #expect(r.status == 0, "\(r.stderr)")
        let subjects = try String(contentsOfFile: d + "/a.jsonl", encoding: .utf8).split(separator: "\n").map {
            (try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])?["subject"] as? String
        }
        #expect(subjects == ["mail-a", "mail-a", "b"])
    }

    @Test func trainGenerateScoreRoundTrip() throws {
        let d = try tmp()
        let data = d + "/data.jsonl"
        let lines = (0..<40).map { #"{"id": "r-\#($0)", "text": "Please call Dana at (555) 010-22\#($0 % 10)\#($0 % 7) about the pipeline."}"# }
        try lines.joined(separator: "\n").write(toFile: data, atomically: true, encoding: .utf8)
        let r = try shallot(["train", "--data", data, "--out", d + "/m", "--steps", "40", "--json"] + trainArgs)
        #expect(r.status == 0, "\(r.stderr)")
        for f in ["config.json", "model.safetensors", "generation_config.json", "vocab.json", "merges.txt", "tokenizer.json", "shallot.json"] {
            #expect(FileManager.default.fileExists(atPath: d + "/m/" + f), "\(f)")
        }
        let prov = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: d + "/m/shallot.json"))) as! [String: Any]
        #expect(prov["schema"] as? String == "shallot.model/1")
        #expect((prov["corpus"] as? [String: Any])?["records"] as? Int == 40)
        #expect((prov["weights_sha256"] as? String)?.count == 64)
        // Progress lines carry numbers as JSON numbers, not strings.
        let firstStep = try JSONSerialization.jsonObject(with: Data(r.stdout.split(separator: "\n").first!.utf8)) as! [String: Any]
        #expect(firstStep["event"] as? String == "step" && firstStep["step"] is Int && firstStep["loss"] is Double && firstStep["grad_norm"] is Double)
        // The last JSON line is the summary; loss fell from ln(257) ≈ 5.55.
        let summary = try JSONSerialization.jsonObject(with: Data(r.stdout.split(separator: "\n").last!.utf8)) as! [String: Any]
        #expect((summary["finalLoss"] as! Double) < 4.0)

        let g = try shallot(["generate", "--model", d + "/m", "--prompt", "Please call", "--max-new", "12", "--greedy", "--json"])
        #expect(g.status == 0, "\(g.stderr)")
        let gj = try JSONSerialization.jsonObject(with: Data(g.stdout.utf8)) as! [String: Any]
        #expect((gj["tokens"] as! [Int]).count == 12)
        let g2 = try shallot(["generate", "--model", d + "/m", "--prompt", "Please call", "--max-new", "12", "--greedy", "--json"])
        #expect(g2.stdout == g.stdout)

        let s = try shallot(["score", "--model", d + "/m", "--data", data, "--tokens", "--json"])
        #expect(s.status == 0, "\(s.stderr)")
        let rows = s.stdout.split(separator: "\n").map { try! JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        #expect(rows.count == 40)
        let first = rows[0]
        #expect(first["id"] as? String == "r-0")
        let lp = first["logprobs"] as! [Double]
        #expect(lp.count == (first["tokens"] as! Int) - 1)
        #expect(abs(-lp.reduce(0, +) / Double(lp.count) - (first["loss"] as! Double)) < 1e-4)
    }

    @Test func resumeAfterSIGKILLEqualsUninterruptedRun() throws {
        let d = try tmp()
        let data = d + "/data.txt"
        let text = (0..<300).map { "Record \($0): the meeting with account \($0 * 7 % 31) moved to Friday.\n" }.joined()
        try text.write(toFile: data, atomically: true, encoding: .utf8)
        let args = ["train", "--data", data, "--steps", "120", "--checkpoint-every", "10", "--json"] + trainArgs
        let ref = try shallot(args + ["--out", d + "/full"])
        #expect(ref.status == 0, "\(ref.stderr)")

        // Start the same run, kill it with SIGKILL once a checkpoint exists, then resume.
        let p = Process()
        p.executableURL = shallotBinary()
        p.arguments = args + ["--out", d + "/killed"]
        p.standardOutput = FileHandle.nullDevice; p.standardError = FileHandle.nullDevice
        try p.run()
        let cp = d + "/killed/checkpoint/train_state.safetensors"
        let deadline = Date().addingTimeInterval(120)
        while !FileManager.default.fileExists(atPath: cp) && Date() < deadline && p.isRunning { usleep(2000) }
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        #expect(p.terminationReason == .uncaughtSignal, "the run finished before it could be killed")
        #expect(!FileManager.default.fileExists(atPath: d + "/killed/model.safetensors"))
        let resumed = try shallot(args + ["--out", d + "/killed", "--resume"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        let a = try SafeTensorsFile(path: d + "/full/model.safetensors"), b = try SafeTensorsFile(path: d + "/killed/model.safetensors")
        for n in a.names { #expect(try a.bytes(n) == b.bytes(n), "\(n)") }
        #expect(!FileManager.default.fileExists(atPath: cp))  // removed once the run completes
    }

    @Test func badInputGivesAClearError() throws {
        let d = try tmp()
        var r = try shallot(["train", "--data", d + "/missing.jsonl", "--out", d + "/m"])
        #expect(r.status == 1)
        #expect(r.stderr.contains("missing.jsonl") && r.stderr.contains("no such file"))
        try "{\"text\": \"ok\"}\nnot json\n".write(toFile: d + "/bad.jsonl", atomically: true, encoding: .utf8)
        r = try shallot(["train", "--data", d + "/bad.jsonl", "--out", d + "/m"])
        #expect(r.stderr.contains("bad.jsonl:2: not a JSON object"))
        try FileManager.default.createDirectory(atPath: d + "/broken", withIntermediateDirectories: true)
        try "{\"model_type\": \"gpt2\", \"vocab_size\": 257, \"n_embd\": 8, \"n_layer\": 1, \"n_head\": 2, \"n_positions\": 8}".write(toFile: d + "/broken/config.json", atomically: true, encoding: .utf8)
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: d + "/broken/model.safetensors"))
        r = try shallot(["generate", "--model", d + "/broken", "--prompt", "x"])
        #expect(r.status == 1)
        #expect(r.stderr.contains("broken/model.safetensors") && r.stderr.contains("too small"))
    }
}

func shallot(_ args: [String], stdin: String) throws -> RunResult {
    let p = Process()
    p.executableURL = shallotBinary()
    p.arguments = args
    let inp = Pipe(), out = Pipe(), err = Pipe()
    p.standardInput = inp; p.standardOutput = out; p.standardError = err
    try p.run()
    inp.fileHandleForWriting.write(Data(stdin.utf8))
    try inp.fileHandleForWriting.close()
    let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return RunResult(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
}

@Suite(.serialized) struct TokenizerCLITests {
    @Test func trainEncodeDecodeAndTrainAModelOnIt() throws {
        let d = try tmp()
        let data = d + "/c.jsonl"
        let lines = (0..<200).map { #"{"text": "Meeting \#($0 % 13) with the trading desk about pipeline capacity, don't forget the \#($0 % 5) reports."}"# }
        try lines.joined(separator: "\n").write(toFile: data, atomically: true, encoding: .utf8)
        var r = try shallot(["tokenizer", "train", "--data", data, "--vocab-size", "300", "--out", d + "/tok", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        for f in ["vocab.json", "merges.txt", "tokenizer.json"] { #expect(FileManager.default.fileExists(atPath: d + "/tok/" + f)) }
        let text = "Meeting 7 with the trading desk, don't forget 😀"
        r = try shallot(["tokenizer", "encode", "--tokenizer", d + "/tok"], stdin: text)
        let ids = try JSONDecoder().decode([Int].self, from: Data(r.stdout.utf8))
        #expect(ids.count < text.utf8.count / 2 && ids.contains { $0 >= 256 })
        r = try shallot(["tokenizer", "decode", "--tokenizer", d + "/tok"], stdin: r.stdout)
        #expect(r.stdout == text)
        r = try shallot(["tokenizer", "encode", "--tokenizer", d + "/tok", "--jsonl"], stdin: "{\"text\": \"a<|endoftext|>b\"}\n")
        #expect(!r.stdout.contains("299"))  // special token text stays text unless allowed
        r = try shallot(["tokenizer", "encode", "--tokenizer", d + "/tok", "--jsonl", "--allow-special"], stdin: "{\"text\": \"a<|endoftext|>b\"}\n")
        #expect(r.stdout.contains("299"))
        // A model trained with that tokenizer carries it.
        r = try shallot(["train", "--data", data, "--tokenizer", d + "/tok", "--out", d + "/m", "--steps", "5"] + trainArgs)
        #expect(r.status == 0, "\(r.stderr)")
        r = try shallot(["tokenizer", "encode", "--tokenizer", d + "/m"], stdin: text)
        #expect(try JSONDecoder().decode([Int].self, from: Data(r.stdout.utf8)) == ids)
    }

    @Test func badTokenizerFilesGiveClearErrors() throws {
        let d = try tmp()
        try "{\"a\": 0}".write(toFile: d + "/vocab.json", atomically: true, encoding: .utf8)
        try "#version: 0.2\n".write(toFile: d + "/merges.txt", atomically: true, encoding: .utf8)
        let r = try shallot(["tokenizer", "encode", "--tokenizer", d], stdin: "x")
        #expect(r.status == 1)
        #expect(r.stderr.contains("vocab.json") && r.stderr.contains("byte symbol"))
    }
}

@Suite(.serialized) struct CorpusCLITests {
    @Test func importStatsSplitAndScan() throws {
        let d = try tmp()
        try FileManager.default.createDirectory(atPath: d + "/mail/jdoe/inbox", withIntermediateDirectories: true)
        for i in 1...3 {
            try "From: John Doe <John.Doe@Example.com>\nTo: ann@example.org\nSubject: note \(i)\n\nCall me at (713) 853-7107.\n\nThanks,\nJohn Doe\n"
                .write(toFile: d + "/mail/jdoe/inbox/\(i).", atomically: true, encoding: .utf8)
        }
        try "garbage".write(toFile: d + "/mail/jdoe/inbox/4.", atomically: true, encoding: .utf8)
        var r = try shallot(["corpus", "import", "--format", "maildir", d + "/mail", "--out", d + "/c.jsonl", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let rep = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
        #expect(rep["imported"] as? Int == 3 && rep["skipped"] as? Int == 1)
        r = try shallot(["corpus", "stats", d + "/c.jsonl", "--json"])
        let st = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
        #expect(st["subjects"] as? Int == 1)
        #expect((st["pii_occurrences"] as! [String: Int])["PHONE_NUMBER"] == 3)
        // john's address, ann's and the phone occur 3×; the name 6× (header and signature)
        #expect((st["duplication"] as! [String: Int]) == ["1": 0, "2-5": 3, "6-20": 1, ">20": 0])
        r = try shallot(["pii", "scan", d + "/c.jsonl", "--types", "EMAIL_ADDRESS", "PHONE_NUMBER"])
        #expect(r.stdout.contains("J*******@E******.com") && !r.stdout.contains("John.Doe@Example.com"))  // masked by default
        r = try shallot(["corpus", "import", "--format", "mbox", d + "/missing.mbox", "--out", d + "/x.jsonl"])
        #expect(r.status == 1 && r.stderr.contains("missing.mbox"))
        #expect(!FileManager.default.fileExists(atPath: d + "/x.jsonl"))
    }
}

@Suite(.serialized) struct AuditCLITests {
    @Test func auditWritesJSONHTMLAndCSVAndReportRebuildsTheHTML() throws {
        let d = try tmp()
        #expect(try shallot(["corpus", "synth", "--subjects", "12", "--records", "80", "--seed", "2", "--out", d + "/c.jsonl"]).status == 0)
        #expect(try shallot(["corpus", "split", d + "/c.jsonl", "--fraction", "0.75", "--seed", "1", "--out-a", d + "/m.jsonl", "--out-b", d + "/n.jsonl"]).status == 0)
        let t = try shallot(["train", "--data", d + "/m.jsonl", "--out", d + "/model", "--steps", "30"] + trainArgs)
        #expect(t.status == 0, "\(t.stderr)")
        let a = try shallot(["audit", "--model", d + "/model", "--data", d + "/m.jsonl", "--nonmembers", d + "/n.jsonl", "--attacks", "extraction,mia",
                             "--k", "10", "--bootstrap", "20", "--sample", "10", "--out", d + "/audit"])
        #expect(a.status == 0, "\(a.stderr)")
        for f in ["audit.json", "audit.html", "subjects.csv"] { #expect(FileManager.default.fileExists(atPath: d + "/audit/" + f), "\(f)") }
        #expect(!FileManager.default.fileExists(atPath: d + "/audit/.checkpoint"), "checkpoints are removed once the audit is written")
        let j = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: d + "/audit/audit.json"))) as! [String: Any]
        #expect((j["values"] as! [Any]).count == 10)
        #expect(((j["settings"] as! [String: Any])["sample"] as? Int) == 10)
        let r = try shallot(["report", d + "/audit/audit.json", "--out", d + "/again.html"])
        #expect(r.status == 0, "\(r.stderr)")
        let html = try String(contentsOfFile: d + "/again.html", encoding: .utf8)
        #expect(html.contains("<svg") && html.contains("Membership inference"))
        // a file that is not an audit gets a clear error naming it
        try Data(#"{"schema": "something/9"}"#.utf8).write(to: URL(fileURLWithPath: d + "/x.json"))
        let bad = try shallot(["report", d + "/x.json"])
        #expect(bad.status != 0 && bad.stderr.contains("x.json") && bad.stderr.contains("unknown schema"))
        // hostile numbers (docs/security.md): infinite or absurd values are refused, by field
        for (k, v) in [("inf", "inf" as Any), ("huge", 1e300 as Any), ("negative", -1e20 as Any)] {
            var h = j
            var summary = h["summary"] as! [String: Any]
            summary["values"] = v
            h["summary"] = summary
            try JSONSerialization.data(withJSONObject: h).write(to: URL(fileURLWithPath: d + "/\(k).json"))
            let r = try shallot(["report", d + "/\(k).json"])
            #expect(r.status == 1 && r.stderr.contains("\(k).json") && r.stderr.contains("summary.values") && r.stderr.contains("out of range"), "\(k): \(r.stderr)")
        }
    }
}

@Suite(.serialized) struct LedgerAndUnlearnCLITests {
    @Test func twoProcessesWritingAtOnceLoseNothingAndAKilledWriterCorruptsNothing() throws {
        let d = try tmp()
        let db = d + "/ledger.sqlite"
        let procs = (0..<2).map { k -> Process in
            let p = Process()
            p.executableURL = shallotBinary()
            p.arguments = ["ledger", "stress", "--ledger", db, "--count", "150", "--writer", "\(k)"]
            return p
        }
        // create the file first so both open the same schema
        #expect(try shallot(["ledger", "init", "--ledger", db]).status == 0)
        for p in procs { try p.run() }
        for p in procs { p.waitUntilExit(); #expect(p.terminationStatus == 0) }
        let v = try shallot(["ledger", "verify", "--integrity", "--ledger", db])
        #expect(v.status == 0 && v.stdout.contains("300 entries"), "\(v.stdout)\(v.stderr)")
        // SIGKILL a writer mid-stream: the file stays valid and writable.
        let w = Process()
        w.executableURL = shallotBinary()
        w.arguments = ["ledger", "stress", "--ledger", db, "--count", "1000000", "--writer", "9"]
        try w.run()
        Thread.sleep(forTimeInterval: 0.8)
        kill(w.processIdentifier, SIGKILL)
        w.waitUntilExit()
        let after = try shallot(["ledger", "verify", "--integrity", "--ledger", db])
        #expect(after.status == 0, "\(after.stderr)")
        let n = Int(after.stdout.split(separator: " ")[1])!
        #expect(n > 300)
        #expect(try shallot(["ledger", "request", "dana@x.com", "--ledger", db]).status == 0)
        let list = try shallot(["ledger", "list", "--ledger", db])
        #expect(list.stdout.contains("open") && !list.stdout.contains("dana@x.com"), "the subject is masked")
    }

    @Test func unlearnRecordsMethodParentAndHashedSubjectsAndVerifyUsesTheLedger() throws {
        let d = try tmp()
        #expect(try shallot(["corpus", "synth", "--subjects", "10", "--records", "60", "--seed", "3", "--out", d + "/c.jsonl"]).status == 0)
        #expect(try shallot(["train", "--data", d + "/c.jsonl", "--out", d + "/base", "--steps", "10"] + trainArgs).status == 0)
        let ft = try shallot(["train", "--data", d + "/c.jsonl", "--init", d + "/base", "--out", d + "/ft", "--steps", "10", "--lr", "1e-3", "--context", "64", "--batch", "8"])
        #expect(ft.status == 0, "\(ft.stderr)")
        let subject = try String(contentsOfFile: d + "/c.jsonl", encoding: .utf8).split(separator: "\n").compactMap {
            (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any] }.first!["subject"] as! String
        let db = d + "/l.sqlite"
        #expect(try shallot(["ledger", "init", "--ledger", db]).status == 0)
        #expect(try shallot(["ledger", "request", subject, "--ledger", db, "--received", "2026-11-01"]).stdout.contains("deadline 2026-12-01"))
        #expect(try shallot(["ledger", "register", "--ledger", db, "--model", d + "/ft", "--data", d + "/c.jsonl"]).status == 0)
        #expect(try shallot(["ledger", "status", subject, "--ledger", db]).stdout.contains("STILL CONTAINS"))
        for method in ["retrain", "npo"] {
            let u = try shallot(["unlearn", "--model", d + "/ft", "--data", d + "/c.jsonl", "--forget", subject, "--method", method, "--steps", "3",
                                 "--out", d + "/u-" + method, "--ledger", db, "--request", "1"])
            #expect(u.status == 0, "\(u.stderr)")
            let prov = try String(contentsOfFile: d + "/u-\(method)/shallot.json", encoding: .utf8)
            #expect(prov.contains("\"unlearning.method\" : \"\(method)\""))
            #expect(!prov.contains(subject), "the forgotten subject is in the clear in shallot.json")
            #expect(prov.contains(d + (method == "retrain" ? "/base" : "/ft")), "the parent is recorded")
        }
        #expect(try shallot(["ledger", "status", subject, "--ledger", db]).stdout.contains("unlearned in a later model"))
        let v = try shallot(["ledger", "verify", "1", "--ledger", db, "--model", d + "/u-npo", "--data", d + "/c.jsonl", "--subject", subject])
        // The fine-tune (10 steps) leaks nothing, so a clean audit of its erasure shows nothing:
        // inconclusive, status 1, recorded as such.
        #expect(v.status == 1 && v.stdout.contains("INCONCLUSIVE") && v.stdout.contains("original model does not leak them"), "\(v.stdout)\(v.stderr)")
        #expect(try shallot(["ledger", "list", "--ledger", db]).stdout.contains("verification inconclusive"))
        let ex = try shallot(["ledger", "export", "--ledger", db, "--out", d + "/export.json"])
        #expect(ex.status == 0)
        let j = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: d + "/export.json"))) as! [String: Any]
        #expect((j["integrity"] as! [String: Any])["ok"] as? Bool == true)
        #expect(!(try String(contentsOfFile: d + "/export.json", encoding: .utf8)).contains(subject))
        // a subject without records is a clear error
        let bad = try shallot(["unlearn", "--model", d + "/ft", "--data", d + "/c.jsonl", "--forget", "nobody@nowhere.example", "--method", "ga", "--out", d + "/x"])
        #expect(bad.status != 0 && bad.stderr.contains("none of the 1 subjects"))
    }
}

/// Every study.json `shallot study` writes is one `shallot report` reads back: with one evaluation
/// seed no t interval over seeds exists, so the MDEs are absent (with the reason), not "inf"
/// (which the report's range check rightly refuses).
@Suite(.serialized) struct StudyReportRoundTripTests {
    @Test func aOneSeedStudyIsWrittenAndReadBackByTheReport() throws {
        let d = try tmp()
        defer { try? FileManager.default.removeItem(atPath: d) }
        try writeSalt("a salt for the one-seed study round trip", to: d + "/salt")
        let s = try shallot(["study", "--preset", "smoke", "--seeds", "1", "--selection-seeds", "1", "--rounds", "1", "--salt-file", d + "/salt",
                             "--threads", "1", "--jobs", "1", "--out", d + "/study"])
        #expect(s.status == 0, "\(s.stderr)")
        let text = try String(contentsOfFile: d + "/study/study.json", encoding: .utf8)
        #expect(!text.contains("\"inf\"") && !text.contains("\"-inf\""), "study.json holds an infinite number")
        let j = try JSONSerialization.jsonObject(with: Data(text.utf8)) as! [String: Any]
        let power = try #require((j["design"] as? [String: Any])?["power"] as? [String: Any])
        #expect(power["prospective"] == nil && (power["prospective_unavailable"] as? String)?.contains("1 evaluation seed") == true, "\(power)")
        #expect(power["after_round0"] == nil)
        // The leakage verdict with one seed pair decides nothing, and says why.
        let verdict = try #require((j["pretraining_leakage"] as? [String: Any])?["verdict"] as? [String: Any])
        #expect(verdict["outcome"] as? String == "inconclusive" && verdict["seed_sd"] == nil)
        let r = try shallot(["report", d + "/study/study.json", "--out", d + "/again.html"])
        #expect(r.status == 0, "\(r.stderr)")
        let html = try String(contentsOfFile: d + "/again.html", encoding: .utf8)
        #expect(html.contains("Does the fine-tuned model still leak what its base memorised?"))
        // A round's power note names the missing MDE (a run that stopped after round 0 has none).
        if !((j["rounds"] as? [Any]) ?? []).isEmpty { #expect(html.contains("not computable before training")) }
    }
}
