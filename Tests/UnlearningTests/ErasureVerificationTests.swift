import Corpus
import Foundation
import Support
import GPT
import Ledger
import Testing
import Tokenizer
import Training
import Unlearning

/// Alice owns an address and a phone number (her signature's); Bob's records hold no PII.
func verificationCorpus() -> [Record] {
    (0..<6).map { Record(id: "a-\($0)", subject: "Alice@X.com", text: "From: Alice <alice@x.com>\n\nItem \($0) is ready for review.\n\nAlice\n(713) 853-7107", source: "test") }
        + (0..<4).map { Record(id: "b-\($0)", subject: "bob@y.com", text: "The meeting moved to Friday, item \($0).", source: "test") }
}

/// Names subjects in verification results (the CLI passes the ledger's keyed `subjectKey`).
func testPseudonym(_ s: String) -> String { "k:" + s.trimmingCharacters(in: .whitespacesAndNewlines).lowercased() }

func randomTinyGPT(seed: UInt64 = 5) -> GPT {
    GPT(config: GPTConfig(vocabSize: 257, nPositions: 64, nEmbd: 32, nLayer: 1, nHead: 2, dropout: 0, eosTokenId: 256), seed: seed)
}

func tempDir() throws -> String {
    let d = FileManager.default.temporaryDirectory.appendingPathComponent("erasure-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
    return d
}

func writeJSONL(_ rs: [Record], to path: String) throws {
    let enc = JSONEncoder(); enc.outputFormatting = [.sortedKeys]
    try rs.map { String(decoding: try enc.encode($0), as: UTF8.self) }.joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
}

/// A model directory (random weights, byte tokenizer) whose shallot.json records `corpus`.
func modelDirectory(_ dir: String, corpus: Provenance.Corpus?, extra: [String: String]? = nil) throws {
    let g = randomTinyGPT()
    try g.save(directory: dir)
    try ByteTokenizer().save(to: dir)
    let prov = Provenance(weightsSHA256: try sha256(file: dir + "/model.safetensors"), parent: nil, corpus: corpus, tokenizer: "bytes",
                          training: nil, summary: nil, extra: extra)
    try prov.write(directory: dir)
}

@Suite struct ErasureVerificationTests {
    @Test func aSubjectWithNoValuesIsInconclusiveNotPass() throws {
        let rs = verificationCorpus()
        for subject in ["bob@y.com", "carol@z.com"] {   // records without PII; no records at all
            let v = try ErasureVerifier.verify(model: randomTinyGPT(), tokenizer: ByteTokenizer(), records: rs, subject: subject, pseudonym: testPseudonym, original: nil)
            #expect(v.verdict == .inconclusive, "\(subject)")
            #expect(v.subjectValues == 0 && v.reason.contains("nothing to test"))
        }
    }

    @Test func theSubjectIsNormalisedAndPassNeedsValues() throws {
        let rs = verificationCorpus()
        let a = try ErasureVerifier.verify(model: randomTinyGPT(), tokenizer: ByteTokenizer(), records: rs, subject: " ALICE@x.com", pseudonym: testPseudonym, original: nil)
        let b = try ErasureVerifier.verify(model: randomTinyGPT(), tokenizer: ByteTokenizer(), records: rs, subject: "alice@x.com", pseudonym: testPseudonym, original: randomTinyGPT(seed: 6))
        // A random model extracts nothing: with no original to compare, or an original that does
        // not leak them either, inconclusive — the audit cannot show an erasure.
        #expect(a.subjectValues == 2 && a.subjectValuesExtracted == 0 && a.verdict == .inconclusive && a.reason.contains("no original model was compared"))
        #expect(b.subjectValues == a.subjectValues && b.verdict == .inconclusive && b.originalSubjectValuesExtracted == 0)
        #expect(b.reason.contains("does not leak them to this attack either"))
        #expect(a.subjectKey == testPseudonym("alice@x.com") && b.subjectKey == a.subjectKey)
        #expect(a.newlyVulnerableOthers == nil && b.newlyVulnerableOthers == 0)
    }

    @Test func aMemorisedValueFails() throws {
        // Trained on Alice's record only, the model completes her address from its prefix.
        let rs = [Record(id: "a", subject: "alice@x.com", text: "Mail alice@x.com now.", source: "t")]
        let tok = ByteTokenizer()
        var toks: [Int32] = []
        for _ in 0..<40 { toks += tok.encode(rs[0].text) + [tok.endOfText] }
        let m = randomTinyGPT()
        var p = TrainParameters(); p.batchSize = 8; p.context = 32; p.steps = 120; p.learningRate = 3e-3; p.checkpointEvery = 0
        _ = try Trainer(model: m, data: TokenDataset(tokens: toks), params: p, checkpointPath: nil).run(resume: false)
        let v = try ErasureVerifier.verify(model: m, tokenizer: tok, records: rs, subject: "alice@x.com", pseudonym: testPseudonym, original: nil,
                                           settings: ErasureVerificationSettings(prefixLengths: [5], types: [.email]))
        #expect(v.subjectValues == 1 && v.subjectValuesExtracted == 1 && v.verdict == .fail)
    }

    @Test func theCorpusMustBeTheRecordedOne() throws {
        let d = try tempDir()
        let rs = verificationCorpus()
        try writeJSONL(rs, to: d + "/c.jsonl")
        try writeJSONL(Array(rs.dropLast()), to: d + "/other.jsonl")
        try writeJSONL(rs.reversed(), to: d + "/reordered.jsonl")       // same records, another file
        let manifest = ErasureVerifier.manifestSHA256(rs)
        try modelDirectory(d + "/m", corpus: .init(path: d + "/c.jsonl", fileSHA256: try sha256(file: d + "/c.jsonl"), records: rs.count, tokens: 0, manifestSHA256: manifest))
        #expect(try ErasureVerifier.checkCorpus(modelDirectory: d + "/m", data: d + "/c.jsonl", records: rs, allowUnrecorded: false).match == .fileSHA256)
        #expect(try ErasureVerifier.checkCorpus(modelDirectory: d + "/m", data: d + "/reordered.jsonl", records: rs.reversed(), allowUnrecorded: false).match == .manifestSHA256)
        do {
            _ = try ErasureVerifier.verify(modelDirectory: d + "/m", data: d + "/other.jsonl", records: Array(rs.dropLast()), subject: "alice@x.com", pseudonym: testPseudonym)
            Issue.record("a corpus that is not the model's was accepted")
        } catch let e as ErasureVerificationError {
            let msg = e.description
            #expect(msg.hasPrefix(d + "/other.jsonl: not the corpus"))
            let given = try sha256(file: d + "/other.jsonl"), recorded = try sha256(file: d + "/c.jsonl")
            #expect(msg.contains(String(given.prefix(12))) && msg.contains(String(recorded.prefix(12))))
        }

        // An unlearned model: its corpus file, or the original's record manifest.
        let retain = rs.filter { $0.subject != "alice@x.com" }
        try modelDirectory(d + "/u", corpus: .init(path: d + "/c.jsonl", fileSHA256: try sha256(file: d + "/c.jsonl"), records: retain.count, tokens: 0,
                                                   manifestSHA256: ErasureVerifier.manifestSHA256(retain)),
                           extra: ["unlearning.unlearned_from": d + "/m"])
        #expect(try ErasureVerifier.checkCorpus(modelDirectory: d + "/u", data: d + "/c.jsonl", records: rs, allowUnrecorded: false).match == .fileSHA256)
        let viaOriginal = try ErasureVerifier.checkCorpus(modelDirectory: d + "/u", data: d + "/reordered.jsonl", records: rs.reversed(), allowUnrecorded: false)
        #expect(viaOriginal.match == .manifestSHA256 && viaOriginal.matchedModel == d + "/m")
        try writeJSONL(retain, to: d + "/retain.jsonl")   // the subject's records removed: not accepted
        #expect(throws: ErasureVerificationError.self) {
            try ErasureVerifier.checkCorpus(modelDirectory: d + "/u", data: d + "/retain.jsonl", records: retain, allowUnrecorded: false)
        }
    }

    @Test func anUnrecordedCorpusNeedsPermissionAndIsRecordedAsSuch() throws {
        let d = try tempDir()
        let rs = verificationCorpus()
        try writeJSONL(rs, to: d + "/c.jsonl")
        try modelDirectory(d + "/m", corpus: nil)
        #expect(throws: ErasureVerificationError.unrecordedCorpus(model: d + "/m")) {
            try ErasureVerifier.verify(modelDirectory: d + "/m", data: d + "/c.jsonl", records: rs, subject: "alice@x.com", pseudonym: testPseudonym)
        }
        let v = try ErasureVerifier.verify(modelDirectory: d + "/m", data: d + "/c.jsonl", records: rs, subject: "alice@x.com", pseudonym: testPseudonym, allowUnrecordedData: true)
        #expect(v.corpus?.match == .unrecordedAllowed && v.verdict == .inconclusive && v.reason.contains("no original model was compared"))
        let l = try Ledger(path: d + "/l.sqlite", create: true)
        try l.append(.request, ["subject_key": l.subjectKey("Alice@X.com"), "masked": "a***"])
        let req = try ErasureVerifier.request("1", subject: "ALICE@x.com", in: l)
        #expect(throws: ErasureVerificationError.subjectMismatch(request: "R-1")) { try ErasureVerifier.request("R-1", subject: "bob@y.com", in: l) }
        let e = try ErasureVerifier.record(v, request: req, in: l)
        let o = e.object()
        #expect(o["request"] as? String == "R-1" && o["verdict"] as? String == "inconclusive" && o["unrecorded_data_allowed"] as? Bool == true)
        let weights = try sha256(file: d + "/m/model.safetensors")
        #expect(o["weights_sha256"] as? String == weights && o["erasure_output"] as? Bool == false)
        #expect(try l.requests()[0].state == "verification inconclusive")
        // Once an action answering R-1 produced these weights, the same verification verifies it.
        let a = try l.append(.action, ["method": "ga", "requests": ["R-1"], "output_weights_sha256": weights])
        let req2 = try ErasureVerifier.request("R-1", subject: "alice@x.com", in: l)
        var w = v
        w.verdict = .pass   // the ledger's state rule: a pass on the erasure's output verifies
        w.erasureAction = try ErasureVerifier.erasureAction(for: req2, weightsSHA256: weights, in: l)
        #expect(w.erasureAction == a.id)
        try ErasureVerifier.record(w, request: req2, in: l)
        #expect(try l.requests()[0].state == "verified")
    }
}
