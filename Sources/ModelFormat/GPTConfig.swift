// The model's shape and regularisation, read from and written to HF's GPT-2 `config.json`.
// This module is compiled with bounds and overflow checks: a config comes from files users
// download, and every size in it is checked against `GPTConfig.Limits` (with checked
// arithmetic) before the model allocates anything.

import Foundation

public enum GPTError: Error, CustomStringConvertible {
    case unreadable(path: String, reason: String)
    case invalidConfig(path: String, reason: String)
    case missingTensor(path: String, name: String)
    case unexpectedTensor(path: String, name: String)
    case shapeMismatch(path: String, name: String, expected: [Int], actual: [Int])
    case untiedHead(path: String)
    case noWeights(directory: String)
    case invalidInput(String)

    public var description: String {
        switch self {
        case .unreadable(let p, let r): return "\(p): cannot read: \(r)"
        case .invalidConfig(let p, let r): return "\(p): \(r)"
        case .missingTensor(let p, let n): return "\(p): tensor \(n) is missing"
        case .unexpectedTensor(let p, let n): return "\(p): unexpected tensor \(n) (not a GPT-2 parameter)"
        case .shapeMismatch(let p, let n, let e, let a): return "\(p): tensor \(n) has shape \(a), expected \(e) for this config"
        case .untiedHead(let p): return "\(p): lm_head.weight differs from transformer.wte.weight; untied output embeddings are not supported"
        case .noWeights(let d): return "\(d): no model.safetensors (or model.safetensors.index.json); convert pytorch_model.bin with transformers' save_pretrained(safe_serialization=True)"
        case .invalidInput(let r): return r
        }
    }
}

public struct GPTConfig: Codable, Sendable, Equatable {
    public var vocabSize: Int
    public var nPositions: Int
    public var nEmbd: Int
    public var nLayer: Int
    public var nHead: Int
    /// MLP width; HF's `n_inner: null` means 4 · n_embd.
    public var nInner: Int?
    public var layerNormEpsilon: Float = 1e-5
    public var activationFunction: String = "gelu_new"
    public var residPdrop: Float = 0.1
    public var embdPdrop: Float = 0.1
    public var attnPdrop: Float = 0.1
    public var initializerRange: Float = 0.02
    public var bosTokenId: Int?
    public var eosTokenId: Int?
    public var tieWordEmbeddings: Bool = true
    public var scaleAttnWeights: Bool = true
    public var scaleAttnByInverseLayerIdx: Bool = false
    public var reorderAndUpcastAttn: Bool = false

    public var mlpWidth: Int { nInner ?? 4 * nEmbd }
    public var headSize: Int { nEmbd / nHead }

    public init(vocabSize: Int, nPositions: Int, nEmbd: Int, nLayer: Int, nHead: Int,
                dropout: Float = 0.1, eosTokenId: Int? = nil) {
        self.vocabSize = vocabSize; self.nPositions = nPositions; self.nEmbd = nEmbd
        self.nLayer = nLayer; self.nHead = nHead
        residPdrop = dropout; embdPdrop = dropout; attnPdrop = dropout
        bosTokenId = eosTokenId; self.eosTokenId = eosTokenId
    }

    /// GPT-2 small (124M): 12 layers, 768 wide, 12 heads, 1024 positions, 50257 tokens.
    public static let gpt2Small = GPTConfig(vocabSize: 50257, nPositions: 1024, nEmbd: 768, nLayer: 12, nHead: 12, eosTokenId: 50256)

