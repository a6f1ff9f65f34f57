// The training-job contract (docs/trainer-contract.md): what Shallot hands a trainer — a job
// file, the packed token stream, the records — and what it expects back — a Hugging Face GPT-2
// directory and a result file. `BuiltinTrainer` is Shallot's own trainer for these files (the
// `shallot study-job` subcommand and the study's local backend), so a local study and one run by
// an external command differ only in who trains.

import Foundation
import Support
import GPT
import Kernels
import SafeTensors
import Tokenizer

/// One training job: `OUT/jobs/<id>/job.json`, schema `shallot.train-job/1`.
public struct TrainJob: Codable, Sendable, Equatable {
    public struct Shape: Codable, Sendable, Equatable {
        public var nLayer, nHead, nEmbd, nPositions, vocabSize: Int
        enum CodingKeys: String, CodingKey { case nLayer = "n_layer", nHead = "n_head", nEmbd = "n_embd", nPositions = "n_positions", vocabSize = "vocab_size" }
        public init(nLayer: Int, nHead: Int, nEmbd: Int, nPositions: Int, vocabSize: Int) {
            self.nLayer = nLayer; self.nHead = nHead; self.nEmbd = nEmbd; self.nPositions = nPositions; self.vocabSize = vocabSize
        }
    }
    public struct DataFiles: Codable, Sendable, Equatable {
        public var tokens: String, tokensSHA256: String, tokenCount: Int, records: String, recordsSHA256: String
        enum CodingKeys: String, CodingKey {
            case tokens, records, tokensSHA256 = "tokens_sha256", tokenCount = "token_count", recordsSHA256 = "records_sha256"
        }
        public init(tokens: String, tokensSHA256: String, tokenCount: Int, records: String, recordsSHA256: String) {
            self.tokens = tokens; self.tokensSHA256 = tokensSHA256; self.tokenCount = tokenCount; self.records = records; self.recordsSHA256 = recordsSHA256
        }
    }
    /// The resolved optimisation: every number a trainer needs, nothing left to defaults.
    public struct Training: Codable, Sendable, Equatable {
        public var seed: UInt64
        public var steps: Int
        public var batchSize: Int
        public var context: Int
        public var learningRate: Float
        public var warmupSteps: Int
        public var minLRFraction: Float
        public var beta1: Float, beta2: Float, eps: Float, weightDecay: Float
        public var gradClip: Float
        public var dataOrder = TrainJob.dataOrderName
        /// Pre-training only: the seed of Shallot's weight initialisation (another trainer
        /// initialises its own way and may ignore it). An addition to the contract: optional.
        public var initSeed: UInt64?
        enum CodingKeys: String, CodingKey {
            case seed, steps, context, eps
            case batchSize = "batch_size", learningRate = "learning_rate", warmupSteps = "warmup_steps", minLRFraction = "min_lr_fraction"
            case beta1, beta2, weightDecay = "weight_decay", gradClip = "grad_clip", dataOrder = "data_order", initSeed = "init_seed"
        }
    }
    public struct Budget: Codable, Sendable, Equatable {
        public var rule: String
        public var removedRecords: Int
        public var originalSteps: Int?
        enum CodingKeys: String, CodingKey { case rule, removedRecords = "removed_records", originalSteps = "original_steps" }
        public init(rule: String, removedRecords: Int, originalSteps: Int?) { self.rule = rule; self.removedRecords = removedRecords; self.originalSteps = originalSteps }
        public func encode(to e: Swift.Encoder) throws {
            var c = e.container(keyedBy: CodingKeys.self)
            try c.encode(rule, forKey: .rule); try c.encode(removedRecords, forKey: .removedRecords)
            try c.encode(originalSteps, forKey: .originalSteps)  // null, not absent
        }
    }

