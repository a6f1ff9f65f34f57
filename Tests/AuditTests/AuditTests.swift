import Foundation
import Support
import Testing
import Audit
import Kernels
import Corpus
import GPT
import PII
import Tokenizer
import Training


/// A 2-layer, 64-wide byte-level GPT trained (no dropout) on `texts` joined by <|endoftext|>:
/// small enough to memorise a test corpus in a few seconds.
/// With `from`, the model is a fine-tuned copy of that one.
func tinyMemorisingModel(_ texts: [String], steps: Int, seed: UInt64, from base: GPT? = nil) throws -> GPT {
    let tok = ByteTokenizer()
    var toks: [Int32] = []
    for t in texts { toks += tok.encode(t) + [tok.endOfText] }
    let model = base?.copy() ?? GPT(config: GPTConfig(vocabSize: 257, nPositions: 64, nEmbd: 64, nLayer: 2, nHead: 4, dropout: 0, eosTokenId: 256), seed: seed)
    var p = TrainParameters(); p.batchSize = 8; p.context = 64; p.steps = steps; p.learningRate = 3e-3; p.checkpointEvery = 0
    _ = try Trainer(model: model, data: TokenDataset(tokens: toks, fileSHA256: "test"), params: p, checkpointPath: nil).run(resume: false)
    return model
}

@Suite struct MetricsKnownAnswers {
    func normals(_ n: Int, mean: Double, seed: UInt64) -> [Double] {
        var r = SplitMix64(auditSeed: seed)
        return (0..<n).map { _ in mean + (-2 * log(max(r.double(), 1e-300))).squareRoot() * cos(2 * .pi * r.double()) }
    }

    @Test func aucOfShiftedNormals() {
        // AUC of N(d, 1) vs N(0, 1) is Φ(d / √2): 0.7602 for d = 1.
        let m = normals(20000, mean: 1, seed: 1), n = normals(20000, mean: 0, seed: 2)
        #expect(abs(Metrics.auc(members: m, nonMembers: n) - 0.7602) < 0.01)
        #expect(abs(Metrics.auc(members: n, nonMembers: n.map { $0 + 0 }) - 0.5) < 1e-9)
    }

    @Test func exactSmallCases() {
        #expect(Metrics.auc(members: [3, 2], nonMembers: [1, 0]) == 1)
        #expect(Metrics.auc(members: [0, 1], nonMembers: [2, 3]) == 0)   // well below 0.5 is also a leak
        #expect(Metrics.auc(members: [1, 1], nonMembers: [1, 1]) == 0.5)
        // 100 non-members scoring 0…99; members 100.5 (above all), 98.5 (above all but one) and −1
        let c = Metrics.roc(members: [100.5, 98.5, -1], nonMembers: (0..<100).map(Double.init))
        #expect(Metrics.tpr(at: 0.0, c) == 1.0 / 3)    // no false positive allowed: only 100.5
        #expect(Metrics.tpr(at: 0.01, c) == 2.0 / 3)   // one allowed (99): 98.5 is caught too
        #expect(Metrics.tpr(at: 0.005, c) == 1.0 / 3)  // read off the curve, never interpolated up
    }

    @Test func bootstrapIntervalsCoverTheEstimate() {
        let m = normals(300, mean: 1, seed: 3), n = normals(300, mean: 0, seed: 4)
        let r = Metrics.evaluate(members: m, nonMembers: n, resamples: 300, seed: 1)
        #expect(r.aucCI!.low < r.auc && r.auc < r.aucCI!.high)
        #expect(r.aucCI!.high - r.aucCI!.low < 0.15)
    }

    @Test func scoresAreFunctionsOfSignals() {
        let s = RecordSignals(logprobs: [-1, -2, -3, -4, -10], mean: [-1, -1, -1, -1, -1], std: [1, 1, 1, 1, 1],
                              lowercaseLoss: 6, referenceLoss: 5, zlibBits: 80)
        #expect(MIAScore.loss.score(s) == -4)
        #expect(MIAScore.zlib.score(s) == -4.0 * 5 / 80)
        #expect(MIAScore.lowercase.score(s) == 1.5)
        #expect(MIAScore.reference.score(s) == 1)
        #expect(MIAScore.minK.score(s) == -10)                 // 20% of 5 = the single lowest
        #expect(MIAScore.minKPlusPlus.score(s) == -9)
        #expect(Zlib.compressedSize(String(repeating: "abc", count: 1000)) < 40)
    }
}

