// libFuzzer target: a model directory's config.json ("C" + bytes) or
// model.safetensors.index.json ("I" + bytes), loaded and validated as `GPT.load` does.
import Foundation

let modelDir: String = {
    let d = scratch + "/model"
    try? FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
    return d
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let b = bytes(data, size)
    guard let kind = b.first else { return 0 }
    if kind == UInt8(ascii: "I") {
        _ = put("model/model.safetensors.index.json", b.dropFirst())
        if let files = try? ModelFiles.weightFiles(directory: modelDir) {
            for f in files { precondition(!f.dropFirst(modelDir.count + 1).contains("/"), "shard outside the directory: \(f)") }
        }
    } else {
        _ = put("model/config.json", b.dropFirst())
        if let c = try? ModelFiles.loadConfig(directory: modelDir) {
            // What the model allocates must have been bounded by the limits.
            precondition(c.checkedParameterCount! <= GPTConfig.Limits.parameters)
            _ = c.mlpWidth * c.nEmbd
        }
    }
    return 0
}
