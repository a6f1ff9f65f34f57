// libFuzzer target: the CSV ("C" + bytes) and JSONL ("J" + bytes) importers.
import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let b = bytes(data, size)
    guard let kind = b.first else { return 0 }
    if kind == UInt8(ascii: "C") {
        let p = put("in.csv", b.dropFirst())
        _ = try? Importer.emailCSV(p, options: ImportOptions()) { _ in }
    } else {
        let p = put("in.jsonl", b.dropFirst())
        _ = try? Importer.jsonl(p, options: ImportOptions()) { _ in }
    }
    return 0
}
