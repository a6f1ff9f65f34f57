// GPT-2's byte-level alphabet and the tokenizer interface the rest of Shallot uses.
//
// GPT-2 maps every byte to a printable Unicode character (`bytes_to_unicode` in OpenAI's
// encoder.py) so that its vocabulary is a set of strings. A tokenizer with those 256 symbols,
// `<|endoftext|>` and no merges is a valid GPT-2 tokenizer that HF loads from vocab.json +
// merges.txt: that is `ByteTokenizer`, used until a BPE vocabulary is given.

import Foundation
import Support

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
        try TokenizerFiles.write(vocab: vocab, merges: [], specials: ["<|endoftext|>": 256], directory: directory)
    }
}

public enum TokenizerFiles {
    /// Writes vocab.json, merges.txt, tokenizer.json and tokenizer_config.json for a byte-level
    /// BPE, in the forms HF `tokenizers`/`transformers` and tiktoken-style loaders read. Owner-only,
    /// as model files are: a vocabulary learnt from a corpus holds its frequent strings (names,
    /// addresses) as tokens.
    public static func write(vocab: [String: Int], merges: [(String, String)], specials: [String: Int] = ["<|endoftext|>": -1],
                             directory: String) throws {
        do { try PrivateFile.makeDirectory(directory) } catch {
            throw TokenizerError.unreadable(path: directory, reason: "cannot make the directory: \(error)")
        }
        var vocab = vocab
        var specials = specials
        for (s, id) in specials where id < 0 { let nid = vocab[s] ?? (vocab.values.max() ?? -1) + 1; specials[s] = nid }
        for (s, id) in specials { vocab[s] = id }
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let vocabData = try enc.encode(vocab)
        try atomicWriteFile(vocabData, directory + "/vocab.json")
        var m = "#version: 0.2\n"
        for (a, b) in merges { m += "\(a) \(b)\n" }
        try atomicWriteFile(Data(m.utf8), directory + "/merges.txt")
        let vocabJSON = String(decoding: vocabData, as: UTF8.self)
        let mergesJSON = String(decoding: try enc.encode(merges.map { [$0.0, $0.1] }), as: UTF8.self)
        let added = specials.sorted { $0.value < $1.value }.map { s, id in
            #"{"id":\#(id),"content":\#(String(decoding: try! enc.encode(s), as: UTF8.self)),"single_word":false,"lstrip":false,"rstrip":false,"normalized":false,"special":true}"#
        }.joined(separator: ",")
        let tj = """
        {"version":"1.0","truncation":null,"padding":null,"added_tokens":[\(added)],"normalizer":null,\
        "pre_tokenizer":{"type":"ByteLevel","add_prefix_space":false,"trim_offsets":true,"use_regex":true},\
        "post_processor":{"type":"ByteLevel","add_prefix_space":true,"trim_offsets":false,"use_regex":true},\
        "decoder":{"type":"ByteLevel","add_prefix_space":true,"trim_offsets":true,"use_regex":true},\
        "model":{"type":"BPE","dropout":null,"unk_token":null,"continuing_subword_prefix":"","end_of_word_suffix":"",\
        "fuse_unk":false,"byte_fallback":false,"ignore_merges":false,"vocab":\(vocabJSON),"merges":\(mergesJSON)}}
        """
        try atomicWriteFile(Data(tj.utf8), directory + "/tokenizer.json")
        let cfg = #"{"model_max_length":1024,"tokenizer_class":"GPT2Tokenizer","bos_token":"<|endoftext|>","eos_token":"<|endoftext|>","unk_token":"<|endoftext|>","add_prefix_space":false}"#
        try atomicWriteFile(Data(cfg.utf8), directory + "/tokenizer_config.json")
    }

    static func atomicWriteFile(_ d: Data, _ path: String) throws {
        do { try PrivateFile.write(d, to: path) } catch {
            throw TokenizerError.unreadable(path: path, reason: "cannot write: \(error)")
        }
    }

