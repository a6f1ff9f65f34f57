// docs/security.md, proved from the command line: a scrubbed real-format mail corpus holds no
// raw address in any field; PII-bearing outputs are owner-only; the ledger's keyed chain and
// anchor catch a rewritten chain and a truncated tail; CSV cells cannot run formulas.

import Foundation
import Testing

private func run(_ args: [String], env: [String: String]) throws -> RunResult {
    let p = Process()
    p.executableURL = shallotBinary()
    p.arguments = args
    p.environment = ProcessInfo.processInfo.environment.merging(env) { _, b in b }
    let out = Pipe(), err = Pipe()
    p.standardOutput = out; p.standardError = err
    try p.run()
    let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return RunResult(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
}

private func mode(_ path: String) -> Int? {
    (try? FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int) ?? nil
}

private func records(_ path: String) throws -> [[String: Any]] {
    try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map {
        try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
    }
}

/// Every field of a record that can hold PII: text, subject, id, source and every meta string.
private func fields(_ r: [String: Any]) -> [(String, String)] {
    var out: [(String, String)] = []
    for k in ["text", "subject", "id", "source"] { if let v = r[k] as? String { out.append((k, v)) } }
    for (k, v) in (r["meta"] as? [String: String] ?? [:]).sorted(by: { $0.key < $1.key }) { out.append(("meta." + k, v)) }
    return out
}

/// What the detector (`pii scan --jsonl`) finds in each field: (field, type, lower-cased value).
private func detect(_ rs: [[String: Any]], dir: String) throws -> [(field: String, type: String, value: String)] {
    let fs = rs.flatMap(fields)
    let lines = try fs.map { String(decoding: try JSONSerialization.data(withJSONObject: ["text": $0.1]), as: UTF8.self) }
    try lines.joined(separator: "\n").write(toFile: dir + "/fields.jsonl", atomically: true, encoding: .utf8)
    let r = try shallot(["pii", "scan", "--jsonl", dir + "/fields.jsonl"])
    #expect(r.status == 0, "\(r.stderr)")
    let outs = r.stdout.split(separator: "\n")
    #expect(outs.count == fs.count)
    var found: [(String, String, String)] = []
    for (f, o) in zip(fs, outs) {
        let ents = ((try? JSONSerialization.jsonObject(with: Data(o.utf8))) as? [String: Any])?["entities"] as? [[String: Any]] ?? []
        for e in ents {
            let type = e["type"] as! String, text = e["text"] as! String
            found.append((f.0, type, type == "PHONE_NUMBER" ? text.filter(\.isNumber) : text.lowercased()))
        }
    }
    return found
}

private let message1 = """
Message-ID: <18782981.1075855378110.JavaMail.evans@thyme>
Date: Mon, 14 May 2001 16:39:00 -0700 (PDT)
From: dana.whitfield@corvale.com
To: marcus.lee@corvale.com
Cc: priya.natarajan@corvale.com
Subject: Re: quarterly numbers for Priya Natarajan
Mime-Version: 1.0
Content-Type: text/plain; charset=us-ascii
X-From: Dana Whitfield
X-To: Marcus Lee <Marcus Lee/HOU/Corvale@Corvale>
X-cc: Priya Natarajan
X-Folder: \\Dana_Whitfield_June2001\\Notes Folders\\Sent
X-FileName: dwhitfi.nsf

Marcus,

Please send the numbers to priya.natarajan@corvale.com by Friday, or call me at (713) 853-7107.

Thanks,
Dana Whitfield
dana.whitfield@corvale.com
713.853.7107

"""

private let message2 = """
Message-ID: <29912.1075855399999.JavaMail.evans@thyme>
Date: Tue, 15 May 2001 09:12:00 -0700 (PDT)
From: "Marcus Lee" <marcus.lee@corvale.com>
To: "Dana Whitfield" <dana.whitfield@corvale.com>
Subject: numbers
X-From: Lee, Marcus
X-To: Whitfield, Dana

Dana, they are attached. My cell is +1 281 555 0143.
Marcus

"""

private let mbox = """
From priya.natarajan@corvale.com Wed May 16 10:00:00 2001
Message-ID: <555.1075855400000.JavaMail.evans@thyme>
From: Priya Natarajan <priya.natarajan@corvale.com>
To: dana.whitfield@corvale.com, marcus.lee@corvale.com
Subject: thanks

Got them, thanks Dana. Reach me at priya.natarajan@corvale.com or 281-555-0199.
Priya

From marcus.lee@corvale.com Wed May 16 11:00:00 2001
Message-ID: <556.1075855400001.JavaMail.evans@thyme>
From: marcus.lee@corvale.com
To: priya.natarajan@corvale.com

Welcome aboard.

"""

@Suite(.serialized) struct SecurityCLITests {
    static let secret = "q7Xk2vR9mB4tW8zL1nC6hJ3fD5sG0aYe"   // 32 bytes, 32 distinct

    /// `shallot serve --host 0.0.0.0` without a key: refused before the model is loaded (it only
    /// warned before); with a key the bind is allowed to go on (here to the missing model).
    @Test func serveRefusesAnOpenBindWithoutAKey() throws {
        let open = try run(["serve", "--model", "/nonexistent-model", "--host", "0.0.0.0", "--port", "0"], env: [:])
        #expect(open.status == 1)
        #expect(open.stderr.contains("needs an API key") && open.stderr.contains("--api-key-env"), "\(open.stderr)")
        let keyed = try run(["serve", "--model", "/nonexistent-model", "--host", "0.0.0.0", "--port", "0", "--api-key-env", "K"], env: ["K": "k3y"])
        #expect(keyed.status == 1 && !keyed.stderr.contains("needs an API key"), "\(keyed.stderr)")
    }

    @Test func scrubLeavesNoRawAddressInAnyFieldOfARealMailCorpus() throws {
        let d = try tmp()
        // A maildir in the Enron layout (user/folder/N.) and an mbox, imported as any corpus is.
        let box = d + "/maildir/whitfield-d/sent"
        try FileManager.default.createDirectory(atPath: box, withIntermediateDirectories: true)
        try message1.write(toFile: box + "/1.", atomically: true, encoding: .utf8)
        try message2.write(toFile: d + "/maildir/whitfield-d/sent/2.", atomically: true, encoding: .utf8)
        try mbox.write(toFile: d + "/natarajan.mbox", atomically: true, encoding: .utf8)
        var r = try shallot(["corpus", "import", "--format", "maildir", d + "/maildir", "--out", d + "/a.jsonl"])
        #expect(r.status == 0, "\(r.stderr)")
        r = try shallot(["corpus", "import", "--format", "mbox", d + "/natarajan.mbox", "--out", d + "/b.jsonl"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(mode(d + "/a.jsonl") == 0o600, "an imported corpus is owner-only")
        let corpus = try String(contentsOfFile: d + "/a.jsonl", encoding: .utf8) + String(contentsOfFile: d + "/b.jsonl", encoding: .utf8)
        try corpus.write(toFile: d + "/corpus.jsonl", atomically: true, encoding: .utf8)
        let input = try records(d + "/corpus.jsonl")
        #expect(input.count == 4)

        let addresses = ["dana.whitfield@corvale.com", "marcus.lee@corvale.com", "priya.natarajan@corvale.com"]
        // Literal values that must not survive anywhere: addresses, Message-ID, mailbox and file names,
        // the names in X-From / X-To.
        let literals = addresses + ["1075855378110", "javamail.evans", "whitfield-d", "natarajan.mbox", "Dana_Whitfield", "Whitfield, Dana", "Lee, Marcus",
                                    "Dana Whitfield", "Marcus Lee"]
        let before = try detect(input, dir: d)
        // The check can fail: the input holds the addresses in the text, subject and meta fields.
        let fieldsWithAddresses = Set(before.filter { addresses.contains($0.value) }.map(\.field))
        #expect(fieldsWithAddresses.isSuperset(of: ["text", "subject", "meta.sender", "meta.recipients"]), "\(fieldsWithAddresses)")
        let originals = Set(before.map { $0.type + "|" + $0.value })

        for m in ["pseudonymize", "redact"] {
            let out = d + "/scrubbed-\(m).jsonl"
            let s = try run(["pii", "scrub", d + "/corpus.jsonl", "--mode", m, "--out", out], env: ["SHALLOT_SCRUB_SECRET": Self.secret])
            #expect(s.status == 0, "\(m): \(s.stderr)")
            #expect(mode(out) == 0o600, "\(m): scrub output is owner-only")
            let rep = try #require(try JSONSerialization.jsonObject(with: Data(s.stdout.utf8)) as? [String: Any])
            #expect((rep["residual"] as? [String: Int])?.isEmpty == true, "\(m): \(s.stdout)")
            let raw = try String(contentsOfFile: out, encoding: .utf8)
            for l in literals { #expect(!raw.lowercased().contains(l.lowercased()), "\(m): \(l) survived") }
            let scrubbed = try records(out)
            #expect(scrubbed.count == input.count)
            for rec in scrubbed {
                for (f, v) in fields(rec) {
                    for a in addresses { #expect(!v.lowercased().contains(a), "\(m): \(a) in \(f)") }
                }
            }
            // The detector finds no original value in any field (redact: no PII at all).
            let after = try detect(scrubbed, dir: d)
            let left = after.filter { m == "redact" || originals.contains($0.type + "|" + $0.value) }
            #expect(left.isEmpty, "\(m): \(left)")
            if m == "pseudonymize" {
                // One person, one pseudonym: Dana's records' subject is the address her From line got.
                let dana = scrubbed.filter { ($0["id"] as? String)?.hasPrefix("maildir:") == true }
                for rec in dana {
                    let text = rec["text"] as! String
                    let from = text.split(separator: "\n").first { $0.hasPrefix("From: ") }!
                    let subject = rec["subject"] as! String
                    #expect(from.lowercased().contains(subject), "\(from) vs \(subject)")
                    #expect((rec["meta"] as! [String: String])["sender"] == subject)
                }
                #expect(Set(scrubbed.map { $0["subject"] as! String }).count == Set(input.map { $0["subject"] as! String }).count)
                #expect(Set(scrubbed.map { $0["id"] as! String }).count == input.count, "ids stay unique")
            }
        }
    }

    @Test func scrubRefusesAShortOrBlankSecret() throws {
        let d = try tmp()
        try #"{"id": "1", "subject": "a@x.com", "text": "mail a@x.com"}"#.write(toFile: d + "/c.jsonl", atomically: true, encoding: .utf8)
        for (secret, message) in [("", "needs a secret"), ("   \n", "needs a secret"), ("short-secret", "at least 32"),
                                  (String(repeating: "ab", count: 20), "repeats a few characters")] {
            let r = try run(["pii", "scrub", d + "/c.jsonl", "--mode", "pseudonymize", "--out", d + "/o.jsonl"], env: ["SHALLOT_SCRUB_SECRET": secret])
            #expect(r.status != 0 && r.stderr.contains(message), "\(secret.debugDescription): \(r.stderr)")
            #expect(!r.stderr.contains("short-secret"), "the secret is never echoed")
        }
        #expect(!FileManager.default.fileExists(atPath: d + "/o.jsonl"))
        #expect(try run(["pii", "scrub", d + "/c.jsonl", "--mode", "pseudonymize", "--out", d + "/o.jsonl"], env: ["SHALLOT_SCRUB_SECRET": Self.secret]).status == 0)
    }

    /// Copies a ledger's database files (not its key or anchor) to `to`.
    func copyDatabase(_ from: String, _ to: String) throws {
        for s in ["", "-wal", "-shm"] {
            try? FileManager.default.removeItem(atPath: to + s)
            if FileManager.default.fileExists(atPath: from + s) { try FileManager.default.copyItem(atPath: from + s, toPath: to + s) }
        }
    }

    @Test func aRewrittenChainAndATruncatedTailFailVerifyIntegrity() throws {
        let d = try tmp()
        let db = d + "/l.sqlite"
        let i = try shallot(["ledger", "init", "--ledger", db])
        #expect(i.status == 0 && i.stdout.contains(db + ".key"), "\(i.stdout)")
        #expect(mode(db + ".key") == 0o600 && mode(db) == 0o600 && mode(db + ".anchor") == 0o600)
        for (k, s) in ["a@x.com", "b@x.com"].enumerated() {
            let r = try shallot(["ledger", "request", s, "--ledger", db])
            #expect(r.status == 0 && r.stderr.contains("ledger head: entry \(k + 1) "), "the head is printed: \(r.stderr)")
        }
        try copyDatabase(db, d + "/two-entries.sqlite")   // a backup, before the third entry
        #expect(try shallot(["ledger", "request", "c@x.com", "--ledger", db]).status == 0)
        let anchor = try String(contentsOfFile: db + ".anchor", encoding: .utf8).split(separator: "\n")
        #expect(anchor.count == 3 && anchor[2].hasPrefix("3 "))
        var v = try shallot(["ledger", "verify", "--integrity", "--ledger", db])
        #expect(v.status == 0 && v.stdout.contains("3 entries") && v.stdout.contains("3 anchored"), "\(v.stdout)\(v.stderr)")
        try copyDatabase(db, d + "/good.sqlite")

        // Truncated tail: the backup put back. Its chain is valid; the anchor says entry 3 existed.
        try copyDatabase(d + "/two-entries.sqlite", db)
        v = try shallot(["ledger", "verify", "--integrity", "--ledger", db])
        #expect(v.status == 1 && v.stderr.contains("entry 3: anchored but not in the ledger"), "\(v.stderr)")
        let more = try shallot(["ledger", "request", "d@x.com", "--ledger", db])
        #expect(more.status == 1 && more.stderr.contains("truncated"), "a truncated ledger is not extended: \(more.stderr)")

        // Rewritten chain: a ledger built the same way by someone without the key, put in its place.
        try copyDatabase(d + "/good.sqlite", db)
        #expect(try shallot(["ledger", "verify", "--integrity", "--ledger", db]).status == 0)
        let forged = d + "/forged.sqlite"
        #expect(try shallot(["ledger", "init", "--ledger", forged]).status == 0)
        for s in ["a@x.com", "b@x.com", "c@x.com"] { #expect(try shallot(["ledger", "request", s, "--ledger", forged]).status == 0) }
        try copyDatabase(forged, db)
        v = try shallot(["ledger", "verify", "--integrity", "--ledger", db])
        #expect(v.status == 1 && v.stderr.contains("keyed hash") && v.stderr.contains("the ledger was rewritten"), "\(v.stderr)")
        // Without its key, the ledger is refused with a clear message.
        try FileManager.default.removeItem(atPath: db + ".key")
        let nokey = try shallot(["ledger", "list", "--ledger", db])
        #expect(nokey.status == 1 && nokey.stderr.contains("\(db).key: no key file"), "\(nokey.stderr)")
    }

    @Test func auditOutputsAreOwnerOnlyCSVCellsCannotRunAndAnInterruptRemovesRawValues() throws {
        let d = try tmp()
        #expect(try shallot(["corpus", "synth", "--subjects", "12", "--records", "80", "--seed", "2", "--out", d + "/c.jsonl"]).status == 0)
        // A subject a spreadsheet would read as a formula, frequent enough to be among the audited values.
        var lines = try String(contentsOfFile: d + "/c.jsonl", encoding: .utf8)
        for i in 0..<12 { lines += #"{"id": "f-\#(i)", "subject": "=sum(1+1)", "text": "From: =sum(1+1)\nwrite to formula.person@example.com, item \#(i)"}"# + "\n" }
        try lines.write(toFile: d + "/c.jsonl", atomically: true, encoding: .utf8)
        let t = try shallot(["train", "--data", d + "/c.jsonl", "--out", d + "/model", "--steps", "10"] + trainArgs)
        #expect(t.status == 0, "\(t.stderr)")
        let a = try shallot(["audit", "--model", d + "/model", "--data", d + "/c.jsonl", "--attacks", "extraction", "--k", "10", "--limit", "4",
                             "--reveal-pii", "--out", d + "/audit"])
        #expect(a.status == 0, "\(a.stderr)")
        #expect(mode(d + "/audit") == 0o700)
        for f in ["audit.json", "audit.html", "subjects.csv"] { #expect(mode(d + "/audit/" + f) == 0o600, "\(f)") }
        let csv = try String(contentsOfFile: d + "/audit/subjects.csv", encoding: .utf8).split(separator: "\n")
        #expect(csv.contains { $0.hasPrefix("'=sum(1+1),") }, "\(csv)")
        #expect(!csv.contains { $0.hasPrefix("=") || $0.contains(",=") || $0.contains(",+") || $0.contains(",@") })

        // SIGINT while stages (raw values) are on disk: the checkpoint goes, the exit status says why.
        let p = Process()
        p.executableURL = shallotBinary()
        p.arguments = ["audit", "--model", d + "/model", "--data", d + "/c.jsonl", "--attacks", "extraction,exposure", "--k", "10,50", "--samples", "8",
                       "--out", d + "/interrupted"]
        p.standardOutput = FileHandle.nullDevice; p.standardError = FileHandle.nullDevice
        try p.run()
        let cp = d + "/interrupted/.checkpoint"
        var sawStage = false
        for _ in 0..<4000 where p.isRunning {
            if FileManager.default.fileExists(atPath: cp + "/values.json") { sawStage = true; break }
            usleep(2000)
        }
        #expect(sawStage, "the audit finished before a stage was written")
        if sawStage {
            #expect(mode(cp) == 0o700 && mode(cp + "/values.json") == 0o600 && mode(cp + "/salt") == 0o600)
            kill(p.processIdentifier, SIGINT)
        }
        p.waitUntilExit()
        if sawStage {
            #expect(p.terminationStatus == 130)
            #expect(!FileManager.default.fileExists(atPath: cp), "raw values left behind after SIGINT")
        }
    }

    /// `report` rewriting an audit's HTML, `tokenizer encode --out` and `ledger export --out` hold
    /// PII (raw values with --reveal-pii, the corpus one decode away, masked subjects): they were
    /// written 0644 by the old code. Now 0600, and a link planted at the output path (pointing at
    /// a file the planter can read, or one of the user's they want overwritten) is replaced, not
    /// written through.
    @Test func rewrittenAndExportedFilesAreOwnerOnlyAndFollowNoPlantedLink() throws {
        let d = try tmp()
        let decoy = d + "/decoy"
        try Data("decoy".utf8).write(to: URL(fileURLWithPath: decoy))
        chmod(decoy, 0o644)
        func plant(_ path: String) throws {
            try? FileManager.default.removeItem(atPath: path)
            try FileManager.default.createSymbolicLink(atPath: path, withDestinationPath: decoy)
        }
        func written(_ path: String, _ r: RunResult) throws {
            #expect(r.status == 0, "\(path): \(r.stderr)")
            var st = stat()
            #expect(lstat(path, &st) == 0 && st.st_mode & S_IFMT == S_IFREG, "\(path): the planted link is still there")
            #expect(mode(path) == 0o600, "\(path)")
            #expect(try String(contentsOfFile: decoy, encoding: .utf8) == "decoy" && mode(decoy) == 0o644, "\(path) was written through the link")
        }
        #expect(try shallot(["corpus", "synth", "--subjects", "8", "--records", "40", "--seed", "3", "--out", d + "/c.jsonl"]).status == 0)
        #expect(try shallot(["train", "--data", d + "/c.jsonl", "--out", d + "/model", "--steps", "5"] + trainArgs).status == 0)
        let a = try shallot(["audit", "--model", d + "/model", "--data", d + "/c.jsonl", "--attacks", "extraction", "--k", "10", "--limit", "4",
                             "--reveal-pii", "--out", d + "/audit"])
        #expect(a.status == 0, "\(a.stderr)")
        try plant(d + "/audit/audit.html")
        try written(d + "/audit/audit.html", try shallot(["report", d + "/audit/audit.json"]))
        try plant(d + "/c.tok")
        try written(d + "/c.tok", try shallot(["tokenizer", "encode", "--tokenizer", d + "/model", "--data", d + "/c.jsonl", "--out", d + "/c.tok"]))
        let db = d + "/l.sqlite"
        #expect(try shallot(["ledger", "init", "--ledger", db]).status == 0)
        #expect(try shallot(["ledger", "request", "dana@corvale.com", "--ledger", db]).status == 0)
        try plant(d + "/export.json")
        try written(d + "/export.json", try shallot(["ledger", "export", "--ledger", db, "--out", d + "/export.json"]))
    }

    @Test func studySaltsLiveApartAndStagesHoldNoSubjects() throws {
        let d = try tmp()
        let args = ["study", "--preset", "smoke", "--threads", "1", "--out", d + "/study", "--keys", d + "/keys"]
        let r = try shallot(args)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: d + "/study/.salt"), "the salt sits beside the hashes it protects")
        let salts = try FileManager.default.contentsOfDirectory(atPath: d + "/keys")
        #expect(salts.count == 1 && salts[0].hasPrefix("study-") && mode(d + "/keys/" + salts[0]) == 0o600 && mode(d + "/keys") == 0o700)
        #expect(mode(d + "/study") == 0o700 && mode(d + "/study/stages") == 0o700)
        let stages = try FileManager.default.contentsOfDirectory(atPath: d + "/study/stages").filter { $0.hasSuffix(".json") }
        #expect(stages.count >= 3)
        for f in stages {
            #expect(mode(d + "/study/stages/" + f) == 0o600, "\(f)")
            let text = try String(contentsOfFile: d + "/study/stages/" + f, encoding: .utf8)
            #expect(!text.contains("@"), "\(f) holds a raw subject")
        }
        #expect(mode(d + "/study/ownership.json") == 0o600)
        // study.json and study.html are owner-only too (with --reveal-pii they name subjects)
        #expect(mode(d + "/study/study.json") == 0o600 && mode(d + "/study/study.html") == 0o600)
        // The stages map back to subjects: a second run reuses them all and writes the same study
        // (in place of a link planted at study.html, never through it).
        let before = try String(contentsOfFile: d + "/study/study.json", encoding: .utf8)
        try Data("decoy".utf8).write(to: URL(fileURLWithPath: d + "/decoy"))
        try FileManager.default.removeItem(atPath: d + "/study/study.html")
        try FileManager.default.createSymbolicLink(atPath: d + "/study/study.html", withDestinationPath: d + "/decoy")
        let again = try shallot(args)
        #expect(again.status == 0, "\(again.stderr)")
        #expect(!again.stderr.contains("fine-tune + audit"), "a stage was run again: \(again.stderr)")
        let after = try String(contentsOfFile: d + "/study/study.json", encoding: .utf8)
        #expect(try String(contentsOfFile: d + "/decoy", encoding: .utf8) == "decoy" && mode(d + "/study/study.html") == 0o600)
        #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: d + "/study/study.html")) == nil, "the planted link is still there")
        func strip(_ s: String) -> String { s.split(separator: "\n").filter { !$0.contains("\"created\"") && !$0.contains("\"seconds\"") }.joined(separator: "\n") }
        #expect(strip(before) == strip(after))
    }
}

extension SecurityCLITests {
    /// Issue 22 leftover, the primary-group gap: an output directory writable by its group was
    /// accepted when that group was the process's own and listed no members — `nogroup` lists
    /// none, yet is the primary group of `nobody`, `_apt` and `sync`, who can all write there.
    /// Run with that group as the process's (setpriv; as root, where it is available).
    @Test(.enabled(if: geteuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv") && getgrgid(65534) != nil))
    func aDirectoryWritableByASharedPrimaryGroupIsRefused() throws {
        let d = try tmp()
        defer { try? FileManager.default.removeItem(atPath: d) }
        let out = d + "/shared"
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: false)
        #expect(chown(out, 0, 65534) == 0 && chmod(out, 0o770) == 0)
        try writeSalt("a fixed salt of sixteen bytes or more", to: d + "/salt")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
        p.arguments = ["--regid=65534", "--clear-groups", shallotBinary().path, "study", "--preset", "smoke", "--salt-file", d + "/salt",
                       "--corpus", d + "/no-such-corpus.jsonl", "--out", out]
        let err = Pipe()
        p.standardError = err; p.standardOutput = FileHandle.nullDevice
        try p.run()
        let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        #expect(p.terminationStatus == 1)
        #expect(text.contains(out) && text.contains("writable by others (mode 770)"), "the shared group's directory was taken:\n\(text)")
    }
}

extension SecurityCLITests {
    /// Issue 22 review, M3: `--out` existed, in a directory others can write without the sticky
    /// bit. Any of them could move it aside and put a link to their own directory in its place,
    /// and the run would read its stage files from there. The study stops before any stage,
    /// naming that directory; once it is sticky the same output directory is taken.
    @Test func anOutputDirectoryOthersCanMoveIsRefused() throws {
        let d = try tmp()
        defer { try? FileManager.default.removeItem(atPath: d) }
        let shared = d + "/proj"
        try FileManager.default.createDirectory(atPath: shared + "/run1", withIntermediateDirectories: true)
        #expect(chmod(shared + "/run1", 0o700) == 0 && chmod(shared, 0o777) == 0)
        try writeSalt("a fixed salt of sixteen bytes or more", to: d + "/salt")
        let args = ["study", "--preset", "smoke", "--salt-file", d + "/salt", "--corpus", d + "/no-such-corpus.jsonl", "--out", shared + "/run1"]
        let r = try shallot(args)
        #expect(r.status == 1)
        #expect(r.stderr.contains(shared + " is writable by others (mode 777) without the sticky bit"), "\(r.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: shared + "/run1").isEmpty, "the study wrote into it")
        #expect(chmod(shared, 0o1777) == 0)
        let sticky = try shallot(args)
        #expect(sticky.status == 1 && sticky.stderr.contains("no-such-corpus") && !sticky.stderr.contains("sticky bit"), "\(sticky.stderr)")
    }
}

extension SecurityCLITests {
    /// Every regular file under `dir` with its mode, and every directory's (`dir` included).
    func modes(under dir: String) throws -> [(path: String, mode: Int?)] {
        let items = try FileManager.default.subpathsOfDirectory(atPath: dir).map { dir + "/" + $0 }
        return [(dir, mode(dir))] + items.map { ($0, mode($0)) }
    }

    /// Issue 22 review, M2: model weights (which can memorise the records they were trained on),
    /// their config, provenance and checkpoints, and vocabularies learnt from the corpus were
    /// written 0644 whatever the umask, in directories FileManager made with the umask. Now every
    /// file 0600 and every directory 0700: `train --out`, `unlearn --out`, `tokenizer train --out`.
    @Test func modelsAndTokenizersAreOwnerOnly() throws {
        let d = try tmp()
        defer { try? FileManager.default.removeItem(atPath: d) }
        #expect(try shallot(["corpus", "synth", "--subjects", "8", "--records", "40", "--seed", "3", "--out", d + "/c.jsonl"]).status == 0)
        let t = try shallot(["train", "--data", d + "/c.jsonl", "--out", d + "/runs/model", "--steps", "4", "--vocab-size", "300",
                             "--checkpoint-every", "2"] + trainArgs)
        #expect(t.status == 0, "\(t.stderr)")
        let subject = try #require(try records(d + "/c.jsonl").first?["subject"] as? String)
        let u = try shallot(["unlearn", "--model", d + "/runs/model", "--data", d + "/c.jsonl", "--forget", subject, "--method", "ga",
                             "--steps", "2", "--out", d + "/runs/unlearned"])
        #expect(u.status == 0, "\(u.stderr)")
        let k = try shallot(["tokenizer", "train", "--data", d + "/c.jsonl", "--vocab-size", "300", "--out", d + "/tok/bpe"])
        #expect(k.status == 0, "\(k.stderr)")
        for dir in [d + "/runs", d + "/tok"] {
            var isDir: ObjCBool = false
            for (path, m) in try modes(under: dir) {
                #expect(FileManager.default.fileExists(atPath: path, isDirectory: &isDir))
                #expect(m == (isDir.boolValue ? 0o700 : 0o600), "\(path): mode \(String(m ?? 0, radix: 8))")
            }
        }
        for f in ["model.safetensors", "config.json", "generation_config.json", "shallot.json", "vocab.json", "merges.txt", "tokenizer.json"] {
            #expect(mode(d + "/runs/model/" + f) == 0o600 && mode(d + "/runs/unlearned/" + f) == 0o600, "\(f)")
        }
    }

    /// The same commands' directories made without following a link another user planted where
    /// a parent should be (FileManager's withIntermediateDirectories followed it and wrote the
    /// model, or the vocabulary, wherever it pointed). Root only: the link must be someone else's.
    @Test(.enabled(if: geteuid() == 0))
    func modelDirectoriesFollowNoPlantedLink() throws {
        let d = try tmp()
        defer { try? FileManager.default.removeItem(atPath: d) }
        #expect(try shallot(["corpus", "synth", "--subjects", "8", "--records", "40", "--seed", "3", "--out", d + "/c.jsonl"]).status == 0)
        try FileManager.default.createDirectory(atPath: d + "/elsewhere", withIntermediateDirectories: false)
        #expect(symlink(d + "/elsewhere", d + "/planted") == 0 && lchown(d + "/planted", 65534, 65534) == 0)
        let runs = [["train", "--data", d + "/c.jsonl", "--out", d + "/planted/model", "--steps", "2"] + trainArgs,
                    ["tokenizer", "train", "--data", d + "/c.jsonl", "--vocab-size", "300", "--out", d + "/planted/tok"]]
        for args in runs {
            let r = try shallot(args)
            #expect(r.status == 1 && r.stderr.contains(d + "/planted") && r.stderr.contains("symbolic link owned by user 65534"), "\(args[0]): \(r.stderr)")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: d + "/elsewhere").isEmpty, "written through the planted link")
    }
}

extension SecurityCLITests {
    /// Issue 22 review, L3, from the command line: a --salt-file others can read (written with the
    /// usual umask) is refused before anything runs, naming the file and what to do; so is a
    /// link to a good one. The old code used both.
    @Test func aSaltFileOthersCanReadIsRefused() throws {
        let d = try tmp()
        defer { try? FileManager.default.removeItem(atPath: d) }
        try writeSalt("a salt of more than sixteen bytes", to: d + "/salt")
        #expect(symlink(d + "/salt", d + "/link") == 0)
        try Data("a salt of more than sixteen bytes".utf8).write(to: URL(fileURLWithPath: d + "/open"))
        chmod(d + "/open", 0o644)
        for (file, why) in [("open", "chmod 600"), ("link", "symbolic link")] {
            let r = try shallot(["study", "--preset", "smoke", "--salt-file", d + "/" + file, "--corpus", d + "/no-such-corpus.jsonl", "--out", d + "/study"])
            #expect(r.status == 1 && r.stderr.contains(d + "/" + file) && r.stderr.contains(why), "\(file): \(r.stderr)")
        }
    }
}

extension SecurityCLITests {
    /// Issue 22 review, L5, end to end: someone who can write OUT plants `OUT/jobs/base` as a link
    /// to a directory of their choosing, to be handed the job's records and token stream there (or
    /// to hand the study a model of theirs). `shallot study` refuses it — exit 1, naming the link —
    /// and writes nothing where it points.
    @Test func aPlantedJobDirectoryLinkStopsTheStudy() throws {
        let d = try tmp()
        defer { try? FileManager.default.removeItem(atPath: d) }
        let out = d + "/study", elsewhere = d + "/elsewhere"
        for dir in [out, out + "/jobs", elsewhere] {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        }
        #expect(symlink(elsewhere, out + "/jobs/base") == 0)
        let r = try shallot(["study", "--preset", "smoke", "--threads", "1", "--jobs", "1", "--out", out, "--keys", d + "/keys"])
        #expect(r.status == 1)
        #expect(r.stderr.contains(out + "/jobs/base") && r.stderr.contains("symbolic link"), "\(r.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: elsewhere).isEmpty, "the study wrote through the planted link")
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: out + "/jobs/base") == elsewhere, "the link was replaced, not refused")
    }
}
