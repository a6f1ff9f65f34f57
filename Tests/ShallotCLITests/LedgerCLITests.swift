// The ledger from the command line: files made only by `ledger init`, request ids, one
// normalisation of subjects, and erasure verification that cannot pass vacuously.

import Foundation
import Testing

private func json(_ s: String) throws -> [String: Any] {
    try #require(try JSONSerialization.jsonObject(with: Data(s.utf8)) as? [String: Any])
}

private func exportedEntries(_ db: String, kind: String) throws -> [[String: Any]] {
    let r = try shallot(["ledger", "export", "--ledger", db])
    let entries = try #require(try json(r.stdout)["entries"] as? [[String: Any]])
    return entries.filter { $0["kind"] as? String == kind }.compactMap { $0["payload"] as? [String: Any] }
}

/// Alice owns an address and a phone number; Bob's records hold no PII; Carol owns her address.
private func writeCorpus(_ path: String) throws {
    var lines: [String] = []
    for i in 0..<8 { lines.append(#"{"id": "a-\#(i)", "subject": "alice@x.com", "text": "From alice@x.com: call me on (713) 853-7107 about item \#(i)."}"#) }
    for i in 0..<4 { lines.append(#"{"id": "b-\#(i)", "subject": "bob@y.com", "text": "The meeting moved to Friday, item \#(i)."}"#) }
    for i in 0..<4 { lines.append(#"{"id": "c-\#(i)", "subject": "carol@z.com", "text": "Carol here (carol@z.com), the report \#(i) is late."}"#) }
    try lines.joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
}

@Suite(.serialized) struct LedgerCLITests {
    @Test func ledgerFilesAreMadeOnlyByInit() throws {
        let d = try tmp()
        let db = d + "/typo.sqlite"
        let commands: [[String]] = [["ledger", "list"], ["ledger", "request", "a@x.com"], ["ledger", "status", "a@x.com"],
                                    ["ledger", "register", "--model", d + "/m", "--data", d + "/c.jsonl"], ["ledger", "verify", "--integrity"],
                                    ["ledger", "verify", "1", "--model", d + "/m", "--data", d + "/c.jsonl", "--subject", "a@x.com"], ["ledger", "export"],
                                    ["unlearn", "--model", d + "/m", "--data", d + "/c.jsonl", "--forget", "a@x.com", "--method", "ga", "--out", d + "/u"],
                                    ["study", "--preset", "smoke", "--out", d + "/study"]]
        for c in commands {
            let r = try shallot(c + ["--ledger", db])
            #expect(r.status == 1, "\(c)")
            #expect(r.stderr == "error: \(db): no ledger here; create one with `shallot ledger init --ledger \(db)`\n", "\(c): \(r.stderr)")
            #expect(!FileManager.default.fileExists(atPath: db), "\(c) created the ledger")
        }
        #expect(!FileManager.default.fileExists(atPath: d + "/study"), "the study started before the ledger was checked")
        let i = try shallot(["ledger", "init", "--ledger", db])
        #expect(i.status == 0 && FileManager.default.fileExists(atPath: db), "\(i.stderr)")
        #expect(try shallot(["ledger", "request", "a@x.com", "--ledger", db]).status == 0)
        let again = try shallot(["ledger", "init", "--ledger", db])
        #expect(again.status == 1 && again.stderr.contains(db) && again.stderr.contains("already there"))
        #expect(try shallot(["ledger", "list", "--ledger", db]).stdout.contains("R-1"), "init over an existing ledger must leave it alone")
    }

    @Test func requestsHaveTheirOwnIds() throws {
        let d = try tmp()
        let db = d + "/l.sqlite"
        #expect(try shallot(["ledger", "init", "--ledger", db]).status == 0)
        let r1 = try shallot(["ledger", "request", "a@x.com", "--ledger", db, "--received", "2026-11-01"])
        #expect(r1.stdout.hasPrefix("request R-1: "), "\(r1.stdout)")
        #expect(try shallot(["ledger", "stress", "--ledger", db, "--count", "3"]).status == 0)   // other entries in between
        let r2 = try shallot(["ledger", "request", "b@x.com", "--ledger", db])
        #expect(r2.stdout.hasPrefix("request R-2: "), "\(r2.stdout)")
        let list = try shallot(["ledger", "list", "--ledger", db]).stdout.split(separator: "\n")
        #expect(list.count == 2 && list[0].hasPrefix("R-1\t") && list[1].hasPrefix("R-2\t"))
        let j = try #require(try JSONSerialization.jsonObject(with: Data(shallot(["ledger", "list", "--ledger", db, "--json"]).stdout.utf8)) as? [[String: Any]])
        #expect(j.map { $0["request_id"] as? String } == ["R-1", "R-2"] && j.map { $0["id"] as? Int } == [1, 5])
        for (id, message) in [("R-9", "no request R-9"), ("x", "x: not a request id")] {
            let v = try shallot(["ledger", "verify", id, "--ledger", db, "--model", d + "/m", "--data", d + "/c.jsonl", "--subject", "a@x.com"])
            #expect(v.status == 1 && v.stderr.contains(message), "\(v.stderr)")
        }
    }

    @Test func verifyPassesOnlyWithValuesToTestAndTheRecordedCorpus() throws {
        let d = try tmp()
        let data = d + "/c.jsonl", db = d + "/l.sqlite"
        try writeCorpus(data)
        let t = try shallot(["train", "--data", data, "--out", d + "/m", "--steps", "5"] + trainArgs)
        #expect(t.status == 0, "\(t.stderr)")
        #expect(try shallot(["ledger", "init", "--ledger", db]).status == 0)
        // One subject, however it is typed.
        #expect(try shallot(["ledger", "request", "  Alice@X.COM ", "--ledger", db]).stdout.hasPrefix("request R-1: "))
        #expect(try shallot(["ledger", "request", "bob@y.com", "--ledger", db]).stdout.hasPrefix("request R-2: "))
        #expect(try shallot(["ledger", "register", "--model", d + "/m", "--data", data, "--ledger", db]).status == 0)
        for s in ["ALICE@x.com", "alice@x.com "] { #expect(try shallot(["ledger", "status", s, "--ledger", db]).stdout.contains("STILL CONTAINS"), "\(s)") }

        // The trained model is no erasure's output: auditing it needs --any-model (and cannot
        // verify the request).
        func verify(_ req: String, _ subject: String, model: String? = nil, data file: String = data, _ extra: [String] = ["--any-model"]) throws -> RunResult {
            try shallot(["ledger", "verify", req, "--ledger", db, "--model", model ?? d + "/m", "--data", file, "--subject", subject] + extra)
        }
        let refused = try verify("R-1", "alice@x.com", [])
        #expect(refused.status == 1 && refused.stderr.contains("not the output of an erasure action answering R-1"), "\(refused.stderr)")
        // The trained model is no unlearned model: there is no original to show the attack sees
        // the values, so a clean audit of it is inconclusive (exit 1).
        func noOriginal(_ r: RunResult) -> Bool {
            r.status == 1 && r.stdout.contains(": INCONCLUSIVE — ") && r.stdout.contains("no original model was compared")
        }
        let a = try verify("R-1", "Alice@X.com")
        #expect(noOriginal(a) && a.stdout.contains("of request R-1"), "\(a.stdout)\(a.stderr)")

        // Bob owns no value in the corpus: nothing to test is not a pass.
        let b = try verify("2", "BOB@y.com")
        #expect(b.status == 1 && b.stdout.contains("of request R-2: INCONCLUSIVE") && b.stdout.contains("nothing to test"), "\(b.stdout)\(b.stderr)")
        let states = try #require(try JSONSerialization.jsonObject(with: Data(shallot(["ledger", "list", "--ledger", db, "--json"]).stdout.utf8)) as? [[String: Any]])
        #expect(states[1]["state"] as? String == "verification inconclusive")
        let recorded = try exportedEntries(db, kind: "verification")
        #expect(recorded.map { $0["request"] as? String } == ["R-1", "R-2"])
        #expect(recorded.last?["verdict"] as? String == "inconclusive" && recorded.last?["subject_values"] as? Int == 0)
        #expect(try verify("2", "alice@x.com").stderr.contains("does not match request R-2"))

        // --data must be the corpus the model was trained on: a cut-down file is refused…
        let lines = try String(contentsOfFile: data, encoding: .utf8).split(separator: "\n")
        try lines.dropLast().joined(separator: "\n").write(toFile: d + "/other.jsonl", atomically: true, encoding: .utf8)
        let prov = try json(String(contentsOfFile: d + "/m/shallot.json", encoding: .utf8))
        let recordedSHA = try #require((prov["corpus"] as? [String: Any])?["file_sha256"] as? String)
        let o = try verify("1", "alice@x.com", data: d + "/other.jsonl")
        #expect(o.status == 1 && o.stdout.isEmpty, "\(o.stdout)")
        #expect(o.stderr.hasPrefix("error: \(d)/other.jsonl: not the corpus") && o.stderr.contains(String(recordedSHA.prefix(12)) + "…"), "\(o.stderr)")
        #expect(o.stderr.split(separator: "\n").count == 1)
        // …the same records in another order are the same corpus (record manifest).
        try lines.reversed().joined(separator: "\n").write(toFile: d + "/reordered.jsonl", atomically: true, encoding: .utf8)
        let re = try verify("1", "alice@x.com", data: d + "/reordered.jsonl")
        #expect(noOriginal(re), "\(re.stdout)\(re.stderr)")

        // No provenance: refused unless allowed, and then the payload says so.
        try FileManager.default.createDirectory(atPath: d + "/bare", withIntermediateDirectories: true)
        for f in ["config.json", "model.safetensors", "vocab.json", "merges.txt"] { try FileManager.default.copyItem(atPath: d + "/m/" + f, toPath: d + "/bare/" + f) }
        let bare = try verify("1", "alice@x.com", model: d + "/bare")
        #expect(bare.status == 1 && bare.stderr.contains("\(d)/bare/shallot.json: no training corpus recorded"), "\(bare.stderr)")
        let allowed = try verify("1", "alice@x.com", model: d + "/bare", ["--allow-unrecorded-data", "--any-model"])
        #expect(noOriginal(allowed), "\(allowed.stdout)\(allowed.stderr)")
        #expect(try exportedEntries(db, kind: "verification").last?["unrecorded_data_allowed"] as? Bool == true)

        // unlearn: the subject normalised, the request named by its id and checked.
        let wrong = try shallot(["unlearn", "--model", d + "/m", "--data", data, "--forget", "alice@x.com", "--method", "ga", "--steps", "2",
                                 "--out", d + "/w", "--ledger", db, "--request", "R-2"])
        #expect(wrong.status == 1 && wrong.stderr.contains("request R-2's subject is not among the subjects to forget"), "\(wrong.stderr)")
        let u = try shallot(["unlearn", "--model", d + "/m", "--data", data, "--forget", " ALICE@x.com ", "--method", "ga", "--steps", "2",
                             "--out", d + "/u", "--ledger", db, "--request", "1"])
        #expect(u.status == 0 && u.stdout.contains("forgot 8 records of 1 subjects"), "\(u.stderr)")
        #expect(try exportedEntries(db, kind: "action").first?["requests"] as? [String] == ["R-1"])
        #expect(try shallot(["ledger", "status", "alice@x.com", "--ledger", db]).stdout.contains("unlearned in a later model"))
        // The unlearned model (the erasure's output: no --any-model): checked against the
        // original's corpus (the file, or the same records in another order). The original, 5
        // steps trained, leaks nothing, so a clean audit shows nothing: inconclusive.
        for file in [data, d + "/reordered.jsonl"] {
            let v = try verify("R-1", "alice@x.com", model: d + "/u", data: file, [])
            #expect(v.status == 1 && v.stdout.contains(": INCONCLUSIVE — ") && v.stdout.contains("original model does not leak them to this attack either"), "\(file): \(v.stdout)\(v.stderr)")
        }
        #expect(try exportedEntries(db, kind: "verification").last?["erasure_output"] as? Bool == true)
        #expect(try #require(try JSONSerialization.jsonObject(with: Data(shallot(["ledger", "list", "--ledger", db, "--json"]).stdout.utf8)) as? [[String: Any]])[0]["state"] as? String == "verification inconclusive")
        let last = try #require(try exportedEntries(db, kind: "verification").last)
        #expect(last["corpus_match"] as? String == "manifest_sha256" && last["corpus_matched_model"] as? String == d + "/m")
        #expect(last["original_subject_values_extracted"] as? Int == 0)
        #expect(last["original_path"] as? String == d + "/m" && last["newly_vulnerable_others"] is Int)
        #expect(try shallot(["ledger", "verify", "--integrity", "--ledger", db]).status == 0)
    }
}
