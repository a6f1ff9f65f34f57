// libFuzzer target: a .safetensors file (header, offsets, every tensor read back).
import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard let f = try? SafeTensorsFile(data: Data(bytes(data, size))) else { return 0 }
    for n in f.names {
        guard let t = try? f.info(n), t.count <= 1 << 20 else { continue }
        _ = try? f.floats(n)
        _ = try? f.ints(n)
        _ = try? f.bytes(n)
    }
    return 0
}
