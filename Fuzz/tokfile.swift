// libFuzzer target: a .tok token file (header, count × width against the file size, ids).
import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let p = put("data.tok", bytes(data, size))
    if let (toks, vocab) = try? TokenFile.read(p) {
        for t in toks { precondition(t >= 0 && Int(t) < vocab) }
    }
    return 0
}
