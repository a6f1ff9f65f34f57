// Reader and writer of the `.safetensors` format (huggingface/safetensors):
//   8 bytes: header length H, little-endian u64
//   H bytes: JSON object {name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {str: str}}
//   the data: tensors at their offsets, relative to the end of the header
// Every rule the reference implementation checks is checked here, with an error that names the
// file and the tensor. No model knowledge lives here.

import Foundation
import Support

public enum SafeTensorsError: Error, CustomStringConvertible, Equatable {
    case unreadable(path: String, reason: String)
    case tooSmall(path: String, size: Int)
    case headerTooLarge(path: String, headerLength: UInt64, fileSize: Int)
    case invalidHeader(path: String, reason: String)
    case duplicateTensor(path: String, name: String)
    case unsupportedDType(path: String, tensor: String, dtype: String)
    case invalidOffsets(path: String, tensor: String, begin: Int, end: Int, dataSize: Int)
    case sizeMismatch(path: String, tensor: String, shape: [Int], dtype: String, expectedBytes: Int, actualBytes: Int)
    case overlap(path: String, tensor: String, other: String)
    case gap(path: String, at: Int)
    case trailingData(path: String, used: Int, dataSize: Int)
    case missingTensor(path: String, name: String)
    case notFloat(path: String, tensor: String, dtype: String)
    case writeFailed(path: String, reason: String)

    public var description: String {
        switch self {
        case .unreadable(let p, let r): return "\(p): cannot read: \(r)"
        case .tooSmall(let p, let s): return "\(p): \(s) bytes is too small for a safetensors file (needs an 8-byte header length)"
        case .headerTooLarge(let p, let h, let f): return "\(p): header length \(h) runs past the end of the file (\(f) bytes)"
        case .invalidHeader(let p, let r): return "\(p): invalid safetensors header: \(r)"
        case .duplicateTensor(let p, let n): return "\(p): tensor \"\(n)\" appears twice in the header"
        case .unsupportedDType(let p, let t, let d): return "\(p): tensor \"\(t)\" has unsupported dtype \(d)"
        case .invalidOffsets(let p, let t, let b, let e, let s): return "\(p): tensor \"\(t)\" has data offsets [\(b), \(e)] outside the data section of \(s) bytes"
        case .sizeMismatch(let p, let t, let sh, let d, let e, let a): return "\(p): tensor \"\(t)\" of shape \(sh) and dtype \(d) needs \(e) bytes but its offsets span \(a)"
        case .overlap(let p, let t, let o): return "\(p): tensors \"\(t)\" and \"\(o)\" overlap"
        case .gap(let p, let at): return "\(p): the data section has a gap or overlap at byte \(at) (tensors must tile it)"
        case .trailingData(let p, let u, let s): return "\(p): tensors cover \(u) of \(s) data bytes"
        case .missingTensor(let p, let n): return "\(p): no tensor named \"\(n)\""
        case .notFloat(let p, let t, let d): return "\(p): tensor \"\(t)\" has dtype \(d); expected F32, F16 or BF16"
        case .writeFailed(let p, let r): return "\(p): cannot write: \(r)"
        }
    }
}

public enum DType: String, Sendable, CaseIterable {
    case F64, F32, F16, BF16, I64, I32, I16, I8, U8, U16, U32, U64, BOOL
    public var size: Int {
        switch self {
        case .F64, .I64, .U64: return 8
        case .F32, .I32, .U32: return 4
        case .F16, .BF16, .I16, .U16: return 2
        case .I8, .U8, .BOOL: return 1
        }
    }
}

public struct TensorInfo: Sendable, Equatable {
    public var name: String
    public var dtype: DType
    public var shape: [Int]
    /// Byte range relative to the start of the data section.
    public var offsets: Range<Int>
    public var count: Int { shape.reduce(1, *) }
}

/// A parsed, validated safetensors file (memory-mapped).
public struct SafeTensorsFile: @unchecked Sendable {
    public let path: String
    public let tensors: [String: TensorInfo]
    /// Tensor names in header order.
    public let names: [String]
    public let metadata: [String: String]
    let data: Data
    let dataStart: Int

