// Training a byte-level BPE vocabulary (the algorithm of HF tokenizers' BpeTrainer): count the
// pre-tokens of the corpus, then repeatedly merge the most frequent adjacent pair (ties: the
// pair with the smaller ids), updating pair counts only in the words that contain the pair.
// Deterministic for a given corpus and size. Ids: 0–255 are the bytes, then the merges in
// order, then <|endoftext|>.

import Dispatch
import Foundation

public struct BPETrainingResult: Sendable {
    public let tokenizer: BPETokenizer
    public let words: Int
    public let seconds: Double
}

/// Counts distinct pre-tokens by content, referring to the bytes of one corpus buffer.
struct WordCounter {
    var hashes: [UInt64], starts: [Int], lens: [Int32], counts: [Int]
    var mask: Int
    var used = 0
    init() { hashes = .init(repeating: 0, count: 1 << 16); starts = .init(repeating: -1, count: 1 << 16); lens = .init(repeating: 0, count: 1 << 16); counts = .init(repeating: 0, count: 1 << 16); mask = (1 << 16) - 1 }

    mutating func add(_ b: UnsafeBufferPointer<UInt8>, _ s: Int, _ e: Int, count: Int = 1) {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for i in s..<e { h = (h ^ UInt64(b[i])) &* 0x100_0000_01B3 }
        var i = Int(truncatingIfNeeded: h >> 20) & mask
        let len = e - s
        while starts[i] >= 0 {
            if hashes[i] == h && Int(lens[i]) == len && memcmp(b.baseAddress! + starts[i], b.baseAddress! + s, len) == 0 {
                counts[i] += count; return
            }
            i = (i + 1) & mask
        }
        hashes[i] = h; starts[i] = s; lens[i] = Int32(len); counts[i] = count
        used += 1
        if used * 2 > mask { grow(b) }
    }

    mutating func grow(_ b: UnsafeBufferPointer<UInt8>) {
        let old = (starts, lens, counts)
        let size = (mask + 1) * 2
        hashes = .init(repeating: 0, count: size); starts = .init(repeating: -1, count: size)
        lens = .init(repeating: 0, count: size); counts = .init(repeating: 0, count: size)
        mask = size - 1; used = 0
        for i in 0..<old.0.count where old.0[i] >= 0 { add(b, old.0[i], old.0[i] + Int(old.1[i]), count: old.2[i]) }
    }
}

public enum BPETrainer {
    /// Trains a vocabulary of `vocabSize` tokens (256 bytes + merges + `<|endoftext|>`) on texts.
    /// `progress` receives (merges done, merges wanted).
    public static func train(texts: [String], vocabSize: Int, threads: Int = 2,
                             progress: ((Int, Int) -> Void)? = nil) throws -> BPETrainingResult {
        guard vocabSize >= 257 else { throw TokenizerError.malformed(path: "--vocab-size", line: nil, reason: "must be at least 257 (256 bytes + <|endoftext|>)") }
        let t0 = Date()
        // One buffer holding every text; pre-tokens never cross a text boundary.
        var buffer: [UInt8] = []
        var bounds: [Int] = [0]
        for t in texts { buffer.append(contentsOf: t.utf8); bounds.append(buffer.count) }
        var words: [[Int32]] = [], wcounts: [Int] = []
        buffer.withUnsafeBufferPointer { b in
            let parts = max(1, min(threads, texts.count))
            var counters = [WordCounter](repeating: WordCounter(), count: parts)
            counters.withUnsafeMutableBufferPointer { cp in
                let cp = UnsafeSendableBox(cp.baseAddress!), bb = UnsafeSendableBox(b), bd = UnsafeSendableBox(bounds)
                DispatchQueue.concurrentPerform(iterations: parts) { p in
                    let lo = texts.count * p / parts, hi = texts.count * (p + 1) / parts
                    for r in lo..<hi {
                        let s = bd.value[r], e = bd.value[r + 1]
                        PreTokenizer.split(UnsafeBufferPointer(rebasing: bb.value[s..<e])) { ws, we in cp.value[p].add(bb.value, s + ws, s + we) }
                    }
                }
            }
            var merged = counters[0]
            for c in counters.dropFirst() {
                for i in 0..<c.starts.count where c.starts[i] >= 0 { merged.add(b, c.starts[i], c.starts[i] + Int(c.lens[i]), count: c.counts[i]) }
            }
            for i in 0..<merged.starts.count where merged.starts[i] >= 0 {
                let s = merged.starts[i]
                words.append((s..<(s + Int(merged.lens[i]))).map { Int32(b[$0]) })
                wcounts.append(merged.counts[i])
            }
        }
        // Deterministic word order (the hash table's order depends on insertion history).
        let order = words.indices.sorted { words[$0].lexicographicallyPrecedes(words[$1]) }
        words = order.map { words[$0] }; wcounts = order.map { wcounts[$0] }

        let wanted = vocabSize - 257
        let merges = mergeLoop(words: &words, counts: wcounts, wanted: wanted, progress: progress)
        // Build the vocabulary: bytes, merges, <|endoftext|>.
        var symbols = (0..<256).map { String(ByteLevel.byteToUnicode[$0]) }
        var vocab: [String: Int] = [:]
        for (i, s) in symbols.enumerated() { vocab[s] = i }
        var mergeStrings: [(String, String)] = []
        for (a, b) in merges {
            let s = symbols[Int(a)] + symbols[Int(b)]
            mergeStrings.append((symbols[Int(a)], symbols[Int(b)]))
            vocab[s] = symbols.count
            symbols.append(s)
        }
        let eot = symbols.count
        vocab["<|endoftext|>"] = eot
        let tok = try BPETokenizer(vocab: vocab, merges: mergeStrings, specials: ["<|endoftext|>": eot], source: "trained vocabulary")
        return BPETrainingResult(tokenizer: tok, words: words.count, seconds: Date().timeIntervalSince(t0))
    }

