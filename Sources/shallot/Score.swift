import ArgumentParser
import Foundation
import GPT
import Kernels
import Tokenizer
import Training

struct Score: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Per-record token count and mean loss under a model (optionally every token's log-probability).",
        discussion: """
        Records are tokenised without adding a BOS token, as HF: a record of n tokens gives n−1
        log-probabilities. Records longer than the model's context are cut to it ("truncated": true).
        """)

    @Option(help: "Model directory (HF layout).") var model: String
    @Option(help: "Records (.jsonl with \"text\" and optional \"id\", or a plain-text file).") var data: String
    @Flag(help: "Include each next-token log-probability.") var tokens = false
    @Option(help: "Tokens per forward batch.") var batchTokens = 2048
    @Flag(help: "One JSON line per record: {id, tokens, loss, logprobs}.") var json = false

    func run() throws {
        let m = reporting { try GPT.load(directory: model) }
        let tok = reporting { try TokenizerFiles.load(directory: model) }
        let records = reporting { try RecordReader.read(path: data) }
        let maxT = m.config.nPositions
        let seqs = records.map { Array(tok.encode($0.text).prefix(maxT)) }
        var bar = ProgressBar(total: records.count, label: "score", unit: "records")
        let scores = reporting { try Scorer(model: m, batchTokens: batchTokens).score(seqs) { bar.update($0) } }
        struct Row: Encodable { let id: String; let tokens: Int; let loss: Float; let logprobs: [Float]?; let truncated: Bool? }
        if !json { print("id\ttokens\tloss") }
        for (i, r) in records.enumerated() {
            let truncated = tok.encode(r.text).count > maxT
            if json {
                printJSON(Row(id: r.id, tokens: seqs[i].count, loss: scores[i].loss, logprobs: tokens ? scores[i].logprobs : nil, truncated: truncated ? true : nil))
            } else {
                var line = "\(r.id)\t\(seqs[i].count)\t\(String(format: "%.4f", scores[i].loss))"
                if tokens { line += "\t" + scores[i].logprobs.map { String(format: "%.4f", $0) }.joined(separator: " ") }
                print(line)
            }
        }
    }
}