    public init(path: String) throws {
        let d: Data
        do { d = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped) } catch {
            throw SafeTensorsError.unreadable(path: path, reason: error.localizedDescription)
        }
        try self.init(data: d, path: path)
    }

    public init(data: Data, path: String = "<memory>") throws {
        self.path = path
        self.data = data
        guard data.count >= 8 else { throw SafeTensorsError.tooSmall(path: path, size: data.count) }
        let h: UInt64 = data.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 0, as: UInt64.self).littleEndian }
        guard h <= UInt64(data.count - 8) else { throw SafeTensorsError.headerTooLarge(path: path, headerLength: h, fileSize: data.count) }
        // The reference implementation's limit: a header is JSON text, copied before parsing.
        guard h <= 100_000_000 else { throw SafeTensorsError.invalidHeader(path: path, reason: "header length \(h) exceeds the limit of 100000000 bytes") }
        let hl = Int(h)
        dataStart = 8 + hl
        let headerBytes = [UInt8](data[data.startIndex + 8 ..< data.startIndex + dataStart])
        let root: JSONValue
        do { root = try JSONParser.parse(headerBytes) } catch let e as JSONParseError {
            if e.message.hasPrefix("duplicate key") {
                let name = e.message.split(separator: "\"").dropFirst().first.map(String.init) ?? "?"
                throw SafeTensorsError.duplicateTensor(path: path, name: name)
            }
            throw SafeTensorsError.invalidHeader(path: path, reason: "\(e.message) at header byte \(e.offset)")
        }
        guard case .object(let members) = root else { throw SafeTensorsError.invalidHeader(path: path, reason: "the header is not a JSON object") }
        let dataSize = data.count - dataStart
        var tensors: [String: TensorInfo] = [:]
        var names: [String] = []
        var meta: [String: String] = [:]
        for (key, value) in members {
            if key == "__metadata__" {
                guard case .object(let kv) = value else { throw SafeTensorsError.invalidHeader(path: path, reason: "__metadata__ is not an object") }
                for (k, v) in kv {
                    guard case .string(let s) = v else { throw SafeTensorsError.invalidHeader(path: path, reason: "__metadata__[\"\(k)\"] is not a string") }
                    meta[k] = s
                }
                continue
            }
            let info = try Self.tensorInfo(key, value, path: path, dataSize: dataSize)
            tensors[key] = info
            names.append(key)
        }
        // Tensors must tile the data section exactly: sorted by offset, no gaps, no overlaps.
        let sorted = tensors.values.sorted { ($0.offsets.lowerBound, $0.offsets.upperBound) < ($1.offsets.lowerBound, $1.offsets.upperBound) }
        var pos = 0
        var prev: TensorInfo?
        for t in sorted {
            if t.offsets.lowerBound < pos, let p = prev { throw SafeTensorsError.overlap(path: path, tensor: t.name, other: p.name) }
            if t.offsets.lowerBound != pos { throw SafeTensorsError.gap(path: path, at: pos) }
            pos = t.offsets.upperBound
            prev = t
        }
        if pos != dataSize { throw SafeTensorsError.trailingData(path: path, used: pos, dataSize: dataSize) }
        self.tensors = tensors
        self.names = names
        self.metadata = meta
    }

    static func tensorInfo(_ name: String, _ v: JSONValue, path: String, dataSize: Int) throws -> TensorInfo {
        guard case .object(let fields) = v else { throw SafeTensorsError.invalidHeader(path: path, reason: "entry \"\(name)\" is not an object") }
        var dtypeS: String?, shape: [Int]?, offs: [Int]?
        func ints(_ v: JSONValue, _ what: String) throws -> [Int] {
            guard case .array(let a) = v else { throw SafeTensorsError.invalidHeader(path: path, reason: "\"\(name)\".\(what) is not an array") }
            return try a.map {
                guard case .number(let d) = $0, d >= 0, d == d.rounded(), d < 9.0e15 else {
                    throw SafeTensorsError.invalidHeader(path: path, reason: "\"\(name)\".\(what) holds a value that is not a non-negative integer")
                }
                return Int(d)
            }
        }
        for (k, f) in fields {
            switch k {
            case "dtype":
                guard case .string(let s) = f else { throw SafeTensorsError.invalidHeader(path: path, reason: "\"\(name)\".dtype is not a string") }
                dtypeS = s
            case "shape": shape = try ints(f, "shape")
            case "data_offsets": offs = try ints(f, "data_offsets")
            default: throw SafeTensorsError.invalidHeader(path: path, reason: "\"\(name)\" has unknown field \"\(k)\"")
            }
        }
        guard let ds = dtypeS, let sh = shape, let of = offs else {
            throw SafeTensorsError.invalidHeader(path: path, reason: "\"\(name)\" needs dtype, shape and data_offsets")
        }
        guard let dt = DType(rawValue: ds) else { throw SafeTensorsError.unsupportedDType(path: path, tensor: name, dtype: ds) }
        guard of.count == 2, of[0] <= of[1], of[1] <= dataSize else {
            throw SafeTensorsError.invalidOffsets(path: path, tensor: name, begin: of.first ?? -1, end: of.count > 1 ? of[1] : -1, dataSize: dataSize)
        }
        var count = 1
        for d in sh {
            let (r, o) = count.multipliedReportingOverflow(by: d)
            guard !o else { throw SafeTensorsError.invalidHeader(path: path, reason: "\"\(name)\" shape \(sh) overflows") }
            count = r
        }
        let (bytes, o) = count.multipliedReportingOverflow(by: dt.size)
        guard !o, bytes == of[1] - of[0] else {
            throw SafeTensorsError.sizeMismatch(path: path, tensor: name, shape: sh, dtype: ds, expectedBytes: o ? Int.max : bytes, actualBytes: of[1] - of[0])
        }
        return TensorInfo(name: name, dtype: dt, shape: sh, offsets: of[0]..<of[1])
    }

    public func info(_ name: String) throws -> TensorInfo {
        guard let t = tensors[name] else { throw SafeTensorsError.missingTensor(path: path, name: name) }
        return t
    }

    /// Converts a floating-point tensor to F32 into `dst` (exactly `info.count` elements).
    public func readFloats(_ name: String, into dst: UnsafeMutablePointer<Float>) throws {
        let t = try info(name)
        let n = t.count
        data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            let base = raw.baseAddress! + dataStart + t.offsets.lowerBound
            switch t.dtype {
            case .F32:
                for i in 0..<n { dst[i] = Float(bitPattern: UInt32(littleEndian: base.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))) }
            case .F16:
                for i in 0..<n { dst[i] = halfToFloat(UInt16(littleEndian: base.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) }
            case .BF16:
                for i in 0..<n { dst[i] = Float(bitPattern: UInt32(UInt16(littleEndian: base.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) << 16) }
            case .F64:
                for i in 0..<n { dst[i] = Float(Double(bitPattern: UInt64(littleEndian: base.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)))) }
            default: break
            }
        }
        if ![.F32, .F16, .BF16, .F64].contains(t.dtype) { throw SafeTensorsError.notFloat(path: path, tensor: name, dtype: t.dtype.rawValue) }
    }

    public func floats(_ name: String) throws -> [Float] {
        let n = try info(name).count
        var out = [Float](repeating: 0, count: n)
        try out.withUnsafeMutableBufferPointer { try readFloats(name, into: $0.baseAddress!) }
        return out
    }

    /// Integer tensors (I64, I32, U8...) widened to Int.
    public func ints(_ name: String) throws -> [Int] {
        let t = try info(name)
        return data.withUnsafeBytes { raw -> [Int] in
            let base = raw.baseAddress! + dataStart + t.offsets.lowerBound
            return (0..<t.count).map { i -> Int in
                switch t.dtype {
                case .I64: return Int(Int64(littleEndian: base.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self)))
                case .I32: return Int(Int32(littleEndian: base.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self)))
                case .U32: return Int(UInt32(littleEndian: base.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
                case .I16: return Int(Int16(littleEndian: base.loadUnaligned(fromByteOffset: 2 * i, as: Int16.self)))
                case .U16: return Int(UInt16(littleEndian: base.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
                case .U8, .BOOL: return Int(base.load(fromByteOffset: i, as: UInt8.self))
                case .I8: return Int(base.load(fromByteOffset: i, as: Int8.self))
                default: return 0
                }
            }
        }
    }

    /// The raw little-endian bytes of a tensor.
    public func bytes(_ name: String) throws -> Data {
        let t = try info(name)
        return data.subdata(in: data.startIndex + dataStart + t.offsets.lowerBound ..< data.startIndex + dataStart + t.offsets.upperBound)
    }
}

/// IEEE 754 binary16 → binary32, including subnormals, infinities and NaN.
@inline(__always)
public func halfToFloat(_ h: UInt16) -> Float {
    let sign = UInt32(h >> 15) << 31
    let exp = Int((h >> 10) & 0x1F)
    let mant = UInt32(h & 0x3FF)
    if exp == 0 {
        if mant == 0 { return Float(bitPattern: sign) }
        let v = Float(mant) * 0x1p-24
        return sign != 0 ? -v : v
    }
    if exp == 31 { return Float(bitPattern: sign | 0x7F80_0000 | (mant << 13)) }
    return Float(bitPattern: sign | UInt32(exp - 15 + 127) << 23 | (mant << 13))
}

/// A tensor to write: name, shape, dtype and its little-endian bytes.
public struct TensorBlob: Sendable {
    public var name: String
    public var dtype: DType
    public var shape: [Int]
    public var bytes: Data
    public init(name: String, dtype: DType, shape: [Int], bytes: Data) {
        self.name = name; self.dtype = dtype; self.shape = shape; self.bytes = bytes
    }
    public init(name: String, shape: [Int], floats: UnsafeBufferPointer<Float>) {
        precondition(shape.reduce(1, *) == floats.count, "shape \(shape) does not match \(floats.count) values")
        self.init(name: name, dtype: .F32, shape: shape, bytes: Data(buffer: floats))
    }
    public init(name: String, shape: [Int], floats: [Float]) {
        self = floats.withUnsafeBufferPointer { TensorBlob(name: name, shape: shape, floats: $0) }
    }
}

public enum SafeTensorsWriter {
    /// Serialises tensors sorted by name, with the header padded by spaces to 8 bytes.
    public static func serialize(_ tensors: [TensorBlob], metadata: [String: String] = [:]) throws -> Data {
        var seen = Set<String>()
        var entries: [String] = []
        var offset = 0
        var layout: [(TensorBlob, Int)] = []
        // Data laid out in name order, the order of the header (as the reference writer does
        // for same-dtype tensors), so that reading and re-writing a file reproduces it.
        for t in tensors.sorted(by: { $0.name < $1.name }) {
            guard seen.insert(t.name).inserted else { throw SafeTensorsError.duplicateTensor(path: "<writer>", name: t.name) }
            precondition(t.shape.reduce(1, *) * t.dtype.size == t.bytes.count, "tensor \(t.name): bytes do not match shape")
            layout.append((t, offset))
            offset += t.bytes.count
        }
        if !metadata.isEmpty {
            let kv = metadata.keys.sorted().map { "\(jsonString($0)):\(jsonString(metadata[$0]!))" }
            entries.append("\"__metadata__\":{\(kv.joined(separator: ","))}")
        }
        for (t, off) in layout {
            entries.append("\(jsonString(t.name)):{\"dtype\":\"\(t.dtype.rawValue)\",\"shape\":[\(t.shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(off),\(off + t.bytes.count)]}")
        }
        var header = Array("{\(entries.joined(separator: ","))}".utf8)
        while header.count % 8 != 0 { header.append(0x20) }
        var out = Data(capacity: 8 + header.count + offset)
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: header)
        for (t, _) in layout { out.append(t.bytes) }
        return out
    }

    /// Writes atomically: to a temporary file beside `path`, then renamed over it.
    public static func write(_ tensors: [TensorBlob], metadata: [String: String] = [:], to path: String) throws {
        let data = try serialize(tensors, metadata: metadata)
        try PrivateFile.write(data, to: path)
    }
}


func jsonString(_ s: String) -> String {
    var out = "\""
    for u in s.unicodeScalars {
        switch u {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        default:
            if u.value < 0x20 { out += String(format: "\\u%04x", u.value) } else { out.unicodeScalars.append(u) }
        }
    }
    return out + "\""
}
