import ArgumentParser
import Audit
import Corpus
import Foundation
import Support
import GPT
import Kernels
import PII
import SafeTensors
import Tokenizer
import Training

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure GEMM, training, scoring and generation speed on random weights.",
        discussion: """
        Shapes follow the peer measurement (Scripts/bench_peer.py runs PyTorch + transformers on the
        same ones): train 4×128 for gpt2-small and 8×128 for tiny with dropout 0.1; score 16×128;
        generate 32-token prompts, 64 new tokens, greedy, --batch 1 or 16.
        """)

    enum Kind: String, ExpressibleByArgument, CaseIterable { case gemm, train, score, generate, tokenize, pii, audit }
    enum Preset: String, ExpressibleByArgument, CaseIterable { case tiny, gpt2Small = "gpt2-small" }

    @Argument(help: "gemm | train | score | generate | tokenize | pii | audit") var kind: Kind
    @Option(help: "Model shape: tiny (4 layers, 256 wide, vocab 8192) or gpt2-small (124M).") var preset: Preset = .gpt2Small
    @Option(help: "Batch size (default: the peer's shape for this benchmark).") var batch: Int?
    @Option(help: "Sequence length for train/score.") var context = 128
    @Option(help: "Timed iterations (default depends on the benchmark).") var iterations: Int?
    @OptionGroup var threads: ThreadOptions
    @Option(help: "tokenize: tokenizer directory.") var tokenizer: String?
    @Option(help: "tokenize: text file (documents separated by blank lines).") var file: String?
    @Option(help: "tokenize: also time BPE training of this vocabulary size on the file (0 = skip).") var trainVocab = 8192
    @Option(help: "audit: targeted-extraction prompts (k = 50 tokens before each PII occurrence of a synthetic corpus).") var prompts = 256
    @Option(help: "audit: records scored for membership inference.") var records = 256
    @Option(help: "audit: write the exact workload (DIR/workload.json: prompt and record token ids; the tokenizer files) for the peer script.") var workload: String?
    @Flag(help: "Print one JSON object.") var json = false

    struct Result: Encodable {
        var benchmark: String
        var preset: String
        var shape: String
        var blas: String
        var threads: Int
        var tokens_per_s: Double
        var gflops: Double
        var mfu: Double?
        var peak_gflops: Double?
        var seconds: Double
        var iterations: Int
        var peak_rss_bytes: Int
    }

    var config: GPTConfig {
        switch preset {
        case .gpt2Small: return .gpt2Small
        case .tiny: return GPTConfig(vocabSize: 8192, nPositions: 1024, nEmbd: 256, nLayer: 4, nHead: 4, eosTokenId: 8191)
        }
    }

    func run() throws {
        threads.apply()
        let info = reporting { try BLAS.info() }
        let nthreads = threads.effective
        var r: Result
        switch kind {
        case .gemm: r = gemm(info)
        case .train: r = try train(info)
        case .score: r = try score(info)
        case .generate: r = try generate(info)
        case .tokenize: try tokenize(); return
        case .pii: try pii(); return
        case .audit: try audit(); return
        }
        r.threads = nthreads
        r.peak_rss_bytes = peakRSS()
        if json { printJSON(r); return }
        print("\(r.benchmark) [\(r.preset), \(r.shape)] on \(r.blas), \(nthreads) threads")
        if r.benchmark != "gemm" { print(String(format: "  %.1f tokens/s", r.tokens_per_s)) }
        print(String(format: "  %.1f GFLOP/s%@", r.gflops, r.mfu.map { String(format: " (%.0f%% of the %.0f GFLOP/s GEMM peak measured now)", $0 * 100, r.peak_gflops!) } ?? ""))
        print(String(format: "  %.3f s for %d iterations; peak RSS %.2f GiB", r.seconds, r.iterations, Double(r.peak_rss_bytes) / 1_073_741_824))
    }

    /// Square SGEMM through Shallot's wrapper.
    func gemmRate(n: Int, reps: Int) -> (Double, Double) {
        let a = FloatBuffer(count: n * n), b = FloatBuffer(count: n * n), c = FloatBuffer(count: n * n)
        for i in 0..<(n * n) { a.ptr[i] = Float(i % 7) * 0.1; b.ptr[i] = Float(i % 5) * 0.1 }
        BLAS.sgemm(.none, .none, m: n, n: n, k: n, a: a.ptr, lda: n, b: b.ptr, ldb: n, beta: 0, c: c.ptr, ldc: n)
        let t = Date()
        for _ in 0..<reps { BLAS.sgemm(.none, .none, m: n, n: n, k: n, a: a.ptr, lda: n, b: b.ptr, ldb: n, beta: 0, c: c.ptr, ldc: n) }
        let s = Date().timeIntervalSince(t)
        return (2 * Double(n * n * n) * Double(reps) / s / 1e9, s)
    }

    func gemm(_ info: BLASInfo) -> Result {
        let reps = iterations ?? 10
        let (g, s) = gemmRate(n: 2048, reps: reps)
        return Result(benchmark: "gemm", preset: "-", shape: "2048x2048x2048", blas: info.description, threads: 0,
                      tokens_per_s: 0, gflops: g, mfu: nil, peak_gflops: nil, seconds: s, iterations: reps, peak_rss_bytes: 0)
    }

    /// Forward FLOPs per token: every weight matmul (2 per weight) and causal attention.
    func forwardFlopsPerToken(_ c: GPTConfig, T: Int) -> Double {
        let C = Double(c.nEmbd), L = Double(c.nLayer), F = Double(c.mlpWidth)
        let matmul = 2 * (L * (C * 3 * C + C * C + 2 * C * F) + Double(c.vocabSize) * C)
        let attention = 2 * 2 * L * C * Double(T) / 2
        return matmul + attention
    }

    func randomTokens(_ n: Int, _ V: Int, seed: UInt64) -> [Int32] {
        var rng = SplitMix64(seed: seed)
        return (0..<n).map { _ in Int32(rng.next() % UInt64(V)) }
    }

    func train(_ info: BLASInfo) throws -> Result {
        let c = config
        let B = batch ?? (preset == .gpt2Small ? 4 : 8), T = context
        let iters = iterations ?? (preset == .gpt2Small ? 5 : 20)
        let model = GPT(config: c, seed: 1)
        let graph = try TrainingGraph(model: model, B: B, T: T)
        let opt = Optimizer(table: model.table, hp: AdamWParameters(beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1))
        func step(_ i: Int) throws {
            let x = randomTokens(B * T, c.vocabSize, seed: UInt64(truncatingIfNeeded: i)), y = randomTokens(B * T, c.vocabSize, seed: UInt64(i + 1000))
            graph.zeroGrad()
            try graph.forward(inputs: x, targets: y, training: true, dropoutSeed: UInt64(truncatingIfNeeded: i))
            graph.backward()
            opt.update(params: model.params, grads: graph.grads, lr: 1e-4, clip: 1.0)
        }
        try step(-1)  // warm-up
        let t = Date()
        for i in 0..<iters { try step(i) }
        let s = Date().timeIntervalSince(t)
        let tokens = Double(B * T * iters)
        let gflops = 3 * forwardFlopsPerToken(c, T: T) * tokens / s / 1e9
        let peak = gemmRate(n: 2048, reps: 3).0
        return Result(benchmark: "train", preset: preset.rawValue, shape: "\(B)x\(T)", blas: info.description, threads: 0,
                      tokens_per_s: tokens / s, gflops: gflops, mfu: gflops / peak, peak_gflops: peak, seconds: s, iterations: iters, peak_rss_bytes: 0)
    }

    func score(_ info: BLASInfo) throws -> Result {
        let c = config
        let B = batch ?? 16, T = context
        let iters = iterations ?? (preset == .gpt2Small ? 3 : 20)
        let model = GPT(config: c, seed: 1)
        let scorer = Scorer(model: model, batchTokens: B * T)
        let seqs = (0..<B).map { randomTokens(T, c.vocabSize, seed: UInt64($0)) }
        _ = try scorer.score(seqs)
        let t = Date()
        for _ in 0..<iters { _ = try scorer.score(seqs) }
        let s = Date().timeIntervalSince(t)
        let tokens = Double(B * T * iters)
        let gflops = forwardFlopsPerToken(c, T: T) * tokens / s / 1e9
        let peak = gemmRate(n: 2048, reps: 3).0
        return Result(benchmark: "score", preset: preset.rawValue, shape: "\(B)x\(T)", blas: info.description, threads: 0,
                      tokens_per_s: tokens / s, gflops: gflops, mfu: gflops / peak, peak_gflops: peak, seconds: s, iterations: iters, peak_rss_bytes: 0)
    }

    func generate(_ info: BLASInfo) throws -> Result {
        let c = config
        let B = batch ?? 1, P = 32, newTokens = 64
        let iters = iterations ?? (B == 1 ? 2 : 1)
        let model = GPT(config: c, seed: 1)
        let gen = Generator(model: model)
        let prompts = (0..<B).map { randomTokens(P, c.vocabSize, seed: UInt64($0)) }
        var p = SamplingParameters.greedy(newTokens)
        p.stopAtEndOfText = false
        _ = try gen.generate(prompts: prompts, SamplingParameters.greedy(4), endOfText: nil)
        let t = Date()
        var produced = 0
        for _ in 0..<iters { produced += try gen.generate(prompts: prompts, p, endOfText: nil).reduce(0) { $0 + $1.count } }
        let s = Date().timeIntervalSince(t)
        let gflops = forwardFlopsPerToken(c, T: P + newTokens / 2) * Double(produced + B * P * iters) / s / 1e9
        return Result(benchmark: "generate", preset: preset.rawValue, shape: "batch \(B), prompt \(P), \(newTokens) new, greedy", blas: info.description,
                      threads: 0, tokens_per_s: Double(produced) / s, gflops: gflops, mfu: nil, peak_gflops: nil, seconds: s, iterations: iters, peak_rss_bytes: 0)
    }
}

