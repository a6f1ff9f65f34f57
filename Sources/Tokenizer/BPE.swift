// GPT-2 byte-level BPE: the vocabulary maps byte-level symbol strings to ids, merges are
// applied lowest rank first (leftmost pair on ties) within each pre-token, as OpenAI's
// encoder.py, tiktoken and HF tokenizers do. Results are cached per pre-token.

import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What a tokenizer file may ask for (GPT-2 has 50,257 tokens and 50,000 merges).
public enum TokenizerLimits {
    /// Token ids (special tokens included) are below this.
    public static let vocabSize = 1 << 21
    public static let merges = 1 << 21
    /// Largest vocab.json, merges.txt or tokenizer.json read.
    public static let fileBytes = 256 << 20
    /// Longest token (bytes of its symbol).
    public static let tokenBytes = 1 << 16
}

/// Open-addressing map from a pair of token ids to (rank, merged id).
struct PairTable: Sendable {
    private var keys: [UInt64]
    private var values: [UInt64]  // rank << 32 | merged id
    private let mask: Int
    static let empty = UInt64.max

    /// A copy that shares no storage (so that threads do not contend on reference counts).
    func deepCopy() -> PairTable {
        var t = self
        t.keys = keys.map { $0 }
        t.values = values.map { $0 }
        return t
    }

    init(capacity: Int) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        keys = [UInt64](repeating: PairTable.empty, count: size)
        values = [UInt64](repeating: 0, count: size)
        mask = size - 1
    }

    @inline(__always) static func key(_ a: Int32, _ b: Int32) -> UInt64 { UInt64(UInt32(bitPattern: a)) << 32 | UInt64(UInt32(bitPattern: b)) }
    @inline(__always) static func slot(_ k: UInt64) -> Int { Int(truncatingIfNeeded: (k &* 0x9E37_79B9_7F4A_7C15) >> 40) }

    mutating func insert(_ a: Int32, _ b: Int32, rank: Int32, merged: Int32) {
        let k = PairTable.key(a, b)
        var i = PairTable.slot(k) & mask
        while keys[i] != PairTable.empty && keys[i] != k { i = (i + 1) & mask }
        keys[i] = k
        values[i] = UInt64(UInt32(bitPattern: rank)) << 32 | UInt64(UInt32(bitPattern: merged))
    }

    /// (rank, merged id), or nil when the pair is not a merge.
    @inline(__always) func lookup(_ a: Int32, _ b: Int32) -> (Int32, Int32)? {
        let k = PairTable.key(a, b)
        var i = PairTable.slot(k) & mask
        while true {
            let kk = keys[i]
            if kk == k { let v = values[i]; return (Int32(truncatingIfNeeded: v >> 32), Int32(truncatingIfNeeded: v)) }
            if kk == PairTable.empty { return nil }
            i = (i + 1) & mask
        }
    }
}

public struct BPETokenizer: TextTokenizer {
    /// id → bytes
    public let tokenBytes: [[UInt8]]
    /// byte → id of its single-byte token
    let byteIds: [Int32]
    let pairs: PairTable
    public let merges: [(Int32, Int32)]
    /// Special (added) tokens: content → id.
    public let specials: [String: Int32]
    public let vocabSize: Int
    public let endOfText: Int32
    /// symbol string of each id (for saving)
    let symbols: [String]