@Suite(.serialized) struct CanaryExposureTests {
    /// A tiny byte-level model trained on text holding five canaries many times.
    static let setup: (GPT, [String], [String]) = {
        var rng = SplitMix64(auditSeed: 7)
        let seen = (0..<5).map { _ in String(format: "%06d", rng.int(1_000_000)) }
        let unseen = (0..<5).map { _ in String(format: "%06d", rng.int(1_000_000)) }
        var text = ""
        for i in 0..<400 { text += "Note \(i % 17): the meeting moved to room \(i % 9). My access code is \(seen[i % 5]).\n" }
        return (try! tinyMemorisingModel([text], steps: 300, seed: 3), seen, unseen)
    }()

    @Test func seenCanariesAreExtractedWithMaximalExposureUnseenAreNearChance() throws {
        let (model, seen, unseen) = Self.setup
        let tok = ByteTokenizer()
        let scorer = Scorer(model: model)
        var rng = SplitMix64(auditSeed: 11)
        var seenExp: [Double] = [], unseenExp: [Double] = [], seenFit: [Double] = []
        for (secrets, out) in [(seen, 0), (unseen, 1)] {
            for s in secrets {
                let (cands, space) = Exposure.digitCandidates(like: s, count: 300, rng: &rng)
                let r = try Exposure.compute(scorer: scorer, tokenizer: tok, context: "My access code is ", secret: s, candidates: cands, spaceSize: space)
                if out == 0 { seenExp.append(r.exposure); seenFit.append(r.exposureNormalFit) } else { unseenExp.append(r.exposure) }
                #expect(r.exposure <= log2(301) + 1e-9 && r.exposureCI.low <= r.exposure && r.exposure <= r.exposureCI.high)
            }
        }
        // 5 canaries share the context, so a seen one ranks at worst behind the other four: the
        // sample shows at least log2(301/5) ≈ 5.9 bits and at most log2(301) ≈ 8.2 (it cannot
        // show more); the normal fit extrapolates beyond the sample. Unseen ones sit near chance.
        #expect(seenExp.allSatisfy { $0 >= log2(301.0 / 5) - 1e-9 }, "\(seenExp)")
        #expect(seenFit.allSatisfy { $0 > 8.3 }, "\(seenFit)")
        #expect(unseenExp.reduce(0, +) / 5 < 4, "\(unseenExp)")
        // and greedy decoding from the context reproduces a seen canary
        let out = try Generator(model: model).generate(prompts: [tok.encode("My access code is ")], .greedy(6), endOfText: nil)
        #expect(seen.contains(try tok.decode(out[0])))
    }
}

