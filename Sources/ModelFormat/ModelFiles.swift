// The files of a Hugging Face model directory that say what to load: `config.json` and, for a
// sharded checkpoint, `model.safetensors.index.json`. Both come from wherever the user downloaded
// the model, so both are checked here: sizes against `GPTConfig.Limits`, shard names against the
// directory (an index may not point outside it), tensor names against each other.

import Foundation

public enum ModelFiles {
    /// Largest config.json or index read (HF's GPT-2 XL index is ~30 KB).
    public static let maxJSONBytes = 16 << 20

    static func contents(_ path: String, what: String) throws -> Data {
        let url = URL(fileURLWithPath: path)
        guard let attrs = try? FileManager.default.attributesOfItem(atPath: path) else {
            let dir = url.deletingLastPathComponent().path
            throw GPTError.unreadable(path: path, reason: FileManager.default.fileExists(atPath: dir) ? "no such file" : "no such model directory")
        }
        if let size = attrs[.size] as? Int, size > maxJSONBytes {
            throw GPTError.invalidConfig(path: path, reason: "\(what) of \(size) bytes exceeds the limit of \(maxJSONBytes)")
        }
        do { return try Data(contentsOf: url) } catch {
            throw GPTError.unreadable(path: path, reason: error.localizedDescription)
        }
    }

    /// Reads and validates `config.json` of a model directory.
    public static func loadConfig(directory: String) throws -> GPTConfig {
        let path = directory + "/config.json"
        return try parseConfig(try contents(path, what: "config.json"), path: path)
    }

    /// A `config.json` already read (by a caller that reads it once, without following links):
    /// decoded and checked against the limits. `path` is what errors name.
    public static func parseConfig(_ d: Data, path: String) throws -> GPTConfig {
        let cfg: GPTConfig
        do { cfg = try JSONDecoder().decode(GPTConfig.self, from: d) } catch {
            throw GPTError.invalidConfig(path: path, reason: describe(error))
        }
        try cfg.validate(path: path)
        return cfg
    }

    /// The safetensors files of a model directory: `model.safetensors`, or the shards that
    /// `model.safetensors.index.json` names. A shard must be a plain file name inside the
    /// directory (no "/", no "..", no absolute path, no symbolic link leading out).
    public static func weightFiles(directory dir: String) throws -> [String] {
        let single = dir + "/model.safetensors"
        if FileManager.default.fileExists(atPath: single) { return [single] }
        let indexPath = dir + "/model.safetensors.index.json"
        guard FileManager.default.fileExists(atPath: indexPath) else { throw GPTError.noWeights(directory: dir) }
        let d = try contents(indexPath, what: "the index")
        struct Index: Decodable { let weight_map: [String: String] }
        let idx: Index
        do { idx = try JSONDecoder().decode(Index.self, from: d) } catch {
            throw GPTError.invalidConfig(path: indexPath, reason: "no weight_map object of tensor → file (\(describe(error)))")
        }
        let names = Set(idx.weight_map.values).sorted()
        guard !names.isEmpty else { throw GPTError.invalidConfig(path: indexPath, reason: "weight_map is empty") }
        let root = URL(fileURLWithPath: dir).resolvingSymlinksInPath().standardizedFileURL.path
        return try names.map { name in
            guard !name.isEmpty, !name.contains("/"), !name.contains("\\"), name != ".", name != "..", !name.contains("\0") else {
                throw GPTError.invalidConfig(path: indexPath, reason: "shard \(name.debugDescription) is not a file name inside the model directory")
            }
            let path = dir + "/" + name
            let real = URL(fileURLWithPath: path).resolvingSymlinksInPath().standardizedFileURL.path
            guard real.hasPrefix(root + "/") else {
                throw GPTError.invalidConfig(path: indexPath, reason: "shard \(name.debugDescription) resolves outside the model directory")
            }
            return path
        }
    }

    /// The name a tensor has in GPT2LMHeadModel's state dict ("h.0.…" of GPT2Model → "transformer.h.0.…").
    public static func canonicalName(_ n: String) -> String {
        if n.hasPrefix("transformer.") || n.hasPrefix("lm_head.") { return n }
        return "transformer." + n
    }
}

/// A decoding error as a sentence naming the key.
func describe(_ error: Error) -> String {
    switch error {
    case DecodingError.keyNotFound(let k, _): return "missing key \"\(k.stringValue)\""
    case DecodingError.typeMismatch(_, let c), DecodingError.valueNotFound(_, let c):
        return "wrong type at \"\(c.codingPath.map(\.stringValue).joined(separator: "."))\": \(c.debugDescription)"
    case DecodingError.dataCorrupted(let c):
        // Foundation says "not valid JSON" for a number out of range of its field: name the field.
        let at = c.codingPath.isEmpty ? "" : " at \"\(c.codingPath.map(\.stringValue).joined(separator: "."))\""
        return c.debugDescription + at + (c.underlyingError.map { " (\($0.localizedDescription))" } ?? "")
    default: return "\(error)"
    }
}
