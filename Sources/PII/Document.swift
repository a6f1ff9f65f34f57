// Scanning a large text on several threads: the text is cut into blocks of ~64 KB that end at
// a blank line (no detector looks across one), blocks are scanned in parallel and the offsets
// are shifted back to the whole text's.

import Dispatch
import Foundation

extension PIIScanner {
    /// Entities of each text, scanned on `threads` workers (contiguous shares, results in order).
    public func scan(all texts: [String], threads: Int = ProcessInfo.processInfo.activeProcessorCount) -> [[PIIEntity]] {
        var out = [[PIIEntity]](repeating: [], count: texts.count)
        out.withUnsafeMutableBufferPointer { ob in
            let ob = SendableBox(ob.baseAddress!), tx = SendableBox(texts), me = self
            let parts = max(1, min(threads, texts.count))
            DispatchQueue.concurrentPerform(iterations: parts) { p in
                for i in (tx.value.count * p / parts)..<(tx.value.count * (p + 1) / parts) { ob.value[i] = me.scan(tx.value[i]) }
            }
        }
        return out
    }

    public func scanDocument(_ text: String, threads: Int = ProcessInfo.processInfo.activeProcessorCount) -> [PIIEntity] {
        var text = text
        text.makeContiguousUTF8()
        if let found = text.utf8.withContiguousStorageIfAvailable({ scanDocument(utf8: $0, threads: threads) }) { return found }
        return scanDocumentByString(text, threads: threads)
    }

    /// `scanDocument` over the text's UTF-8: the same blocks (cut after a line end followed by
    /// a blank line once a block passes 64 KB), each decoded to scalars and scanned, offsets
    /// shifted by the scalars before the block.
    func scanDocument(utf8 b: UnsafeBufferPointer<UInt8>, threads: Int) -> [PIIEntity] {
        var cuts: [Int] = [0]
        var i = 0, size = 0
        let n = b.count, nl = UInt8(ascii: "\n")
        while i < n {
            var k = i
            while k < n && b[k] != nl { k += 1 }
            guard k < n else { break }
            size += k + 1 - i
            i = k + 1
            if size > 65536, i < n, b[i] == nl { cuts.append(i); size = 0 }
        }
        cuts.append(n)
        let blocks = cuts.count - 1
        var results = [[PIIEntity]](repeating: [], count: blocks)
        results.withUnsafeMutableBufferPointer { rb in
            let rb = SendableBox(rb.baseAddress!), bytes = SendableBox(b), cuts = SendableBox(cuts), me = self
            let parts = max(1, min(threads, blocks))
            DispatchQueue.concurrentPerform(iterations: parts) { p in
                for k in (blocks * p / parts)..<(blocks * (p + 1) / parts) {
                    let block = UnsafeBufferPointer(rebasing: bytes.value[cuts.value[k]..<cuts.value[k + 1]])
                    rb.value[k] = PIIScanner.scalars(utf8: block).withUnsafeBufferPointer { me.scan(scalars: $0) }
                }
            }
        }
        var out: [PIIEntity] = []
        var offset = 0
        for k in 0..<blocks {
            for var e in results[k] { e.start += offset; e.end += offset; out.append(e) }
            // scalars in the block: bytes that are not UTF-8 continuation bytes
            for j in cuts[k]..<cuts[k + 1] where b[j] & 0xC0 != 0x80 { offset += 1 }
        }
        return out
    }

    func scanDocumentByString(_ text: String, threads: Int) -> [PIIEntity] {
        var blocks: [Substring] = []
        var start = text.startIndex
        var i = text.startIndex
        var size = 0
        let utf8 = text.utf8
        while i < text.endIndex {
            guard let nl = utf8[i...].firstIndex(of: UInt8(ascii: "\n")) else { break }
            let next = utf8.index(after: nl)
            size += utf8.distance(from: i, to: next)
            i = next
            if size > 65536, i < text.endIndex, utf8[i] == UInt8(ascii: "\n") {
                blocks.append(text[start..<i]); start = i; size = 0
            }
        }
        blocks.append(text[start...])
        let results = scan(all: blocks.map(String.init), threads: threads)
        var out: [PIIEntity] = []
        var offset = 0
        for (k, b) in blocks.enumerated() {
            for var e in results[k] { e.start += offset; e.end += offset; out.append(e) }
            offset += b.unicodeScalars.count
        }
        return out
    }
}

/// Shares a value (or a pointer written at disjoint indices) with worker threads.
public struct SendableBox<T>: @unchecked Sendable { public let value: T; public init(_ v: T) { value = v } }