    /// Builds a tokenizer from a vocabulary (symbol → id), merges (pairs of symbols) and special
    /// tokens. `source` names the file in errors.
    public init(vocab: [String: Int], merges: [(String, String)], specials: [String: Int] = [:], source: String,
                mergeLines: [Int]? = nil) throws {
        // Ids index arrays below: every id (special tokens included) is checked before anything
        // is allocated, and merges are bounded.
        for (s, id) in vocab where !(0..<TokenizerLimits.vocabSize).contains(id) {
            throw TokenizerError.malformed(path: source, line: nil, reason: "token \(s.debugDescription) has id \(id); ids must be in 0..<\(TokenizerLimits.vocabSize)")
        }
        for (s, id) in specials where !(0..<TokenizerLimits.vocabSize).contains(id) {
            throw TokenizerError.malformed(path: source, line: nil, reason: "special token \(s.debugDescription) has id \(id); ids must be in 0..<\(TokenizerLimits.vocabSize)")
        }
        guard merges.count <= TokenizerLimits.merges else {
            throw TokenizerError.malformed(path: source, line: nil, reason: "\(merges.count) merges exceed the limit of \(TokenizerLimits.merges)")
        }
        if let lines = mergeLines { precondition(lines.count == merges.count, "one line number per merge") }
        let n = max((vocab.values.max() ?? -1), (specials.values.max() ?? -1)) + 1
        var symbols = [String?](repeating: nil, count: n)
        var bytes = [[UInt8]](repeating: [], count: n)
        for (s, id) in vocab {
            guard id >= 0 else { throw TokenizerError.malformed(path: source, line: nil, reason: "negative id \(id) for \(s.debugDescription)") }
            if let other = symbols[id] {
                throw TokenizerError.malformed(path: source, line: nil, reason: "id \(id) is used by both \(other.debugDescription) and \(s.debugDescription)")
            }
            guard s.utf8.count <= TokenizerLimits.tokenBytes else {
                throw TokenizerError.malformed(path: source, line: nil, reason: "token id \(id) is \(s.utf8.count) bytes long; the limit is \(TokenizerLimits.tokenBytes)")
            }
            symbols[id] = s
            if specials[s] != nil { bytes[id] = Array(s.utf8); continue }
            var bs: [UInt8] = []
            for ch in s {
                guard let b = ByteLevel.unicodeToByte[ch] else {
                    throw TokenizerError.malformed(path: source, line: nil, reason: "token \(s.debugDescription) (id \(id)) has a character outside GPT-2's byte alphabet")
                }
                bs.append(b)
            }
            bytes[id] = bs
        }
        for (s, id) in specials {
            if let other = symbols[id], other != s {
                throw TokenizerError.malformed(path: source, line: nil, reason: "special token \(s.debugDescription) reuses id \(id) of \(other.debugDescription)")
            }
            symbols[id] = s
            bytes[id] = Array(s.utf8)
        }
        var byteIds = [Int32](repeating: -1, count: 256)
        for b in 0..<256 {
            guard let id = vocab[String(ByteLevel.byteToUnicode[b])] else {
                throw TokenizerError.malformed(path: source, line: nil, reason: "the vocabulary lacks the byte symbol for 0x\(String(b, radix: 16)) (\(String(ByteLevel.byteToUnicode[b])))")
            }
            byteIds[b] = Int32(id)
        }
        var table = PairTable(capacity: merges.count)
        var ids: [(Int32, Int32)] = []
        ids.reserveCapacity(merges.count)
        for (rank, (a, b)) in merges.enumerated() {
            let line = mergeLines?[rank]
            guard let ia = vocab[a], let ib = vocab[b] else {
                throw TokenizerError.malformed(path: source, line: line, reason: "merge \"\(a) \(b)\" names a token that is not in the vocabulary")
            }
            guard let im = vocab[a + b] else {
                throw TokenizerError.malformed(path: source, line: line, reason: "merge \"\(a) \(b)\" produces \"\(a + b)\", which is not in the vocabulary")
            }
            if table.lookup(Int32(ia), Int32(ib)) == nil {  // the first (lowest) rank wins
                table.insert(Int32(ia), Int32(ib), rank: Int32(rank), merged: Int32(im))
            }
            ids.append((Int32(ia), Int32(ib)))
        }
        self.tokenBytes = bytes
        self.byteIds = byteIds
        self.pairs = table
        self.merges = ids
        self.specials = specials.mapValues { Int32($0) }
        self.vocabSize = n
        self.symbols = symbols.map { $0 ?? "" }
        self.endOfText = Int32(specials["<|endoftext|>"] ?? vocab["<|endoftext|>"] ?? (n - 1))
    }

