// libFuzzer target: tokenizer files. "J" + tokenizer.json, or "V" + vocab.json + NUL + merges.txt;
// a tokenizer that loads then encodes and decodes a text.
import Foundation

let tokDir: String = {
    let d = scratch + "/tok"
    try? FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
    return d
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let b = bytes(data, size)
    guard let kind = b.first else { return 0 }
    remove("tok/vocab.json"); remove("tok/merges.txt"); remove("tok/tokenizer.json")
    if kind == UInt8(ascii: "J") {
        _ = put("tok/tokenizer.json", b.dropFirst())
    } else {
        let rest = b.dropFirst()
        let nul = rest.firstIndex(of: 0) ?? rest.endIndex
        _ = put("tok/vocab.json", rest[..<nul])
        _ = put("tok/merges.txt", nul < rest.endIndex ? rest[(nul + 1)...] : [])
    }
    guard let t = try? TokenizerFiles.load(directory: tokDir) else { return 0 }
    let ids = t.encode("Hello world, <|endoftext|> ünïcödé 123 ") + t.encode("x", allowedSpecial: ["<|endoftext|>"])
    for id in ids { precondition(id >= 0 && Int(id) < t.vocabSize, "id \(id) outside the vocabulary \(t.vocabSize)") }
    _ = try? t.decode(ids)
    _ = try? t.decode([0, Int32(t.vocabSize - 1), Int32(t.vocabSize), -1])
    return 0
}

extension TextTokenizer {
    func encode(_ s: String, allowedSpecial: Set<String>) -> [Int32] {
        (self as? BPETokenizer)?.encode(s, allowedSpecial: allowedSpecial) ?? encode(s)
    }
}
