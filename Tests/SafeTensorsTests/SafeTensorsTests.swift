import Foundation
import Testing
import SafeTensors

/// Builds a file from a raw header string and a data section.
func file(header: String, data: [UInt8], headerLength: UInt64? = nil) -> Data {
    var d = Data()
    withUnsafeBytes(of: (headerLength ?? UInt64(header.utf8.count)).littleEndian) { d.append(contentsOf: $0) }
    d.append(contentsOf: Array(header.utf8))
    d.append(contentsOf: data)
    return d
}

func expectError(_ expected: (SafeTensorsError) -> Bool, _ data: Data, sourceLocation: SourceLocation = #_sourceLocation) {
    do {
        _ = try SafeTensorsFile(data: data, path: "x.safetensors")
        Issue.record("no error", sourceLocation: sourceLocation)
    } catch let e as SafeTensorsError {
        #expect(expected(e), "got \(e)", sourceLocation: sourceLocation)
        #expect(e.description.contains("x.safetensors"), sourceLocation: sourceLocation)
    } catch {
        Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
    }
}

@Suite struct SafeTensorsTests {
    @Test func roundTripKeepsValuesOrderAndMetadata() throws {
        let a: [Float] = [1, -2.5, 3e-8, .infinity]
        let b: [Float] = (0..<6).map { Float($0) / 3 }
        let d = try SafeTensorsWriter.serialize([TensorBlob(name: "w.b", shape: [2, 3], floats: b), TensorBlob(name: "a", shape: [4], floats: a)],
                                                metadata: ["format": "pt", "note": "quote \" and\nnewline"])
        let f = try SafeTensorsFile(data: d)
        #expect(try f.floats("a") == a)
        #expect(try f.floats("w.b") == b)
        #expect(try f.info("w.b").shape == [2, 3])
        #expect(f.metadata == ["format": "pt", "note": "quote \" and\nnewline"])
        // header is padded to 8 bytes
        let h = d.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
        #expect(h % 8 == 0)
        // writing what was read gives the same bytes
        let again = try SafeTensorsWriter.serialize(f.names.map { TensorBlob(name: $0, shape: try f.info($0).shape, floats: try f.floats($0)) }, metadata: f.metadata)
        #expect(again == d)
    }

    @Test func halfAndBFloat16ConvertExactly() throws {
        // F16: 1.0, -2.0, 65504 (max), 2^-24 (smallest subnormal), +inf; BF16: 1.0, -3.0, 1e-38-ish
        let f16: [UInt16] = [0x3C00, 0xC000, 0x7BFF, 0x0001, 0x7C00]
        let bf16: [UInt16] = [0x3F80, 0xC040, 0x0080]
        var bytes: [UInt8] = []
        for v in f16 + bf16 { bytes.append(UInt8(v & 0xFF)); bytes.append(UInt8(v >> 8)) }
        let header = #"{"h":{"dtype":"F16","shape":[5],"data_offsets":[0,10]},"b":{"dtype":"BF16","shape":[3],"data_offsets":[10,16]}}"#
        let f = try SafeTensorsFile(data: file(header: header, data: bytes))
        #expect(try f.floats("h") == [1, -2, 65504, 0x1p-24, .infinity])
        #expect(try f.floats("b") == [1, -3, Float(bitPattern: 0x0080_0000)])
    }

    @Test func truncatedFile() { expectError({ if case .tooSmall = $0 { true } else { false } }, Data([1, 2, 3])) }

    @Test func headerLengthPastEndOfFile() {
        expectError({ if case .headerTooLarge = $0 { true } else { false } }, file(header: "{}", data: [], headerLength: 1 << 40))
    }

    @Test func nonJSONHeader() {
        expectError({ if case .invalidHeader = $0 { true } else { false } }, file(header: "{not json", data: []))
        expectError({ if case .invalidHeader = $0 { true } else { false } }, file(header: "[1,2]", data: []))
    }

    @Test func offsetsOutOfRange() {
        let h = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}"#
        expectError({ if case .invalidOffsets(_, "b", _, _, _) = $0 { true } else { false } }, file(header: h, data: [UInt8](repeating: 0, count: 12)))
    }

    @Test func wrongDtypeSize() {
        let h = #"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#
        expectError({ if case .sizeMismatch(_, "a", [3], "F32", 12, 8) = $0 { true } else { false } }, file(header: h, data: [UInt8](repeating: 0, count: 8)))
    }

    @Test func duplicateNames() {
        let h = #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#
        expectError({ if case .duplicateTensor(_, "a") = $0 { true } else { false } }, file(header: h, data: [UInt8](repeating: 0, count: 8)))
    }

    @Test func overlappingTensors() {
        let h = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#
        expectError({ if case .overlap = $0 { true } else { false } }, file(header: h, data: [UInt8](repeating: 0, count: 12)))
    }

    @Test func unknownDtypeAndTrailingBytes() {
        let h1 = #"{"a":{"dtype":"F8","shape":[1],"data_offsets":[0,1]}}"#
        expectError({ if case .unsupportedDType(_, "a", "F8") = $0 { true } else { false } }, file(header: h1, data: [0]))
        let h2 = #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#
        expectError({ if case .trailingData = $0 { true } else { false } }, file(header: h2, data: [0, 0, 0, 0, 9, 9]))
    }

    @Test func atomicWriteLeavesNoTemporaryFiles() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("st-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let p = dir.appendingPathComponent("m.safetensors").path
        try SafeTensorsWriter.write([TensorBlob(name: "x", shape: [1], floats: [7])], to: p)
        try SafeTensorsWriter.write([TensorBlob(name: "x", shape: [1], floats: [8])], to: p)
        #expect(try SafeTensorsFile(path: p).floats("x") == [8])
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["m.safetensors"])
    }
}
