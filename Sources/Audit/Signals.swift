// Membership-inference signals and scores. Signals are computed once per record (the model's
// per-token log-probabilities and their distribution statistics, a reference model's loss, the
// lower-cased text's loss, the zlib size); scores are pure functions of signals
// (docs/methods.md, "Membership inference").

import CZlib
import Foundation

public struct RecordSignals: Codable, Sendable {
    /// log p(x_t | x_<t), t = 1..n−1.
    public var logprobs: [Float]
    /// E and sd of log p(v) under the model at each position (for Min-K%++).
    public var mean: [Float]?
    public var std: [Float]?
    /// Loss of the lower-cased text, and of the text under a reference model.
    public var lowercaseLoss: Double?
    public var referenceLoss: Double?
    /// zlib-compressed size of the text in bits (level 6, as Python's zlib.compress).
    public var zlibBits: Int

    public init(logprobs: [Float], mean: [Float]? = nil, std: [Float]? = nil, lowercaseLoss: Double? = nil, referenceLoss: Double? = nil, zlibBits: Int) {
        self.logprobs = logprobs; self.mean = mean; self.std = std
        self.lowercaseLoss = lowercaseLoss; self.referenceLoss = referenceLoss; self.zlibBits = zlibBits
    }

    public var loss: Double { logprobs.isEmpty ? 0 : -logprobs.reduce(0.0) { $0 + Double($1) } / Double(logprobs.count) }
}

public enum MIAScore: String, Codable, Sendable, CaseIterable {
    case loss, zlib, lowercase, reference, minK = "min_k", minKPlusPlus = "min_k_plus_plus"

    /// Higher = more likely a member; nil when the signal is missing.
    public func score(_ s: RecordSignals, k: Double = 0.2) -> Double? {
        guard !s.logprobs.isEmpty else { return nil }
        switch self {
        case .loss: return -s.loss
        case .zlib: return -s.loss * Double(s.logprobs.count) / Double(max(1, s.zlibBits))
        case .lowercase: return s.lowercaseLoss.map { $0 / max(s.loss, 1e-9) }
        case .reference: return s.referenceLoss.map { $0 - s.loss }
        case .minK: return Self.meanOfLowest(s.logprobs.map(Double.init), k)
        case .minKPlusPlus:
            guard let mu = s.mean, let sd = s.std else { return nil }
            let z = zip(zip(s.logprobs, mu), sd).map { (ab, c) in (Double(ab.0) - Double(ab.1)) / max(Double(c), 1e-6) }
            return Self.meanOfLowest(z, k)
        }
    }

    static func meanOfLowest(_ xs: [Double], _ k: Double) -> Double {
        let n = max(1, Int((Double(xs.count) * k).rounded(.up)))
        let lowest = xs.sorted().prefix(n)
        return lowest.reduce(0, +) / Double(lowest.count)
    }
}

public enum Zlib {
    /// Compressed size in bytes of `text` at zlib level 6.
    public static func compressedSize(_ text: String) -> Int {
        let src = Array(text.utf8)
        var destLen = compressBound(uLong(src.count))
        var dest = [UInt8](repeating: 0, count: Int(destLen))
        let rc = src.withUnsafeBufferPointer { s in dest.withUnsafeMutableBufferPointer { d in compress2(d.baseAddress, &destLen, s.baseAddress, uLong(src.count), 6) } }
        return rc == Z_OK ? Int(destLen) : src.count
    }
}
