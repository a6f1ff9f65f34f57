// The GPT-2 model: configuration plus one flat parameter buffer. Training (TrainingGraph),
// scoring and generation (Inference) are separate objects that read these weights.

import Foundation
import Support
@_exported import ModelFormat
import Kernels

public final class GPT: @unchecked Sendable {
    public let config: GPTConfig
    public let table: ParameterTable
    public let params: FloatBuffer
    public let weights: ModelTensors

    /// A model with zeroed parameters (to be loaded or initialised).
    public init(config: GPTConfig) {
        self.config = config
        table = ParameterTable(config)
        params = FloatBuffer(count: table.count)
        weights = ModelTensors(params.ptr, table, config)
    }

    /// A freshly initialised model, as HF's `GPT2PreTrainedModel._init_weights`: weights
    /// N(0, 0.02), residual projections N(0, 0.02/sqrt(2·n_layer)), biases 0, layer norms (1, 0).
    public convenience init(config: GPTConfig, seed: UInt64) {
        self.init(config: config)
        var rng = SplitMix64(seed: seed)
        let std = config.initializerRange
        let projStd = std / (2 * Float(config.nLayer)).squareRoot()
        for e in table.entries {
            let p = params.ptr + e.offset
            if e.name.hasSuffix("ln_1.weight") || e.name.hasSuffix("ln_2.weight") || e.name.hasSuffix("ln_f.weight") {
                p.update(repeating: 1, count: e.count)
            } else if e.shape.count == 2 {
                let s = e.name.hasSuffix("c_proj.weight") ? projStd : std
                for i in 0..<e.count { p[i] = s * GPT.normal(&rng) }
            }
        }
    }

    /// Standard normal sample (Box–Muller).
    static func normal(_ rng: inout SplitMix64) -> Float {
        let u1 = max(rng.nextDouble(), 1e-300), u2 = rng.nextDouble()
        return Float((-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2))
    }

    public var parameterCount: Int { table.count }

    /// A deep copy (separate weights).
    public func copy() -> GPT {
        let g = GPT(config: config)
        g.params.copy(from: params)
        return g
    }
}
