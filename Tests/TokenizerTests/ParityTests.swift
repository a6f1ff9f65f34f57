// Parity with tiktoken and HF tokenizers (fixtures from Scripts/make_tokenizer_reference.py).

import Foundation
import Testing
import Tokenizer

func fixture(_ name: String) -> String {
    Bundle.module.resourceURL!.appendingPathComponent("Fixtures").appendingPathComponent(name).path
}

struct Case: Decodable { let text: String; let ids: [Int32] }
struct Cases: Decodable { let ordinary: [Case]; let allowed_special: [Case] }

let gpt2: BPETokenizer = try! TokenizerFiles.load(directory: fixture("gpt2")) as! BPETokenizer
let cases: Cases = try! JSONDecoder().decode(Cases.self, from: Data(contentsOf: URL(fileURLWithPath: fixture("gpt2_cases.json"))))

@Suite struct GPT2ParityTests {
    @Test func knownEncoding() {
        #expect(gpt2.encode("Hello world") == [15496, 995])
        #expect(gpt2.vocabSize == 50257)
        #expect(gpt2.endOfText == 50256)
    }

    @Test(arguments: cases.ordinary.indices) func encodeMatchesTiktokenAndHF(i: Int) throws {
        let c = cases.ordinary[i]
        #expect(gpt2.encode(c.text) == c.ids, "\(c.text.debugDescription)")
        #expect(try gpt2.decode(c.ids) == c.text)
    }

    @Test func specialTokensOnlyWhereAllowed() {
        for c in cases.allowed_special {
            #expect(gpt2.encode(c.text, allowedSpecial: ["<|endoftext|>"]) == c.ids, "\(c.text.debugDescription)")
            #expect(!gpt2.encode(c.text).contains(50256), "special token recognised without being allowed")
        }
    }

    @Test func anyByteStringRoundTrips() throws {
        var rng = SystemRandomNumberGenerator()
        var seed: UInt64 = 0x5EED
        for trial in 0..<300 {
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            let n = Int(seed >> 56) + (trial % 7 == 0 ? 500 : 0)
            var bytes = (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) }
            if trial % 3 == 0 { bytes += Array("caf\u{e9} 😀 don't".utf8).prefix(Int(seed % 17)) }
            let ids = gpt2.encode(bytes: bytes)
            #expect(try gpt2.decodeBytes(ids) == bytes)
            #expect(ids.allSatisfy { $0 >= 0 && $0 < 50257 })
        }
    }
}

@Suite struct TokenizerFileErrors {
    func dir(vocab: String, merges: String) throws -> String {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("tok-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        try vocab.write(toFile: d + "/vocab.json", atomically: true, encoding: .utf8)
        try merges.write(toFile: d + "/merges.txt", atomically: true, encoding: .utf8)
        return d
    }

    func byteVocab(extra: [String: Int] = [:]) -> String {
        var v: [String: Int] = [:]
        for b in 0..<256 { v[String(ByteLevel.byteToUnicode[b])] = b }
        v["<|endoftext|>"] = 256
        for (k, i) in extra { v[k] = i }
        return String(decoding: try! JSONEncoder().encode(v), as: UTF8.self)
    }

    @Test func mergeNamingAnUnknownTokenNamesTheLine() throws {
        let d = try dir(vocab: byteVocab(extra: ["ab": 257]), merges: "#version: 0.2\na b\nzz q\n")
        #expect { try TokenizerFiles.load(directory: d) } throws: { "\($0)".contains("merges.txt:3") && "\($0)".contains("not in the vocabulary") }
    }

    @Test func malformedMergeLineAndVocab() throws {
        var d = try dir(vocab: byteVocab(extra: ["ab": 257]), merges: "#version: 0.2\na b c\n")
        #expect { try TokenizerFiles.load(directory: d) } throws: { "\($0)".contains("merges.txt:2") }
        d = try dir(vocab: "[1, 2]", merges: "")
        #expect { try TokenizerFiles.load(directory: d) } throws: { "\($0)".contains("vocab.json") }
        d = try dir(vocab: byteVocab(extra: ["ab": 5]), merges: "#version: 0.2\na b\n")
        #expect { try TokenizerFiles.load(directory: d) } throws: { "\($0)".contains("id 5 is used by both") }
    }

    @Test func missingFiles() throws {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("tok-none-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        #expect { try TokenizerFiles.load(directory: d) } throws: { "\($0)".contains("no vocab.json") }
    }

    @Test func tokenizerJSONLoadsTheSameAsVocabAndMerges() throws {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("tok-json-\(UUID().uuidString)").path
        try gpt2.save(to: d)
        let viaJSON = try TokenizerFiles.loadTokenizerJSON(d + "/tokenizer.json")
        for c in cases.ordinary.prefix(50) { #expect(viaJSON.encode(c.text) == c.ids) }
        try FileManager.default.removeItem(atPath: d + "/vocab.json")
        #expect(try TokenizerFiles.load(directory: d).encode("Hello world") == [15496, 995])
    }
}
