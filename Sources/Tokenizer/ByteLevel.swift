// GPT-2's byte-level alphabet and the tokenizer interface the rest of Shallot uses.
//
// GPT-2 maps every byte to a printable Unicode character (`bytes_to_unicode` in OpenAI's
// encoder.py) so that its vocabulary is a set of strings. A tokenizer with those 256 symbols,
// `<|endoftext|>` and no merges is a valid GPT-2 tokenizer that HF loads from vocab.json +
// merges.txt: that is `ByteTokenizer`, used until a BPE vocabulary is given.

import Foundation

public enum TokenizerError: Error, CustomStringConvertible {
    case unreadable(path: String, reason: String)
    case malformed(path: String, line: Int?, reason: String)
    case unknownToken(Int32, vocabSize: Int)

    public var description: String {
        switch self {
        case .unreadable(let p, let r): return "\(p): cannot read: \(r)"
        case .malformed(let p, let l, let r): return "\(p)\(l.map { ":\($0)" } ?? ""): \(r)"
        case .unknownToken(let t, let v): return "token id \(t) is outside the vocabulary (size \(v))"
        }
    }
}

/// Encodes text to token ids and back. Implementations are immutable and thread-safe.
public protocol TextTokenizer: Sendable {
    var vocabSize: Int { get }
    /// The id of `<|endoftext|>`, which separates documents.
    var endOfText: Int32 { get }
    func encode(_ text: String) -> [Int32]
    func encode(bytes: [UInt8]) -> [Int32]
    /// The bytes of the ids (may be invalid UTF-8 mid-character).
    func decodeBytes(_ ids: [Int32]) throws -> [UInt8]
    /// Writes the tokenizer files (vocab.json, merges.txt, tokenizer.json) into `directory`.
    func save(to directory: String) throws
}

extension TextTokenizer {
    public func encode(_ text: String) -> [Int32] { encode(bytes: Array(text.utf8)) }
    /// Decoded text; invalid UTF-8 becomes U+FFFD, as HF's `decode`.
    public func decode(_ ids: [Int32]) throws -> String { String(decoding: try decodeBytes(ids), as: UTF8.self) }
}

public enum ByteLevel {
    /// OpenAI's bytes_to_unicode: printable Latin-1 bytes map to themselves, the other 68 bytes to
    /// U+0100 upwards in byte order.
    public static let byteToUnicode: [Character] = {
        var printable = Set<Int>()
        for r in [0x21...0x7E, 0xA1...0xAC, 0xAE...0xFF] { for b in r { printable.insert(b) } }
        var table = [Character](repeating: " ", count: 256)
        var n = 0
        for b in 0..<256 {
            if printable.contains(b) {
                table[b] = Character(Unicode.Scalar(UInt32(b))!)
            } else {
                table[b] = Character(Unicode.Scalar(UInt32(256 + n))!)
                n += 1
            }
        }
        return table
    }()

    public static let unicodeToByte: [Character: UInt8] = {
        var d: [Character: UInt8] = [:]
        for (b, c) in byteToUnicode.enumerated() { d[c] = UInt8(b) }
        return d
    }()

    /// A byte string in the byte-level alphabet.
    public static func symbol(_ bytes: some Sequence<UInt8>) -> String {
        String(bytes.map { byteToUnicode[Int($0)] })
    }
}

/// Byte-level tokenizer: ids 0–255 are the bytes in GPT-2's symbol order, 256 is `<|endoftext|>`.
public struct ByteTokenizer: TextTokenizer {
    public init() {}
    public var vocabSize: Int { 257 }
    public var endOfText: Int32 { 256 }

    public func encode(bytes: [UInt8]) -> [Int32] { bytes.map { Int32($0) } }

    public func decodeBytes(_ ids: [Int32]) throws -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(ids.count)
        for id in ids {
            if id == endOfText { out.append(contentsOf: Array("<|endoftext|>".utf8)); continue }
            guard id >= 0 && id < 256 else { throw TokenizerError.unknownToken(id, vocabSize: vocabSize) }
            out.append(UInt8(id))
        }
        return out
    }

    /// vocab.json maps each byte's symbol to the byte value, as a GPT-2 vocabulary with no merges.
    public func save(to directory: String) throws {
        var vocab: [String: Int] = [:]
        for b in 0..<256 { vocab[String(ByteLevel.byteToUnicode[b])] = b }
        vocab["<|endoftext|>"] = 256
        try TokenizerFiles.write(vocab: vocab, merges: [], directory: directory)
    }
}

