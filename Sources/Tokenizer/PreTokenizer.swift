// GPT-2's pre-tokenisation, written as a scanner over UTF-8 bytes instead of a regex:
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// (the pattern of OpenAI's encoder.py and tiktoken's "gpt2"). Alternatives are tried in order
// at each position, as the regex engine does. Bytes that are not valid UTF-8 count as "other"
// characters (class of `[^\s\p{L}\p{N}]`), so every byte string splits and round-trips.

enum CharClass: UInt8 { case other = 0, letter = 1, number = 2, space = 3 }

enum PreTokenizer {
    /// Classes of the Basic Multilingual Plane; other planes are classified on demand.
    static let bmp: [UInt8] = (0..<0x10000).map { v -> UInt8 in
        guard let s = Unicode.Scalar(UInt32(v)) else { return CharClass.other.rawValue }
        return classify(s).rawValue
    }

    static func classify(_ s: Unicode.Scalar) -> CharClass {
        let p = s.properties
        if p.isWhitespace { return .space }
        switch p.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return .letter
        case .decimalNumber, .letterNumber, .otherNumber: return .number
        default: return .other
        }
    }

    /// Decodes the character at `i`: its class and byte length (1 for an invalid byte).
    @inline(__always)
    static func char(_ b: UnsafeBufferPointer<UInt8>, _ i: Int) -> (CharClass, Int) {
        let c0 = b[i]
        if c0 < 0x80 { return (CharClass(rawValue: bmp[Int(c0)])!, 1) }
        let n = b.count
        var len = 0, v: UInt32 = 0, minV: UInt32 = 0
        if c0 & 0xE0 == 0xC0 { len = 2; v = UInt32(c0 & 0x1F); minV = 0x80 }
        else if c0 & 0xF0 == 0xE0 { len = 3; v = UInt32(c0 & 0x0F); minV = 0x800 }
        else if c0 & 0xF8 == 0xF0 { len = 4; v = UInt32(c0 & 0x07); minV = 0x10000 }
        else { return (.other, 1) }
        guard i + len <= n else { return (.other, 1) }
        for k in 1..<len {
            let c = b[i + k]
            guard c & 0xC0 == 0x80 else { return (.other, 1) }
            v = v << 6 | UInt32(c & 0x3F)
        }
        guard v >= minV, v <= 0x10FFFF, !(0xD800...0xDFFF).contains(v) else { return (.other, 1) }
        if v < 0x10000 { return (CharClass(rawValue: bmp[Int(v)])!, len) }
        return (classify(Unicode.Scalar(v)!), len)
    }

    /// Calls `emit(start, end)` for each pre-token of `b`, in order.
    @inline(__always)
    static func split(_ b: UnsafeBufferPointer<UInt8>, _ emit: (Int, Int) -> Void) {
        let n = b.count
        var i = 0
        while i < n {
            let start = i
            // 's 't 're 've 'm 'll 'd
            if b[i] == 0x27, i + 1 < n {
                let c1 = b[i + 1]
                if c1 == 0x73 || c1 == 0x74 || c1 == 0x6D || c1 == 0x64 { emit(i, i + 2); i += 2; continue }
                if i + 2 < n {
                    let c2 = b[i + 2]
                    if (c1 == 0x72 && c2 == 0x65) || (c1 == 0x76 && c2 == 0x65) || (c1 == 0x6C && c2 == 0x6C) { emit(i, i + 3); i += 3; continue }
                }
            }
            // optional single space before a letter, number or "other" run
            var j = i
            if b[j] == 0x20, j + 1 < n { j += 1 }
            let (cls, len) = char(b, j)
            if cls != .space {
                // run of the same class (letters, numbers, or others)
                var k = j + len
                while k < n {
                    let (c, l) = char(b, k)
                    if c != cls { break }
                    k += l
                }
                emit(start, k); i = k; continue
            }
            // whitespace: \s+(?!\S) else \s+
            var k = i
            var lastStart = i
            while k < n {
                let (c, l) = char(b, k)
                if c != .space { break }
                lastStart = k
                k += l
            }
            if k < n && lastStart > i {
                emit(i, lastStart); i = lastStart  // leave the last space to join the next token
            } else {
                emit(i, k); i = k
            }
        }
    }
}

/// The length in bytes of the longest pre-token of `bytes` under GPT-2's split (a run of letters,
/// of digits, of other symbols or of spaces). BPE's work on one pre-token grows with the square of
/// its length, so a server bounds this before it encodes text it was sent.
public func longestPreToken(_ bytes: [UInt8]) -> Int {
    var longest = 0
    bytes.withUnsafeBufferPointer { b in
        PreTokenizer.split(b) { s, e in longest = max(longest, e - s) }
    }
    return longest
}
