// A tokenizer trained by Shallot (Fixtures/trained, from Fixtures/train_corpus.jsonl) gives the
// same ids in HF tokenizers (trained_cases.json, from Scripts/make_tokenizer_reference.py), and
// training is deterministic.

import Foundation
import Testing
import Tokenizer

@Suite struct BPETrainingTests {
    let corpus: [String] = try! String(contentsOfFile: fixture("train_corpus.jsonl"), encoding: .utf8)
        .split(separator: "\n").map { (try! JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any])["text"] as! String }

    @Test func trainedTokenizerMatchesHFTokenizers() throws {
        let tok = try TokenizerFiles.load(directory: fixture("trained"))
        let cases = try JSONDecoder().decode([Case].self, from: Data(contentsOf: URL(fileURLWithPath: fixture("trained_cases.json"))))
        #expect(cases.count > 200)
        for c in cases { #expect(tok.encode(c.text) == c.ids, "\(c.text.prefix(60).debugDescription)") }
    }

    @Test func trainingIsDeterministicAndReproducesTheFixture() throws {
        let a = try BPETrainer.train(texts: corpus, vocabSize: 1000, threads: 2).tokenizer
        let b = try BPETrainer.train(texts: corpus, vocabSize: 1000, threads: 1).tokenizer
        #expect(a.merges.map { [$0.0, $0.1] } == b.merges.map { [$0.0, $0.1] })
        let fixtureTok = try TokenizerFiles.load(directory: fixture("trained")) as! BPETokenizer
        #expect(a.merges.map { [$0.0, $0.1] } == fixtureTok.merges.map { [$0.0, $0.1] })
        #expect(a.vocabSize == 1000 && a.endOfText == 999)
    }

    @Test func mostFrequentPairIsMergedFirst() throws {
        let t = try BPETrainer.train(texts: ["ab ab ab ab cd cd", "ab"], vocabSize: 259).tokenizer
        #expect(t.merges.count == 2)
        // "ab" occurs 5 times (as " ab" 4 times: the pair (a, b) counts in both), far more than any other
        #expect(try t.decode([t.merges[0].0, t.merges[0].1]) == "ab")
        #expect(t.encode("ab").count == 1)
    }

    @Test func batchEncodingEqualsOneByOne() {
        let tok = try! TokenizerFiles.load(directory: fixture("gpt2"))
        let texts = Array(corpus.prefix(700))
        #expect(tok.encodeBatch(texts, threads: 2) == texts.map { tok.encode($0) })
    }

    @Test func tokenFileRoundTrip() throws {
        let p = FileManager.default.temporaryDirectory.appendingPathComponent("t-\(UUID().uuidString).tok").path
        let ids: [Int32] = [0, 5, 50256, 65535]
        try TokenFile.write(ids, vocabSize: 65536, to: p)
        #expect(try TokenFile.read(p).tokens == ids)
        #expect(try Data(contentsOf: URL(fileURLWithPath: p)).count == 24 + 2 * 4)  // uint16
        try TokenFile.write([70000], vocabSize: 100_000, to: p)
        #expect(try TokenFile.read(p).tokens == [70000])
    }
}
