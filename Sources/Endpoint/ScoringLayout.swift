// How a server is asked for a prompt's token log-probabilities, and how its answer is read.
// Servers differ, and a wrong reading gives plausible numbers that mean nothing:
//   vLLM, `shallot serve`: `echo: true, logprobs: 1, max_tokens: 0` echoes log p(x_t | x_<t) for
//     every prompt token after the first (null for the first).
//   llama-cpp-python's server: `max_tokens: 0` means "up to the context", not "none" (and can
//     abort the server when it reaches a GPT-2's last position); and unless
//     the prompt starts with the model's BOS token (which it then strips from the echo), each
//     echoed value is the token's log-probability under the distribution *after* it — one
//     position off (abetlen/llama-cpp-python#1983). GPT-2's BOS is <|endoftext|>.
// So no convention is trusted: the probe asks the server for its greedy next token after a
// sample and that token's log-probability (a plain generation), then echoes sample + token and
// keeps the first layout whose value for that token agrees.

import Foundation
import Tokenizer

struct ScoringLayout: Sendable, Equatable {
    /// Prepend <|endoftext|> to every scored sequence (the server aligns its echo only after a BOS).
    var prefix: Bool
    /// The server echoes the prefix as an entry of its own (else it strips it, as llama-cpp-python).
    var prefixEchoed: Bool
    /// `max_tokens` of a scoring request (0 where the server takes 0 as "generate nothing").
    var maxTokens: Int
    /// Tokens the server adds to a text prompt by itself (a BOS), from `usage.prompt_tokens`.
    var serverExtraTokens: Int
    var endOfText: Int32

    var fields: [String: Any] { ["max_tokens": maxTokens, "echo": true, "logprobs": 1, "temperature": 0] }

    var summary: String {
        "echo, logprobs 1, max_tokens \(maxTokens)" + (prefix ? ", after a leading <|endoftext|>" + (prefixEchoed ? " (echoed)" : " (stripped by the server)") : "")
    }

    func prompt(_ ids: [Int32], _ tok: any TextTokenizer, asText: Bool) async throws -> Any {
        if asText {
            let text = try await OpenAICompletionsModel.detokenize(tok, ids)
            return (prefix ? "<|endoftext|>" : "") + text
        }
        return ((prefix ? [endOfText] : []) + ids).map(Int.init)
    }

    /// log p(x_t | x_<t), t = 1..<n, from the echoed `token_logprobs` of an n-token prompt. A null
    /// where a value is needed is an error naming the position, never a −∞ score.
    func values(_ lp: [Double?], promptTokens n: Int) throws -> [Float] {
        let lead = prefix && prefixEchoed ? 1 : 0
        guard n >= 1, lp.count >= lead + n else {
            throw EndpointError("the server returned \(lp.count) log-probabilities for a \(n)-token prompt")
        }
        return try (lead + 1 ..< lead + n).map { i in
            guard let v = lp[i] else {
                throw EndpointError("the server returned no log-probability (null) for prompt token \(i - lead) of \(n)")
            }
            return Float(v)
        }
    }

