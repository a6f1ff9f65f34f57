// `shallot study`: DESIGN.md's protocol end to end. Pre-train a base on corpus P and a control
// base on P with the target subjects' records replaced by filler; fine-tune on F; audit; onion
// rounds with a deletion arm and two controls (random removal matched on records, and reseeding
// on unchanged data), several seeds each; pre-training leakage with the control base; approximate
// unlearning against the exact retrain. Every stage is checkpointed under DIR so that an
// interrupted study resumes.

import Audit
import Corpus
import Foundation
import GPT
import Kernels
import PII
import Tokenizer
import Training
import Unlearning

public enum StudyProgress: Sendable {
    case stage(String)
    case resumed(String)
    case step(done: Int, total: Int)
}

public enum StudyError: Error, CustomStringConvertible {
    case corpus(String)
    public var description: String { switch self { case .corpus(let s): return s } }
}

public final class StudyRunner {
    let s: StudySettings
    let dir: String
    let progress: (StudyProgress) -> Void
    let hash: Hasher16
    let reveal: Bool
    let store: AuditCheckpoints
    let fingerprint: String
    let t0 = Date()

    // data
    var P: [Record] = [], F: [Record] = []
    var tok: (any TextTokenizer)!
    var tokens: [String: [Int32]] = [:]
    var pTrain: [Record] = [], pTargetIds = Set<String>(), pUnseen: [Record] = []
    var fTrain: [Record] = [], fHeldOut: [Record] = []
    var recordsOf: [String: [Record]] = [:]
    var corpusInfo: [String: String] = [:]
    var modelInfo: [String: [String: String]] = [:]

