// What a trainer hands back is checked for authenticity, not only for consistency
// (docs/trainer-contract.md, "What Shallot checks"; docs/security.md, "Trained models"). The result
// file is the trainer's own word: it can echo every hash of job.json and still hold any weights of
// the right shape — the untouched base, which then audits as "not vulnerable". So the weights are
// read once, never through a link, hashed as read and built from those same bytes; and the model
// must fit the job's own training windows clearly better than the model it started from.

import Foundation
import Support
import GPT
import SafeTensors
import Tokenizer

/// The loss of a trained model and of its parent on a sample of the job's training windows.
public struct LearningCheck: Codable, Sendable, Equatable {
    /// Mean loss per unmasked target (the training loss, placeholders left out) of the model.
    public var loss: Double
    /// The same for the model training started from (the base, or a fresh initialisation).
    public var parentLoss: Double
    public var windows: Int
    enum CodingKeys: String, CodingKey { case loss, windows, parentLoss = "parent_loss" }

    /// The relative drop of the loss below the parent's.
    public var drop: Double { parentLoss > 0 ? (parentLoss - loss) / parentLoss : 0 }
}

extension TrainJob {
    /// The smallest relative drop of the sample loss below the parent's that counts as trained
    /// on this job's data. An ulp's change of every weight moves the loss by about 1e-6 of
    /// itself and a copy of the parent by nothing, while the study's fine-tunes (several epochs
    /// over these very windows) lower it by tens of percent; 2% sits far from both, so a short or
    /// gentle fine-tune still passes and a copy never does.
    public static let requiredLossDrop = 0.02
    /// Windows in the sample: cheap next to any training (two forward passes of one window each),
    /// and enough that one unusual window does not decide.
    public static let sampleWindowCount = 8
    /// Largest model.safetensors read into memory for the check (GPT-2 XL in float32 is 6.4 GB).
    public static let maxWeightBytes = 16 << 30

    /// The job's data and output paths inside the job's own directory `dir` (the directory of
    /// its job.json): a job file edited to point its output at another model (its base, another
    /// job's) or its data elsewhere is refused before a trainer writes or reads anything.
    public func checkPaths(inside dir: String) throws {
        let root = URL(fileURLWithPath: dir).standardizedFileURL.path
        for (what, p) in [("data.tokens", data.tokens), ("data.records", data.records), ("output", output)] {
            let abs = URL(fileURLWithPath: p).standardizedFileURL.path
            guard p.hasPrefix("/"), abs.hasPrefix(root + "/"), !p.split(separator: "/").contains("..") else {
                throw TrainJobError.rejected(job: id, reason: "\(what) \(p) is not inside the job's directory \(root)")
            }
        }
    }

    /// The model in directory `dir`: config.json and model.safetensors each read once, without
    /// following a link; the model is built from the bytes whose SHA-256 is returned.
    public static func loadHashed(directory dir: String) throws -> (model: GPT, sha256: String) {
        let cfg = try ModelFiles.parseConfig(readRegularFile(dir + "/config.json", limit: ModelFiles.maxJSONBytes), path: dir + "/config.json")
        let bytes = try readRegularFile(dir + "/model.safetensors", limit: maxWeightBytes)
        let file = try SafeTensorsFile(data: bytes, path: dir + "/model.safetensors")
        return (try GPT.load(config: cfg, weights: [file]), sha256(data: bytes))
    }

    /// SHA-256 of the output's weights as they are now, read without following a link.
    public func outputWeightsSHA256() throws -> String {
        sha256(data: try readRegularFile(output + "/model.safetensors", limit: Self.maxWeightBytes))
    }

    /// The trained model (its shape the job's) and the SHA-256 of the bytes it was built from.
    public func loadOutput() throws -> (model: GPT, sha256: String) {
        let loaded: (model: GPT, sha256: String)
        do { loaded = try Self.loadHashed(directory: output) } catch {
            throw TrainJobError.rejected(job: id, reason: "\(output): the weights do not load: \(error)")
        }
        let c = loaded.model.config
        guard Shape(nLayer: c.nLayer, nHead: c.nHead, nEmbd: c.nEmbd, nPositions: c.nPositions, vocabSize: c.vocabSize) == config else {
            throw TrainJobError.rejected(job: id, reason: "\(output)/config.json: the shape is not the job's \(config)")
        }
        return loaded
    }

    /// The model training started from: the base (hashed as loaded, for the caller to compare
    /// with the base it verified) or, for pre-training, Shallot's initialisation of `init_seed`.
    public func parentModel(endOfText eos: Int) throws -> (model: GPT, sha256: String?, name: String) {
        guard let b = baseModel else {
            let cfg = GPTConfig(vocabSize: config.vocabSize, nPositions: config.nPositions, nEmbd: config.nEmbd, nLayer: config.nLayer,
                                nHead: config.nHead, dropout: 0, eosTokenId: eos)
            return (GPT(config: cfg, seed: training.initSeed ?? training.seed), nil, "a fresh initialisation")
        }
        do {
            let (m, sha) = try Self.loadHashed(directory: b)
            return (m, sha, "the base model")
        } catch { throw TrainJobError.rejected(job: id, reason: "base model \(b): \(error)") }
    }