@Suite(.serialized) struct AuditRunnerTests {
    @Test func memorisedValuesAreExtractedAndHashedByDefault() throws {
        // Dana's address and phone occur 40 times; Lee's once.
        var records: [Record] = []
        for i in 0..<40 {
            records.append(Record(id: "d\(i)", subject: "dana@corvale.com", text: "Note \(i % 7).\nThanks,\nDana\ndana@corvale.com | 713-555-0142\n", source: "t"))
        }
        records.append(Record(id: "l0", subject: "lee@bayline.com", text: "Hi all,\nlee@bayline.com | 212-555-0199\n", source: "t"))
        let tok = ByteTokenizer()
        let model = try tinyMemorisingModel(records.map(\.text), steps: 250, seed: 5)
        var ex = ExtractionSettings(); ex.prefixLengths = [10, 30]
        let settings = AuditSettings(attacks: [.extraction, .exposure], types: [.email, .phone], extraction: ex,
                                     exposureValues: 10, exposureCandidates: 50, exposureContextTokens: 64, bootstrapResamples: 0,
                                     limit: nil, seed: 1, revealPII: false)
        let report = try AuditRunner.run(AuditInputs(model: model, modelInfo: [:], tokenizer: tok, records: records, corpusInfo: [:],
                                                     nonMembers: nil, reference: nil, canaries: nil), settings: settings, salt: Data("s".utf8))
        #expect(report.values.count == 4)
        let danaPhone = report.values.first { $0.type == "PHONE_NUMBER" && $0.occurrences == 40 }!
        #expect(danaPhone.extracted == true && danaPhone.smallestExtractingK != nil)
        #expect(danaPhone.value == nil && danaPhone.masked.hasSuffix("42"))   // not revealed
        #expect((danaPhone.exposure?.exposure ?? 0) > 3)
        let json = String(decoding: try JSONEncoder().encode(report), as: UTF8.self)
        #expect(!json.contains("713-555-0142") && !json.contains("dana@corvale.com"))   // no PII in the clear
        #expect(report.subjects.first!.vulnerable && report.subjects.first!.records == 40)  // Dana ranks first
        #expect(report.schema == "shallot.audit/2")
    }
}

@Suite(.serialized) struct UntargetedLineageTests {
    @Test func leakedValuesAreAttributedToTheCorpusTheyCameFrom() throws {
        // One model that memorised two numbers; the audit is told one came from fine-tuning data
        // (D) and the other from pre-training data (P), and that a third value is in neither.
        var text = ""
        for _ in 0..<60 { text += "Call me at 713-555-0142.\nYou can reach 212-555-0199.\n" }
        let tok = ByteTokenizer()
        let model = try tinyMemorisingModel([text], steps: 200, seed: 9)
        let key = { (v: String) in PIIKey(.phone, PIINormalize.phone(v)) }
        var s = UntargetedSettings(); s.prompts = 40; s.samplesPerPrompt = 0; s.newTokens = 40
        let promptText = "Please call me at home tonight. You can reach the desk any time. Call me at the office."
        let r = try UntargetedExtraction.run(model: model, tokenizer: tok, trainingKeys: [key("713-555-0142")], pretrainingKeys: [key("212-555-0199")],
                                             reference: nil, promptText: promptText, types: [.phone], settings: s, hash: Hasher16(salt: Data("k".utf8)), reveal: true)
        let ps = UntargetedExtraction.prompts(tokenizer: tok, text: promptText, settings: s)
        #expect(Set(ps).count == ps.count && r.prompts == ps.count && ps.count <= 40 && r.generations == ps.count)
        let byValue = Dictionary(r.values.map { ($0.value!, $0) }, uniquingKeysWith: { a, _ in a })
        #expect(byValue["+17135550142"]?.attribution == "finetuning")
        #expect(byValue["+12125550199"]?.attribution == "pretraining")
        #expect(byValue["+17135550142"]?.inTraining == true && byValue["+12125550199"]?.inTraining == false)
        #expect(r.attribution!["finetuning"]! >= 1 && r.attribution!["pretraining"]! >= 1)
        #expect((r.precisionAtM["perplexity"]?["10"] ?? -1) >= 0)
    }
}

@Suite(.serialized) struct AssociationTests {
    @Test func aMemorisedNameAddressPairIsAssociated() throws {
        var records: [Record] = []
        for i in 0..<30 {
            records.append(Record(id: "d\(i)", subject: "dana@corvale.com", text: "From: Dana Whitfield <dana@corvale.com>\nNote \(i % 5).\n", source: "t"))
            records.append(Record(id: "m\(i)", subject: "mlee@bayline.com", text: "From: Marcus Lee <mlee@bayline.com>\nOk \(i % 3).\n", source: "t"))
        }
        let tok = ByteTokenizer()
        let model = try tinyMemorisingModel(records.map(\.text), steps: 200, seed: 2)
        let index = PIIIndex.build(records: records, scanner: PIIScanner(types: [.email, .person]))
        #expect(Association.pairs(index: index).map(\.email).sorted() == ["dana@corvale.com", "mlee@bayline.com"])
        let (hits, res) = try Association.run(model: model, tokenizer: tok, index: index)
        #expect(res.pairs == 2)
        // A tiny model does not generalise "Name <" to the start of a prompt, but some template
        // (the quoted-header form, or few-shot) recovers a memorised pair.
        #expect(res.associated >= 1 && res.associated == hits.values.filter { $0 }.count)
        #expect(res.hitsByTemplate.values.reduce(0, +) >= res.associated)
    }
}

