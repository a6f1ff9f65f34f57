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