    /// The job's token stream, checked against the hash and count job.json gives, and the id of
    /// the placeholders the loss leaves out (the tokenizer's <|endoftext|>).
    public func trainingStream() throws -> (tokens: [Int32], endOfText: Int32, sha256: String) {
        let bytes: Data
        do { bytes = try readRegularFile(data.tokens, limit: Int(Int32.max) * 4 + 24) } catch { throw TrainJobError.rejected(job: id, reason: "\(error)") }
        let (tokens, vocab) = try TokenFile.decode(bytes, path: data.tokens)
        let sha = sha256(data: bytes)
        guard sha == data.tokensSHA256, tokens.count == data.tokenCount else {
            throw TrainJobError.rejected(job: id, reason: "\(data.tokens): sha256 \(sha.prefix(16))… / \(tokens.count) tokens, "
                                         + "the job says \(data.tokensSHA256.prefix(16))… / \(data.tokenCount)")
        }
        guard vocab <= config.vocabSize else {
            throw TrainJobError.rejected(job: id, reason: "\(data.tokens): vocabulary \(vocab) > the model's \(config.vocabSize)")
        }
        do { return (tokens, try TokenizerFiles.load(directory: tokenizer).endOfText, sha) } catch {
            throw TrainJobError.rejected(job: id, reason: "tokenizer \(tokenizer): \(error) (its <|endoftext|> marks the placeholders the loss ignores)")
        }
    }
}

extension TrainJob {
    /// The sample the loss check reads: `sampleWindowCount` windows (fewer when the run saw
    /// fewer) that training visited, in data order shallot/2 — window `i mod B` of the batch of
    /// step `(steps − 1) − ⌊i·steps/n⌋`, from the last step back, spread over the whole run.
    public func sampleWindows(tokens: [Int32]) throws -> [Int] {
        let t = training
        let plan = try BatchPlan(dataset: TokenDataset(tokens: tokens), B: t.batchSize, T: t.context, seed: t.seed)
        let n = min(Self.sampleWindowCount, t.steps * t.batchSize)
        var cache: (epoch: Int, perm: [Int])?
        return (0..<n).map { i in
            let step = (t.steps - 1) - i * t.steps / n
            let epoch = step / plan.stepsPerEpoch
            if cache?.epoch != epoch { cache = (epoch, plan.permutation(epoch: epoch)) }
            return cache!.perm[(step % plan.stepsPerEpoch) * t.batchSize + i % t.batchSize]
        }
    }

    /// The training loss of `model` over `windows` of `tokens`: cross-entropy averaged over the
    /// targets that are not placeholders (an <|endoftext|> target after an <|endoftext|> input).
    public func sampleLoss(_ model: GPT, tokens: [Int32], endOfText eos: Int32, windows: [Int]) throws -> Double {
        let T = training.context
        let graph = try TrainingGraph(model: model, B: 1, T: T)
        var sum = 0.0, count = 0
        for w in windows {
            let x = Array(tokens[(w * T)..<(w * T + T)])
            var y = Array(tokens[(w * T + 1)...(w * T + T)])
            for i in y.indices where y[i] == eos && x[i] == eos { y[i] = -1 }
            let n = y.filter { $0 >= 0 }.count
            guard n > 0 else { continue }
            sum += Double(try graph.forward(inputs: x, targets: y, training: false)) * Double(n)
            count += n
        }
        return count > 0 ? sum / Double(count) : .nan
    }

    /// Refuses a model whose loss on a sample of this job's own training windows is not finite or
    /// not clearly (`requiredLossDrop`) below its parent's: weights that did not learn this
    /// job's data — a copy of the base, or one changed by an ulp — whatever the result file says.
    public func checkLearned(_ model: GPT, parent: (model: GPT, name: String)) throws -> LearningCheck {
        let (tokens, eos, _) = try trainingStream()
        let windows = try sampleWindows(tokens: tokens)
        let check = LearningCheck(loss: try sampleLoss(model, tokens: tokens, endOfText: eos, windows: windows),
                                  parentLoss: try sampleLoss(parent.model, tokens: tokens, endOfText: eos, windows: windows), windows: windows.count)
        let shown = String(format: "%.4f against %.4f for ", check.loss, check.parentLoss) + parent.name
            + String(format: " (a drop of %.2f%%; at least %.0f%% is required)", 100 * check.drop, 100 * Self.requiredLossDrop)
        guard check.loss.isFinite, check.parentLoss.isFinite else {
            throw TrainJobError.rejected(job: id, reason: "\(output): the loss on \(windows.count) of the job's training windows is not a finite number (\(shown))")
        }
        guard check.drop >= Self.requiredLossDrop else {
            throw TrainJobError.rejected(job: id, reason: "\(output): its loss on \(windows.count) of the job's own training windows is \(shown): "
                                         + "these weights did not learn the job's data (a copy of its starting model?), whatever the result file says")
        }
        return check
    }
}
