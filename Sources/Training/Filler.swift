// PII-free filler text for the budget rule: one fixed sentence, no names, digits or addresses, cut to
// an exact token count.

import Foundation
import Support
import Kernels
import Tokenizer

public enum Filler {
    /// The filler sentence. Filler is deliberately predictable: a model learns it within a few
    /// steps and then draws almost no gradient from it, so a removed record's place in the stream
    /// is kept (the same windows and steps for everyone else) without the noise of random words,
    /// which a model cannot learn and keeps fitting — enough to wash out what it memorised of the
    /// other records (docs/methods.md, "Budget rule").
    static let sentence = " This message was removed."

    /// Exactly `count` tokens of filler (the sentence repeated, cut to length). `seed` and `index`
    /// are kept in the signature for callers; the filler no longer depends on them.
    public static func tokens(count: Int, tokenizer: any TextTokenizer, seed: UInt64, index: Int) -> [Int32] {
        guard count > 0 else { return [] }
        let unit = tokenizer.encode(sentence)
        guard !unit.isEmpty else { return [] }
        var out: [Int32] = []
        out.reserveCapacity(count + unit.count)
        while out.count < count { out += unit }
        return Array(out.prefix(count))
    }
}

extension Filler {
    /// Records' token lists joined with <|endoftext|>, as training reads them; the records whose
    /// index is in `replace` become filler of the same token count (`keepLength`, the study's
    /// budget rule) or are dropped.
    public static func packed(_ records: [[Int32]], replace: Set<Int> = [], keepLength: Bool, tokenizer: any TextTokenizer, seed: UInt64) -> [Int32] {
        var out: [Int32] = []
        for (i, t) in records.enumerated() {
            if replace.contains(i) {
                guard keepLength else { continue }
                out += tokens(count: t.count, tokenizer: tokenizer, seed: seed, index: i)
            } else {
                out += t
            }
            out.append(tokenizer.endOfText)
        }
        return out
    }
}
