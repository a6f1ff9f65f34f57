// Parity with HF transformers on the fixture written by Scripts/make_reference.py.

import Foundation
import Testing
import GPT
import SafeTensors

struct Reference {
    let file: SafeTensorsFile
    let model: GPT
    let inputs: [Int32]
    let targets: [Int32]
    let B = 2, T = 11

    init() throws {
        file = try SafeTensorsFile(path: fixturePath("reference.safetensors"))
        model = try GPT.load(directory: fixturePath("tiny-hf"))
        inputs = try file.ints("inputs").map { Int32($0) }
        targets = try file.ints("targets").map { Int32($0) }
    }
}

@Suite struct ReferenceTests {
    @Test func configFromTransformers() throws {
        let r = try Reference()
        #expect(r.model.config.nLayer == 2)
        #expect(r.model.config.vocabSize == 97)
        #expect(r.model.config.mlpWidth == 128)
        #expect(r.model.config.eosTokenId == 96)
    }

    @Test func logitsLossAndEveryGradientMatchTorch() throws {
        let r = try Reference()
        let g = try TrainingGraph(model: r.model, B: r.B, T: r.T)
        let loss = try g.forward(inputs: r.inputs, targets: r.targets, training: false)
        let V = r.model.config.vocabSize
        expectClose(Array(UnsafeBufferPointer(start: g.logits, count: r.B * r.T * V)), try r.file.floats("logits"), atol: 2e-5, rtol: 1e-4, "logits")
        expectClose([loss], try r.file.floats("loss"), atol: 1e-5, "loss")
        g.zeroGrad()
        g.backward()
        for e in r.model.table.entries {
            let got = Array(UnsafeBufferPointer(start: g.grads.ptr + e.offset, count: e.count))
            expectClose(got, try r.file.floats("grad." + e.name), atol: 2e-6, rtol: 1e-3, "grad \(e.name)")
        }
    }
}

