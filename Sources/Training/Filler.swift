// PII-free filler text for the budget rule: neutral words, no names, digits or addresses, cut to an
// exact token count.

import Foundation
import Support
import Kernels
import Tokenizer

public enum Filler {
    static let words = """
    the of and to in is that for it as with was on be by this are from or have an they which one you were all we
    can there their been has more will would about if into time only some could them other than then now its also
    after use two how our work first well way even new because any these give day most us report plan review
    schedule draft budget quarter project meeting update agenda summary proposal process team system market price
    volume capacity forecast option contract delivery pipeline storage region model data result policy change issue
    question answer note comment version document section table figure morning afternoon week month year next last
    """.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init)

    /// Exactly `count` tokens of filler, a function of (seed, index).
    public static func tokens(count: Int, tokenizer: any TextTokenizer, seed: UInt64, index: Int) -> [Int32] {
        guard count > 0 else { return [] }
        var rng = SplitMix64(seed: mix64(seed ^ 0xF111E2) &+ UInt64(index))
        var out: [Int32] = []
        while out.count < count {
            var sentence = ""
            let n = 6 + Int(rng.next() % 10)
            for i in 0..<n { sentence += (i == 0 ? "" : " ") + words[Int(rng.next() % UInt64(words.count))] }
            out += tokenizer.encode((out.isEmpty ? "" : " ") + sentence.prefix(1).uppercased() + sentence.dropFirst() + ".")
        }
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