    struct HeapEntry { let count: Int; let pair: UInt64 }

    /// Max-heap on (count, then smaller pair).
    struct Heap {
        var a: [HeapEntry] = []
        @inline(__always) static func before(_ x: HeapEntry, _ y: HeapEntry) -> Bool { x.count > y.count || (x.count == y.count && x.pair < y.pair) }
        mutating func push(_ e: HeapEntry) {
            a.append(e)
            var i = a.count - 1
            while i > 0 { let p = (i - 1) / 2; if Heap.before(a[i], a[p]) { a.swapAt(i, p); i = p } else { break } }
        }
        mutating func pop() -> HeapEntry? {
            guard !a.isEmpty else { return nil }
            let top = a[0]
            let last = a.removeLast()
            if !a.isEmpty {
                a[0] = last
                var i = 0
                while true {
                    let l = 2 * i + 1, r = l + 1
                    var m = i
                    if l < a.count && Heap.before(a[l], a[m]) { m = l }
                    if r < a.count && Heap.before(a[r], a[m]) { m = r }
                    if m == i { break }
                    a.swapAt(i, m); i = m
                }
            }
            return top
        }
    }

    static func mergeLoop(words: inout [[Int32]], counts: [Int], wanted: Int, progress: ((Int, Int) -> Void)?) -> [(Int32, Int32)] {
        var pairCount: [UInt64: Int] = [:]
        var where_: [UInt64: [Int32]] = [:]
        for (w, word) in words.enumerated() where word.count > 1 {
            for i in 0..<(word.count - 1) {
                let k = PairTable.key(word[i], word[i + 1])
                pairCount[k, default: 0] += counts[w]
                where_[k, default: []].append(Int32(w))
            }
        }
        var heap = Heap()
        heap.a.reserveCapacity(pairCount.count)
        for (k, c) in pairCount { heap.push(HeapEntry(count: c, pair: k)) }
        var merges: [(Int32, Int32)] = []
        var next: Int32 = 256
        var changed: [UInt64: Int] = [:]
        while merges.count < wanted, let top = heap.pop() {
            guard let cur = pairCount[top.pair], cur == top.count, cur > 0 else { continue }
            let a = Int32(truncatingIfNeeded: top.pair >> 32), b = Int32(truncatingIfNeeded: top.pair & 0xFFFF_FFFF)
            let newId = next
            next += 1
            merges.append((a, b))
            changed.removeAll(keepingCapacity: true)
            var seen = Set<Int32>()
            for w in where_[top.pair] ?? [] where seen.insert(w).inserted {
                let word = words[Int(w)]
                guard word.count > 1 else { continue }
                var has = false
                for i in 0..<(word.count - 1) where word[i] == a && word[i + 1] == b { has = true; break }
                if !has { continue }
                let c = counts[Int(w)]
                for i in 0..<(word.count - 1) { let k = PairTable.key(word[i], word[i + 1]); pairCount[k]! -= c; changed[k] = 1 }
                var nw: [Int32] = []
                nw.reserveCapacity(word.count)
                var i = 0
                while i < word.count {
                    if i + 1 < word.count && word[i] == a && word[i + 1] == b { nw.append(newId); i += 2 } else { nw.append(word[i]); i += 1 }
                }
                if nw.count > 1 {
                    for j in 0..<(nw.count - 1) {
                        let k = PairTable.key(nw[j], nw[j + 1])
                        pairCount[k, default: 0] += c
                        changed[k] = 1
                        if nw[j] == newId || nw[j + 1] == newId { where_[k, default: []].append(w) }
                    }
                }
                words[Int(w)] = nw
            }
            where_[top.pair] = nil
            for k in changed.keys { if let c = pairCount[k], c > 0 { heap.push(HeapEntry(count: c, pair: k)) } else { pairCount[k] = nil } }
            if merges.count % 256 == 0 { progress?(merges.count, wanted) }
        }
        progress?(merges.count, wanted)
        return merges
    }
}

struct UnsafeSendableBox<T>: @unchecked Sendable { let value: T; init(_ v: T) { value = v } }