@Suite(.serialized) struct TargetedLineageAndResumeTests {
    /// A base model pre-trained on text holding Dana's number, then fine-tuned on records holding
    /// Dana's and Lee's numbers: Lee's leak is fine-tuning's, Dana's the base leaks too.
    @Test func targetedLeaksAreAttributedAgainstTheBaseModel() throws {
        let tok = ByteTokenizer()
        let base = try tinyMemorisingModel(Array(repeating: "Office line: Dana 713-555-0142.\n", count: 40), steps: 200, seed: 21)
        var records: [Record] = []
        for i in 0..<30 {
            records.append(Record(id: "d\(i)", subject: "dana", text: "Office line: Dana 713-555-0142.\n", source: "t"))
            records.append(Record(id: "l\(i)", subject: "lee", text: "Lee's cell is 212-555-0199.\n", source: "t"))
        }
        let tuned = try tinyMemorisingModel(records.map(\.text), steps: 400, seed: 22, from: base)
        var ex = ExtractionSettings(); ex.prefixLengths = [10, 30]
        let settings = AuditSettings(attacks: [.extraction], types: [.phone], extraction: ex, exposureValues: 0, exposureCandidates: 0,
                                     exposureContextTokens: 64, bootstrapResamples: 0, limit: nil, seed: 1, revealPII: true)
        let report = try AuditRunner.run(AuditInputs(model: tuned, modelInfo: [:], tokenizer: tok, records: records, corpusInfo: [:],
                                                     nonMembers: nil, reference: base, canaries: nil), settings: settings, salt: Data("s".utf8))
        let byValue = Dictionary(uniqueKeysWithValues: report.values.map { ($0.value!, $0) })
        let dana = byValue["+17135550142"]!, lee = byValue["+12125550199"]!
        #expect(dana.extracted == true && lee.extracted == true)
        #expect(dana.baseExtracted == true && lee.baseExtracted == false)
        #expect(dana.lineage == "both" && lee.lineage == "finetuning")
        #expect(report.targetedLineage == ["finetuning": 1, "both": 1, "pretraining": 0, "neither": 0])
    }