    // MARK: encoding

    public func encode(bytes: [UInt8]) -> [Int32] {
        var enc = Encoder(self)
        var out: [Int32] = []
        out.reserveCapacity(bytes.count / 3)
        bytes.withUnsafeBufferPointer { enc.encodeOrdinary($0, into: &out) }
        return out
    }

    /// Encodes text in which the given special tokens (e.g. "<|endoftext|>") are recognised;
    /// elsewhere (and by default) special-token text is encoded as ordinary text.
    public func encode(_ text: String, allowedSpecial: Set<String>) -> [Int32] {
        let allowed = specials.filter { allowedSpecial.contains($0.key) }
        if allowed.isEmpty { return encode(text) }
        var out: [Int32] = []
        var enc = Encoder(self)
        let bytes = Array(text.utf8)
        let pats = allowed.map { (Array($0.key.utf8), $0.value) }.sorted { $0.0.count > $1.0.count }
        var segStart = 0, i = 0
        bytes.withUnsafeBufferPointer { b in
            while i < b.count {
                var matched: (Int, Int32)?
                if b[i] == pats.first?.0.first || pats.contains(where: { $0.0.first == b[i] }) {
                    for (p, id) in pats where i + p.count <= b.count && b[i..<(i + p.count)].elementsEqual(p) { matched = (p.count, id); break }
                }
                if let (len, id) = matched {
                    enc.encodeOrdinary(UnsafeBufferPointer(rebasing: b[segStart..<i]), into: &out)
                    out.append(id)
                    i += len
                    segStart = i
                } else {
                    i += 1
                }
            }
            enc.encodeOrdinary(UnsafeBufferPointer(rebasing: b[segStart..<b.count]), into: &out)
        }
        return out
    }

    /// Reusable encoding state with a cache of pre-token → ids (one per thread).
    public struct Encoder {
        // Private copies: threads sharing one array buffer would contend on its reference count.
        let byteIds: [Int32]
        let pairs: PairTable
        var cache = WordCache()
        var work: [Int32] = []

        public init(_ tok: BPETokenizer) {
            byteIds = tok.byteIds.map { $0 }
            pairs = tok.pairs.deepCopy()
        }

        public mutating func encodeOrdinary(_ b: UnsafeBufferPointer<UInt8>, into out: inout [Int32]) {
            PreTokenizer.split(b) { s, e in self.encodeWord(UnsafeBufferPointer(rebasing: b[s..<e]), into: &out) }
        }

        @inline(__always)
        mutating func encodeWord(_ w: UnsafeBufferPointer<UInt8>, into out: inout [Int32]) {
            if w.count == 1 { out.append(byteIds[Int(w[0])]); return }
            var h: UInt64 = 0xCBF2_9CE4_8422_2325
            for c in w { h = (h ^ UInt64(c)) &* 0x100_0000_01B3 }
            if cache.append(w, hash: h, to: &out) { return }
            let ids = BPETokenizer.bpe(w, byteIds: byteIds, pairs: pairs, work: &work)
            out.append(contentsOf: ids)
            cache.insert(w, hash: h, ids: ids)
        }
    }

