// The filler budget rule's placeholder: a removed record's tokens are replaced by as many
// <|endoftext|> tokens, and training ignores every target that is <|endoftext|> after an input
// <|endoftext|> (data order shallot/2, Training/Dataset.swift). The remaining records keep their
// offsets in the stream (the same windows, positions and steps for everyone else), and the model is
// never trained to predict a placeholder (it still sees them as context in windows it shares with
// remaining records).

import Foundation
import Support
import Kernels
import Tokenizer

public enum Filler {
    /// Exactly `count` placeholder tokens: `endOfText` repeated. A placeholder used to be text (random
    /// words, then one fixed sentence repeated); a model trained on it memorised measurably less of
    /// every other record — with 450 records' worth of the fixed sentence added and nothing removed,
    /// the subjects vulnerable per model fell from 31–36 to 8–11 (BENCHMARKS.md, "Masked
    /// placeholders") — so removal looked like protection.
    /// Placeholder targets carry no loss (docs/methods.md, "Budget rule").
    public static func tokens(count: Int, endOfText: Int32) -> [Int32] {
        [Int32](repeating: endOfText, count: max(0, count))
    }
}

extension Filler {
    /// Records' token lists joined with <|endoftext|>, as training reads them; the records whose
    /// index is in `replace` become placeholders of the same token count (`keepLength`, the
    /// study's budget rule) or are dropped.
    public static func packed(_ records: [[Int32]], replace: Set<Int> = [], keepLength: Bool, endOfText: Int32) -> [Int32] {
        var out: [Int32] = []
        for (i, t) in records.enumerated() {
            if replace.contains(i) {
                guard keepLength else { continue }
                out += tokens(count: t.count, endOfText: endOfText)
            } else {
                out += t
            }
            out.append(endOfText)
        }
        return out
    }
}
