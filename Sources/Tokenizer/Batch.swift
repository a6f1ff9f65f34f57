// Encoding many texts on several threads, and token files for training.

import Dispatch
import Foundation
import Support

extension TextTokenizer {
    /// Encodes texts in parallel (`threads` workers, each with its own BPE cache); the result is
    /// in input order and identical to encoding one by one. `progress` gets texts done.
    public func encodeBatch(_ texts: [String], threads: Int = ProcessInfo.processInfo.activeProcessorCount,
                            progress: (@Sendable (Int) -> Void)? = nil) -> [[Int32]] {
        var out = [[Int32]](repeating: [], count: texts.count)
        let parts = max(1, min(threads, texts.count))
        let chunk = 256
        let nChunks = (texts.count + chunk - 1) / chunk
        let nextChunk = ManagedAtomicCounter()
        out.withUnsafeMutableBufferPointer { ob in
            let ob = UnsafeSendableBox(ob.baseAddress!)
            let me = self
            DispatchQueue.concurrentPerform(iterations: parts) { _ in
                var enc = (me as? BPETokenizer).map { BPETokenizer.Encoder($0) }
                while true {
                    let c = nextChunk.next()
                    if c >= nChunks { break }
                    for i in (c * chunk)..<min(texts.count, (c + 1) * chunk) {
                        if enc != nil {
                            var ids: [Int32] = []
                            var text = texts[i]
                            text.withUTF8 { enc!.encodeOrdinary($0, into: &ids) }
                            (ob.value + i).pointee = ids
                        } else {
                            (ob.value + i).pointee = me.encode(texts[i])
                        }
                    }
                    progress?(min(texts.count, (c + 1) * chunk))
                }
            }
        }
        return out
    }
}

/// A lock-protected counter handing out work items.
final class ManagedAtomicCounter: @unchecked Sendable {
    private var value = 0
    private let lock = NSLock()
    func next() -> Int { lock.lock(); defer { lock.unlock() }; value += 1; return value - 1 }
}

/// Token files: "SHTK", version 1, element width (2 or 4 bytes), vocabulary size, token count,
/// then the ids little-endian — uint16 when the vocabulary fits, else uint32.
public enum TokenFile {
    /// The file's bytes.
    public static func encode(_ tokens: [Int32], vocabSize: Int) -> Data {
        let width = vocabSize <= 65536 ? 2 : 4
        var d = Data("SHTK".utf8)
        for v in [UInt32(1), UInt32(width), UInt32(vocabSize)] { withUnsafeBytes(of: v.littleEndian) { d.append(contentsOf: $0) } }
        withUnsafeBytes(of: UInt64(tokens.count).littleEndian) { d.append(contentsOf: $0) }
        d.reserveCapacity(d.count + tokens.count * width)
        if width == 2 {
            let u = tokens.map { UInt16(truncatingIfNeeded: $0).littleEndian }
            u.withUnsafeBytes { d.append(contentsOf: $0) }
        } else {
            let u = tokens.map { UInt32(bitPattern: $0).littleEndian }
            u.withUnsafeBytes { d.append(contentsOf: $0) }
        }
        return d
    }

    /// Writes the file owner-only (0600, a new temporary file renamed over `path`, no link
    /// followed): the tokens are the corpus's text, PII included, one decode away.
    public static func write(_ tokens: [Int32], vocabSize: Int, to path: String) throws {
        let d = encode(tokens, vocabSize: vocabSize)
        do { try PrivateFile.write(d, to: path) } catch {
            throw TokenizerError.unreadable(path: path, reason: "cannot write: \(error)")
        }
    }

    public static func read(_ path: String) throws -> (tokens: [Int32], vocabSize: Int) {
        guard let d = FileManager.default.contents(atPath: path) else { throw TokenizerError.unreadable(path: path, reason: "no such file") }
        return try decode(d, path: path)
    }

    /// The tokens of a token file's bytes `d` (read from `path`, which errors name).
    public static func decode(_ d: Data, path: String) throws -> (tokens: [Int32], vocabSize: Int) {
        guard d.count >= 24, d.prefix(4) == Data("SHTK".utf8) else { throw TokenizerError.malformed(path: path, line: nil, reason: "not a Shallot token file (no SHTK header)") }
        return try d.withUnsafeBytes { raw in
            let version = UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
            let width = Int(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt32.self)))
            let vocab = Int(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 12, as: UInt32.self)))
            let count = Int(truncatingIfNeeded: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 16, as: UInt64.self)))
            guard version == 1, width == 2 || width == 4 else { throw TokenizerError.malformed(path: path, line: nil, reason: "unsupported version \(version) or width \(width)") }
            guard vocab > 0, vocab <= TokenizerLimits.vocabSize else {
                throw TokenizerError.malformed(path: path, line: nil, reason: "vocabulary size \(vocab) is not in 1...\(TokenizerLimits.vocabSize)")
            }
            // count × width + 24 must equal the file size, computed without overflow (count is a u64).
            let (bytes, o1) = count.multipliedReportingOverflow(by: width)
            let (total, o2) = bytes.addingReportingOverflow(24)
            guard count >= 0, !o1, !o2, total == d.count else {
                throw TokenizerError.malformed(path: path, line: nil, reason: "header says \(UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 16, as: UInt64.self))) tokens but the file holds \((d.count - 24) / width)")
            }
            var t = [Int32](repeating: 0, count: count)
            for i in 0..<count {
                t[i] = width == 2 ? Int32(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 24 + 2 * i, as: UInt16.self)))
                                  : Int32(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 24 + 4 * i, as: UInt32.self)))
                guard t[i] >= 0 && Int(t[i]) < vocab else { throw TokenizerError.malformed(path: path, line: nil, reason: "token \(i) = \(t[i]) is outside the vocabulary (\(vocab))") }
            }
            return (t, vocab)
        }
    }
}