    public var schema = TrainJob.schemaName
    public var id: String
    public var kind: String
    public var baseModel: String?
    public var config: Shape
    public var tokenizer: String
    public var data: DataFiles
    public var training: Training
    public var budget: Budget
    public var output: String

    public static let schemaName = "shallot.train-job/1"
    /// Window order and loss mask (docs/trainer-contract.md): shallot/1's windows, and no loss on a
    /// target <|endoftext|> after an input <|endoftext|> (the placeholders of removed records).
    public static let dataOrderName = "shallot/2"
    enum CodingKeys: String, CodingKey { case schema, id, kind, config, tokenizer, data, training, budget, output, baseModel = "base_model" }

    public init(id: String, kind: String, baseModel: String?, config: Shape, tokenizer: String, data: DataFiles, training: Training, budget: Budget, output: String) {
        self.id = id; self.kind = kind; self.baseModel = baseModel; self.config = config; self.tokenizer = tokenizer
        self.data = data; self.training = training; self.budget = budget; self.output = output
    }

    public init(from d: Swift.Decoder) throws {
        let c = try d.container(keyedBy: CodingKeys.self)
        schema = try c.decode(String.self, forKey: .schema)
        id = try c.decode(String.self, forKey: .id); kind = try c.decode(String.self, forKey: .kind)
        baseModel = try c.decodeIfPresent(String.self, forKey: .baseModel)
        config = try c.decode(Shape.self, forKey: .config); tokenizer = try c.decode(String.self, forKey: .tokenizer)
        data = try c.decode(DataFiles.self, forKey: .data); training = try c.decode(Training.self, forKey: .training)
        budget = try c.decode(Budget.self, forKey: .budget); output = try c.decode(String.self, forKey: .output)
    }

    public func encode(to e: Swift.Encoder) throws {
        var c = e.container(keyedBy: CodingKeys.self)
        try c.encode(schema, forKey: .schema); try c.encode(id, forKey: .id); try c.encode(kind, forKey: .kind)
        try c.encode(baseModel, forKey: .baseModel)  // null for pre-training, not absent
        try c.encode(config, forKey: .config); try c.encode(tokenizer, forKey: .tokenizer); try c.encode(data, forKey: .data)
        try c.encode(training, forKey: .training); try c.encode(budget, forKey: .budget); try c.encode(output, forKey: .output)
    }

    /// Reads and checks a job file. `ownDirectory`: its data and output must lie in the directory
    /// of the file itself (`checkPaths`) — for a trainer about to write there; a caller that puts
    /// every path back in place itself (a study resuming in a moved directory) may pass false.
    public static func read(_ path: String, ownDirectory: Bool = true) throws -> TrainJob {
        guard let d = FileManager.default.contents(atPath: path) else { throw TrainJobError.unreadable(path, "cannot read the file") }
        let job: TrainJob
        do { job = try JSONDecoder().decode(TrainJob.self, from: d) } catch { throw TrainJobError.unreadable(path, "not a train job: \(error)") }
        guard job.schema == schemaName else { throw TrainJobError.unreadable(path, "schema \"\(job.schema)\", expected \"\(schemaName)\"") }
        guard ["finetune", "pretrain"].contains(job.kind) else { throw TrainJobError.unreadable(path, "kind \"\(job.kind)\" is neither finetune nor pretrain") }
        guard job.kind == "pretrain" || job.baseModel != nil else { throw TrainJobError.unreadable(path, "a finetune job needs base_model") }
        guard job.training.dataOrder == dataOrderName else {
            throw TrainJobError.unreadable(path, "data_order \"\(job.training.dataOrder)\" is not \(dataOrderName)"
                + (job.training.dataOrder == "shallot/1" ? " (shallot/1 trained on the filler; plan the job again)" : ""))
        }
        // The shape and the numbers before anything is allocated from them: the model config's
        // own limits, then the optimisation's.
        let c = job.config
        do { try GPTConfig(vocabSize: c.vocabSize, nPositions: c.nPositions, nEmbd: c.nEmbd, nLayer: c.nLayer, nHead: c.nHead, dropout: 0, eosTokenId: 0).validate(path: path) }
        catch { throw TrainJobError.unreadable(path, "config: \(error)") }
        let t = job.training
        guard t.steps >= 1, t.batchSize >= 1, t.warmupSteps >= 0, (2...c.nPositions).contains(t.context) else {
            throw TrainJobError.unreadable(path, "training: steps \(t.steps) and batch_size \(t.batchSize) must be ≥ 1, warmup_steps \(t.warmupSteps) ≥ 0, context \(t.context) in 2...\(c.nPositions)")
        }
        guard [t.learningRate, t.minLRFraction, t.beta1, t.beta2, t.eps, t.weightDecay, t.gradClip].allSatisfy(\.isFinite) else {
            throw TrainJobError.unreadable(path, "training: a learning rate, beta, eps, weight decay or clip is not a finite number")
        }
        if ownDirectory {
            let dir = URL(fileURLWithPath: path).deletingLastPathComponent().path
            do { try job.checkPaths(inside: dir) } catch { throw TrainJobError.unreadable(path, "\(error)") }
        }
        return job
    }

