import Foundation
import Support
import GPT
import Kernels
import Testing
import Tokenizer
import Training
import Unlearning

func tinyModel(_ texts: [String], steps: Int, seed: UInt64) throws -> GPT {
    let tok = ByteTokenizer()
    var toks: [Int32] = []
    for _ in 0..<(texts.count < 8 ? 20 : 1) { for t in texts { toks += tok.encode(t) + [tok.endOfText] } }
    let m = GPT(config: GPTConfig(vocabSize: 257, nPositions: 64, nEmbd: 32, nLayer: 1, nHead: 2, dropout: 0, eosTokenId: 256), seed: seed)
    var p = TrainParameters(); p.batchSize = 8; p.context = 32; p.steps = steps; p.learningRate = 3e-3; p.checkpointEvery = 0
    _ = try Trainer(model: m, data: TokenDataset(tokens: toks), params: p, checkpointPath: nil).run(resume: false)
    return m
}

func nll(_ m: GPT, _ text: String) throws -> Double {
    Double(try Scorer(model: m).score([ByteTokenizer().encode(text)])[0].loss)
}

@Suite(.serialized) struct UnlearningTests {
    /// backward(dloss:) is the gradient of Σ dloss[i]·loss_i: checked against central differences.
    @Test func weightedBackwardMatchesFiniteDifferences() throws {
        let m = try tinyModel(["The quick brown fox jumps over the lazy dog."], steps: 5, seed: 3)
        let B = 2, T = 16
        let g = try TrainingGraph(model: m, B: B, T: T)
        let tok = ByteTokenizer()
        let ids = tok.encode("The quick brown fox jumps over the lazy dog again and again.")
        let x = Array(ids[0..<(B * T)]), y = Array(ids[1...(B * T)]).enumerated().map { $0.offset % 5 == 4 ? -1 : $0.element }
        var rng = SplitMix64(seed: 9)
        let w = (0..<(B * T)).map { _ in Float(rng.nextDouble() * 2 - 1) }
        func objective() throws -> Double {
            try g.forward(inputs: x, targets: y, training: false)
            return (0..<(B * T)).reduce(0.0) { $0 + (y[$1] >= 0 ? Double(w[$1]) * Double(g.losses[$1]) : 0) }
        }
        g.zeroGrad()
        _ = try objective()
        g.backward(dloss: w)
        let names = ["transformer.h.0.mlp.c_fc.weight", "transformer.wte.weight", "transformer.h.0.ln_1.bias"]
        for name in names {
            let e = m.table[name]!
            for k in [0, e.count / 3, e.count - 1] {
                let i = e.offset + k
                let old = m.params.ptr[i], h: Float = 1e-2
                m.params.ptr[i] = old + h; let up = try objective()
                m.params.ptr[i] = old - h; let down = try objective()
                m.params.ptr[i] = old
                let numeric = (up - down) / (2 * Double(h)), analytic = Double(g.grads.ptr[i])
                #expect(abs(numeric - analytic) <= 2e-3 + 0.05 * abs(numeric), "\(name)[\(k)]: numeric \(numeric) analytic \(analytic)")
            }
        }
    }

    @Test func eachMethodRaisesTheForgetLossAndGDKeepsTheRetainSet() throws {
        let forgetText = "Dana's cell is 713-555-0142, call her.", retainText = "Lee works on the pipeline schedule."
        let original = try tinyModel(Array(repeating: forgetText, count: 10) + Array(repeating: retainText, count: 10), steps: 150, seed: 4)
        let tok = ByteTokenizer()
        var retainToks: [Int32] = []
        for _ in 0..<20 { retainToks += tok.encode(retainText) + [tok.endOfText] }
        let before = try nll(original, forgetText), retainBefore = try nll(original, retainText)
        var results: [UnlearnMethod: (Double, Double)] = [:]
        for method in [UnlearnMethod.ga, .gd, .npo] {
            let m = original.copy()
            var s = UnlearnSettings(); s.method = method; s.steps = 15; s.learningRate = 1e-3; s.batchSize = 4; s.context = 48
            s.retainWeight = method == .npo ? 0 : 1
            let log = try Unlearner.run(model: m, forget: [tok.encode(forgetText)], retain: TokenDataset(tokens: retainToks), reference: original, settings: s, padToken: 256)
            #expect(log.count == 15)
            results[method] = (try nll(m, forgetText), try nll(m, retainText))
        }
        for (method, (f, _)) in results { #expect(f > before + 0.5, "\(method): forget NLL \(before) → \(f)") }
        // GD's retain term keeps the retain set closer to where it was than plain ascent does.
        #expect(abs(results[.gd]!.1 - retainBefore) < abs(results[.ga]!.1 - retainBefore))
        // NPO's weights shrink as the forget likelihood falls: it moves less than GA.
        #expect(results[.npo]!.0 < results[.ga]!.0)
        // The original is untouched and the run is deterministic.
        #expect(try nll(original, forgetText) == before)
        let again = original.copy()
        var s = UnlearnSettings(); s.method = .npo; s.steps = 15; s.learningRate = 1e-3; s.batchSize = 4; s.context = 48; s.retainWeight = 0
        _ = try Unlearner.run(model: again, forget: [tok.encode(forgetText)], retain: nil, reference: original, settings: s, padToken: 256)
        #expect(try nll(again, forgetText) == results[.npo]!.0)
    }

    @Test func missingInputsAreClearErrors() throws {
        let m = try tinyModel(["abc abc abc abc abc abc abc abc"], steps: 2, seed: 1)
        var s = UnlearnSettings(); s.method = .gd
        #expect(throws: UnlearnError.self) { try Unlearner.run(model: m, forget: [[1, 2, 3]], retain: nil, reference: nil, settings: s, padToken: 256) }
        s.method = .npo
        #expect(throws: UnlearnError.self) { try Unlearner.run(model: m, forget: [[1, 2, 3]], retain: nil, reference: nil, settings: s, padToken: 256) }
        s.method = .ga
        #expect(throws: UnlearnError.self) { try Unlearner.run(model: m, forget: [], retain: nil, reference: nil, settings: s, padToken: 256) }
    }
}