    public init(settings: StudySettings, directory: String, salt: Data, revealPII: Bool, userCorpus: [Record]?, corpusDescription: [String: String],
                progress: @escaping (StudyProgress) -> Void) throws {
        s = settings; dir = directory; self.progress = progress; hash = Hasher16(salt: salt); reveal = revealPII
        let enc = JSONEncoder(); enc.outputFormatting = .sortedKeys
        var fp = try enc.encode(settings)
        fp += Data(corpusDescription.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "\n").utf8)
        fingerprint = sha256(data: fp)
        store = AuditCheckpoints(directory: directory + "/stages", fingerprint: fingerprint)
        corpusInfo = corpusDescription
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try prepareCorpora(userCorpus)
    }

    func key(_ subject: String) -> String { reveal ? subject : hash("subject\u{1F}" + subject) }

    // MARK: corpora

    func prepareCorpora(_ user: [Record]?) throws {
        if let user {
            // A user corpus: subjects split at random into a pre-training half and a fine-tuning half.
            let subjects = Array(Set(user.map(\.subject))).sorted()
            guard subjects.count >= 20 else { throw StudyError.corpus("the corpus has \(subjects.count) subjects; the study needs at least 20") }
            let shuffled = seededShuffle(subjects, seed: s.seed ^ 0xC0)
            let pre = Set(shuffled.prefix(subjects.count / 2))
            P = user.filter { pre.contains($0.subject) }; F = user.filter { !pre.contains($0.subject) }
        } else {
            var sp = SynthParameters(); sp.zipf = s.zipf; sp.subjects = s.pretrainSubjects; sp.records = s.pretrainRecords; sp.seed = s.seed; sp.population = 0
            P = try SynthGenerator.generate(sp).records
            sp.subjects = s.finetuneSubjects; sp.records = s.finetuneRecords; sp.seed = s.seed &+ 1; sp.population = 1
            F = try SynthGenerator.generate(sp).records
        }
        // P: targets (replaced by filler in the control base) and the others. Unseen comparison
        // values come from people no model trained on: with a synthetic corpus, a third corpus of
        // the pre-training population (other people, same formats); with a user corpus, a share of
        // P's subjects left out of training (their values that occur in no training record).
        let pSubjects = seededShuffle(Array(Set(P.map(\.subject))).sorted(), seed: s.seed ^ 0x9E)
        let nT = Int(Double(pSubjects.count) * s.pretrainTargetFraction)
        let nU = user == nil ? 0 : Int(Double(pSubjects.count) * s.pretrainUnseenFraction)
        let targets = Set(pSubjects.prefix(nT)), unseen = Set(pSubjects.dropFirst(nT).prefix(nU))
        pTrain = P.filter { !unseen.contains($0.subject) }
        pTargetIds = Set(P.filter { targets.contains($0.subject) }.map(\.id))
        if user == nil {
            var sp = SynthParameters(); sp.zipf = s.zipf; sp.subjects = max(10, s.pretrainSubjects / 2); sp.records = max(20, s.pretrainRecords / 3)
            sp.seed = s.seed &+ 2; sp.population = 0
            pUnseen = try SynthGenerator.generate(sp).records
        } else {
            pUnseen = P.filter { unseen.contains($0.subject) }
        }
        // F: held-out subjects (non-members for MIA and utility) and the fine-tuning members.
        let fSubjects = seededShuffle(Array(Set(F.map(\.subject))).sorted(), seed: s.seed ^ 0x4F)
        let held = Set(fSubjects.prefix(Int(Double(fSubjects.count) * s.heldOutFraction)))
        fTrain = F.filter { !held.contains($0.subject) }
        fHeldOut = F.filter { held.contains($0.subject) }
        for r in fTrain { recordsOf[r.subject, default: []].append(r) }
        corpusInfo["pretrain_records"] = "\(pTrain.count)"; corpusInfo["pretrain_subjects"] = "\(Set(pTrain.map(\.subject)).count)"
        corpusInfo["finetune_records"] = "\(fTrain.count)"; corpusInfo["finetune_subjects"] = "\(recordsOf.count)"
        corpusInfo["held_out_records"] = "\(fHeldOut.count)"; corpusInfo["pretrain_unseen_records"] = "\(pUnseen.count)"
        corpusInfo["pretrain_target_records"] = "\(pTargetIds.count)"
    }

    func seededShuffle<T>(_ a: [T], seed: UInt64) -> [T] {
        var a = a
        var rng = SplitMix64(seed: mix64(seed))
        for i in stride(from: a.count - 1, to: 0, by: -1) { a.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
        return a
    }

    // MARK: models

    func config() -> GPTConfig {
        GPTConfig(vocabSize: tok.vocabSize, nPositions: s.model.context, nEmbd: s.model.width, nLayer: s.model.layers, nHead: s.model.heads,
                  dropout: 0, eosTokenId: Int(tok.endOfText))
    }

    /// A saved model of this study (same fingerprint), or a freshly built and saved one.
    func model(_ name: String, _ build: () throws -> GPT) throws -> GPT {
        let path = dir + "/models/" + name
        if let f = FileManager.default.contents(atPath: path + "/study-fingerprint"), String(decoding: f, as: UTF8.self) == fingerprint,
           let m = try? GPT.load(directory: path) {
            progress(.resumed("model \(name)"))
            return m
        }
        let m = try build()
        try m.save(directory: path)
        try tok.save(to: path)
        try Data(fingerprint.utf8).write(to: URL(fileURLWithPath: path + "/study-fingerprint"))
        modelInfo[name] = ["path": path, "weights_sha256": (try? sha256(file: path + "/model.safetensors")) ?? ""]
        return m
    }

    func tokensOf(_ r: Record) -> [Int32] {
        if let t = tokens[r.id] { return t }
        let t = tok.encode(r.text)
        tokens[r.id] = t
        return t
    }

    /// The token stream of `records` in order; records whose id is in `replace` become filler of
    /// the same length (budget rule "filler"), or are dropped.
    func stream(_ records: [Record], replace: Set<String>, filler: Bool) -> [Int32] {
        Filler.packed(records.map(tokensOf), replace: Set(records.indices.filter { replace.contains(records[$0].id) }),
                      keepLength: filler, tokenizer: tok, seed: s.seed)
    }

    func train(_ m: GPT, _ stream: [Int32], _ p: TrainParameters) throws -> TrainSummary {
        let t = try Trainer(model: m, data: TokenDataset(tokens: stream, fileSHA256: "study"), params: p, checkpointPath: nil)
        return try t.run(resume: false) { ev in
            if case .step(let step, let total, _, _, _, _) = ev { self.progress(.step(done: step, total: total)) }
        }
    }

    // MARK: audit

    struct AuditOutcome: Codable {
        var vulnerable: [String]
        var scores: [String: Double]
        var extractedOwners: [String]
        var valueOwners: [String]
        var extractedValues: Int
        var values: Int
        var byDuplication: [String: [String: Int]]
    }

    func audit(_ m: GPT, records: [Record]) throws -> AuditOutcome {
        let settings = AuditSettings.targetedOnly(prefixLengths: s.prefixLengths, types: ["EMAIL_ADDRESS", "PHONE_NUMBER"], seed: s.seed)
        let r = try AuditRunner.run(AuditInputs(model: m, modelInfo: [:], tokenizer: tok, records: records, corpusInfo: [:], nonMembers: nil,
                                                reference: nil, canaries: nil), settings: settings, salt: Data("study".utf8)) { ev in
            if case .step(let d, let t) = ev { self.progress(.step(done: d, total: t)) }
        }
        var scores: [String: Double] = [:]
        for subj in r.subjects { if let sc = subj.score { scores[subj.subject] = sc } }
        return AuditOutcome(vulnerable: r.subjects.filter(\.vulnerable).map(\.subject).sorted(), scores: scores,
                            extractedOwners: r.values.filter { $0.extracted == true }.map(\.owner), valueOwners: r.values.map(\.owner), extractedValues: r.values.filter { $0.extracted == true }.count,
                            values: r.values.count, byDuplication: r.extractionByDuplication)
    }

    // MARK: the study

    struct RunRecord: Codable { var outcome: AuditOutcome; var steps: Int; var loss: Double }

    /// Fine-tune the base on F's members without `removed` subjects (per the budget rule), audit.
    func fineTuneAndAudit(base: GPT, removed: Set<String>, seed: UInt64, baselineSteps: Int?, name: String, keep: Bool) throws -> RunRecord {
        try store.stage(name) {
            progress(.stage("fine-tune + audit: \(name)"))
            let removedIds = Set(fTrain.filter { removed.contains($0.subject) }.map(\.id))
            var p = s.finetune; p.seed = seed
            let st = stream(fTrain, replace: removedIds, filler: s.budget == .filler)
            if s.budget == .steps, let b = baselineSteps { p.steps = b }
            var summary: TrainSummary?
            let build = { () throws -> GPT in let m = base.copy(); summary = try self.train(m, st, p); return m }
            let m = try keep ? model(name, build) : build()
            let present = fTrain.filter { !removed.contains($0.subject) }
            return RunRecord(outcome: try audit(m, records: present), steps: summary?.steps ?? 0, loss: Double(summary?.finalLoss ?? .nan))
        }
    }

    public func run() throws -> StudyReport {
        // Tokenizer: BPE trained on the pre-training corpus.
        progress(.stage("tokenizer"))
        let tokDir = dir + "/tokenizer"
        if FileManager.default.fileExists(atPath: tokDir + "/vocab.json"), let f = FileManager.default.contents(atPath: tokDir + "/study-fingerprint"),
           String(decoding: f, as: UTF8.self) == fingerprint {
            tok = try TokenizerFiles.load(directory: tokDir)
        } else {
            let t = try BPETrainer.train(texts: pTrain.map(\.text), vocabSize: s.model.vocabulary).tokenizer
            try t.save(to: tokDir)
            try Data(fingerprint.utf8).write(to: URL(fileURLWithPath: tokDir + "/study-fingerprint"))
            tok = t
        }
        // Bases: on P, and the control on P with the target subjects' records replaced by filler.
        progress(.stage("pre-training the base model"))
        let base = try model("base") {
            let m = GPT(config: config(), seed: s.seed)
            _ = try train(m, stream(pTrain, replace: [], filler: true), s.pretrain)
            return m
        }
        progress(.stage("pre-training the control base (targets replaced by filler)"))
        let controlBase = try model("base_control") {
            let m = GPT(config: config(), seed: s.seed)
            _ = try train(m, stream(pTrain, replace: pTargetIds, filler: true), s.pretrain)
            return m
        }

        // Round 0: fine-tune with every seed.
        let seeds = (0..<s.seeds).map { s.finetune.seed &+ UInt64($0) }
        var baseline: [RunRecord] = []
        for (i, sd) in seeds.enumerated() {
            baseline.append(try fineTuneAndAudit(base: base, removed: [], seed: sd, baselineSteps: nil, name: "round0_seed\(i)", keep: i == 0))
        }
        let baselineSteps = baseline[0].steps

        // Onion rounds.
        let arms = ["deletion", "random_removal", "reseed"]
        var removedSoFar: [String: Set<String>] = Dictionary(uniqueKeysWithValues: arms.map { ($0, Set<String>()) })
        var history: [String: [[Set<String>]]] = Dictionary(uniqueKeysWithValues: arms.map { a in (a, seeds.indices.map { [Set(baseline[$0].outcome.vulnerable)] }) })
        var previous: [String: [RunRecord]] = Dictionary(uniqueKeysWithValues: arms.map { ($0, baseline) })
        var rounds: [StudyRound] = []
        var forgetSet: Set<String> = []
        for r in 1...max(1, s.rounds) where s.rounds > 0 {
            var armRounds: [String: ArmRound] = [:]
            // Deletion: the K most vulnerable present subjects (vulnerable in most seeds, then by score).
            let prevDel = previous["deletion"]!
            let present = Set(recordsOf.keys).subtracting(removedSoFar["deletion"]!)
            let ranked = present.sorted { a, b in
                let va = prevDel.filter { $0.outcome.vulnerable.contains(a) }.count, vb = prevDel.filter { $0.outcome.vulnerable.contains(b) }.count
                if va != vb { return va > vb }
                let sa = prevDel.compactMap { $0.outcome.scores[a] }.reduce(0, +) / Double(max(1, prevDel.count))
                let sb = prevDel.compactMap { $0.outcome.scores[b] }.reduce(0, +) / Double(max(1, prevDel.count))
                return sa != sb ? sa > sb : a < b
            }
            let delRemove = Array(ranked.prefix(s.removePerRound))
            if r == 1 { forgetSet = Set(delRemove) }
            let delRecords = delRemove.reduce(0) { $0 + (recordsOf[$1]?.count ?? 0) }
            // Random removal: non-vulnerable present subjects, matched on the records removed.
            let prevRand = previous["random_removal"]!
            let candidates = seededShuffle(Set(recordsOf.keys).subtracting(removedSoFar["random_removal"]!)
                .filter { c in !prevRand.contains { $0.outcome.vulnerable.contains(c) } }.sorted(), seed: s.seed &+ UInt64(r) &* 7919)
            var randRemove: [String] = [], sum = 0
            for c in candidates {
                let n = recordsOf[c]!.count
                if abs(sum + n - delRecords) < abs(sum - delRecords) { randRemove.append(c); sum += n }
                if sum == delRecords { break }
            }
            let plan: [String: [String]] = ["deletion": delRemove, "random_removal": randRemove, "reseed": []]
            for arm in arms {
                removedSoFar[arm]!.formUnion(plan[arm]!)
                let removed = removedSoFar[arm]!
                var results: [RunRecord] = []
                for (i, sd) in seeds.enumerated() {
                    let seed = arm == "reseed" ? sd &+ UInt64(1000 * r) : sd
                    results.append(try fineTuneAndAudit(base: base, removed: removed, seed: seed, baselineSteps: baselineSteps,
                                                        name: "round\(r)_\(arm)_seed\(i)", keep: arm == "deletion" && r == 1 && i == 0))
                }
                var seedResults: [SeedResult] = []
                for (i, rr) in results.enumerated() {
                    let presentNow = Set(recordsOf.keys).subtracting(removed)
                    let v = Set(rr.outcome.vulnerable).intersection(presentNow)
                    let earlier = history[arm]![i].reduce(Set<String>()) { $0.union($1) }
                    let prev = history[arm]![i].last!.intersection(presentNow)
                    let newly = v.subtracting(earlier)
                    let eligible = presentNow.subtracting(earlier).count
                    seedResults.append(SeedResult(seed: arm == "reseed" ? seeds[i] &+ UInt64(1000 * r) : seeds[i], vulnerable: v.map(key).sorted(),
                                                  newlyVulnerable: newly.map(key).sorted(),
                                                  persistence: prev.isEmpty ? nil : Double(v.intersection(prev).count) / Double(prev.count),
                                                  jaccardPrevious: jaccard(v, prev), jaccardEarlier: jaccard(v, earlier.intersection(presentNow)), eligible: eligible,
                                                  extractedValues: rr.outcome.extractedValues, values: rr.outcome.values,
                                                  removedStillExtractable: Set(rr.outcome.extractedOwners).intersection(removed).count,
                                                  trainSteps: rr.steps, finalLoss: rr.loss))
                    history[arm]![i].append(v)
                }
                let removedIds = plan[arm]!.flatMap { recordsOf[$0] ?? [] }
                armRounds[arm] = ArmRound(removed: plan[arm]!.map(key).sorted(), removedTotal: removed.count, removedRecords: removedIds.count,
                                          removedTokens: removedIds.reduce(0) { $0 + tokensOf($1).count }, recordsToMatch: arm == "random_removal" ? delRecords : nil,
                                          vulnerable: seedResults[0].vulnerable,
                                          newlyVulnerable: seedResults[0].newlyVulnerable,
                                          seeds: ArmSeeds(results: seedResults, summary: summarize(seedResults, arm: arm, round: r)))
                previous[arm] = results
            }
            let d = armRounds["deletion"]!.seeds.summary, c1 = armRounds["random_removal"]!.seeds.summary, c2 = armRounds["reseed"]!.seeds.summary
            let exceeds = d.newlyVulnerableRateCI.low > c1.newlyVulnerableRateCI.high && d.newlyVulnerableRateCI.low > c2.newlyVulnerableRateCI.high
            let verdict = String(format: "Round %d: newly vulnerable rate %.3f [%.3f, %.3f] after deleting the most vulnerable, against %.3f [%.3f, %.3f] after random removal of as many records and %.3f [%.3f, %.3f] from reseeding alone — the deletion arm %@ both controls.",
                                 r, d.newlyVulnerableRate, d.newlyVulnerableRateCI.low, d.newlyVulnerableRateCI.high, c1.newlyVulnerableRate, c1.newlyVulnerableRateCI.low,
                                 c1.newlyVulnerableRateCI.high, c2.newlyVulnerableRate, c2.newlyVulnerableRateCI.low, c2.newlyVulnerableRateCI.high,
                                 exceeds ? "exceeds" : "does not exceed")
                + (sum < delRecords * 9 / 10 ? " (The random control could remove only \(sum) of the \(delRecords) records it had to match: too few non-vulnerable subjects were left.)" : "")
            rounds.append(StudyRound(round: r, arms: armRounds, verdict: verdict, deletionExceedsControls: exceeds))
        }

        let leakage = try pretrainingLeakage(base: base, controlBase: controlBase, seed: seeds[0])
        let unlearning = try unlearningComparison(forget: forgetSet, seed: seeds[0])

        var findings = rounds.map(\.verdict)
        findings.append(leakage.verdict)
        if let retrain = unlearning.first(where: { $0.method == "retrain" }) {
            for u in unlearning where !["original", "retrain"].contains(u.method) {
                findings.append(String(format: "Unlearning by %@: %d of %d forget-set values still extracted (exact retrain: %d), forget-set MIA AUC %.3f (retrain %.3f), held-out perplexity %.2f (retrain %.2f), %d newly vulnerable others (retrain %d).",
                                       u.method.uppercased(), u.forgetExtractedValues, u.forgetValues, retrain.forgetExtractedValues, u.forgetMIAAUC, retrain.forgetMIAAUC,
                                       u.heldOutPerplexity, retrain.heldOutPerplexity, u.newlyVulnerableOthers, retrain.newlyVulnerableOthers))
            }
        }
        let b0 = baseline.enumerated().map { i, rr in
            SeedResult(seed: seeds[i], vulnerable: rr.outcome.vulnerable.map(key).sorted(), newlyVulnerable: rr.outcome.vulnerable.map(key).sorted(), persistence: nil,
                       jaccardPrevious: nil, jaccardEarlier: nil, eligible: recordsOf.count, extractedValues: rr.outcome.extractedValues, values: rr.outcome.values,
                       removedStillExtractable: 0, trainSteps: rr.steps, finalLoss: rr.loss)
        }
        for name in ["base", "base_control", "round0_seed0", "round1_deletion_seed0", "control_finetuned"] where modelInfo[name] == nil {
            let path = dir + "/models/" + name
            if FileManager.default.fileExists(atPath: path + "/model.safetensors") {
                modelInfo[name] = ["path": path, "weights_sha256": (try? sha256(file: path + "/model.safetensors")) ?? ""]
            }
        }
        return StudyReport(software: "shallot \(shallotVersion)", created: ISO8601DateFormatter().string(from: Date()), settings: s, corpus: corpusInfo,
                           models: modelInfo, baseline: StudyBaseline(seeds: b0, extractionByDuplication: baseline[0].outcome.byDuplication, subjects: recordsOf.count),
                           rounds: rounds, pretrainingLeakage: leakage, unlearning: unlearning, findings: findings, seconds: Date().timeIntervalSince(t0))
    }

    func jaccard(_ a: Set<String>, _ b: Set<String>) -> Double? {
        let u = a.union(b).count
        return u == 0 ? nil : Double(a.intersection(b).count) / Double(u)
    }

    /// Means over seeds; the newly-vulnerable rate pooled over seeds with a percentile bootstrap
    /// that resamples each seed's eligible subjects.
    func summarize(_ rs: [SeedResult], arm: String, round: Int) -> ArmSummary {
        let n = Double(rs.count)
        let rate = { (xs: [(Int, Int)]) -> Double in
            let e = xs.reduce(0) { $0 + $1.1 }
            return e == 0 ? 0 : Double(xs.reduce(0) { $0 + $1.0 }) / Double(e)
        }
        let observed = rs.map { ($0.newlyVulnerable.count, $0.eligible) }
        var rng = SplitMix64(seed: mix64(s.seed ^ UInt64(round) &* 31 ^ UInt64(arm.utf8.reduce(0) { $0 &* 131 &+ Int($1) })))
        var boot: [Double] = []
        for _ in 0..<max(1, s.bootstrapResamples) {
            var xs: [(Int, Int)] = []
            for (k, e) in observed {
                var c = 0
                for _ in 0..<e where Int(rng.next() % UInt64(max(1, e))) < k { c += 1 }
                xs.append((c, e))
            }
            boot.append(rate(xs))
        }
        let ps = rs.compactMap(\.persistence), js = rs.compactMap(\.jaccardPrevious)
        return ArmSummary(vulnerableMean: Double(rs.reduce(0) { $0 + $1.vulnerable.count }) / n,
                          newlyVulnerableMean: Double(rs.reduce(0) { $0 + $1.newlyVulnerable.count }) / n,
                          newlyVulnerableRate: rate(observed), newlyVulnerableRateCI: Metrics.percentileInterval(boot),
                          persistenceMean: ps.isEmpty ? nil : ps.reduce(0, +) / Double(ps.count),
                          jaccardPreviousMean: js.isEmpty ? nil : js.reduce(0, +) / Double(js.count))
    }
}