    /// The job as `TrainParameters` for Shallot's trainer (steps and warm-up as resolved).
    public var parameters: TrainParameters {
        var p = TrainParameters()
        p.batchSize = training.batchSize; p.context = training.context; p.steps = training.steps; p.learningRate = training.learningRate
        p.warmupSteps = training.warmupSteps; p.minLRFraction = training.minLRFraction
        p.adamw = AdamWParameters(beta1: training.beta1, beta2: training.beta2, eps: training.eps, weightDecay: training.weightDecay)
        p.gradClip = training.gradClip; p.seed = training.seed; p.checkpointEvery = 0
        return p
    }

    /// Steps and warm-up `params` resolve to on `tokenCount` tokens, as `Trainer` resolves them.
    public static func resolve(_ params: TrainParameters, tokenCount: Int) throws -> (steps: Int, warmup: Int) {
        let windows = max(0, (tokenCount - 1) / params.context)
        guard windows >= params.batchSize else { throw TrainingError.tooLittleData(path: "<job>", tokens: tokenCount, needed: params.batchSize * params.context + 1) }
        let steps = params.steps ?? max(1, Int((params.epochs * Double(windows / params.batchSize)).rounded()))
        return (steps, params.warmupSteps ?? min(100, steps / 10))
    }

    public static func training(_ p: TrainParameters, steps: Int, warmup: Int, initSeed: UInt64?) -> Training {
        Training(seed: p.seed, steps: steps, batchSize: p.batchSize, context: p.context, learningRate: p.learningRate, warmupSteps: warmup,
                 minLRFraction: p.minLRFraction, beta1: p.adamw.beta1, beta2: p.adamw.beta2, eps: p.adamw.eps, weightDecay: p.adamw.weightDecay,
                 gradClip: p.gradClip, initSeed: initSeed)
    }
}

/// `output/shallot-train-result.json`, schema `shallot.train-result/1`: what the trainer did.
public struct TrainResult: Codable, Sendable, Equatable {
    public var schema = "shallot.train-result/1"
    public var jobId: String
    public var tokensSHA256: String
    public var steps: Int
    public var finalLoss: Double
    public var trainer: String
    /// The data order the trainer applied (window order and loss mask): the job's, or the result
    /// is refused — a trainer that predates the placeholder mask would train on the placeholders.
    public var dataOrder: String?
    enum CodingKeys: String, CodingKey {
        case schema, steps, trainer, jobId = "job_id", tokensSHA256 = "tokens_sha256", finalLoss = "final_loss", dataOrder = "data_order"
    }
    public init(jobId: String, tokensSHA256: String, steps: Int, finalLoss: Double, trainer: String, dataOrder: String? = TrainJob.dataOrderName) {
        self.jobId = jobId; self.tokensSHA256 = tokensSHA256; self.steps = steps; self.finalLoss = finalLoss; self.trainer = trainer
        self.dataOrder = dataOrder
    }
    public static let fileName = "shallot-train-result.json"