    /// Applies the merges to one pre-token: repeatedly merge the adjacent pair with the lowest
    /// rank (leftmost on ties).
    static func bpe(_ w: UnsafeBufferPointer<UInt8>, byteIds: [Int32], pairs: PairTable, work syms: inout [Int32]) -> [Int32] {
        syms.removeAll(keepingCapacity: true)
        for c in w { syms.append(byteIds[Int(c)]) }
        while syms.count > 1 {
            var bestRank = Int32.max, bestIdx = -1, bestId: Int32 = 0
            for i in 0..<(syms.count - 1) {
                if let (r, m) = pairs.lookup(syms[i], syms[i + 1]), r < bestRank { bestRank = r; bestIdx = i; bestId = m }
            }
            if bestIdx < 0 { break }
            // merge every occurrence of that pair, left to right, as encoder.py does
            let a = syms[bestIdx], b = syms[bestIdx + 1]
            var j = 0, i = 0
            while i < syms.count {
                if i < syms.count - 1 && syms[i] == a && syms[i + 1] == b { syms[j] = bestId; i += 2 } else { syms[j] = syms[i]; i += 1 }
                j += 1
            }
            syms.removeLast(syms.count - j)
        }
        return syms
    }

    // MARK: decoding

    public func decodeBytes(_ ids: [Int32]) throws -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(ids.count * 4)
        for id in ids {
            guard id >= 0 && Int(id) < tokenBytes.count else { throw TokenizerError.unknownToken(id, vocabSize: vocabSize) }
            out.append(contentsOf: tokenBytes[Int(id)])
        }
        return out
    }

    // MARK: files

    public func save(to directory: String) throws {
        var vocab: [String: Int] = [:]
        for (id, s) in symbols.enumerated() where !s.isEmpty { vocab[s] = id }
        try TokenizerFiles.write(vocab: vocab, merges: merges.map { (symbols[Int($0.0)], symbols[Int($0.1)]) },
                                 specials: specials.mapValues(Int.init), directory: directory)
    }
}

/// Pre-token → ids, open addressing over flat arenas (no per-entry objects, so lookups do no
/// reference counting). Cleared when full.
struct WordCache {
    var hashes: [UInt64], keyOff: [Int32], keyLen: [Int32], valOff: [Int32], valLen: [Int32]
    var keys: [UInt8] = [], vals: [Int32] = []
    var used = 0
    let mask: Int
    static let capacity = 1 << 18

    init() {
        let n = WordCache.capacity
        hashes = .init(repeating: 0, count: n); keyOff = .init(repeating: -1, count: n); keyLen = .init(repeating: 0, count: n)
        valOff = .init(repeating: 0, count: n); valLen = .init(repeating: 0, count: n)
        mask = n - 1
    }

    /// Appends the cached ids of `w` to `out`; false when `w` is not cached.
    @inline(__always)
    func append(_ w: UnsafeBufferPointer<UInt8>, hash h: UInt64, to out: inout [Int32]) -> Bool {
        var i = Int(truncatingIfNeeded: h >> 24) & mask
        while keyOff[i] >= 0 {
            if hashes[i] == h && Int(keyLen[i]) == w.count {
                let ko = Int(keyOff[i])
                let same = keys.withUnsafeBufferPointer { memcmp($0.baseAddress! + ko, w.baseAddress!, w.count) == 0 }
                if same {
                    let vo = Int(valOff[i]), vl = Int(valLen[i])
                    vals.withUnsafeBufferPointer { out.append(contentsOf: UnsafeBufferPointer(rebasing: $0[vo..<(vo + vl)])) }
                    return true
                }
            }
            i = (i + 1) & mask
        }
        return false
    }

    mutating func insert(_ w: UnsafeBufferPointer<UInt8>, hash h: UInt64, ids: [Int32]) {
        if used * 2 >= WordCache.capacity || keys.count + w.count >= Int(Int32.max) / 2 { self = WordCache() }
        var i = Int(truncatingIfNeeded: h >> 24) & mask
        while keyOff[i] >= 0 { i = (i + 1) & mask }
        hashes[i] = h
        keyOff[i] = Int32(keys.count); keyLen[i] = Int32(w.count)
        valOff[i] = Int32(vals.count); valLen[i] = Int32(ids.count)
        keys.append(contentsOf: w)
        vals.append(contentsOf: ids)
        used += 1
    }
}