public enum TokenizerFiles {
    /// Writes vocab.json, merges.txt and a HF tokenizer.json for a byte-level BPE.
    public static func write(vocab: [String: Int], merges: [(String, String)], directory: String) throws {
        let fm = FileManager.default
        try fm.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let vocabData = try enc.encode(vocab)
        try vocabData.write(to: URL(fileURLWithPath: directory + "/vocab.json"), options: .atomic)
        var m = "#version: 0.2\n"
        for (a, b) in merges { m += "\(a) \(b)\n" }
        try Data(m.utf8).write(to: URL(fileURLWithPath: directory + "/merges.txt"), options: .atomic)
        let eot = vocab["<|endoftext|>"] ?? vocab.count
        let vocabJSON = String(decoding: vocabData, as: UTF8.self)
        let mergesJSON = try String(decoding: enc.encode(merges.map { [$0.0, $0.1] }), as: UTF8.self)
        let tj = """
        {"version":"1.0","truncation":null,"padding":null,\
        "added_tokens":[{"id":\(eot),"content":"<|endoftext|>","single_word":false,"lstrip":false,"rstrip":false,"normalized":true,"special":true}],\
        "normalizer":null,\
        "pre_tokenizer":{"type":"ByteLevel","add_prefix_space":false,"trim_offsets":true,"use_regex":true},\
        "post_processor":{"type":"ByteLevel","add_prefix_space":true,"trim_offsets":false,"use_regex":true},\
        "decoder":{"type":"ByteLevel","add_prefix_space":true,"trim_offsets":true,"use_regex":true},\
        "model":{"type":"BPE","dropout":null,"unk_token":null,"continuing_subword_prefix":"","end_of_word_suffix":"",\
        "fuse_unk":false,"byte_fallback":false,"ignore_merges":false,"vocab":\(vocabJSON),"merges":\(mergesJSON)}}
        """
        try Data(tj.utf8).write(to: URL(fileURLWithPath: directory + "/tokenizer.json"), options: .atomic)
        let cfg = #"{"model_max_length":1024,"tokenizer_class":"GPT2Tokenizer","bos_token":"<|endoftext|>","eos_token":"<|endoftext|>","unk_token":"<|endoftext|>","add_prefix_space":false}"#
        try Data(cfg.utf8).write(to: URL(fileURLWithPath: directory + "/tokenizer_config.json"), options: .atomic)
    }

    /// Loads the tokenizer stored in a directory (a model directory or a tokenizer directory).
    /// Until BPE merges are supported (issue 3), only merge-free byte-level vocabularies load.
    public static func load(directory: String) throws -> any TextTokenizer {
        let vp = directory + "/vocab.json", mp = directory + "/merges.txt"
        guard let vd = FileManager.default.contents(atPath: vp) else {
            throw TokenizerError.unreadable(path: vp, reason: "no such file")
        }
        guard let vocab = try? JSONDecoder().decode([String: Int].self, from: vd) else {
            throw TokenizerError.malformed(path: vp, line: nil, reason: "not a JSON object of token → id")
        }
        let merges = (FileManager.default.contents(atPath: mp).map { String(decoding: $0, as: UTF8.self) } ?? "")
            .split(separator: "\n").filter { !$0.hasPrefix("#version") && !$0.isEmpty }
        let isByteVocab = vocab.count == 257 && (0..<256).allSatisfy { vocab[String(ByteLevel.byteToUnicode[$0])] == $0 } && vocab["<|endoftext|>"] == 256
        if merges.isEmpty && isByteVocab { return ByteTokenizer() }
        throw TokenizerError.malformed(path: mp, line: nil,
            reason: "BPE vocabularies with merges are not supported by this build yet; only the byte-level vocabulary (256 bytes + <|endoftext|>) loads")
    }
}
