import ArgumentParser
import Foundation
import Tokenizer
import Training

struct TokenizerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenizer",
        abstract: "Train, apply and invert GPT-2 byte-level BPE tokenizers.",
        subcommands: [TrainTokenizer.self, Encode.self, Decode.self])
}

struct TrainTokenizer: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a byte-level BPE vocabulary; writes vocab.json, merges.txt and tokenizer.json (HF tokenizers loads them).")
    @Option(help: "Corpus (.jsonl with \"text\", or plain text).") var data: String
    @Option(help: "Vocabulary size, including the 256 bytes and <|endoftext|>.") var vocabSize: Int
    @Option(help: "Output directory.") var out: String
    @Option(help: "Token files: also write the corpus encoded with the new vocabulary here (.tok).") var encodeTo: String?
    @Flag(help: "Print a JSON summary.") var json = false

    func run() throws {
        let records = reporting { try RecordReader.read(path: data) }
        var bar = ProgressBar(total: max(1, vocabSize - 257), label: "bpe", unit: "merges")
        let result = reporting { try BPETrainer.train(texts: records.map(\.text), vocabSize: vocabSize) { done, _ in bar.update(done) } }
        reporting { try result.tokenizer.save(to: out) }
        var tokens = 0
        if let encodeTo {
            let ids = result.tokenizer.encodeBatch(records.map(\.text))
            var all: [Int32] = []
            for r in ids { all.append(contentsOf: r); all.append(result.tokenizer.endOfText) }
            tokens = all.count
            reporting { try TokenFile.write(all, vocabSize: result.tokenizer.vocabSize, to: encodeTo) }
        }
        struct Summary: Encodable { let vocab_size: Int; let merges: Int; let distinct_pretokens: Int; let seconds: Double; let tokens: Int?; let out: String }
        let s = Summary(vocab_size: result.tokenizer.vocabSize, merges: result.tokenizer.merges.count, distinct_pretokens: result.words,
                        seconds: result.seconds, tokens: encodeTo == nil ? nil : tokens, out: out)
        if json { printJSON(s) } else {
            print("trained \(s.vocab_size) tokens (\(s.merges) merges over \(s.distinct_pretokens) distinct pre-tokens) in \(String(format: "%.2f", s.seconds)) s → \(out)")
        }
    }
}

struct Encode: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Encode standard input: text → a JSON array of ids; with --jsonl each line {\"text\": ...} → {\"ids\": [...]}.")
    @Option(help: "Tokenizer directory (a model directory works).") var tokenizer: String
    @Flag(help: "JSON lines in and out.") var jsonl = false
    @Flag(help: "Recognise <|endoftext|> in the input as the special token.") var allowSpecial = false
    @Option(help: "Encode this corpus (.jsonl or text) instead of standard input, on all cores...") var data: String?
    @Option(help: "...into this token file (records joined by <|endoftext|>; uint16 ids when they fit).") var out: String?

    func run() throws {
        let tok = reporting { try TokenizerFiles.load(directory: tokenizer) }
        if data != nil || out != nil {
            guard let data, let out else { throw ValidationError("--data and --out go together") }
            let records = reporting { try RecordReader.read(path: data) }
            let bar = SharedProgressBar(total: records.count, label: "encode", unit: "records")
            let ids = tok.encodeBatch(records.map(\.text)) { bar.update($0) }
            var all: [Int32] = []
            for r in ids { all.append(contentsOf: r); all.append(tok.endOfText) }
            reporting { try TokenFile.write(all, vocabSize: tok.vocabSize, to: out) }
            printJSON(["records": records.count, "tokens": all.count, "width_bytes": tok.vocabSize <= 65536 ? 2 : 4])
            return
        }
        func enc(_ s: String) -> [Int32] {
            if allowSpecial, let bpe = tok as? BPETokenizer { return bpe.encode(s, allowedSpecial: ["<|endoftext|>"]) }
            if allowSpecial { return s.components(separatedBy: "<|endoftext|>").map { tok.encode($0) }.joined(separator: [tok.endOfText]).map { $0 } }
            return tok.encode(s)
        }
        let input = FileHandle.standardInput.readDataToEndOfFile()
        if !jsonl {
            // Raw bytes, so that input that is not valid UTF-8 still round-trips.
            let ids = allowSpecial ? enc(String(decoding: input, as: UTF8.self)) : tok.encode(bytes: [UInt8](input))
            printJSON(ids)
            return
        }
        for (n, line) in input.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated() where !line.isEmpty {
            guard let o = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any], let t = o["text"] as? String else {
                fail("stdin:\(n + 1): expected a JSON object with a string field \"text\"")
            }
            printJSON(["ids": enc(t)])
        }
    }
}

struct Decode: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Decode standard input: a JSON array of ids → text; with --jsonl each line {\"ids\": [...]} → {\"text\": ...}.")
    @Option(help: "Tokenizer directory (a model directory works).") var tokenizer: String
    @Flag(help: "JSON lines in and out.") var jsonl = false

    func run() throws {
        let tok = reporting { try TokenizerFiles.load(directory: tokenizer) }
        let input = FileHandle.standardInput.readDataToEndOfFile()
        if !jsonl {
            guard let ids = try? JSONDecoder().decode([Int32].self, from: input) else { fail("stdin: expected a JSON array of token ids") }
            let bytes = reporting { try tok.decodeBytes(ids) }
            FileHandle.standardOutput.write(Data(bytes))
            return
        }
        for (n, line) in input.split(separator: UInt8(ascii: "\n")).enumerated() {
            struct In: Decodable { let ids: [Int32] }
            guard let o = try? JSONDecoder().decode(In.self, from: Data(line)) else { fail("stdin:\(n + 1): expected {\"ids\": [...]}") }
            printJSON(["text": reporting { try tok.decode(o.ids) }])
        }
    }
}
