// The study's job ids (JobID, Sources/Study/JobID.swift): spelled exactly as plan.json, the job
// directories and the stage files of earlier studies spell them, read back from those spellings,
// and nothing else is taken for an id.

import Foundation
import Testing
@testable import Study

struct JobIDTests {
    static let spelled: [(JobID, String)] = [
        (.base, "base"), (.baseControl, "base_control"), (.controlFinetuned, "control_finetuned"),
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
                  "round1_deletion_seed+1", "control_base", "finetuned"] {
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
