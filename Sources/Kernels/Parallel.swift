// A small fork-join helper over Dispatch for the non-GEMM work (attention, layernorm, softmax,
// optimizer). Work is split into contiguous ranges; kernels that reduce across ranges do so in a
// fixed order so that results do not depend on the number of threads.

import Dispatch
import Foundation

/// Wraps a value that is shared read-only (or written at disjoint indices) across worker threads.
public struct UncheckedSendable<T>: @unchecked Sendable {
    public let value: T
    public init(_ value: T) { self.value = value }
}

public enum Parallel {
    nonisolated(unsafe) private static var _threads = max(1, ProcessInfo.processInfo.activeProcessorCount)

    /// Worker threads used by the kernels (defaults to the number of active cores).
    public static var threads: Int {
        get { _threads }
        set { _threads = max(1, newValue) }
    }

    /// Calls `body` on disjoint sub-ranges covering `0..<count`, in parallel when the work is large
    /// enough (`grain` = the smallest count worth a thread).
    public static func forRanges(_ count: Int, grain: Int = 1, _ body: (Range<Int>) -> Void) {
        let t = min(threads, max(1, count / max(grain, 1)))
        if t <= 1 || count <= 1 { body(0..<count); return }
        // More chunks than threads evens out uneven rows (causal attention).
        let chunks = min(count, t * 4)
        withoutActuallyEscaping(body) { esc in
            let box = UncheckedSendable(esc)
            DispatchQueue.concurrentPerform(iterations: chunks) { i in
                let lo = count * i / chunks, hi = count * (i + 1) / chunks
                if lo < hi { box.value(lo..<hi) }
            }
        }
    }
}
