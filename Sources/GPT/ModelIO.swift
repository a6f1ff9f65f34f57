// Hugging Face model directories: config.json + model.safetensors (+ index for sharded files),
// generation_config.json and tokenizer files. Tensor names follow GPT2LMHeadModel's state dict;
// files written by `save_pretrained` of GPT2Model (no "transformer." prefix) and of older
// checkpoints with the causal-mask buffers `attn.bias` / `attn.masked_bias` load too.

import Foundation
import Support
import Kernels
import SafeTensors

extension GPT {
    /// Reads `config.json` of a model directory (parsed and checked in `ModelFormat`).
    public static func loadConfig(directory: String) throws -> GPTConfig {
        try ModelFiles.loadConfig(directory: directory)
    }

    /// Loads a model directory in the HF layout. Every parameter must be present with the shape
    /// the config implies; any tensor that is not a GPT-2 parameter is an error.
    public static func load(directory: String) throws -> GPT {
        let cfg = try loadConfig(directory: directory)
        return try load(config: cfg, weights: try ModelFiles.weightFiles(directory: directory).map { try SafeTensorsFile(path: $0) })
    }

    /// Builds a model of `cfg` from safetensors files already open (or read into memory: what a
    /// caller hashed is then exactly what the model holds). The same checks as `load(directory:)`.
    public static func load(config cfg: GPTConfig, weights: [SafeTensorsFile]) throws -> GPT {
        let model = GPT(config: cfg)
        var loaded = Set<String>()
        var seen: [String: String] = [:]  // canonical name → the name it was read under
        var head: (SafeTensorsFile, String)?
        for f in weights {
            let path = f.path
            for name in f.names {
                let key = ModelFiles.canonicalName(name)
                if let first = seen.updateValue(name, forKey: key) {
                    throw GPTError.invalidConfig(path: path, reason: "tensors \(first.debugDescription) and \(name.debugDescription) are both \(key)")
                }
                if key.hasSuffix(".attn.bias") || key.hasSuffix(".attn.masked_bias") { continue }  // mask buffers
                if key == "lm_head.weight" { head = (f, name); continue }
                guard let e = model.table[key] else { throw GPTError.unexpectedTensor(path: path, name: name) }
                let info = try f.info(name)
                guard info.shape == e.shape else { throw GPTError.shapeMismatch(path: path, name: name, expected: e.shape, actual: info.shape) }
                try f.readFloats(name, into: model.params.ptr + e.offset)
                loaded.insert(key)
            }
        }
        for e in model.table.entries where !loaded.contains(e.name) {
            throw GPTError.missingTensor(path: weights.map(\.path).joined(separator: ", "), name: e.name)
        }
        if let (f, name) = head {
            // A tied head saved explicitly must equal the embedding.
            let info = try f.info(name)
            let wte = model.table["transformer.wte.weight"]!
            guard info.shape == wte.shape else { throw GPTError.shapeMismatch(path: f.path, name: name, expected: wte.shape, actual: info.shape) }
            let h = try f.floats(name)
            for i in 0..<h.count where h[i] != model.params.ptr[wte.offset + i] { throw GPTError.untiedHead(path: f.path) }
        }
        return model
    }

    /// Writes config.json, generation_config.json and model.safetensors (tied head omitted, as
    /// `save_pretrained` does). Each file is written atomically and owner-only (weights can have
    /// memorised the personal data they were trained on), in a directory made owner-only without
    /// following a link planted where it or a missing parent should be.
    public func save(directory: String, metadata: [String: String] = [:]) throws {
        try PrivateFile.makeDirectory(directory)
        let blobs = table.entries.map { e in
            TensorBlob(name: e.name, shape: e.shape, floats: UnsafeBufferPointer(start: params.ptr + e.offset, count: e.count))
        }
        var meta = metadata
        meta["format"] = "pt"
        try SafeTensorsWriter.write(blobs, metadata: meta, to: directory + "/model.safetensors")
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        try PrivateFile.write(enc.encode(config), to: directory + "/config.json")
        let gen: [String: Int?] = ["bos_token_id": config.bosTokenId, "eos_token_id": config.eosTokenId]
        try PrivateFile.write(enc.encode(gen), to: directory + "/generation_config.json")
    }
}
