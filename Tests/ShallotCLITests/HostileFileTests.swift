// The hostile-file corpus of docs/security.md: each crafted file makes the real binary exit with
// status 1 and one line naming the file and the problem — never a signal, never a hang.

import Foundation
import Testing
import SafeTensors

struct Outcome { let reason: Process.TerminationReason; let status: Int32; let stderr: String }

func runShallot(_ args: [String], stdin: String = "") throws -> Outcome {
    let p = Process()
    p.executableURL = shallotBinary()
    p.arguments = args
    let err = Pipe(), inp = Pipe()
    p.standardOutput = FileHandle.nullDevice; p.standardError = err; p.standardInput = inp
    try p.run()
    inp.fileHandleForWriting.write(Data(stdin.utf8)); try inp.fileHandleForWriting.close()
    let e = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return Outcome(reason: p.terminationReason, status: p.terminationStatus, stderr: String(decoding: e, as: UTF8.self))
}

let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
let tinyModel = fixtures.appendingPathComponent("GPTTests/Fixtures/tiny-hf").path
let trainedTokenizer = fixtures.appendingPathComponent("TokenizerTests/Fixtures/trained").path

/// A safetensors file from a raw header (JSON text) and data bytes.
func safetensors(header: String, data: [UInt8] = [], headerLength: UInt64? = nil) -> Data {
    var d = Data()
    withUnsafeBytes(of: (headerLength ?? UInt64(header.utf8.count)).littleEndian) { d.append(contentsOf: $0) }
    d.append(contentsOf: Array(header.utf8)); d.append(contentsOf: data)
    return d
}

func tokFile(width: UInt32, vocab: UInt32, count: UInt64, ids: [UInt8]) -> Data {
    var d = Data("SHTK".utf8)
    for v in [UInt32(1), width, vocab] { withUnsafeBytes(of: v.littleEndian) { d.append(contentsOf: $0) } }
    withUnsafeBytes(of: count.littleEndian) { d.append(contentsOf: $0) }
    d.append(contentsOf: ids)
    return d
}

func config(_ changes: [String: Any]) -> Data {
    let tiny = (try? JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: tinyModel + "/config.json")))) as? [String: Any] ?? [:]
    return try! JSONSerialization.data(withJSONObject: tiny.merging(changes) { _, b in b })
}

/// One hostile case: the files of a directory, the command (with DIR for the directory) and a
/// phrase the error must contain.
struct HostileCase: CustomStringConvertible, Sendable {
    let name: String
    let files: @Sendable () -> [String: Data]
    let args: [String]
    let expect: String
    let blame: String  // the file the message must name
    var description: String { name }
}