    /// Finds a layout whose echoed log-probabilities agree with the server's own log-probability
    /// of a generated token; nil (with what was seen) when none does.
    static func probe(_ http: HTTPTransport, _ s: EndpointSettings, tokenizer tok: any TextTokenizer, sample: [Int32], text: String,
                      asText: Bool) async throws -> (layout: ScoringLayout?, note: String) {
        var notes: [String] = []
        let eot = tok.endOfText
        for prefix in [false, true] {
            let p = prefix ? 1 : 0
            let lead = prefix ? "after a leading <|endoftext|>" : "as is"
            // 1. Greedy next tokens and their log-probabilities, from plain generations after three
            //    cuts of the sample. Every one must be matched by the echo: one check can pass a
            //    shifted echo by chance (measured: -1.167 shifted vs -1.117 true on a GPT-2).
            struct Check { var ids: [Int32]; var text: String; var next: [Int32]; var nextText: String; var expected: Double }
            var checks: [Check] = [], extra = 0, refused = false
            for cut in Set([sample.count, sample.count * 3 / 4, sample.count / 2]).sorted(by: >) where cut >= 2 {
                let ids = Array(sample.prefix(cut))
                let t0 = cut == sample.count ? text : try await OpenAICompletionsModel.detokenize(tok, ids)
                let genPrompt: Any = asText ? (prefix ? "<|endoftext|>" : "") + t0 : ((prefix ? [eot] : []) + ids).map(Int.init)
                let g = try await OpenAICompletionsModel.complete(http, s, prompt: genPrompt, fields: ["max_tokens": 1, "temperature": 0, "logprobs": 1])
                guard (200..<300).contains(g.status) else { refused = true; notes.append("\(lead): a generation with logprobs was refused (HTTP \(g.status))"); break }
                if cut == sample.count {
                    extra = asText ? max(0, (OpenAICompletionsModel.usage(g)?.prompt ?? sample.count + p) - sample.count - p) : 0
                }
                guard let gl = try OpenAICompletionsModel.tokenLogprobs(g, s)?.first ?? nil, let t = Self.text(g), !t.isEmpty else { continue }
                // one token asked for: a longer text is cut to what one token can hold before it is tokenised
                let gids = try await OpenAICompletionsModel.tokenize(tok, OpenAICompletionsModel.prefix(t, bytes: s.tokenBytes))
                if gids.count == 1 { checks.append(Check(ids: ids, text: t0, next: gids, nextText: t, expected: gl)) }
            }
            if refused { continue }
            // 2. Echo each cut + its token; the token's echoed value must equal its generation's.
            var zeroGenerates = false
            // max_tokens 0 only with token-id prompts (vLLM, `shallot serve`): llama-cpp-python (text
            // only) reads 0 as "up to the context", and generating into a GPT-2's last position
            // aborts its process (GGML_ASSERT in get_rows, measured with 0.3.36).
            for mt in asText ? [1] : [0, 1] where !(mt == 0 && zeroGenerates) {
                layouts: for echoed in prefix ? [false, true] : [false] {
                    let layout = ScoringLayout(prefix: prefix, prefixEchoed: echoed, maxTokens: mt, serverExtraTokens: extra, endOfText: eot)
                    let targets = checks.isEmpty ? [Check(ids: sample, text: text, next: [], nextText: "", expected: .nan)] : checks
                    var agreed: [String] = []
                    for c in targets {
                        let n = c.ids.count + c.next.count
                        let echoPrompt: Any = asText ? (prefix ? "<|endoftext|>" : "") + c.text + c.nextText : ((prefix ? [eot] : []) + c.ids + c.next).map(Int.init)
                        let r: HTTPAnswer
                        do {
                            r = try await OpenAICompletionsModel.complete(http, s, prompt: echoPrompt, fields: layout.fields)
                        } catch let e as EndpointError where e.tooLong && mt == 0 {
                            // more than the echo can hold: the server generated up to its context
                            notes.append("max_tokens 0 was answered with more than the prompt's echo (the server reads 0 as no limit)")
                            zeroGenerates = true
                            break layouts
                        }
                        guard (200..<300).contains(r.status), let lp = try OpenAICompletionsModel.tokenLogprobs(r, s) else {
                            notes.append("\(lead), max_tokens \(mt): no prompt log-probabilities (HTTP \(r.status))"); continue layouts
                        }
                        if mt == 0, let k = OpenAICompletionsModel.usage(r)?.completion, k > 0 {
                            notes.append("max_tokens 0 generated \(k) tokens (the server reads 0 as no limit)"); zeroGenerates = true; break layouts
                        }
                        guard let vals = try? layout.values(lp, promptTokens: n), let last = vals.last else {
                            notes.append("\(lead), max_tokens \(mt): \(lp.count) log-probabilities (some null) for \(n) prompt tokens"); continue layouts
                        }
                        if checks.isEmpty {
                            return (layout, (notes + ["unverified: the server generated no single token to check its echoed log-probabilities against"]).joined(separator: "; "))
                        }
                        guard abs(Double(last) - c.expected) <= 0.02 + 0.01 * abs(c.expected) else {
                            notes.append(String(format: "%@, max_tokens %d: the echoed log-probability of a generated token (%.4f) disagrees with its generation log-probability (%.4f): shifted by a position?",
                                                lead, mt, last, c.expected))
                            continue layouts
                        }
                        agreed.append(String(format: "%.4f = %.4f", last, c.expected))
                    }
                    let weak = checks.allSatisfy { abs($0.expected) < 0.3 }
                    let agree = "echoed log-probabilities of \(agreed.count) generated tokens = their generation log-probabilities (\(agreed.joined(separator: ", ")))"
                        + (weak ? " (a weak check: every token was near-certain)" : "") + (prefix ? "; scores are conditioned on a leading <|endoftext|>" : "")
                    return (layout, (notes + [agree]).joined(separator: "; "))
                }
            }
        }
        return (nil, (notes.isEmpty ? ["the server returned no prompt log-probabilities for echo + logprobs"] : notes).joined(separator: "; "))
    }

    static func text(_ r: HTTPAnswer) -> String? {
        guard let c = (r.object?["choices"] as? [[String: Any]])?.first else { return nil }
        return c["text"] as? String
    }
}