extension Bench {
    func tokenize() throws {
        guard let tokenizer, let file else { throw ValidationError("bench tokenize needs --tokenizer DIR and --file TEXT") }
        let tok = reporting { try TokenizerFiles.load(directory: tokenizer) }
        guard let data = FileManager.default.contents(atPath: file) else { fail("\(file): cannot read") }
        let text = String(decoding: data, as: UTF8.self)
        let docs = text.components(separatedBy: "\n\n")
        let mb = Double(data.count) / 1e6
        _ = tok.encodeBatch(Array(docs.prefix(2000)), threads: 1)  // warm-up
        var t = Date()
        let single = tok.encodeBatch(docs, threads: 1)
        let s1 = Date().timeIntervalSince(t)
        let n = threads.effective
        t = Date()
        let multi = tok.encodeBatch(docs, threads: n)
        let s2 = Date().timeIntervalSince(t)
        guard single == multi else { fail("batch encoding differs from single-thread encoding") }
        var trainSeconds: Double?
        if trainVocab > 0 {
            t = Date()
            _ = try BPETrainer.train(texts: docs, vocabSize: trainVocab, threads: n)
            trainSeconds = Date().timeIntervalSince(t)
        }
        struct R: Encodable {
            let benchmark = "tokenize"; let megabytes: Double; let documents: Int; let tokens: Int
            let single_thread_mb_per_s: Double; let threads: Int; let batch_mb_per_s: Double
            let train_vocab: Int; let train_seconds: Double?; let peak_rss_bytes: Int
        }
        let r = R(megabytes: mb, documents: docs.count, tokens: single.reduce(0) { $0 + $1.count }, single_thread_mb_per_s: mb / s1,
                  threads: n, batch_mb_per_s: mb / s2, train_vocab: trainVocab, train_seconds: trainSeconds, peak_rss_bytes: peakRSS())
        if json { printJSON(r); return }
        print(String(format: "tokenize %.1f MB (%d documents, %d tokens)", mb, r.documents, r.tokens))
        print(String(format: "  1 thread: %.2f MB/s; %d threads: %.2f MB/s (%.2f×)", r.single_thread_mb_per_s, n, r.batch_mb_per_s, r.batch_mb_per_s / r.single_thread_mb_per_s))
        if let ts = trainSeconds { print(String(format: "  BPE training, %d tokens: %.2f s", trainVocab, ts)) }
    }
}

