// `corpus synth --namesakes`: the plant's sidecar, the null twin, and clear errors.

import Foundation
import Testing

@Suite(.serialized) struct SynthNamesakeCLITests {
    func mode(_ path: String) throws -> Int { try (FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as! NSNumber).intValue }

    func json(_ path: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [String: Any]
    }

    func records(_ path: String) throws -> [[String: Any]] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
    }

    @Test func sidecarsListTheGroupsOwnerOnly() throws {
        let d = try tmp()
        defer { try? FileManager.default.removeItem(atPath: d) }
        let base = ["corpus", "synth", "--subjects", "30", "--records", "200", "--seed", "3", "--namesakes", "3", "--namesake-light", "2",
                    "--namesake-light-messages", "5", "--namesake-heavy-messages", "12"]
        var r = try shallot(base + ["--canary-repeats", "2", "--out", d + "/planted.jsonl"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("3 namesake groups"))
        r = try shallot(base + ["--namesake-null", "--out", d + "/null.jsonl"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("(null twin)"))
        for f in ["planted.jsonl", "planted.jsonl.namesakes.json", "planted.jsonl.canaries.json", "null.jsonl", "null.jsonl.namesakes.json"] {
            #expect(try mode(d + "/" + f) == 0o600, "\(f)")
        }
        let planted = try json(d + "/planted.jsonl.namesakes.json"), null = try json(d + "/null.jsonl.namesakes.json")
        #expect(planted["schema"] as? String == "shallot.namesakes/1" && planted["null"] as? Bool == false && null["null"] as? Bool == true)
        #expect((planted["settings"] as! [String: Any])["namesakeGroups"] as? Int == 3)
        let groups = planted["groups"] as! [[String: Any]], nullGroups = null["groups"] as! [[String: Any]]
        #expect(groups.count == 3)
        var sent: [String: Int] = [:]
        for rec in try records(d + "/planted.jsonl") { sent[rec["subject"] as! String, default: 0] += 1 }
        for (g, n) in zip(groups, nullGroups) {
            let heavy = g["heavy"] as! [String: Any], light = g["light"] as! [[String: Any]], nullLight = n["light"] as! [[String: Any]]
            #expect(light.count == 2 && (sent[heavy["subject"] as! String] ?? 0) >= 12)
            for (l, nl) in zip(light, nullLight) {
                for k in ["subject", "email", "phone", "phone_normalized", "name", "null_name", "records", "signed"] { #expect(l[k] != nil, "\(k)") }
                #expect(sent[l["subject"] as! String] == 5 && l["records"] as? Int == 5)
                #expect(l["name"] as? String == g["name"] as? String && nl["name"] as? String == l["null_name"] as? String)
                #expect(l["phone"] as? String == nl["phone"] as? String && l["phone"] as? String != heavy["phone"] as? String)
            }
        }
        // Without --namesakes there is no sidecar.
        r = try shallot(["corpus", "synth", "--subjects", "12", "--records", "40", "--out", d + "/plain.jsonl"])
        #expect(r.status == 0 && !FileManager.default.fileExists(atPath: d + "/plain.jsonl.namesakes.json"))
    }

    @Test func impossibleSettingsAreRefusedWithTheirNumbers() throws {
        let d = try tmp()
        defer { try? FileManager.default.removeItem(atPath: d) }
        let synth = ["corpus", "synth", "--subjects", "30", "--records", "200", "--out", d + "/c.jsonl"]
        var r = try shallot(synth + ["--namesakes", "11", "--namesake-light", "2"])
        #expect(r.status != 0 && r.stderr.contains("11 × 3 = 33 subjects, but there are only 30"), "\(r.stderr)")
        r = try shallot(synth + ["--namesakes", "5", "--namesake-light-messages", "20"])
        #expect(r.status != 0 && r.stderr.contains("5 × (30 heavy + 1 × 20 light messages) = 250 records, but there are only 200"), "\(r.stderr)")
        r = try shallot(synth + ["--namesake-null"])
        #expect(r.status != 0 && r.stderr.contains("--namesake-null need(s) --namesakes G with G > 0"), "\(r.stderr)")
        r = try shallot(synth + ["--namesakes=-1"])
        #expect(r.status != 0 && r.stderr.contains("--namesakes must be 0 or more"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: d + "/c.jsonl"))
    }

    /// --signature-rate and --referral-rate set how often a sender's own number and address
    /// appear in their mail, and how often others' do: with both 0 no record holds a phone number;
    /// with every message signed there is at least one per record.
    @Test func signatureAndReferralRatesDecideWhereNumbersAppear() throws {
        let d = try tmp()
        defer { try? FileManager.default.removeItem(atPath: d) }
        func phones(_ rates: [String]) throws -> (records: Int, phones: Int) {
            var r = try shallot(["corpus", "synth", "--subjects", "20", "--records", "80", "--seed", "4"] + rates + ["--out", d + "/c.jsonl"])
            #expect(r.status == 0, "\(r.stderr)")
            r = try shallot(["corpus", "stats", d + "/c.jsonl", "--json"])
            let j = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
            return (j["records"] as! Int, (j["pii_occurrences"] as! [String: Int])["PHONE_NUMBER"] ?? 0)
        }
        #expect(try phones(["--signature-rate", "0", "--referral-rate", "0"]).phones == 0)
        #expect(try phones([]).phones > 0)
        let all = try phones(["--signature-rate", "1", "--referral-rate", "0"])
        #expect(all.phones >= all.records, "\(all)")
        for bad in [["--signature-rate", "1.5"], ["--referral-rate=-0.1"]] {
            let r = try shallot(["corpus", "synth", "--subjects", "20", "--records", "80", "--out", d + "/x.jsonl"] + bad)
            #expect(r.status != 0 && r.stderr.contains("are probabilities (0 to 1)"), "\(r.stderr)")
        }
    }
}