    enum CodingKeys: String, CodingKey {
        case vocabSize = "vocab_size", nPositions = "n_positions", nEmbd = "n_embd", nLayer = "n_layer"
        case nHead = "n_head", nInner = "n_inner", layerNormEpsilon = "layer_norm_epsilon"
        case activationFunction = "activation_function", residPdrop = "resid_pdrop", embdPdrop = "embd_pdrop"
        case attnPdrop = "attn_pdrop", initializerRange = "initializer_range", bosTokenId = "bos_token_id"
        case eosTokenId = "eos_token_id", tieWordEmbeddings = "tie_word_embeddings"
        case scaleAttnWeights = "scale_attn_weights", scaleAttnByInverseLayerIdx = "scale_attn_by_inverse_layer_idx"
        case reorderAndUpcastAttn = "reorder_and_upcast_attn"
        case nCtx = "n_ctx", modelType = "model_type", architectures, torchDtype = "torch_dtype", dtype
        case useCache = "use_cache"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        vocabSize = try c.decode(Int.self, forKey: .vocabSize)
        nPositions = try c.decodeIfPresent(Int.self, forKey: .nPositions) ?? c.decode(Int.self, forKey: .nCtx)
        nEmbd = try c.decode(Int.self, forKey: .nEmbd)
        nLayer = try c.decode(Int.self, forKey: .nLayer)
        nHead = try c.decode(Int.self, forKey: .nHead)
        nInner = try c.decodeIfPresent(Int.self, forKey: .nInner)
        layerNormEpsilon = try c.decodeIfPresent(Float.self, forKey: .layerNormEpsilon) ?? 1e-5
        activationFunction = try c.decodeIfPresent(String.self, forKey: .activationFunction) ?? "gelu_new"
        residPdrop = try c.decodeIfPresent(Float.self, forKey: .residPdrop) ?? 0.1
        embdPdrop = try c.decodeIfPresent(Float.self, forKey: .embdPdrop) ?? 0.1
        attnPdrop = try c.decodeIfPresent(Float.self, forKey: .attnPdrop) ?? 0.1
        initializerRange = try c.decodeIfPresent(Float.self, forKey: .initializerRange) ?? 0.02
        bosTokenId = try c.decodeIfPresent(Int.self, forKey: .bosTokenId)
        eosTokenId = try c.decodeIfPresent(Int.self, forKey: .eosTokenId)
        tieWordEmbeddings = try c.decodeIfPresent(Bool.self, forKey: .tieWordEmbeddings) ?? true
        scaleAttnWeights = try c.decodeIfPresent(Bool.self, forKey: .scaleAttnWeights) ?? true
        scaleAttnByInverseLayerIdx = try c.decodeIfPresent(Bool.self, forKey: .scaleAttnByInverseLayerIdx) ?? false
        reorderAndUpcastAttn = try c.decodeIfPresent(Bool.self, forKey: .reorderAndUpcastAttn) ?? false
        if let t = try c.decodeIfPresent(String.self, forKey: .modelType), t != "gpt2" {
            throw DecodingError.dataCorruptedError(forKey: .modelType, in: c, debugDescription: "model_type is \"\(t)\"; only \"gpt2\" is supported")
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(["GPT2LMHeadModel"], forKey: .architectures)
        try c.encode("gpt2", forKey: .modelType)
        try c.encode(vocabSize, forKey: .vocabSize)
        try c.encode(nPositions, forKey: .nPositions)
        try c.encode(nPositions, forKey: .nCtx)
        try c.encode(nEmbd, forKey: .nEmbd)
        try c.encode(nLayer, forKey: .nLayer)
        try c.encode(nHead, forKey: .nHead)
        try c.encode(nInner, forKey: .nInner)  // null → 4·n_embd, as HF
        try c.encode(layerNormEpsilon, forKey: .layerNormEpsilon)
        try c.encode(activationFunction, forKey: .activationFunction)
        try c.encode(residPdrop, forKey: .residPdrop)
        try c.encode(embdPdrop, forKey: .embdPdrop)
        try c.encode(attnPdrop, forKey: .attnPdrop)
        try c.encode(initializerRange, forKey: .initializerRange)
        try c.encode(bosTokenId, forKey: .bosTokenId)
        try c.encode(eosTokenId, forKey: .eosTokenId)
        try c.encode(tieWordEmbeddings, forKey: .tieWordEmbeddings)
        try c.encode(scaleAttnWeights, forKey: .scaleAttnWeights)
        try c.encode(scaleAttnByInverseLayerIdx, forKey: .scaleAttnByInverseLayerIdx)
        try c.encode(reorderAndUpcastAttn, forKey: .reorderAndUpcastAttn)
        try c.encode(true, forKey: .useCache)
        try c.encode("float32", forKey: .torchDtype)
    }