    /// The result file in model directory `dir`.
    public static func read(_ dir: String) throws -> TrainResult {
        let p = dir + "/" + fileName
        guard let d = FileManager.default.contents(atPath: p) else { throw TrainJobError.unreadable(p, "no such file") }
        return try decode(d, path: p)
    }

    /// A result file's bytes `d` (read from `path`, which errors name).
    public static func decode(_ d: Data, path p: String) throws -> TrainResult {
        do { return try ResultsJSON.decoder().decode(TrainResult.self, from: d) } catch { throw TrainJobError.unreadable(p, "not a shallot.train-result/1 file: \(error)") }
    }
}

public enum TrainJobError: Error, CustomStringConvertible {
    case unreadable(String, String)
    case rejected(job: String, reason: String)
    public var description: String {
        switch self {
        case .unreadable(let p, let r): return "\(p): \(r)"
        case .rejected(let j, let r): return "job \(j): \(r)"
        }
    }
}

extension TrainJob {
    /// This job with `other`'s file locations (base model, tokenizer, data, output): equal to
    /// `other` when the two ask for the same work wherever their run directories are.
    public func located(like other: TrainJob) -> TrainJob {
        var j = self
        if baseModel != nil, other.baseModel != nil { j.baseModel = other.baseModel }  // a base on one side only stays a difference
        j.tokenizer = other.tokenizer; j.output = other.output
        j.data.tokens = other.data.tokens; j.data.records = other.data.records
        return j
    }

    /// Checks what a trainer left in `output` and loads it: the result file and the config's
    /// shape (`verifyFiles`), then the model built from the weights' bytes as read and hashed
    /// once (`loadOutput`). The authenticity check (`checkLearned`) is the caller's, which knows
    /// the parent. Returns the model, the result and the weights' SHA-256.
    public func verifyOutput() throws -> (model: GPT, result: TrainResult, weightsSHA256: String) {
        let r = try verifyFiles()
        let (model, sha) = try loadOutput()
        return (model, r, sha)
    }

    /// The checks that need no model: the output a directory of its own (not a link), the result
    /// file (this job's id, tokens, steps and data order, a finite loss), the config's shape.
    public func verifyFiles() throws -> TrainResult {
        var st = stat()
        guard lstat(output, &st) == 0, st.st_mode & S_IFMT == S_IFDIR else {
            throw TrainJobError.rejected(job: id, reason: "\(output): not a directory (a link in its place is refused: the output must be the job's own)")
        }
        let rp = output + "/" + TrainResult.fileName
        guard let d = FileManager.default.contents(atPath: rp) else { throw TrainJobError.rejected(job: id, reason: "\(rp): the trainer wrote no result file") }
        let r: TrainResult
        do { r = try TrainResult.decode(d, path: rp) } catch { throw TrainJobError.rejected(job: id, reason: "\(error)") }
        guard r.schema == "shallot.train-result/1" else { throw TrainJobError.rejected(job: id, reason: "\(rp): schema \"\(r.schema)\"") }
        guard r.jobId == id else { throw TrainJobError.rejected(job: id, reason: "\(rp): job_id \"\(r.jobId)\" is another job's") }
        guard r.tokensSHA256 == data.tokensSHA256 else {
            throw TrainJobError.rejected(job: id, reason: "\(rp): tokens_sha256 \(r.tokensSHA256.prefix(16))… is not the job's \(data.tokensSHA256.prefix(16))… (trained on other data)")
        }
        guard r.steps == training.steps else { throw TrainJobError.rejected(job: id, reason: "\(rp): \(r.steps) steps, the job asked for \(training.steps)") }
        guard r.finalLoss.isFinite else { throw TrainJobError.rejected(job: id, reason: "\(rp): final_loss \(r.finalLoss) is not a finite number") }
        guard r.dataOrder == training.dataOrder else {
            throw TrainJobError.rejected(job: id, reason: "\(rp): data_order \(r.dataOrder.map { "\"\($0)\"" } ?? "missing"), the job's is \"\(training.dataOrder)\" "
                                     + "(its loss mask leaves the removed records' placeholders out; docs/trainer-contract.md)")
        }
        let cfg: GPTConfig
        do { cfg = try ModelFiles.parseConfig(readRegularFile(output + "/config.json", limit: ModelFiles.maxJSONBytes), path: output + "/config.json") } catch {
            throw TrainJobError.rejected(job: id, reason: "\(error)")
        }
        let got = Shape(nLayer: cfg.nLayer, nHead: cfg.nHead, nEmbd: cfg.nEmbd, nPositions: cfg.nPositions, vocabSize: cfg.vocabSize)
        guard got == config else { throw TrainJobError.rejected(job: id, reason: "\(output)/config.json: shape \(got) is not the job's \(config)") }
        return r
    }
}