let modelWeights = { @Sendable in (try? Data(contentsOf: URL(fileURLWithPath: tinyModel + "/model.safetensors"))) ?? Data() }
let modelConfig = { @Sendable in (try? Data(contentsOf: URL(fileURLWithPath: tinyModel + "/config.json"))) ?? Data() }
let score = ["score", "--model", "DIR", "--data", "DIR/records.jsonl"]
let records = Data(#"{"id": "a", "text": "hello"}"#.utf8)

func weights(_ st: Data) -> @Sendable () -> [String: Data] { { ["config.json": modelConfig(), "model.safetensors": st, "records.jsonl": records] } }
func cfg(_ c: Data) -> @Sendable () -> [String: Data] { { ["config.json": c, "model.safetensors": modelWeights(), "records.jsonl": records] } }
func index(_ json: String) -> @Sendable () -> [String: Data] { { ["config.json": modelConfig(), "model.safetensors.index.json": Data(json.utf8), "records.jsonl": records] } }
func vocab(_ v: String, _ merges: String = "#version: 0.2\n") -> @Sendable () -> [String: Data] { { ["vocab.json": Data(v.utf8), "merges.txt": Data(merges.utf8)] } }
func tokjson(_ j: String) -> @Sendable () -> [String: Data] { { ["tokenizer.json": Data(j.utf8)] } }
let encode = ["tokenizer", "encode", "--tokenizer", "DIR"]
let byteVocab: String = {
    var v: [String: Int] = [:]
    for b in 0..<256 { v[String(byteSymbol(b))] = b }
    v["<|endoftext|>"] = 256
    return String(decoding: try! JSONSerialization.data(withJSONObject: v), as: UTF8.self)
}()
func byteSymbol(_ b: Int) -> Character {
    let printable = Array(33...126) + Array(161...172) + Array(174...255)
    if let i = printable.firstIndex(of: b) { _ = i; return Character(Unicode.Scalar(UInt8(b))) }
    var n = 0
    for x in 0..<256 where !printable.contains(x) { if x == b { return Character(Unicode.Scalar(UInt32(256 + n))!) }; n += 1 }
    fatalError()
}
func tokJSON(vocabExtra: String = "", added: String = "[]") -> String {
    let v = byteVocab.dropLast() + vocabExtra + "}"
    return #"{"model": {"type": "BPE", "vocab": \#(v), "merges": []}, "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false}, "added_tokens": \#(added)}"#
}
let trainTok = ["train", "--data", "DIR/data.tok", "--tokenizer", trainedTokenizer, "--out", "DIR/out", "--layers", "1", "--heads", "1", "--dim", "8", "--context", "8", "--steps", "1"]
func tok(_ d: Data) -> @Sendable () -> [String: Data] { { ["data.tok": d] } }

let hostileCases: [HostileCase] = [
    // safetensors
    .init(name: "safetensors: header length beyond the file", files: weights(safetensors(header: "{}", headerLength: 1 << 40)), args: score, expect: "header length", blame: "model.safetensors"),
    .init(name: "safetensors: header length 2^64-1", files: weights(safetensors(header: "{}", headerLength: .max)), args: score, expect: "header length", blame: "model.safetensors"),
    .init(name: "safetensors: 7-byte file", files: weights(Data([1, 2, 3, 4, 5, 6, 7])), args: score, expect: "too small", blame: "model.safetensors"),
    .init(name: "safetensors: header not JSON", files: weights(safetensors(header: "{\"a\": [1, 2")), args: score, expect: "invalid safetensors header", blame: "model.safetensors"),
    .init(name: "safetensors: offsets beyond the data", files: weights(safetensors(header: #"{"transformer.wte.weight": {"dtype": "F32", "shape": [97, 32], "data_offsets": [0, 12416]}}"#, data: [0, 0, 0, 0])), args: score, expect: "outside the data section", blame: "model.safetensors"),
    .init(name: "safetensors: shape overflows", files: weights(safetensors(header: #"{"x": {"dtype": "F32", "shape": [4294967296, 4294967296, 4294967296], "data_offsets": [0, 4]}}"#, data: [0, 0, 0, 0])), args: score, expect: "overflows", blame: "model.safetensors"),
    .init(name: "safetensors: duplicate tensor", files: weights(safetensors(header: #"{"x": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]}, "x": {"dtype": "U8", "shape": [1], "data_offsets": [1, 2]}}"#, data: [0, 0])), args: score, expect: "appears twice", blame: "model.safetensors"),
    .init(name: "safetensors: unpaired surrogate", files: weights(safetensors(header: #"{"\ud800\u0041": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]}}"#, data: [0])), args: score, expect: "surrogate", blame: "model.safetensors"),
    .init(name: "safetensors: nesting 10,000 deep", files: weights(safetensors(header: String(repeating: "[", count: 10_000))), args: score, expect: "nesting too deep", blame: "model.safetensors"),
    .init(name: "safetensors: tensors overlap", files: weights(safetensors(header: #"{"a": {"dtype": "U8", "shape": [2], "data_offsets": [0, 2]}, "b": {"dtype": "U8", "shape": [2], "data_offsets": [1, 3]}}"#, data: [0, 0, 0])), args: score, expect: "overlap", blame: "model.safetensors"),
    // config.json
    .init(name: "config: n_inner 2^40", files: cfg(config(["n_inner": 1 << 40])), args: score, expect: "n_inner", blame: "config.json"),
    .init(name: "config: vocab_size 2^40", files: cfg(config(["vocab_size": 1 << 40])), args: score, expect: "vocab_size", blame: "config.json"),
    .init(name: "config: n_layer 10^9", files: cfg(config(["n_layer": 1_000_000_000])), args: score, expect: "n_layer", blame: "config.json"),
    .init(name: "config: negative n_embd", files: cfg(config(["n_embd": -32])), args: score, expect: "n_embd", blame: "config.json"),
    .init(name: "config: n_head 0", files: cfg(config(["n_head": 0])), args: score, expect: "n_head", blame: "config.json"),
    .init(name: "config: parameter count beyond the limit", files: cfg(config(["n_embd": 16384, "n_head": 16, "vocab_size": 2_000_000, "n_positions": 65536, "n_layer": 200])), args: score, expect: "parameters", blame: "config.json"),
    .init(name: "config: eos_token_id outside the vocabulary", files: cfg(config(["eos_token_id": 1_000_000_000])), args: score, expect: "eos_token_id", blame: "config.json"),
    .init(name: "config: bos_token_id negative", files: cfg(config(["bos_token_id": -1])), args: score, expect: "bos_token_id", blame: "config.json"),
    .init(name: "config: epsilon beyond Float", files: cfg(config(["layer_norm_epsilon": 1e300])), args: score, expect: "not valid JSON", blame: "config.json"),
    .init(name: "config: not JSON", files: cfg(Data("{\"vocab_size\": ".utf8)), args: score, expect: "config.json", blame: "config.json"),
    .init(name: "config: number beyond Int", files: cfg(Data(String(decoding: config([:]), as: UTF8.self).replacingOccurrences(of: "\"n_layer\":2", with: "\"n_layer\":1e30").utf8)), args: score, expect: "not valid JSON", blame: "config.json"),
    // the sharded checkpoint's index
    .init(name: "index: shard outside the directory", files: index(#"{"weight_map": {"wte.weight": "../outside.safetensors"}}"#), args: score, expect: "inside the model directory", blame: "model.safetensors.index.json"),
    .init(name: "index: absolute shard path", files: index(#"{"weight_map": {"wte.weight": "/etc/passwd"}}"#), args: score, expect: "inside the model directory", blame: "model.safetensors.index.json"),
    .init(name: "index: no weight_map", files: index(#"{"weights": 1}"#), args: score, expect: "weight_map", blame: "model.safetensors.index.json"),
    // vocab.json / merges.txt / tokenizer.json
    .init(name: "vocab.json: id 2^40", files: vocab(String(byteVocab.dropLast()) + #", "zz": 1099511627776}"#), args: encode, expect: "ids must be in", blame: "vocab.json"),
    .init(name: "vocab.json: id Int.max", files: vocab(String(byteVocab.dropLast()) + #", "zz": 9223372036854775807}"#), args: encode, expect: "ids must be in", blame: "vocab.json"),
    .init(name: "vocab.json: negative id", files: vocab(String(byteVocab.dropLast()) + #", "zz": -3}"#), args: encode, expect: "ids must be in", blame: "vocab.json"),
    .init(name: "vocab.json: not an object of ids", files: vocab("[1, 2, 3]"), args: encode, expect: "not a JSON object", blame: "vocab.json"),
    .init(name: "merges.txt: three tokens on a line", files: vocab(byteVocab, "#version: 0.2\na b c\n"), args: encode, expect: "two tokens", blame: "merges.txt"),
    .init(name: "merges.txt: token not in the vocabulary", files: vocab(byteVocab, "#version: 0.2\n\u{2603} x\n"), args: encode, expect: "not in the vocabulary", blame: "merges.txt"),
    .init(name: "tokenizer.json: special token id -5", files: tokjson(tokJSON(added: #"[{"id": -5, "content": "<|x|>"}]"#)), args: encode, expect: "ids must be in", blame: "tokenizer.json"),
    .init(name: "tokenizer.json: special token id 10^12", files: tokjson(tokJSON(added: #"[{"id": 1000000000000, "content": "<|x|>"}]"#)), args: encode, expect: "ids must be in", blame: "tokenizer.json"),
    .init(name: "tokenizer.json: vocab id 2^40", files: tokjson(tokJSON(vocabExtra: #", "zz": 1099511627776"#)), args: encode, expect: "ids must be in", blame: "tokenizer.json"),
    .init(name: "tokenizer.json: not BPE", files: tokjson(#"{"model": {"type": "WordPiece"}}"#), args: encode, expect: "BPE", blame: "tokenizer.json"),
    // .tok token files
    .init(name: ".tok: count × width overflows", files: tok(tokFile(width: 4, vocab: 1024, count: 1 << 62, ids: [1, 0, 0, 0])), args: trainTok, expect: "header says", blame: "data.tok"),
    .init(name: ".tok: count 2^64-1", files: tok(tokFile(width: 2, vocab: 1024, count: .max, ids: [1, 0])), args: trainTok, expect: "header says", blame: "data.tok"),
    .init(name: ".tok: id outside the vocabulary", files: tok(tokFile(width: 2, vocab: 10, count: 2, ids: [1, 0, 200, 0])), args: trainTok, expect: "outside the vocabulary", blame: "data.tok"),
    .init(name: ".tok: vocabulary 0", files: tok(tokFile(width: 2, vocab: 0, count: 0, ids: [])), args: trainTok, expect: "vocabulary size", blame: "data.tok"),
    .init(name: ".tok: width 3", files: tok(tokFile(width: 3, vocab: 10, count: 1, ids: [1, 0, 0])), args: trainTok, expect: "width", blame: "data.tok"),
    .init(name: ".tok: larger vocabulary than the tokenizer", files: tok(tokFile(width: 4, vocab: 1 << 20, count: 1, ids: [1, 0, 0, 0])), args: trainTok, expect: "larger than the tokenizer", blame: "data.tok"),
    // importers
    .init(name: "CSV: unterminated quote", files: { ["mail.csv": Data("file,message\na/1,\"From: a@example.com\n\nnever closed\n".utf8)] },
          args: ["corpus", "import", "--format", "email-csv", "DIR/mail.csv", "--out", "DIR/out.jsonl"], expect: "never closed", blame: "mail.csv"),
    .init(name: "CSV: no message column", files: { ["mail.csv": Data("a,b\n1,2\n".utf8)] },
          args: ["corpus", "import", "--format", "email-csv", "DIR/mail.csv", "--out", "DIR/out.jsonl"], expect: "message", blame: "mail.csv"),
]

@Suite(.serialized) struct HostileFileTests {
    @Test(arguments: hostileCases) func exitsWithOneClearLine(_ c: HostileCase) throws {
        let d = try tmp()
        for (name, data) in c.files() { try data.write(to: URL(fileURLWithPath: d + "/" + name)) }
        let r = try runShallot(c.args.map { $0.replacingOccurrences(of: "DIR", with: d) })
        #expect(r.reason == .exit, "\(c.name): killed by signal \(r.status)")
        #expect(r.status == 1, "\(c.name): status \(r.status): \(r.stderr)")
        let lines = r.stderr.split(separator: "\n").filter { !$0.isEmpty }
        #expect(lines.count == 1, "\(c.name): \(r.stderr)")
        #expect(r.stderr.contains(c.expect), "\(c.name): \(r.stderr)")
        #expect(r.stderr.contains(c.blame), "\(c.name): the message does not name \(c.blame): \(r.stderr)")
    }

    /// MIME bombs are messages, not files: each is skipped with its reason, the import goes on.
    @Test func mimeBombsAreSkippedWithAReason() throws {
        let d = try tmp()
        var deep = "Subject: innermost\n\nhello"
        for i in 0..<3000 { deep = i % 2 == 0 ? "Subject: m\n" + "Content-Type: message/rfc822\n\n" + deep
                                             : "Subject: p\nContent-Type: multipart/mixed; boundary=b\(i)\n\n--b\(i)\nContent-Type: message/rfc822\n\n" + deep + "\n--b\(i)--\n" }
        let mbox = "From x\nFrom: a@example.com\n" + deep + "\nFrom y\nFrom: b@example.com\nX-Big: " + String(repeating: "y", count: 2 << 20) + "\n\nbody\n\nFrom z\nFrom: c@example.com\nSubject: fine\n\nok\n"
        try Data(mbox.utf8).write(to: URL(fileURLWithPath: d + "/in.mbox"))
        let r = try runShallot(["corpus", "import", "--format", "mbox", d + "/in.mbox", "--out", d + "/out.jsonl"])
        #expect(r.reason == .exit && r.status == 0, "\(r.stderr)")
        let out = try String(contentsOfFile: d + "/out.jsonl", encoding: .utf8)
        #expect(out.split(separator: "\n").count == 1)
        #expect(r.stderr.contains("nested deeper") && r.stderr.contains("header section longer"), "\(r.stderr)")
    }
}
