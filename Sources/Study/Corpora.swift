// The study's corpora, split once before anything is trained (docs/methods.md, "The onion
// study"): P (pre-training) and F (fine-tuning), F's members and held-out subjects, the owners of
// F's values, and the pre-training leakage design drawn from them. A value: built by one function
// from the settings and the user's corpora (or the synthetic ones), read by every later stage.

import Corpus
import Foundation
import PII
import Support

struct StudyCorpora {
    /// The pre-training corpus (the bases train on it with surrogates in place of targets).
    let P: [Record]
    /// The fine-tuning corpus, members and held-out subjects together.
    let F: [Record]
    /// F's members' records (the fine-tunes train on these) and the held-out subjects' records
    /// (non-members for MIA and utility).
    let fTrain: [Record], fHeldOut: [Record]
    /// Each member's records, in corpus order.
    let recordsOf: [String: [Record]]
    /// The members: F's subjects who are fine-tuned on (`recordsOf`'s keys).
    let members: Set<String>
    /// P's records by id (the true contexts of its values).
    let pById: [String: Record]
    /// Owners of F's values of the attacked types, decided from the full original F before
    /// anything is deleted.
    let ownership: Ownership
    /// The synthetic fine-tuning corpus's namesake groups (empty for a user's corpus or without a
    /// plant), for scoring a validation run afterwards; the study never reads them.
    let namesakes: [NamesakeGroup]
    /// What study.json says about the corpora: the caller's description and the sizes.
    let description: [String: String]

    /// The corpora and the leakage design (which the runner completes once the tokenizer is
    /// known: `LeakageDesign.place`). `user` and `pretrain`: the user's corpora, or nil for the
    /// synthetic ones of the settings.
    static func prepare(_ s: StudySettings, user: [Record]?, pretrain: [Record]?,
                        description: [String: String]) throws -> (StudyCorpora, LeakageDesign) {
        let (P, F, people, namesakes) = try split(s, user: user, pretrain: pretrain)
        // A user's corpus: NANP area codes drawn as the pre-training corpus's own numbers have them.
        let generator: any SurrogateGenerator = people.map { SynthSurrogates(people: $0.P, population: 0) }
            ?? FormatSurrogates(numbers: PIIIndex.build(records: P, scanner: PIIScanner(types: [.phone])).entries.map(\.value))
        let leakage = LeakageDesign.build(P: P, F: F, generator: generator,
                                          avoidNames: Set((people?.P ?? []).map(\.name) + (people?.F ?? []).map(\.name)),
                                          seed: s.seed, null: s.leakage.null == true)
        // F: held-out subjects (non-members for MIA and utility) and the fine-tuning members.
        let fSubjects = seededShuffle(Array(Set(F.map(\.subject))).sorted(), seed: s.seed ^ 0x4F)
        let held = Set(fSubjects.prefix(Int(Double(fSubjects.count) * s.heldOutFraction)))
        let fTrain = F.filter { !held.contains($0.subject) }, fHeldOut = F.filter { held.contains($0.subject) }
        var recordsOf: [String: [Record]] = [:]
        for r in fTrain { recordsOf[r.subject, default: []].append(r) }
        var info = description
        info["pretrain_records"] = "\(P.count)"; info["pretrain_subjects"] = "\(Set(P.map(\.subject)).count)"
        info["finetune_records"] = "\(fTrain.count)"; info["finetune_subjects"] = "\(recordsOf.count)"
        info["held_out_records"] = "\(fHeldOut.count)"
        let corpora = StudyCorpora(P: P, F: F, fTrain: fTrain, fHeldOut: fHeldOut, recordsOf: recordsOf, members: Set(recordsOf.keys),
                                   pById: Dictionary(uniqueKeysWithValues: P.map { ($0.id, $0) }),
                                   ownership: Ownership(index: PIIIndex.build(records: F, scanner: PIIScanner(types: s.attackedTypes))),
                                   namesakes: namesakes, description: info)
        return (corpora, leakage)
    }

    /// P and F: the user's two corpora as given, the user's one corpus split by subject at random
    /// into halves, or the synthetic corpora (with their people, for surrogates).
    static func split(_ s: StudySettings, user: [Record]?, pretrain: [Record]?) throws
        -> (P: [Record], F: [Record], people: (P: [SynthPerson], F: [SynthPerson])?, namesakes: [NamesakeGroup]) {
        if let user, let pretrain {
            guard Set(user.map(\.subject)).count >= 10, Set(pretrain.map(\.subject)).count >= 10 else {
                throw StudyError.corpus("the fine-tuning and pre-training corpora need at least 10 subjects each")
            }
            let clash = Set(pretrain.map(\.id)).intersection(user.map(\.id))
            guard clash.isEmpty else { throw StudyError.corpus("record id \"\(clash.sorted()[0])\" is in both corpora (\(clash.count) ids are): give the records distinct ids") }
            return (pretrain, user, nil, [])
        }
        if let user {
            let subjects = Array(Set(user.map(\.subject))).sorted()
            guard subjects.count >= 20 else { throw StudyError.corpus("the corpus has \(subjects.count) subjects; the study needs at least 20") }
            let pre = Set(seededShuffle(subjects, seed: s.seed ^ 0xC0).prefix(subjects.count / 2))
            return (user.filter { pre.contains($0.subject) }, user.filter { !pre.contains($0.subject) }, nil, [])
        }
        return try synthesise(s)
    }

    /// The synthetic corpora P (population 0) and F (population 1, with the plant if asked), and
    /// their people.
    static func synthesise(_ s: StudySettings) throws
        -> (P: [Record], F: [Record], people: (P: [SynthPerson], F: [SynthPerson])?, namesakes: [NamesakeGroup]) {
        var sp = SynthParameters(); sp.zipf = s.zipf; sp.subjects = s.pretrainSubjects; sp.records = s.pretrainRecords; sp.seed = s.seed; sp.population = 0
        let p = try SynthGenerator.generate(sp)
        sp.subjects = s.finetuneSubjects; sp.records = s.finetuneRecords; sp.seed = s.seed &+ 1; sp.population = 1
        if let plant = s.plant {
            sp.namesakeGroups = plant.groups; sp.namesakeLight = plant.light; sp.namesakeLightMessages = plant.lightMessages; sp.namesakeNull = plant.null
        }
        let f = try SynthGenerator.generate(sp)
        return (p.records, f.records, (p.people, f.people), f.namesakes)
    }

    static func seededShuffle<T>(_ a: [T], seed: UInt64) -> [T] {
        var rng = SplitMix64(seed: mix64(seed))
        return a.seededShuffled(using: &rng)
    }


    /// The records of `subjects`, subject by subject (sorted), each in corpus order.
    func records(of subjects: Set<String>) -> [Record] { subjects.sorted().flatMap { recordsOf[$0] ?? [] } }
}