    /// What a config may ask for. GPT-2 XL (1.5B parameters, 48 layers, 1600 wide, 50257 tokens)
    /// fits with room to spare; a config beyond these is refused before anything is allocated.
    public enum Limits {
        public static let vocabSize = 1 << 21
        public static let nPositions = 1 << 16
        public static let nEmbd = 1 << 14
        public static let nLayer = 256
        public static let nHead = 1024
        public static let nInner = 1 << 16
        /// Parameters (Floats) in one model: 4 · 2³² bytes = 16 GiB.
        public static let parameters = 1 << 32
    }

    /// Parameters of this shape (the tied head counted once), with overflow-checked arithmetic;
    /// nil when the count overflows. The same sum as `GPT`'s parameter table.
    public var checkedParameterCount: Int? {
        func mul(_ xs: Int...) -> Int? {
            var r = 1
            for x in xs { let (m, o) = r.multipliedReportingOverflow(by: x); if o { return nil }; r = m }
            return r
        }
        func add(_ xs: Int?...) -> Int? {
            var r = 0
            for x in xs { guard let x else { return nil }; let (s, o) = r.addingReportingOverflow(x); if o { return nil }; r = s }
            return r
        }
        let C = nEmbd
        guard let F = nInner ?? mul(4, C) else { return nil }
        let perLayer = add(mul(4, C), mul(C, 3, C), mul(3, C), mul(C, C), C, mul(C, F), F, mul(F, C), C)
        return add(mul(vocabSize, C), mul(nPositions, C), perLayer.flatMap { mul($0, nLayer) }, mul(2, C))
    }

    /// Checks what this implementation supports and the limits; `path` names the file in errors.
    public func validate(path: String) throws {
        func bad(_ r: String) -> GPTError { .invalidConfig(path: path, reason: r) }
        for (name, v, limit) in [("vocab_size", vocabSize, Limits.vocabSize), ("n_positions", nPositions, Limits.nPositions),
                                 ("n_embd", nEmbd, Limits.nEmbd), ("n_layer", nLayer, Limits.nLayer), ("n_head", nHead, Limits.nHead)] {
            guard v > 0 else { throw bad("\(name) must be positive, got \(v)") }
            guard v <= limit else { throw bad("\(name) \(v) exceeds the limit of \(limit)") }
        }
        if let f = nInner {
            guard f > 0, f <= Limits.nInner else { throw bad("n_inner \(f) must be in 1...\(Limits.nInner)") }
        }
        guard nEmbd % nHead == 0 else { throw bad("n_embd \(nEmbd) is not divisible by n_head \(nHead)") }
        guard let p = checkedParameterCount, p <= Limits.parameters else {
            throw bad("the model would have \(checkedParameterCount.map(String.init) ?? "more than Int.max") parameters; the limit is \(Limits.parameters)")
        }
        for (name, id) in [("bos_token_id", bosTokenId), ("eos_token_id", eosTokenId)] {
            if let id, !(0..<vocabSize).contains(id) { throw bad("\(name) \(id) is outside the vocabulary (0..<\(vocabSize))") }
        }
        guard layerNormEpsilon.isFinite, layerNormEpsilon > 0, layerNormEpsilon < 1 else {
            throw bad("layer_norm_epsilon must be in (0, 1), got \(layerNormEpsilon)")
        }
        guard initializerRange.isFinite, initializerRange >= 0, initializerRange < 10 else {
            throw bad("initializer_range must be in [0, 10), got \(initializerRange)")
        }
        guard ["gelu_new", "gelu_pytorch_tanh"].contains(activationFunction) else {
            throw bad("activation_function \"\(activationFunction)\" is not supported (gelu_new only)")
        }
        guard tieWordEmbeddings else { throw bad("tie_word_embeddings=false is not supported") }
        guard scaleAttnWeights, !scaleAttnByInverseLayerIdx else { throw bad("only scale_attn_weights=true, scale_attn_by_inverse_layer_idx=false are supported") }
        for (n, p) in [("resid_pdrop", residPdrop), ("embd_pdrop", embdPdrop), ("attn_pdrop", attnPdrop)] where !(0..<1).contains(p) {
            throw bad("\(n) must be in [0, 1), got \(p)")
        }
    }
}
