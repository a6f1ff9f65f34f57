import ArgumentParser
import Foundation
import Support
import GPT
import Kernels
import Tokenizer
import Training

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Pre-train a GPT-2 model from scratch or fine-tune one (--init).",
        discussion: """
        Data: a JSONL file (one record a line, field "text", optional "id") or a plain-text file.
        Records are joined with <|endoftext|>. Until a BPE tokenizer is given, text is tokenised
        byte by byte (256 bytes + <|endoftext|>). The model directory written to --out is in the
        Hugging Face layout (config.json, model.safetensors, tokenizer files) plus shallot.json.
        A checkpoint is written to OUT/checkpoint/ every --checkpoint-every steps; --resume
        continues from it and reaches the same weights as an uninterrupted run.
        """)

    @Option(help: "Training data (.jsonl or plain text).") var data: String?
    @Flag(help: "Train on the small text embedded in the binary (a smoke test of the whole engine).") var embeddedSample = false
    @Option(help: "Output model directory.") var out: String
    @Option(help: "Fine-tune this model directory instead of starting from random weights.") var `init`: String?
    @Option(help: "A config.json (HF GPT-2 keys) for a new model.") var config: String?
    @Option(help: "Layers of a new model.") var layers = 4
    @Option(help: "Attention heads of a new model.") var heads = 4
    @Option(help: "Width (n_embd) of a new model.") var dim = 256
    @Option(help: "Training sequence length (and n_positions of a new model).") var context = TrainParameters().context
    @Option(help: "Dropout of a new model (embedding, attention, residual).") var dropout: Float = 0.1
    @Option(help: "Optimizer steps (default: --epochs over the data).") var steps: Int?
    @Option(help: "Passes over the data when --steps is not given.") var epochs: Double = TrainParameters().epochs
    @Option(help: "Sequences per batch.") var batch = TrainParameters().batchSize
    @Option(help: "Peak learning rate.") var lr: Float = TrainParameters().learningRate
    @Option(help: "Warm-up steps (default 10% of the run, at most 100).") var warmup: Int?
    @Option(help: "AdamW weight decay on 2-D weights.") var weightDecay: Float = TrainParameters().adamw.weightDecay
    @Option(help: "Global gradient-norm clip (0 = off).") var clip: Float = TrainParameters().gradClip
    @Option(help: "Random seed (initialisation, data order, dropout).") var seed: UInt64 = TrainParameters().seed
    @Option(help: "Checkpoint every N steps (0 = never).") var checkpointEvery = TrainParameters().checkpointEvery
    @Option(help: "Tokenizer directory (a model directory works).") var tokenizer: String?
    @Option(help: "Train a BPE tokenizer of this many tokens on the data first (a new model only).") var vocabSize: Int?
    @OptionGroup var threads: ThreadOptions
    @Flag(help: "Continue from OUT/checkpoint if it exists.") var resume = false
    @Flag(help: "Print JSON lines instead of a progress bar.") var json = false

    func run() throws {
        threads.apply()
        let dataPath = try trainingData()
        if vocabSize != nil && (tokenizer != nil || self.`init` != nil) {
            throw ValidationError("--vocab-size trains a new tokenizer; it cannot be combined with --tokenizer or --init")
        }
        let tok = loadTokenizer(dataPath)
        let model = reporting { try buildModel(tok) }
        guard model.config.vocabSize >= tok.vocabSize else {
            fail("the tokenizer has \(tok.vocabSize) tokens but the model only \(model.config.vocabSize)")
        }
        let dataset = reporting { try TokenDataset(path: dataPath, tokenizer: tok) }
        let p = parameters()
        let trainer = reporting { try Trainer(model: model, data: dataset, params: p, checkpointPath: out + "/checkpoint/train_state.safetensors") }
        let parentHash = self.`init`.flatMap { try? sha256(file: $0 + "/model.safetensors") }
        if !json {
            FileHandle.standardError.write(Data("""
            training \(model.parameterCount) parameters (\(model.config.nLayer) layers, \(model.config.nEmbd) wide) on \
            \(dataset.tokens.count) tokens from \(dataset.recordCount) records; \(trainer.totalSteps) steps of \(batch)×\(context)
            BLAS: \((try? BLAS.info().description) ?? "?")\n
            """.utf8))
        }
        let summary = train(trainer)
        reporting {
            try model.save(directory: out)
            try tok.save(to: out)
            let prov = Provenance(
                weightsSHA256: try sha256(file: out + "/model.safetensors"),
                parent: self.`init`.map { Provenance.ParentModel(path: $0, weightsSHA256: parentHash ?? "") },
                corpus: Provenance.Corpus(path: dataPath, fileSHA256: dataset.fileSHA256, records: dataset.recordCount,
                                          tokens: dataset.tokens.count, manifestSHA256: dataset.manifestSHA256),
                tokenizer: tok is ByteTokenizer ? "byte-level (256 + <|endoftext|>)" : "byte-level BPE, \(tok.vocabSize) tokens",
                training: p, summary: summary)
            try prov.write(directory: out)
            try? FileManager.default.removeItem(atPath: out + "/checkpoint")
        }
        if json {
            printJSON(summary)
        } else {
            print(String(format: "done: %d steps, final loss %.4f (mean of last 10: %.4f), %.0f tokens/s; model in %@",
                         summary.steps, summary.finalLoss, summary.meanLossLast10, summary.tokensPerSecond, out))
        }
    }

    /// --data, or the embedded sample written into OUT.
    func trainingData() throws -> String {
        if embeddedSample {
            try PrivateFile.makeDirectory(out)
            let path = out + "/sample.txt"
            try PrivateFile.write(Data(EmbeddedSample.text.utf8), to: path)
            return path
        }
        guard let data else { throw ValidationError("give --data FILE (or --embedded-sample)") }
        return data
    }

    /// --tokenizer, a BPE vocabulary trained on the data (--vocab-size), the --init model's, or bytes.
    func loadTokenizer(_ dataPath: String) -> any TextTokenizer {
        reporting {
            if let t = tokenizer { return try TokenizerFiles.load(directory: t) }
            if let n = vocabSize {
                let records = try RecordReader.read(path: dataPath)
                if !json { FileHandle.standardError.write(Data("training a \(n)-token BPE vocabulary on \(records.count) records\n".utf8)) }
                return try BPETrainer.train(texts: records.map(\.text), vocabSize: n).tokenizer
            }
            if let i = self.`init`, FileManager.default.fileExists(atPath: i + "/vocab.json") { return try TokenizerFiles.load(directory: i) }
            return ByteTokenizer()
        }
    }

    /// The --init model, or a new one from --config or the shape options.
    func buildModel(_ tok: any TextTokenizer) throws -> GPT {
        if let i = self.`init` { return try GPT.load(directory: i) }
        var cfg: GPTConfig
        if let c = config {
            guard let d = FileManager.default.contents(atPath: c) else { throw GPTError.unreadable(path: c, reason: "no such file") }
            do { cfg = try JSONDecoder().decode(GPTConfig.self, from: d) } catch { throw GPTError.invalidConfig(path: c, reason: "\(error)") }
            try cfg.validate(path: c)
        } else {
            cfg = GPTConfig(vocabSize: tok.vocabSize, nPositions: context, nEmbd: dim, nLayer: layers, nHead: heads,
                            dropout: dropout, eosTokenId: Int(tok.endOfText))
            try cfg.validate(path: "--layers/--heads/--dim")
        }
        return GPT(config: cfg, seed: seed)
    }

    func parameters() -> TrainParameters {
        var p = TrainParameters()
        p.batchSize = batch; p.context = context; p.steps = steps; p.epochs = epochs; p.learningRate = lr
        p.warmupSteps = warmup; p.adamw.weightDecay = weightDecay; p.gradClip = clip; p.seed = seed
        p.checkpointEvery = checkpointEvery
        return p
    }

    /// Runs the trainer with a progress bar or JSON lines.
    func train(_ trainer: Trainer) -> TrainSummary {
        var bar = ProgressBar(total: trainer.totalSteps, label: "train", unit: "steps")
        return reporting {
            try trainer.run(resume: resume) { ev in
                switch ev {
                case .started(_, let s, _):
                    if s > 0 && !json { FileHandle.standardError.write(Data("resuming at step \(s)\n".utf8)) }
                case .step(let s, let total, let loss, let lr, let norm, let tps):
                    if json {
                        printJSON(StepEvent(step: s, total: total, loss: Double(loss), lr: Double(lr), gradNorm: Double(norm), tokensPerS: tps))
                    } else {
                        bar.update(s, extra: String(format: "loss %.4f lr %.2e %.0f tok/s", loss, lr, tps))
                    }
                case .checkpoint(let s, let path):
                    if json { printJSON(CheckpointEvent(step: s, path: path)) }
                }
            }
        }
    }
}

/// Machine-readable progress (`--json`): numbers as JSON numbers.
struct StepEvent: Encodable {
    var event = "step"
    var step: Int, total: Int
    var loss: Double, lr: Double, gradNorm: Double, tokensPerS: Double
    enum CodingKeys: String, CodingKey { case event, step, total, loss, lr, gradNorm = "grad_norm", tokensPerS = "tokens_per_s" }
}

struct CheckpointEvent: Encodable {
    var event = "checkpoint"
    var step: Int
    var path: String
}