/// Shallot's trainer for job files: reads the job, trains with `Trainer`, writes the model and
/// the result. `progress` gets (step, total).
public enum BuiltinTrainer {
    public static func run(job: TrainJob, progress: ((Int, Int) -> Void)? = nil) throws -> TrainResult {
        let (tokens, eot, sha) = try job.trainingStream()
        let eos = Int(eot)
        let model: GPT
        if let b = job.baseModel {
            do { model = try GPT.load(directory: b) } catch { throw TrainJobError.rejected(job: job.id, reason: "base model \(b): \(error)") }
            let c = model.config
            guard TrainJob.Shape(nLayer: c.nLayer, nHead: c.nHead, nEmbd: c.nEmbd, nPositions: c.nPositions, vocabSize: c.vocabSize) == job.config else {
                throw TrainJobError.rejected(job: job.id, reason: "base model \(b) does not have the job's shape")
            }
        } else {
            let cfg = GPTConfig(vocabSize: job.config.vocabSize, nPositions: job.config.nPositions, nEmbd: job.config.nEmbd, nLayer: job.config.nLayer,
                                nHead: job.config.nHead, dropout: 0, eosTokenId: eos)
            model = GPT(config: cfg, seed: job.training.initSeed ?? job.training.seed)
        }
        let t = try Trainer(model: model, data: TokenDataset(tokens: tokens, fileSHA256: sha, path: job.data.tokens,
                                                                   endOfText: Int32(eos)), params: job.parameters, checkpointPath: nil)
        guard t.totalSteps == job.training.steps else { throw TrainJobError.rejected(job: job.id, reason: "steps \(job.training.steps) but the data gives \(t.totalSteps)") }
        let summary = try t.run(resume: false) { ev in
            if case .step(let s, let total, _, _, _, _) = ev { progress?(s, total) }
        }
        // A half-written output must never pass as finished: the result file goes last.
        try? FileManager.default.removeItem(atPath: job.output + "/" + TrainResult.fileName)
        try model.save(directory: job.output)
        // Copied owner-only (copyItem kept the source's mode, 0644 for a tokenizer from elsewhere).
        for f in ["vocab.json", "merges.txt"] {
            if let d = FileManager.default.contents(atPath: job.tokenizer + "/" + f) { try PrivateFile.write(d, to: job.output + "/" + f) }
        }
        let r = TrainResult(jobId: job.id, tokensSHA256: sha, steps: summary.steps, finalLoss: Double(summary.finalLoss), trainer: "shallot \(shallotVersion)")
        try PrivateFile.write(ResultsJSON.encoder(pretty: true).encode(r), to: job.output + "/" + TrainResult.fileName)
        return r
    }
}
