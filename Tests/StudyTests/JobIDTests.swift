// The study's job ids (JobID, Sources/Study/JobID.swift): spelled exactly as plan.json, the job
// directories and the stage files of earlier studies spell them, read back from those spellings,
// and nothing else is taken for an id.

import Foundation
import Testing
@testable import Study

struct JobIDTests {
    static let spelled: [(JobID, String)] = [
        (.base, "base"), (.baseControl, "base_control"), (.controlFinetuned(seed: 0), "control_finetuned_seed0"),
        (.controlFinetuned(seed: 11), "control_finetuned_seed11"),
        (.baseline(seed: 0), "round0_seed0"), (.baseline(seed: 12), "round0_seed12"),
        (.selection(round: 0, index: 2), "round0_select2"), (.selection(round: 3, index: 1), "round3_deletion_select1"),
        (.arm(.deletion, round: 1, seed: 0), "round1_deletion_seed0"), (.arm(.randomRemoval, round: 2, seed: 1), "round2_random_removal_seed1"),
        (.arm(.reseed, round: 10, seed: 3), "round10_reseed_seed3"),
        (.audit(.baseline(seed: 1)), "audit_round0_seed1"), (.audit(.selection(round: 0, index: 0)), "audit_round0_select0"),
        (.audit(.selection(round: 1, index: 0)), "audit_round1_deletion_select0"), (.audit(.arm(.reseed, round: 1, seed: 0)), "audit_round1_reseed_seed0"),
        (.pretrainingLeakage, "pretraining_leakage"), (.unlearning, "unlearning"),
    ]

    @Test func idsAreSpelledAsBefore() {
        for (id, s) in Self.spelled {
            #expect(id.description == s)
            #expect("\(id)" == s)
            #expect(JobID(s) == id, "\(s) read back")
        }
    }

    @Test func otherNamesAreNotJobs() {
        for s in ["", "base ", "Base", "round", "round0", "round0_seed", "round00_seed0", "round0_seed01", "round0_seed-1", "round-1_reseed_seed0",
                  "round0_deletion_select0", "round1_select0", "round1_deletion_seedx", "round1_erasure_seed0", "audit_", "audit_base_x", "audit_audit",
                  "round1_deletion_seed+1", "control_base", "finetuned", "control_finetuned", "control_finetuned_seed", "control_finetuned_seed01",
                  "control_finetuned_seed+1", "control_finetuned_seed-1"] {
            #expect(JobID(s) == nil, "\(s) taken for a job id")
        }
    }

    @Test func jsonHoldsTheSpelling() throws {
        let ids = Self.spelled.map(\.0)
        let data = try JSONEncoder().encode(ids)
        #expect(String(decoding: data, as: UTF8.self) == "[" + Self.spelled.map { "\"\($0.1)\"" }.joined(separator: ",") + "]")
        #expect(try JSONDecoder().decode([JobID].self, from: data) == ids)
        #expect(throws: DecodingError.self) { try JSONDecoder().decode([JobID].self, from: Data("[\"round1_nothing_seed0\"]".utf8)) }
    }
}

/// A plan.json entry's kind, arm and status are read back as written, and a word plan.json
/// cannot hold is an error, not a job without it.
struct PlanEntryWordsTests {
    static let entry = PlanEntry(id: .audit(.selection(round: 1, index: 0)), kind: .audit, arm: .deletionSelection, round: 1, seed: 501, base: nil,
                                 budget: nil, steps: nil, inputSHA256: "ab", inputs: ["model_input_sha256": "cd"],
                                 dependsOn: [.selection(round: 1, index: 0)], outputs: ["/o/stages/round1_deletion_select0.json"], status: .reused)

    static func json(_ e: PlanEntry) throws -> [String: Any] {
        let enc = JSONEncoder(); enc.outputFormatting = .sortedKeys
        return try JSONSerialization.jsonObject(with: enc.encode(e)) as! [String: Any]
    }

    static func decode(_ o: [String: Any]) throws -> PlanEntry {
        try JSONDecoder().decode(PlanEntry.self, from: JSONSerialization.data(withJSONObject: o))
    }

    @Test func wordsAreWrittenAndReadBack() throws {
        let o = try Self.json(Self.entry)
        #expect(o["kind"] as? String == "audit" && o["arm"] as? String == "deletion_selection" && o["status"] as? String == "reused")
        #expect(o["id"] as? String == "audit_round1_deletion_select0" && o["depends_on"] as? [String] == ["round1_deletion_select0"])
        #expect(try Self.decode(o) == Self.entry)
        let words: [(String, [String])] = [("kind", ["pretrain", "finetune", "audit", "leakage", "unlearning"]),
                                           ("status", ["planned", "running", "done", "reused", "failed"]),
                                           ("arm", ["baseline", "selection", "deletion_selection", "deletion", "random_removal", "reseed"])]
        for (key, values) in words {
            for v in values {
                var p = o; p[key] = v
                #expect(try Self.json(Self.decode(p))[key] as? String == v, "\(key) \(v)")
            }
        }
        var pretrain = o; pretrain["arm"] = nil
        #expect(try Self.decode(pretrain).arm == nil)
    }

    @Test func anUnknownWordIsAnError() throws {
        let o = try Self.json(Self.entry)
        for (key, value) in [("kind", "evaluate"), ("status", "finished"), ("arm", "control"), ("arm", "Reseed"), ("id", "round1_x_seed0")] {
            var p = o; p[key] = value
            #expect(throws: DecodingError.self, "\(key) \(value)") { try Self.decode(p) }
        }
    }
}
