// Training data: records from a JSONL or plain-text file, tokenised and joined with
// <|endoftext|> into one stream, cut into windows of T+1 tokens (stride T) that are shuffled
// per epoch with a seeded permutation. The data position of step s is a pure function of
// (seed, s), which is what makes resume exact.

import Foundation
import Support
import Kernels
import Tokenizer

public enum TrainingError: Error, CustomStringConvertible {
    case unreadable(path: String, reason: String)
    case badRecord(path: String, line: Int, reason: String)
    case tooLittleData(path: String, tokens: Int, needed: Int)
    case checkpointMismatch(path: String, reason: String)
    case invalidSettings(String)

    public var description: String {
        switch self {
        case .unreadable(let p, let r): return "\(p): cannot read: \(r)"
        case .badRecord(let p, let l, let r): return "\(p):\(l): \(r)"
        case .tooLittleData(let p, let t, let n): return "\(p): \(t) tokens make no full batch; at least \(n) are needed (lower --batch or --context)"
        case .checkpointMismatch(let p, let r): return "\(p): cannot resume: \(r)"
        case .invalidSettings(let r): return r
        }
    }
}

/// One training record.
public struct TextRecord: Sendable {
    public var id: String
    public var text: String
}

public enum RecordReader {
    /// Reads records: `.jsonl` files give one record a line (`text`, optional `id`); any other
    /// file is one plain-text record whose id is the file name.
    public static func read(path: String, textField: String = "text") throws -> [TextRecord] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TrainingError.unreadable(path: path, reason: FileManager.default.fileExists(atPath: path) ? "permission denied" : "no such file")
        }
        guard path.hasSuffix(".jsonl") else {
            return [TextRecord(id: URL(fileURLWithPath: path).lastPathComponent, text: String(decoding: data, as: UTF8.self))]
        }
        var out: [TextRecord] = []
        var lineNo = 0
        for line in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            lineNo += 1
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x0D || $0 == 0x09 }) { continue }
            guard let obj = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any] else {
                throw TrainingError.badRecord(path: path, line: lineNo, reason: "not a JSON object")
            }
            guard let text = obj[textField] as? String else {
                throw TrainingError.badRecord(path: path, line: lineNo, reason: "no string field \"\(textField)\"")
            }
            let id = (obj["id"] as? String) ?? (obj["id"] as? Int).map(String.init) ?? "line-\(lineNo)"
            out.append(TextRecord(id: id, text: text))
        }
        return out
    }
}

public struct TokenDataset: Sendable {
    public let tokens: [Int32]
    public let recordCount: Int
    /// SHA-256 of the source file and of the sorted record ids (the manifest).
    public let fileSHA256: String
    public let manifestSHA256: String
    public let path: String
    /// The placeholder id (<|endoftext|>): a target equal to it whose input is also it is not
    /// trained on (data order shallot/2; Filler). nil: every target is trained.
    public let endOfText: Int32?

    public init(path: String, tokenizer: any TextTokenizer, textField: String = "text") throws {
        if path.hasSuffix(".tok") {
            // Already tokenised (shallot tokenizer encode --out / train --encode-to).
            let (toks, vocab) = try TokenFile.read(path)
            guard vocab <= tokenizer.vocabSize else {
                throw TrainingError.badRecord(path: path, line: 0, reason: "token file vocabulary (\(vocab)) is larger than the tokenizer's (\(tokenizer.vocabSize))")
            }
            // Records end with <|endoftext|>; a placeholder run (a removed record) is not one.
            let e = tokenizer.endOfText
            let records = toks.indices.reduce(0) { $0 + (toks[$1] == e && $1 > 0 && toks[$1 - 1] != e ? 1 : 0) }
            self.init(tokens: toks, recordCount: records,
                      fileSHA256: try sha256(file: path), manifestSHA256: "", path: path, endOfText: tokenizer.endOfText)
            return
        }
        let records = try RecordReader.read(path: path, textField: textField)
        var toks: [Int32] = []
        for ids in tokenizer.encodeBatch(records.map(\.text)) {
            toks.append(contentsOf: ids)
            toks.append(tokenizer.endOfText)
        }
        self.init(tokens: toks, recordCount: records.count, fileSHA256: try sha256(file: path),
                  manifestSHA256: sha256(records.map(\.id).sorted().joined(separator: "\n")), path: path, endOfText: tokenizer.endOfText)
    }

    public init(tokens: [Int32], recordCount: Int = 1, fileSHA256: String = "", manifestSHA256: String = "", path: String = "<memory>",
                endOfText: Int32? = nil) {
        self.tokens = tokens; self.recordCount = recordCount; self.endOfText = endOfText
        self.fileSHA256 = fileSHA256; self.manifestSHA256 = manifestSHA256; self.path = path
    }

    /// Windows of T+1 tokens at stride T.
    public func windowCount(T: Int) -> Int { max(0, (tokens.count - 1) / T) }
}

/// Deterministic batch order: epoch e visits the windows in a permutation seeded by (seed, e).
public struct BatchPlan: Sendable {
    public let B: Int, T: Int, seed: UInt64
    public let windows: Int
    public var stepsPerEpoch: Int { windows / B }

    public init(dataset: TokenDataset, B: Int, T: Int, seed: UInt64) throws {
        self.B = B; self.T = T; self.seed = seed
        windows = dataset.windowCount(T: T)
        guard windows >= B else { throw TrainingError.tooLittleData(path: dataset.path, tokens: dataset.tokens.count, needed: B * T + 1) }
    }

    public func permutation(epoch: Int) -> [Int] {
        var rng = SplitMix64(seed: mix64(seed ^ 0x5EED_DA7A) &+ UInt64(epoch))
        return Array(0..<windows).seededShuffled(using: &rng)
    }

    /// Inputs and targets (B·T each) of global step `step`. A target that is the dataset's
    /// `endOfText` after an input `endOfText` is −1 (ignored): placeholder runs teach nothing.
    public func batch(step: Int, from data: TokenDataset, permutationCache: inout (epoch: Int, perm: [Int])?) -> ([Int32], [Int32]) {
        let epoch = step / stepsPerEpoch, k = step % stepsPerEpoch
        if permutationCache?.epoch != epoch { permutationCache = (epoch, permutation(epoch: epoch)) }
        let perm = permutationCache!.perm
        var x = [Int32](), y = [Int32]()
        x.reserveCapacity(B * T); y.reserveCapacity(B * T)
        for b in 0..<B {
            let start = perm[k * B + b] * T
            x.append(contentsOf: data.tokens[start..<(start + T)])
            y.append(contentsOf: data.tokens[(start + 1)...(start + T)])
        }
        if let e = data.endOfText {
            for i in y.indices where y[i] == e && x[i] == e { y[i] = -1 }
        }
        return (x, y)
    }
}


