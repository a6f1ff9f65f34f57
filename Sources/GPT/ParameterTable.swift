// All parameters live in one flat Float buffer; this table gives each tensor's HF name, shape and
// offset. Loading, saving, the optimizer's weight-decay mask and gradient buffers all loop over it.

import Kernels

public struct ParameterEntry: Sendable, Equatable {
    /// HF name as in GPT2LMHeadModel's state dict, e.g. "transformer.h.0.attn.c_attn.weight".
    public var name: String
    public var shape: [Int]
    public var offset: Int
    public var count: Int { shape.reduce(1, *) }
    /// Weight decay applies to 2-D tensors only (matrices and embeddings), as nanoGPT.
    public var decays: Bool { shape.count >= 2 }
}

public struct ParameterTable: Sendable {
    public let entries: [ParameterEntry]
    public let count: Int
    let index: [String: Int]

    public init(_ c: GPTConfig) {
        var e: [ParameterEntry] = []
        var off = 0
        func add(_ name: String, _ shape: [Int]) {
            e.append(ParameterEntry(name: name, shape: shape, offset: off))
            off += shape.reduce(1, *)
        }
        let C = c.nEmbd, F = c.mlpWidth
        add("transformer.wte.weight", [c.vocabSize, C])
        add("transformer.wpe.weight", [c.nPositions, C])
        for l in 0..<c.nLayer {
            let p = "transformer.h.\(l)."
            add(p + "ln_1.weight", [C]); add(p + "ln_1.bias", [C])
            add(p + "attn.c_attn.weight", [C, 3 * C]); add(p + "attn.c_attn.bias", [3 * C])
            add(p + "attn.c_proj.weight", [C, C]); add(p + "attn.c_proj.bias", [C])
            add(p + "ln_2.weight", [C]); add(p + "ln_2.bias", [C])
            add(p + "mlp.c_fc.weight", [C, F]); add(p + "mlp.c_fc.bias", [F])
            add(p + "mlp.c_proj.weight", [F, C]); add(p + "mlp.c_proj.bias", [C])
        }
        add("transformer.ln_f.weight", [C]); add("transformer.ln_f.bias", [C])
        entries = e
        count = off
        index = Dictionary(uniqueKeysWithValues: e.enumerated().map { ($1.name, $0) })
    }

    public subscript(name: String) -> ParameterEntry? { index[name].map { entries[$0] } }

    public func offset(_ name: String) -> Int { entries[index[name]!].offset }
}

extension GPTConfig {
    /// Number of parameters (the tied head counted once).
    public var parameterCount: Int { ParameterTable(self).count }
}

/// A zero-initialised, 64-byte aligned Float buffer that frees itself.
public final class FloatBuffer: @unchecked Sendable {
    public let count: Int
    public let ptr: UnsafeMutablePointer<Float>

    public init(count: Int) {
        self.count = count
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * 4, alignment: 64)
        ptr = raw.bindMemory(to: Float.self, capacity: max(count, 1))
        ptr.initialize(repeating: 0, count: max(count, 1))
    }

    deinit { ptr.deallocate() }

    public func zero() { ptr.update(repeating: 0, count: count) }
    public var array: [Float] { Array(UnsafeBufferPointer(start: ptr, count: count)) }
    public func copy(from other: FloatBuffer) {
        precondition(other.count == count)
        ptr.update(from: other.ptr, count: count)
    }
}

/// Pointers to one transformer block's tensors inside a flat buffer (parameters or gradients).
public struct LayerTensors {
    public var ln1w, ln1b, qkvw, qkvb, attprojw, attprojb, ln2w, ln2b, fcw, fcb, fcprojw, fcprojb: UnsafeMutablePointer<Float>
}

/// Pointers to every tensor of a flat buffer, in model terms.
public struct ModelTensors {
    public var wte, wpe, lnfw, lnfb: UnsafeMutablePointer<Float>
    public var layers: [LayerTensors]

    public init(_ base: UnsafeMutablePointer<Float>, _ table: ParameterTable, _ c: GPTConfig) {
        func p(_ n: String) -> UnsafeMutablePointer<Float> { base + table.offset(n) }
        wte = p("transformer.wte.weight"); wpe = p("transformer.wpe.weight")
        lnfw = p("transformer.ln_f.weight"); lnfb = p("transformer.ln_f.bias")
        layers = (0..<c.nLayer).map { l in
            let h = "transformer.h.\(l)."
            return LayerTensors(ln1w: p(h + "ln_1.weight"), ln1b: p(h + "ln_1.bias"),
                                qkvw: p(h + "attn.c_attn.weight"), qkvb: p(h + "attn.c_attn.bias"),
                                attprojw: p(h + "attn.c_proj.weight"), attprojb: p(h + "attn.c_proj.bias"),
                                ln2w: p(h + "ln_2.weight"), ln2b: p(h + "ln_2.bias"),
                                fcw: p(h + "mlp.c_fc.weight"), fcb: p(h + "mlp.c_fc.bias"),
                                fcprojw: p(h + "mlp.c_proj.weight"), fcprojb: p(h + "mlp.c_proj.bias"))
        }
    }
}
