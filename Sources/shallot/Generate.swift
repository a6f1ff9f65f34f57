import ArgumentParser
import Foundation
import GPT
import Kernels
import Tokenizer

struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Generate text from a model directory.")

    @Option(help: "Model directory (HF layout).") var model: String
    @Option(help: "Prompt text (empty: start from <|endoftext|>).") var prompt: String = ""
    @Option(help: "Maximum new tokens.") var maxNew = 64
    @Option(help: "Sampling temperature (0 = greedy).") var temperature: Float = 1.0
    @Option(help: "Keep the k most likely tokens (0 = all).") var topK = 0
    @Option(help: "Nucleus sampling threshold (1 = off).") var topP: Float = 1.0
    @Option(help: "Random seed.") var seed: UInt64 = 0
    @Option(help: "Number of samples for the prompt (generated as one batch).") var num = 1
    @Flag(help: "Greedy decoding (same as --temperature 0).") var greedy = false
    @Flag(help: "Keep generating after <|endoftext|>.") var ignoreEos = false
    @Flag(help: "Print one JSON object per sample.") var json = false

    func run() throws {
        guard num >= 1, maxNew >= 0 else { throw ValidationError("--num must be ≥ 1 and --max-new ≥ 0") }
        guard temperature >= 0, topK >= 0, topP > 0, topP <= 1 else { throw ValidationError("need --temperature ≥ 0, --top-k ≥ 0, 0 < --top-p ≤ 1") }
        let m = reporting { try GPT.load(directory: model) }
        let tok = reporting { try TokenizerFiles.load(directory: model) }
        var ids = tok.encode(prompt)
        if ids.isEmpty { ids = [tok.endOfText] }
        let p = SamplingParameters(maxNewTokens: maxNew, temperature: greedy ? 0 : temperature, topK: topK, topP: topP,
                                   seed: seed, stopAtEndOfText: !ignoreEos)
        let outs = reporting { try Generator(model: m).generate(prompts: Array(repeating: ids, count: num), p, endOfText: tok.endOfText) }
        for (i, o) in outs.enumerated() {
            let text = reporting { try tok.decode(o) }
            if json {
                struct Out: Encodable { let sample: Int; let prompt: String; let text: String; let tokens: [Int32]; let seed: UInt64 }
                printJSON(Out(sample: i, prompt: prompt, text: text, tokens: o, seed: seed))
            } else {
                if num > 1 { print("--- sample \(i)") }
                print(prompt + text)
            }
        }
    }
}
