// Scanning a large text on several threads: the text is cut into blocks of ~64 KB that end at
// a blank line (no detector looks across one), blocks are scanned in parallel and the offsets
// are shifted back to the whole text's.

import Dispatch
import Foundation

extension PIIScanner {
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
        var results = [[PIIEntity]](repeating: [], count: blocks.count)
        results.withUnsafeMutableBufferPointer { rb in
            let rb = SendableBox(rb.baseAddress!), bl = SendableBox(blocks), me = self
            let parts = max(1, min(threads, blocks.count))
            DispatchQueue.concurrentPerform(iterations: parts) { p in
                for k in (bl.value.count * p / parts)..<(bl.value.count * (p + 1) / parts) { rb.value[k] = me.scan(String(bl.value[k])) }
            }
        }
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
