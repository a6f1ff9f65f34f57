import Audit
import Corpus
import Foundation
import GPT
import PII
import Testing
import Tokenizer

/// The position-aligned prefix (Audit/TrainingStream.swift): known answers for where a value sits
/// in the packed stream, and a model that memorised values at their window positions.
@Suite struct AlignedPrefixTests {
    let tok = ByteTokenizer()

    @Test func streamOffsetsAndWindowsAreTrainingsOwn() {
        // Byte tokens: one token per byte, so every offset is known by hand.
        let recs = [Record(id: "a", subject: "s", text: "abc", source: "test"), Record(id: "b", subject: "s", text: "defgh", source: "test")]
        let s = TrainingStream(records: recs, tokens: { tok.encode($0.text) }, endOfText: tok.endOfText, context: 4)
        #expect(s.tokens.count == 3 + 1 + 5 + 1)
        #expect(s.spans["a"] == .init(start: 0, count: 3) && s.spans["b"] == .init(start: 4, count: 5))
        // Offset 6 ("f") is in the window [4, 8): its aligned prefix is "de" at positions 0, 1.
        #expect(Array(s.windowPrefix(at: 6)) == tok.encode("de"))
        #expect(s.windowPrefix(at: 4).isEmpty && s.windowEnd(at: 6) == 8)
        #expect(Array(s.recordTokens("b")!) == tok.encode("defgh"))
    }

    @Test func valueSpansCountBytesNotCharacters() {
        // "é" is two bytes: the value starting at scalar 2 starts at byte (= token) 3.
        let text = "é a@b.co x"
        let ends = TokenSpans.byteEnds(tok.encode(text), tokenizer: tok)
        #expect(TokenSpans.tokens(covering: 2, 8, of: text, byteEnds: ends) == 3...8)
        #expect(TokenSpans.tokens(covering: 2, 2, of: text, byteEnds: ends) == nil)
    }

    @Test func promptsAreTheWindowsTokensBeforeTheValue() {
        let text = "Call me at 713-555-0142 tomorrow."
        let recs = [Record(id: "r0", subject: "x", text: "Hello there, friend.", source: "test"), Record(id: "r1", subject: "x", text: text, source: "test")]
        let index = PIIIndex.build(records: recs, scanner: PIIScanner(types: [.phone]))
        var ex = ExtractionSettings(); ex.prefixLengths = [5]; ex.windowContext = 32; ex.recordStart = true
        let stream = TrainingStream(records: recs, tokens: { tok.encode($0.text) }, endOfText: tok.endOfText, context: 32)
        let ps = TargetedExtraction.prompts(entries: index.entries, records: Dictionary(uniqueKeysWithValues: recs.map { ($0.id, $0) }), tokenizer: tok,
                                            contextLength: 32, settings: ex, stream: stream)
        let byPrefix = Dictionary(uniqueKeysWithValues: ps.map { ($0.prefix.label, $0.ids) })
        // r1 starts at offset 21; the value at 21 + 11 = 32 would open a window, so with T = 32 it
        // has no aligned prompt — its k and record-start prompts remain.
        #expect(byPrefix["window"] == nil && byPrefix["5"] == tok.encode("e at ") && byPrefix["record_start"] == [tok.endOfText] + tok.encode("Call me at "))
        // With T = 24 the window [24, 48) holds "l me at " (offsets 24…31) before the value.
        ex.windowContext = 24
        let s24 = TrainingStream(records: recs, tokens: { tok.encode($0.text) }, endOfText: tok.endOfText, context: 24)
        let ps24 = TargetedExtraction.prompts(entries: index.entries, records: Dictionary(uniqueKeysWithValues: recs.map { ($0.id, $0) }), tokenizer: tok,
                                              contextLength: 24, settings: ex, stream: s24)
        #expect(ps24.first { $0.prefix == .window }?.ids == tok.encode("l me at "))
    }

    @Test func recordWindowPromptsHoldOnlyTheValuesOwnRecordAtItsPositions() {
        let text = "Call me at 713-555-0142 tomorrow."
        let recs = [Record(id: "r0", subject: "x", text: "Hello there, friend.", source: "test"), Record(id: "r1", subject: "x", text: text, source: "test")]
        let index = PIIIndex.build(records: recs, scanner: PIIScanner(types: [.phone]))
        let byId = Dictionary(uniqueKeysWithValues: recs.map { ($0.id, $0) })
        var ex = ExtractionSettings(); ex.prefixLengths = [5]; ex.windowContext = 48; ex.recordWindow = true
        // T = 48: one window holds r0 (offsets 0…19), its <|endoftext|> (20) and r1 from 21; the
        // value starts at 32. The whole-window prompt would hold r0; the record window starts at
        // the <|endoftext|> before r1, at position 20.
        let s48 = TrainingStream(records: recs, tokens: { tok.encode($0.text) }, endOfText: tok.endOfText, context: 48)
        let ps = TargetedExtraction.prompts(entries: index.entries, records: byId, tokenizer: tok, contextLength: 48, settings: ex, stream: s48)
        let rw = ps.first { $0.prefix == .recordWindow }
        #expect(rw?.ids == [tok.endOfText] + tok.encode("Call me at ") && rw?.position == 20)
        #expect(!ps.contains { $0.prefix == .window } && ps.allSatisfy { $0.prefix == .recordWindow || $0.position == 0 })
        #expect(rw?.padded(endOfText: tok.endOfText).ids == [Int32](repeating: tok.endOfText, count: 20) + [tok.endOfText] + tok.encode("Call me at "))
        // T = 24: the window [24, 48) starts inside r1, so the record window is the window's own
        // tokens, from position 0, as the whole-window prompt.
        ex.windowContext = 24
        let s24 = TrainingStream(records: recs, tokens: { tok.encode($0.text) }, endOfText: tok.endOfText, context: 24)
        let p24 = TargetedExtraction.prompts(entries: index.entries, records: byId, tokenizer: tok, contextLength: 24, settings: ex, stream: s24)
        #expect(p24.first { $0.prefix == .recordWindow }.map { ($0.ids, $0.position) } ?? ([], -1) == (tok.encode("l me at "), 0))
    }