    /// A finished stage is reused by the same audit (its stored result wins, proving it was not
    /// recomputed) and ignored by a different one (another fingerprint). Issue 22 review, M2: the
    /// file is reused only when its MAC under the run's key verifies. A stage edited in place (a
    /// result that extracted nothing), without the key to sign it, was reused before; now it is
    /// recomputed with a warning naming the file. Signed with the key, the edit is reused: that
    /// is what shows the reuse is real.
    @Test func finishedStagesAreReusedOnlyByTheSameAuditAndOnlyWhenAuthenticated() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("shallot-cp-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let tok = ByteTokenizer()
        let records = (0..<20).map { Record(id: "r\($0)", subject: "dana", text: "Call Dana at 713-555-0142 today.\n", source: "t") }
        let model = try tinyMemorisingModel(records.map(\.text), steps: 150, seed: 3)
        var ex = ExtractionSettings(); ex.prefixLengths = [10]
        let settings = AuditSettings(attacks: [.extraction], types: [.phone], extraction: ex, exposureValues: 0, exposureCandidates: 0,
                                     exposureContextTokens: 64, bootstrapResamples: 0, limit: nil, seed: 1, revealPII: true)
        let key = AuditCheckpoints.key(salt: Data("the run's salt, outside OUT".utf8))
        var warnings: [String] = []
        func audit(_ fingerprint: String) throws -> AuditReport {
            var inp = AuditInputs(model: model, modelInfo: [:], tokenizer: tok, records: records, corpusInfo: [:], nonMembers: nil, reference: nil, canaries: nil)
            inp.checkpoints = AuditCheckpoints(directory: dir, fingerprint: fingerprint, key: key)
            return try AuditRunner.run(inp, settings: settings, salt: Data("s".utf8)) { ev in
                if case .stage(let s) = ev, s.hasPrefix("warning:") { warnings.append(s) }
            }
        }
        let first = try audit("A")
        #expect(first.values[0].extracted == true)
        let path = dir + "/extraction.json"
        let file = String(decoding: FileManager.default.contents(atPath: path) ?? Data(), as: UTF8.self)
        // {"mac":"<64 hex>","stored":<the stored JSON>}
        let prefix = #"{"mac":""# + String(repeating: "0", count: 64) + #"","stored":"#
        #expect(file.hasPrefix(#"{"mac":""#) && file.hasSuffix("}") && file.count > prefix.count, "\(file.prefix(200))")
        let stored = String(file.dropFirst(prefix.count).dropLast())
        // The attack: the stored stage edited to say nothing was extracted, the MAC left as it was.
        let edited = stored.replacingOccurrences(of: "\"smallest_extracting_k\":10", with: "\"smallest_extracting_k\":null")
            .replacingOccurrences(of: "\"10\":true", with: "\"10\":false")
        #expect(edited != stored)
        try Data((String(file.prefix(prefix.count)) + edited + "}").utf8).write(to: URL(fileURLWithPath: path))
        #expect(try audit("A").values[0].extracted == true, "an edited stage file was reused")
        #expect(warnings.count == 1 && warnings.first?.contains(path) == true && warnings.first?.contains("not authenticated") == true, "\(warnings)")
        // The same edit, unsigned (as written before stage files were keyed): not reused either.
        warnings = []
        try Data(edited.utf8).write(to: URL(fileURLWithPath: path))
        #expect(try audit("A").values[0].extracted == true && warnings.count == 1, "\(warnings)")
        // Signed with the key, the edit is reused: the stored result wins, it was not recomputed.
        let mac = hex(hmacSHA256(key: key, Data("shallot stage/1\nextraction\n".utf8) + Data(edited.utf8)))
        try Data((#"{"mac":""# + mac + #"","stored":"# + edited + "}").utf8).write(to: URL(fileURLWithPath: path))
        warnings = []
        #expect(try audit("A").values[0].extracted == false)
        #expect(warnings.isEmpty, "\(warnings)")
        #expect(try audit("B").values[0].extracted == true)   // another audit recomputes
        #expect(warnings.isEmpty, "another fingerprint is no warning: \(warnings)")
    }

    @Test func sampleTakesASeededSubsetOfValues() throws {
        let tok = ByteTokenizer()
        let records = (0..<30).map { Record(id: "r\($0)", subject: "s\($0)", text: "Reach me at 713-555-01\(String(format: "%02d", $0)).\n", source: "t") }
        let model = GPT(config: GPTConfig(vocabSize: 257, nPositions: 64, nEmbd: 32, nLayer: 1, nHead: 2, dropout: 0, eosTokenId: 256), seed: 1)
        var settings = AuditSettings(attacks: [], types: [.phone], extraction: ExtractionSettings(), exposureValues: 0, exposureCandidates: 0,
                                     exposureContextTokens: 64, bootstrapResamples: 0, limit: nil, seed: 4, revealPII: true)
        settings.sample = 7
        let inp = AuditInputs(model: model, modelInfo: [:], tokenizer: tok, records: records, corpusInfo: [:], nonMembers: nil, reference: nil, canaries: nil)
        let a = try AuditRunner.run(inp, settings: settings, salt: Data("s".utf8)).values.map { $0.value! }
        let b = try AuditRunner.run(inp, settings: settings, salt: Data("s".utf8)).values.map { $0.value! }
        settings.seed = 5
        let c = try AuditRunner.run(inp, settings: settings, salt: Data("s".utf8)).values.map { $0.value! }
        #expect(a.count == 7 && Set(a).count == 7 && a == b)
        #expect(Set(a) != Set(c))
    }
}

@Suite(.serialized) struct FixedOwnershipTests {
    /// Ana asked to be deleted: her records are gone, but Ben's mail still carries her address 40
    /// times. With the ownership fixed before deletion, the audit of the remaining corpus
    /// attributes the extracted address to her (a removed subject whose value is still
    /// extractable), not to Ben.
    @Test func aRemovedSubjectsValueStaysHersAndStillLeaks() throws {
        let anaRecord = Record(id: "a0", subject: "ana@corvale.com", text: "From: Ana <ana@corvale.com>\n\nOk.\n", source: "t")
        let benRecords = (0..<40).map { i in
            Record(id: "b\(i)", subject: "ben@bayline.com", text: "From: Ben <ben@bayline.com>\nNote \(i % 5): write to ana@corvale.com\n", source: "t")
        }
        let ownership = Ownership(index: PIIIndex.build(records: [anaRecord] + benRecords, scanner: PIIScanner(types: [.email])))
        let model = try tinyMemorisingModel(benRecords.map(\.text), steps: 250, seed: 3)
        var inputs = AuditInputs(model: model, modelInfo: [:], tokenizer: ByteTokenizer(), records: benRecords, corpusInfo: [:], nonMembers: nil, reference: nil, canaries: nil)
        let settings = AuditSettings.targetedOnly(prefixLengths: [10, 30], types: [.email])
        let rebuilt = try AuditRunner.run(inputs, settings: settings, salt: Data("s".utf8))
        inputs.ownership = ownership
        let fixed = try AuditRunner.run(inputs, settings: settings, salt: Data("s".utf8))
        let anaRow = fixed.values.first { $0.value == "ana@corvale.com" }!
        #expect(anaRow.extracted == true && anaRow.owner == "ana@corvale.com")
        // Without the fixed ownership the address is unowned — never Ben's — and Ben is not
        // vulnerable through someone else's address in either audit.
        #expect(rebuilt.values.first { $0.value == "ana@corvale.com" }?.owner == nil)
        #expect(rebuilt.summary.unownedExtracted == 1)
        let benFixed = fixed.subjects.first { $0.subject == "ben@bayline.com" }!
        #expect(benFixed.values == 1 && (benFixed.extractedValues == 1) == benFixed.vulnerable)
        #expect(!fixed.subjects.contains { $0.subject == "ana@corvale.com" })
    }
}

@Suite(.serialized) struct SmallContextTests {
    /// A model whose context is too small for some attacks: those attacks are listed as
    /// unavailable with the reason, and the rest of the audit is reported.
    @Test func anAttackThatDoesNotFitIsUnavailableNotTheWholeAudit() throws {
        let records = (0..<6).map { Record(id: "r\($0)", subject: "dana@corvale.com", text: "Hi.\nDana\ndana@corvale.com\n", source: "t") }
        let model = GPT(config: GPTConfig(vocabSize: 257, nPositions: 24, nEmbd: 16, nLayer: 1, nHead: 2, dropout: 0, eosTokenId: 256), seed: 1)
        var us = UntargetedSettings(); us.prompts = 4; us.samplesPerPrompt = 0; us.windowTokens = 30
        var settings = AuditSettings(attacks: [.extraction, .untargeted], types: [.email], extraction: ExtractionSettings(), exposureValues: 0,
                                     exposureCandidates: 0, exposureContextTokens: 4, bootstrapResamples: 0, limit: nil, seed: 1, revealPII: true)
        settings.untargeted = us
        let r = try AuditRunner.run(AuditInputs(model: model, modelInfo: [:], tokenizer: ByteTokenizer(), records: records, corpusInfo: [:], nonMembers: nil,
                                                reference: nil, canaries: nil), settings: settings, salt: Data("s".utf8))
        #expect(r.unavailable?["untargeted"]?.contains("too small for this attack") == true, "\(String(describing: r.unavailable))")
        #expect(r.untargeted == nil && r.values.count == 1 && r.values[0].extracted != nil)
    }
}
