// libFuzzer target: one RFC 822 / MIME message ("M" + bytes, parsed in memory) or an mbox
// file ("B" + bytes, through the importer).
import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let b = bytes(data, size)
    guard let kind = b.first else { return 0 }
    if kind == UInt8(ascii: "B") {
        let p = put("in.mbox", b.dropFirst())
        _ = try? Importer.mbox(p, options: ImportOptions()) { _ in }
    } else {
        _ = Importer.record(message: Array(b.dropFirst()), id: "x", source: "fuzz", folder: nil, options: ImportOptions())
    }
    return 0
}