    @Test func seededOccurrencesAreAFixedSampleOfTheValuesPlaces() {
        let recs = (0..<12).map { Record(id: "r\($0)", subject: "x", text: "Note \($0): reach me at 713-555-0142.", source: "test") }
        let e = PIIIndex.build(records: recs, scanner: PIIScanner(types: [.phone])).entries[0]
        var ex = ExtractionSettings(); ex.occurrencesPerValue = 3
        #expect(TargetedExtraction.chosenOccurrences(e, settings: ex).map(\.record) == ["r0", "r1", "r2"])
        ex.occurrenceSeed = 7
        let a = TargetedExtraction.chosenOccurrences(e, settings: ex).map(\.record)
        #expect(a.count == 3 && a == TargetedExtraction.chosenOccurrences(e, settings: ex).map(\.record))
        ex.occurrenceSeed = 8
        let b = TargetedExtraction.chosenOccurrences(e, settings: ex).map(\.record)
        #expect(a != b || a != ["r0", "r1", "r2"], "the seeded choice is not the first occurrences")
    }

    /// A model over-trained on packed windows reproduces values from their aligned prefix at least
    /// as often as from a k-token prefix moved to position 0.
    @Test func anOvertrainedModelGivesUpValuesFromTheirWindows() throws {
        var rng = SplitMix64Lite(seed: 5)
        let words = ["alpha", "bravo", "delta", "echo", "golf", "hotel", "india", "kilo", "lima", "mike"]
        let recs = (0..<24).map { i -> Record in
            let body = (0..<(6 + i % 5)).map { _ in words[rng.next(words.count)] }.joined(separator: " ")
            return Record(id: "m\(i)", subject: "s\(i)", text: "\(body) ring 713-5\(10 + i)-0\(100 + 7 * i)", source: "test")
        }
        let model = try tinyMemorisingModel(recs.map(\.text), steps: 900, seed: 3)
        let index = PIIIndex.build(records: recs, scanner: PIIScanner(types: [.phone]))
        var ex = ExtractionSettings(); ex.prefixLengths = [6]; ex.windowContext = 64
        let stream = TrainingStream(records: recs, tokens: { tok.encode($0.text) }, endOfText: tok.endOfText, context: 64)
        let r = try TargetedExtraction.run(model: model, tokenizer: tok, index: index, records: Dictionary(uniqueKeysWithValues: recs.map { ($0.id, $0) }),
                                           types: [.phone], settings: ex, stream: stream)
        let window = r.filter { $0.greedyHits["window"] == true }.count, k = r.filter { $0.greedyHits["6"] == true }.count
        let tried = r.filter { $0.greedyHits["window"] != nil }.count
        print("aligned prefix extracted \(window) of \(tried) values with a window prompt; the 6-token prefix \(k) of \(r.count)")
        #expect(tried >= 6 && window * 2 >= tried, "the aligned prefix extracts most values a model memorised at their positions")
        #expect(window >= k, "the aligned prefix extracts at least what a k-token prefix moved to position 0 does")
        #expect(r.allSatisfy { $0.extracted == ($0.extractedBy.isEmpty == false) })
        // The record window (the value's own message at its positions, without the mail before
        // it in the window) still finds what the model memorised there.
        ex.recordWindow = true
        let rw = try TargetedExtraction.run(model: model, tokenizer: tok, index: index, records: Dictionary(uniqueKeysWithValues: recs.map { ($0.id, $0) }),
                                            types: [.phone], settings: ex, stream: stream)
        let own = rw.filter { $0.greedyHits["record_window"] == true }.count, ownTried = rw.filter { $0.greedyHits["record_window"] != nil }.count
        print("record window extracted \(own) of \(ownTried)")
        #expect(ownTried == tried && own >= k && own * 2 >= ownTried, "the record window extracts what the model memorised at its positions")
    }
}

/// A tiny generator for test text (not the study's streams).
struct SplitMix64Lite {
    var s: UInt64
    init(seed: UInt64) { s = seed }
    mutating func next(_ n: Int) -> Int {
        s &+= 0x9E37_79B9_7F4A_7C15
        var z = s
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9; z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return Int((z ^ (z >> 31)) % UInt64(n))
    }
}