    /// Loads the tokenizer stored in a directory (a model directory or a tokenizer directory):
    /// vocab.json + merges.txt, or tokenizer.json when those are absent.
    public static func load(directory: String) throws -> any TextTokenizer {
        let fm = FileManager.default
        let vp = directory + "/vocab.json", mp = directory + "/merges.txt", tp = directory + "/tokenizer.json"
        if fm.fileExists(atPath: vp) {
            let vd = try readLimited(vp)
            let vocab: [String: Int]
            do { vocab = try JSONDecoder().decode([String: Int].self, from: vd) } catch {
                throw TokenizerError.malformed(path: vp, line: nil, reason: "not a JSON object of token → id (\(error.localizedDescription))")
            }
            guard fm.fileExists(atPath: mp) else { throw TokenizerError.unreadable(path: mp, reason: "no such file (vocab.json needs merges.txt beside it)") }
            let md = try readLimited(mp)
            var merges: [(String, String)] = [], lines: [Int] = []
            for (i, raw) in String(decoding: md, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                let line = raw.hasSuffix("\r") ? raw.dropLast() : raw
                if line.isEmpty || (i == 0 && line.hasPrefix("#version")) { continue }
                let parts = line.split(separator: " ", omittingEmptySubsequences: false)
                guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                    throw TokenizerError.malformed(path: mp, line: i + 1, reason: "expected two tokens separated by one space, got \(String(line).debugDescription)")
                }
                merges.append((String(parts[0]), String(parts[1]))); lines.append(i + 1)
            }
            let specials = vocab["<|endoftext|>"].map { ["<|endoftext|>": $0] } ?? [:]
            if merges.isEmpty && isByteVocabulary(vocab) { return ByteTokenizer() }
            return try BPETokenizer(vocab: vocab, merges: merges, specials: specials, source: vp + " / " + mp, mergeLines: lines)
        }
        if fm.fileExists(atPath: tp) { return try loadTokenizerJSON(tp) }
        throw TokenizerError.unreadable(path: directory, reason: "no vocab.json + merges.txt or tokenizer.json here")
    }

    /// The bytes of a tokenizer file, refused above `TokenizerLimits.fileBytes`; a read error is an error.
    static func readLimited(_ path: String) throws -> Data {
        guard let attrs = try? FileManager.default.attributesOfItem(atPath: path) else {
            throw TokenizerError.unreadable(path: path, reason: "no such file")
        }
        if let size = attrs[.size] as? Int, size > TokenizerLimits.fileBytes {
            throw TokenizerError.malformed(path: path, line: nil, reason: "\(size) bytes exceed the limit of \(TokenizerLimits.fileBytes) for a tokenizer file")
        }
        do { return try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw TokenizerError.unreadable(path: path, reason: error.localizedDescription)
        }
    }

    static func isByteVocabulary(_ vocab: [String: Int]) -> Bool {
        vocab.count == 257 && (0..<256).allSatisfy { vocab[String(ByteLevel.byteToUnicode[$0])] == $0 } && vocab["<|endoftext|>"] == 256
    }

    /// HF tokenizers' tokenizer.json: a BPE model with a ByteLevel pre-tokenizer and decoder.
    public static func loadTokenizerJSON(_ path: String) throws -> any TextTokenizer {
        let d = try readLimited(path)
        guard let root = try? JSONSerialization.jsonObject(with: d) as? [String: Any] else {
            throw TokenizerError.malformed(path: path, line: nil, reason: "not a JSON object")
        }
        guard let model = root["model"] as? [String: Any], (model["type"] as? String) == "BPE" else {
            throw TokenizerError.malformed(path: path, line: nil, reason: "model.type must be \"BPE\"")
        }
        func hasByteLevel(_ v: Any?) -> Bool {
            guard let o = v as? [String: Any] else { return false }
            if (o["type"] as? String) == "ByteLevel" { return true }
            return ((o["pretokenizers"] as? [Any]) ?? (o["decoders"] as? [Any]) ?? []).contains { hasByteLevel($0) }
        }
        guard hasByteLevel(root["pre_tokenizer"]) else {
            throw TokenizerError.malformed(path: path, line: nil, reason: "pre_tokenizer must be ByteLevel (GPT-2 style)")
        }
        if let pre = root["pre_tokenizer"] as? [String: Any], (pre["add_prefix_space"] as? Bool) == true {
            throw TokenizerError.malformed(path: path, line: nil, reason: "add_prefix_space=true is not supported")
        }
        guard let vocabAny = model["vocab"] as? [String: Any] else { throw TokenizerError.malformed(path: path, line: nil, reason: "model.vocab is not an object") }
        var vocab: [String: Int] = [:]
        for (k, v) in vocabAny {
            guard let i = v as? Int else { throw TokenizerError.malformed(path: path, line: nil, reason: "model.vocab[\(k.debugDescription)] is not an integer") }
            vocab[k] = i
        }
        var merges: [(String, String)] = []
        for (i, m) in ((model["merges"] as? [Any]) ?? []).enumerated() {
            if let s = m as? String {
                let p = s.split(separator: " ", omittingEmptySubsequences: false)
                guard p.count == 2 else { throw TokenizerError.malformed(path: path, line: nil, reason: "model.merges[\(i)] \(s.debugDescription) is not two tokens") }
                merges.append((String(p[0]), String(p[1])))
            } else if let a = m as? [String], a.count == 2 {
                merges.append((a[0], a[1]))
            } else {
                throw TokenizerError.malformed(path: path, line: nil, reason: "model.merges[\(i)] is neither \"a b\" nor [a, b]")
            }
        }
        var specials: [String: Int] = [:]
        for t in (root["added_tokens"] as? [[String: Any]]) ?? [] {
            guard let c = t["content"] as? String, let id = t["id"] as? Int else { continue }
            specials[c] = id
        }
        if merges.isEmpty && isByteVocabulary(vocab.merging(specials) { a, _ in a }) { return ByteTokenizer() }
        return try BPETokenizer(vocab: vocab, merges: merges, specials: specials, source: path)
    }
}