extension Bench {
    /// PII scan throughput on a text file: e-mail + phone (the peer's recognisers) and all types,
    /// on one thread and on all workers.
    func pii() throws {
        guard let file else { throw ValidationError("bench pii needs --file TEXT") }
        guard let data = FileManager.default.contents(atPath: file) else { fail("\(file): cannot read") }
        let text = String(decoding: data, as: UTF8.self)
        let mb = Double(data.count) / 1e6
        let n = threads.effective
        func time(_ types: Set<PIIType>, _ t: Int) -> (Double, Int) {
            let s = PIIScanner(types: types)
            _ = s.scanDocument(String(text.prefix(100_000)), threads: t)
            let t0 = Date()
            let found = s.scanDocument(text, threads: t).count
            return (mb / Date().timeIntervalSince(t0), found)
        }
        let (e1, c1) = time([.email, .phone], 1)
        let (e2, _) = time([.email, .phone], n)
        let (a1, c2) = time(Set(PIIType.allCases), 1)
        let (a2, _) = time(Set(PIIType.allCases), n)
        struct R: Encodable {
            let benchmark = "pii"; let megabytes: Double; let threads: Int
            let email_phone_mb_per_s: Double; let email_phone_mb_per_s_all_threads: Double; let email_phone_entities: Int
            let all_types_mb_per_s: Double; let all_types_mb_per_s_all_threads: Double; let all_types_entities: Int
        }
        let r = R(megabytes: mb, threads: n, email_phone_mb_per_s: e1, email_phone_mb_per_s_all_threads: e2, email_phone_entities: c1,
                  all_types_mb_per_s: a1, all_types_mb_per_s_all_threads: a2, all_types_entities: c2)
        if json { printJSON(r); return }
        print(String(format: "pii scan of %.1f MB", mb))
        print(String(format: "  e-mail + phone: %.1f MB/s on 1 thread, %.1f MB/s on %d (%d entities)", e1, e2, n, c1))
        print(String(format: "  all types:      %.1f MB/s on 1 thread, %.1f MB/s on %d (%d entities)", a1, a2, n, c2))
    }
}

func peakRSS() -> Int {
    var u = rusage()
    #if os(Linux)
    getrusage(RUSAGE_SELF.rawValue, &u)
    #else
    getrusage(RUSAGE_SELF, &u)
    #endif
    #if os(Linux)
    return Int(u.ru_maxrss) * 1024
    #else
    return Int(u.ru_maxrss)
    #endif
}

extension Array {
    func chunked(_ n: Int) -> [ArraySlice<Element>] { stride(from: 0, to: count, by: n).map { self[$0..<Swift.min(count, $0 + n)] } }
}
