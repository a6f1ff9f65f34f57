// Where a value sat when the model learned it. Shallot (like nanoGPT and llm.c) trains on one
// packed stream — every record's tokens followed by <|endoftext|>, in training order — cut into
// windows of T tokens at stride T, with learned absolute positions (Training/Dataset.swift). A
// value is memorised *at the position it had in its window*: the model learned to produce it
// after exactly the window's tokens before it. The position-aligned prefix replays that input.
// A k-token prefix puts the same k tokens at positions 0…k−1 instead, which the model never saw
// before that value; on an over-trained model it can fail where the aligned prefix succeeds.

import Corpus
import Foundation
import Tokenizer

/// The packed token stream of a training run and where each record lies in it.
public struct TrainingStream: Sendable {
    /// The stream exactly as training reads it.
    public let tokens: [Int32]
    /// Window length and stride (the training context T).
    public let context: Int
    /// Record id → offset of its first token in `tokens` and its token count.
    public let spans: [String: Span]

    public struct Span: Sendable, Equatable {
        public var start: Int
        public var count: Int
        public init(start: Int, count: Int) { self.start = start; self.count = count }
    }

    /// Packs `records` in training order (each record's tokens, then <|endoftext|>), as
    /// `shallot train` and the study's fine-tunes do. `tokens(r)` gives a record's tokens.
    public init(records: [Record], tokens recordTokens: (Record) -> [Int32], endOfText: Int32, context: Int) {
        var stream: [Int32] = [], spans: [String: Span] = [:]
        for r in records {
            let t = recordTokens(r)
            if spans[r.id] == nil { spans[r.id] = Span(start: stream.count, count: t.count) }
            stream += t
            stream.append(endOfText)
        }
        self.tokens = stream; self.context = max(1, context); self.spans = spans
    }

    /// A record's tokens as trained.
    public func recordTokens(_ id: String) -> ArraySlice<Int32>? {
        spans[id].map { tokens[$0.start..<($0.start + $0.count)] }
    }

    /// The tokens of the window holding stream offset `o`, before `o`, at their trained
    /// positions (empty when `o` opens its window).
    public func windowPrefix(at o: Int) -> ArraySlice<Int32> {
        let w0 = (o / context) * context
        return tokens[w0..<o]
    }

    /// The value's own record's part of the window holding offset `o` (its record starting at
    /// `recordStart`): the <|endoftext|> before the record when it lies in the window, then the
    /// record's tokens up to `o`; and the window position of the first of them.
    public func recordWindowPrefix(at o: Int, recordStart: Int) -> (ids: [Int32], position: Int) {
        let w0 = (o / context) * context
        let from = max(w0, recordStart - 1)
        return (Array(tokens[from..<o]), from - w0)
    }

    /// The last stream offset whose prediction the window of offset `o` trains: a window of T
    /// inputs starting at w0 predicts tokens w0+1 … w0+T.
    public func windowEnd(at o: Int) -> Int { (o / context) * context + context }
}

/// Where a value's characters fall among a record's tokens.
public enum TokenSpans {
    /// Byte offset after each token (cumulative lengths of the tokens' bytes).
    public static func byteEnds(_ ids: some Collection<Int32>, tokenizer: any TextTokenizer) -> [Int] {
        var ends: [Int] = [], n = 0
        ends.reserveCapacity(ids.count)
        for id in ids {
            n += (try? tokenizer.decodeBytes([id]).count) ?? 0
            ends.append(n)
        }
        return ends
    }

    /// The tokens covering unicode scalars `start..<end` of `text`: the index of the token holding
    /// the first byte and of the token holding the last (nil when the tokens do not cover it).
    public static func tokens(covering start: Int, _ end: Int, of text: String, byteEnds: [Int]) -> ClosedRange<Int>? {
        let scalars = text.unicodeScalars
        var byteStart = 0, byteEnd = 0, i = 0
        for s in scalars {
            if i == end { break }
            let n = String(s).utf8.count
            if i < start { byteStart += n }
            byteEnd += n
            i += 1
        }
        guard end > start, byteEnd > byteStart,
              let first = byteEnds.firstIndex(where: { $0 > byteStart }),
              let last = byteEnds.firstIndex(where: { $0 >= byteEnd }) else { return nil }
        return first...last
    }
}