@Suite struct InferenceParityTests {
    @Test func scoringLogprobsMatchTorch() throws {
        let r = try Reference()
        let seqs = (0..<r.B).map { Array(r.inputs[($0 * r.T)..<(($0 + 1) * r.T)]) }
        let scores = try Scorer(model: r.model, batchTokens: 7).score(seqs)  // forces one sequence per batch
        expectClose(scores.flatMap(\.logprobs), try r.file.floats("logprobs"), atol: 2e-5, rtol: 1e-4, "logprobs")
        let together = try Scorer(model: r.model).score(seqs, distribution: true)
        expectClose(together.flatMap(\.logprobs), scores.flatMap(\.logprobs), atol: 1e-5, "batched vs single")
        // The distribution statistics are consistent with the log-probabilities they summarise.
        for s in together { for (m, sd) in zip(s.mean!, s.std!) { #expect(m < 0 && sd > 0) } }
    }

    @Test func greedyGenerationMatchesTransformers() throws {
        let r = try Reference()
        let prompts = try (0..<2).map { try r.file.ints("prompt.\($0)").map { Int32($0) } }
        let out = try Generator(model: r.model).generate(prompts: prompts, .greedy(8), endOfText: nil)
        for i in 0..<2 {
            #expect(out[i] == (try r.file.ints("greedy.\(i)").map { Int32($0) }), "prompt \(i)")
        }
    }

    @Test func kvCacheDecodingEqualsFullRecomputation() throws {
        let r = try Reference()
        let prompts: [[Int32]] = [[5, 17, 33], [1], [90, 2, 2, 8, 64, 11]]
        let gen = Generator(model: r.model)
        let cached = try gen.generate(prompts: prompts, .greedy(9), endOfText: nil)
        // Recompute each step from scratch with the dense training forward (no cache).
        for (i, p) in prompts.enumerated() {
            var seq = p
            for _ in 0..<min(9, r.model.config.nPositions - p.count) {
                let g = try TrainingGraph(model: r.model, B: 1, T: seq.count)
                try g.forward(inputs: seq, targets: nil, training: false)
                let V = r.model.config.vocabSize
                seq.append(Sampler.argmax(g.logits + (seq.count - 1) * V, V))
            }
            #expect(Array(seq[p.count...]) == cached[i], "prompt \(i)")
        }
    }

    @Test func samplingIsSeededAndRespectsTopK() throws {
        let r = try Reference()
        let gen = Generator(model: r.model)
        var p = SamplingParameters(maxNewTokens: 10, temperature: 1.0, topK: 5, topP: 0.9, seed: 42)
        let a = try gen.generate(prompts: [[3, 4], [7]], p, endOfText: nil)
        let b = try gen.generate(prompts: [[3, 4], [7]], p, endOfText: nil)
        #expect(a == b)
        p.seed = 43
        let c = try gen.generate(prompts: [[3, 4], [7]], p, endOfText: nil)
        #expect(a != c)
        // With top-k = 1 sampling is greedy.
        let k1 = try gen.generate(prompts: [[3, 4]], SamplingParameters(maxNewTokens: 10, temperature: 1.5, topK: 1, seed: 9), endOfText: nil)
        #expect(k1 == (try gen.generate(prompts: [[3, 4]], .greedy(10), endOfText: nil)))
    }
}

/// A sequence placed at a start position p with nothing before it (`startPositions`) is what HF
/// computes with `position_ids = p, p+1, …`: the same as the model whose position table is shifted
/// by p, read from position 0. The reference-checked position-0 path is the witness, so a start
/// that attended to stale cache rows, or embedded the wrong positions, fails.
@Suite struct StartPositionTests {
    func shifted(by p: Int) throws -> GPT {
        let m = try GPT.load(directory: fixturePath("tiny-hf"))
        let C = m.config.nEmbd, n = m.config.nPositions
        for i in 0..<(n - p) { (m.weights.wpe + i * C).update(from: m.weights.wpe + (i + p) * C, count: C) }
        return m
    }

    @Test func scoringAtAStartPositionEqualsTheShiftedTable() throws {
        let r = try Reference()
        let seqs: [[Int32]] = [[5, 17, 33, 2, 9], [90, 2, 2, 8, 64, 11, 3], [1, 4]]
        let starts = [3, 0, 6]
        let scorer = Scorer(model: r.model)
        // A longer sequence first, so that the session's cache holds rows a wrong start would read.
        _ = try scorer.score([Array(r.inputs[0..<r.T])])
        let placed = try scorer.score(seqs, startPositions: starts)
        for (i, s) in seqs.enumerated() {
            let want = try Scorer(model: try shifted(by: starts[i])).score([s])[0]
            expectClose(placed[i].logprobs, want.logprobs, atol: 1e-5, "sequence \(i) at \(starts[i])")
        }
        let atZero = try Scorer(model: r.model).score(seqs)
        #expect(placed[0].logprobs != atZero[0].logprobs, "the start position changes the scores (the test can fail)")
    }

    @Test func greedyGenerationAtAStartPositionEqualsTheShiftedTable() throws {
        let r = try Reference()
        let prompts: [[Int32]] = [[5, 17, 33], [90, 2, 2, 8]]
        let starts = [4, 5]
        let out = try Generator(model: r.model).generate(prompts: prompts, startPositions: starts, .greedy(6), endOfText: nil)
        for (i, p) in prompts.enumerated() {
            let want = try Generator(model: try shifted(by: starts[i])).generate(prompts: [p], .greedy(6), endOfText: nil)[0]
            #expect(out[i] == want, "prompt \(i) at \(starts[i])")
        }
        #expect(throws: (any Error).self) {
            try Generator(model: r.model).generate(prompts: [[1, 2]], startPositions: [r.model.config.nPositions - 2], .greedy(1), endOfText: nil)
        }
    }
}
