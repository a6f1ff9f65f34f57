// The attacks' `LanguageModel` over an OpenAI-compatible completions API (vLLM, llama.cpp's
// server, TGI's OpenAI layer, `shallot serve`): `POST {base}/completions`, where base is what
// OpenAI clients take (`http://host:8000/v1`).
//   generate: one request per prompt, `temperature: 0` for greedy, `seed` per sample
//   score:    `echo: true, logprobs: 1, max_tokens: 0` (1 where 0 is refused or generates),
//             after a leading <|endoftext|> where the server's echo is aligned only then — the
//             layout the probe verified (ScoringLayout.swift); servers that return no usable
//             prompt log-probabilities cannot score, and the attacks that need scores report
//             themselves unavailable
//   prompts:  token-id arrays where the server takes them (vLLM), else text (llama-cpp-python);
//             in text mode the server's `usage.prompt_tokens` is checked against the audit's
//             count and each mismatch counted and logged
//   tokens:   the server's `/tokenize` and `/detokenize` (at the root, beside /v1; or
//             llama-cpp-python's `/extras/…`), or local tokenizer files the user names
// Many requests run in flight; each call of the protocol blocks until all of its are done.

import Audit
import Foundation
import GPT
import Support
import Tokenizer

public struct EndpointSettings: Sendable {
    /// The API base, e.g. `http://127.0.0.1:8000/v1`.
    public var baseURL: String
    public var servedModel: String
    /// Sent as a bearer token; never logged or written anywhere.
    public var apiKey: String?
    public var concurrency = 32
    public var maxRetries = 6
    /// First retry delay in seconds (doubled each attempt, ±25% jitter, at most 30 s).
    public var retryBaseDelay = 0.5
    /// Seconds without a byte from the server before an attempt is given up (and retried).
    public var timeoutSeconds = 300
    /// Seconds one request may take in all — every attempt, retry and wait — however the server
    /// paces its answer (one that drips a byte at a time never hits `timeoutSeconds`).
    public var deadlineSeconds: Double = 600
    /// JSON-lines log of every HTTP attempt (ids, sizes, status, latency; bodies only with `revealPII`).
    public var requestLog: String?
    public var revealPII = false
    /// Local tokenizer files matching the served model (without them: the server's /tokenize).
    public var tokenizer: (any TextTokenizer)?
    /// Overrides what the server reports (`max_model_len`, `n_ctx_train`).
    public var contextLength: Int?
    /// (done, total) requests of the current call.
    public var onProgress: (@Sendable (Int, Int) -> Void)?
    /// Run before every request attempt; what it throws ends the request unsent. A study sets it
    /// to its server's `ModelServerProcess.checkListener`, so that a port rebound by another
    /// process after the server died is never sent the key or a prompt.
    public var beforeEachAttempt: (@Sendable () throws -> Void)?
    /// Where warnings go (default: standard error, as `warning: …`).
    public var warn: @Sendable (String) -> Void = { FileHandle.standardError.write(Data("warning: \($0)\n".utf8)) }
    /// The most bytes one token's text can hold: the local tokenizer's longest token, else 1 KiB
    /// (set by the model). Generated text beyond `max_tokens` × this is cut before it is tokenised.
    var tokenBytes = 1024

    public init(baseURL: String, servedModel: String) { self.baseURL = baseURL; self.servedModel = servedModel }

    /// The base URL as it may be shown and stored: without a `user:password@`.
    public var displayURL: String { EndpointURL.redacted(baseURL) }

    /// The server root (the base without its trailing `/v1`), where /tokenize lives.
    var root: String {
        var b = baseURL
        while b.hasSuffix("/") { b.removeLast() }
        if b.hasSuffix("/v1") { b.removeLast(3) }
        return b
    }
    var base: String {
        var b = baseURL
        while b.hasSuffix("/") { b.removeLast() }
        return b
    }
}

public final class OpenAICompletionsModel: LanguageModel, @unchecked Sendable {
    public let settings: EndpointSettings
    public let tokenizer: any TextTokenizer
    public let contextLength: Int
    public let capabilities: ModelCapabilities
    /// What the server said about the model (its `/v1/models` entry, as JSON) and what the probe
    /// found: `prompt_format` (token_ids | text), `prompt_logprobs` (yes | no) and why not.
    public let modelEntry: String
    public let probe: [String: String]
    let http: HTTPTransport
    let promptsAsText: Bool
    /// How scoring requests are made and read (nil: the server gives no usable prompt log-probabilities).
    let layout: ScoringLayout?
    private let mismatchLock = NSLock()
    private var _mismatches = 0

    /// Asks the server about the model and probes what it supports (a few small requests).
    public init(_ settings: EndpointSettings) throws {
        if let w = EndpointURL.plaintextWarning(settings.baseURL) { settings.warn(w) }   // before the first byte is sent
        http = try HTTPTransport(concurrency: settings.concurrency, apiKey: settings.apiKey, logPath: settings.requestLog,
                                 revealBodies: settings.revealPII, maxRetries: settings.maxRetries, retryBaseDelay: settings.retryBaseDelay,
                                 timeoutSeconds: settings.timeoutSeconds, deadlineSeconds: settings.deadlineSeconds,
                                 beforeEachAttempt: settings.beforeEachAttempt)
        let http = self.http
        var s = settings
        // The model entry.
        let (entry, ctx) = try blocking { [s] in try await Self.modelEntry(http, s) }
        modelEntry = entry
        let ctxLen = try settings.contextLength ?? Self.believedContext(ctx, settings)
        // What bounds the answers from here on: the context and the longest token.
        s.contextLength = ctxLen
        if let t = settings.tokenizer, t.vocabSize > 0 { s.tokenBytes = Self.longestToken(t) }
        self.settings = s
        // The tokenizer.
        let tok: any TextTokenizer = try settings.tokenizer ?? ServerTokenizer(http: http, settings: s)
        tokenizer = tok
        var probe: [String: String] = ["tokenizer": settings.tokenizer == nil ? "server /tokenize" : "local files"]
        let sample = tok.encode("Hello, this is a short test of the server.")
        if let st = tok as? ServerTokenizer, let f = st.failure { throw EndpointError("tokenizing through \(s.displayRoot)/tokenize failed: \(f)") }
        guard sample.count >= 2 else { throw EndpointError("the tokenizer returned \(sample.count) tokens for a sentence") }
        // Prompt format: token ids where accepted, else text.
        let asText = try blocking { [s] () -> Bool in
            // not retried: llama-cpp-python answers a token-id prompt with 500 (its validation error)
            let ids = try await Self.complete(http, s, prompt: sample.map(Int.init), fields: ["max_tokens": 1, "temperature": 0], retry: false)
            if (200..<300).contains(ids.status) { return false }
            let text = try await Self.complete(http, s, prompt: "Hello, this is a short test of the server.", fields: ["max_tokens": 1, "temperature": 0])
            if (200..<300).contains(text.status) { return true }
            throw EndpointError("the server refused a completion request (HTTP \(text.status))", status: text.status)
        }
        promptsAsText = asText
        probe["prompt_format"] = asText ? "text" : "token_ids"
        // Prompt log-probabilities: which request layout returns log p(x_t | x_<t) (see ScoringLayout.probe).
        let found = try blocking { [s] in try await ScoringLayout.probe(http, s, tokenizer: tok, sample: sample, text: "Hello, this is a short test of the server.", asText: asText) }
        layout = found.layout
        probe["prompt_logprobs"] = found.layout == nil ? "no" : "yes"
        probe["prompt_logprobs_note"] = found.note
        if let l = found.layout { probe["prompt_logprobs_request"] = l.summary }
        // Scored sequences carry the layout's leading token and generated token: the audit gets what is left.
        let overhead = found.layout.map { ($0.prefix ? 1 : 0) + $0.maxTokens } ?? 0
        contextLength = ctxLen - overhead
        if overhead > 0 { probe["context_length_note"] = "\(ctxLen - overhead) of \(ctxLen) positions: scoring requests add \(overhead) token(s) (leading <|endoftext|>, generated token)" }
        self.probe = probe
        capabilities = ModelCapabilities(promptLogprobs: found.layout != nil, distribution: false)
    }

    /// The most positions a server's own report of its context is taken for: 2^20 tokens, beyond
    /// the longest contexts served today. What a server says is not evidence (a hostile one can
    /// report max_model_len 1e9); --context-length, the user's word, is not clamped.
    static let maxReportedContext = 1 << 20

    /// The context length the server reports, clamped to `maxReportedContext` (with a warning);
    /// none, or one too small to hold a token and its successor, is an error.
    static func believedContext(_ reported: Int?, _ s: EndpointSettings) throws -> Int {
        guard let reported else {
            throw EndpointError("the server does not report \(s.servedModel)'s context length; give it (--context-length)")
        }
        guard reported >= 2 else {
            throw EndpointError("the server reports a context length of \(reported) for \(s.servedModel); give the right one (--context-length)")
        }
        if reported > maxReportedContext {
            s.warn("the server reports a context length of \(reported) tokens for \(s.servedModel); using \(maxReportedContext) "
                   + "(give --context-length to set it)")
        }
        return min(reported, maxReportedContext)
    }

    /// The bytes of the longest token (a generation of n tokens holds at most n × this).
    static func longestToken(_ t: any TextTokenizer) -> Int {
        max(1, (0..<t.vocabSize).map { (try? t.decodeBytes([Int32($0)]).count) ?? 0 }.max() ?? 1)
    }

    /// Retries made so far (429, 5xx, timeouts).
    public var retries: Int { http.retryCount }

    /// Text prompts the server split into a different number of tokens than the audit's tokenizer
    /// (text mode only; each is also a `prompt_token_mismatch` line in the request log).
    public var promptTokenMismatches: Int { mismatchLock.withLock { _mismatches } }

    func promptMismatch(ours: Int, server: Int, kind: String) {
        mismatchLock.withLock { _mismatches += 1 }
        http.log.write(["kind": "prompt_token_mismatch", "request_kind": kind, "audit_tokens": ours, "server_tokens": server])
    }

    // MARK: protocol

    public func score(_ sequences: [[Int32]], distribution: Bool, progress: ((Int) -> Void)?) throws -> [SequenceScore] {
        guard capabilities.promptLogprobs else {
            throw LanguageModelError.unavailable("\(settings.servedModel) at \(settings.displayURL) returns no prompt log-probabilities")
        }
        try checkTokenizer()
        let http = self.http, s = settings, asText = promptsAsText, tok = tokenizer
        guard let layout else { throw LanguageModelError.unavailable("no prompt log-probabilities") }
        let total = sequences.count, cb = settings.onProgress
        let out = try blocking {
            try await concurrentMap(sequences.count, limit: s.concurrency, onDone: { cb?($0, total) }) { [self] i -> SequenceScore in
                let ids = sequences[i]
                guard ids.count >= 2 else { return SequenceScore(logprobs: []) }
                let prompt = try await layout.prompt(ids, tok, asText: asText)
                let r = try await Self.complete(http, s, prompt: prompt, fields: layout.fields)
                guard (200..<300).contains(r.status), let lp = try Self.tokenLogprobs(r, s) else {
                    throw EndpointError("scoring request failed (HTTP \(r.status))", status: r.status)
                }
                // In text mode the server tokenises the prompt itself: the count it reports is checked against ours.
                var n = ids.count
                if asText, let served = Self.usage(r)?.prompt {
                    let theirs = served - layout.serverExtraTokens - (layout.prefix ? 1 : 0)
                    if theirs != n { promptMismatch(ours: n, server: theirs, kind: "score"); n = theirs }
                }
                return SequenceScore(logprobs: try layout.values(lp, promptTokens: n))
            }
        }
        progress?(sequences.count)
        return out
    }

    public func generate(prompts: [[Int32]], _ p: SamplingParameters, endOfText: Int32?) throws -> [[Int32]] {
        try checkTokenizer()
        let http = self.http, s = settings, asText = promptsAsText, tok = tokenizer, extra = layout?.serverExtraTokens ?? 0
        let total = prompts.count, cb = settings.onProgress, ctx = contextLength
        return try blocking {
            try await concurrentMap(prompts.count, limit: s.concurrency, onDone: { cb?($0, total) }) { [self] i -> [Int32] in
                guard p.maxNewTokens > 0 else { return [] }
                let prompt: Any = asText ? try await Self.detokenize(tok, prompts[i]) : prompts[i].map(Int.init)
                // A batch shares one token budget; a long prompt gets what its context leaves (as
                // the local generator, whose sequences end when they fill the context).
                let maxTokens = min(p.maxNewTokens, max(1, ctx - prompts[i].count))
                var fields: [String: Any] = ["max_tokens": maxTokens, "temperature": Double(p.temperature)]
                if !p.isGreedy {
                    fields["seed"] = Int((p.seed &+ UInt64(i)) & 0x7FFF_FFFF)
                    if p.topK > 0 { fields["top_k"] = p.topK }
                    if p.topP < 1 { fields["top_p"] = Double(p.topP) }
                }
                if endOfText == nil || !p.stopAtEndOfText { fields["ignore_eos"] = true }
                let r = try await Self.complete(http, s, prompt: prompt, fields: fields)
                if asText, let served = Self.usage(r)?.prompt, served - extra != prompts[i].count {
                    self.promptMismatch(ours: prompts[i].count, server: served - extra, kind: "generate")
                }
                guard (200..<300).contains(r.status), let choices = r.object?["choices"] as? [[String: Any]], let c = choices.first else {
                    throw EndpointError("completion request failed (HTTP \(r.status))", status: r.status)
                }
                if let ids = c["token_ids"] as? [Int] {
                    // ids from the server: each checked before it is narrowed and used. The server's
                    // own tokenizer has no size here (vocabSize 0): its ids are bounded by Int32 only,
                    // and only ever go back to that server to be decoded.
                    let bound = tok.vocabSize > 0 ? tok.vocabSize : Int(Int32.max)
                    return try ids.prefix(p.maxNewTokens).map { id in
                        guard id >= 0, id < bound, let v = Int32(exactly: id) else { throw EndpointError("the server returned token id \(id), outside the vocabulary") }
                        return v
                    }
                }
                // cut to what max_tokens tokens can hold before it is tokenised: a server's text can be any length
                let text = Self.prefix(c["text"] as? String ?? "", bytes: maxTokens * s.tokenBytes)
                return Array(try await Self.tokenize(tok, text).prefix(p.maxNewTokens))
            }
        }
    }

    func checkTokenizer() throws {
        if let st = tokenizer as? ServerTokenizer, let f = st.failure { throw EndpointError("tokenizing through the server failed: \(f)") }
    }

    // MARK: requests

    static func complete(_ http: HTTPTransport, _ s: EndpointSettings, prompt: Any, fields: [String: Any], retry: Bool = true) async throws -> HTTPAnswer {
        var body = fields
        body["model"] = s.servedModel
        body["prompt"] = prompt
        let data = try JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])
        // a text prompt has at most a token a byte (and a BOS the server may add)
        let promptTokens = (prompt as? [Int])?.count ?? ((prompt as? String)?.utf8.count ?? 0) + 8
        let budget = ResponseBudget.completion(promptTokens: promptTokens, fields: fields)
        return try await http.send(s.base + "/completions", body: data, kind: "completions", retry: retry, maxBytes: budget)
    }

    /// `text`'s first `bytes` UTF-8 bytes, cut back to a whole character.
    static func prefix(_ text: String, bytes: Int) -> String {
        let u = text.utf8
        guard u.count > bytes else { return text }
        var end = u.index(u.startIndex, offsetBy: max(0, bytes))
        while end > u.startIndex && u[end] & 0xC0 == 0x80 { end = u.index(before: end) }
        return String(decoding: u[..<end], as: UTF8.self)
    }

    /// `choices[0].logprobs.token_logprobs` (null where the server gives none; nil when there is
    /// no such list). Every value must be a log-probability — a finite number ≤ 0 that a Float
    /// holds — or the answer is an error naming the endpoint: +5 or 1e300 would pass for scores
    /// (1e300 becomes +∞ as a Float) and poison every statistic made from them.
    static func tokenLogprobs(_ r: HTTPAnswer, _ s: EndpointSettings) throws -> [Double?]? {
        guard let c = (r.object?["choices"] as? [[String: Any]])?.first, let lp = c["logprobs"] as? [String: Any],
              let tl = lp["token_logprobs"] as? [Any] else { return nil }
        return try tl.enumerated().map { i, x -> Double? in
            if x is NSNull { return nil }
            guard let n = x as? NSNumber else {
                throw EndpointError("\(s.displayURL) returned token_logprobs[\(i)] that is not a number: not a log-probability")
            }
            let v = n.doubleValue
            guard v.isFinite, Float(v).isFinite, v <= 0 else {
                throw EndpointError("\(s.displayURL) returned token_logprobs[\(i)] = \(v): a log-probability is finite and ≤ 0; the server's answers cannot be scored")
            }
            return v
        }
    }

    /// `usage.prompt_tokens` and `usage.completion_tokens`, where the server reports them.
    static func usage(_ r: HTTPAnswer) -> (prompt: Int?, completion: Int?)? {
        guard let u = r.object?["usage"] as? [String: Any] else { return nil }
        return (u["prompt_tokens"] as? Int, u["completion_tokens"] as? Int)
    }

    static func modelEntry(_ http: HTTPTransport, _ s: EndpointSettings) async throws -> (String, Int?) {
        let r = try await http.send(s.base + "/models", body: nil, kind: "models", maxBytes: ResponseBudget.models)
        guard (200..<300).contains(r.status) else {
            throw EndpointError(r.status == 401 || r.status == 403 ? "the server refused the API key (HTTP \(r.status))" : "GET \(s.displayBase)/models: HTTP \(r.status)", status: r.status)
        }
        guard let data = r.object?["data"] as? [[String: Any]] else {
            throw EndpointError("GET \(s.displayBase)/models: not an OpenAI model list")
        }
        guard let entry = data.first(where: { ($0["id"] as? String) == s.servedModel }) else {
            let ids = data.compactMap { $0["id"] as? String }.prefix(20).map { TerminalText.escape(String($0.prefix(200))) }
            throw EndpointError("the server does not serve \(s.servedModel.debugDescription) (it serves: \(ids.joined(separator: ", ")))")
        }
        let json = String(decoding: try JSONSerialization.data(withJSONObject: entry, options: [.sortedKeys]), as: UTF8.self)
        let ctx = (entry["max_model_len"] as? Int) ?? ((entry["meta"] as? [String: Any])?["n_ctx_train"] as? Int)
        return (json, ctx)
    }

    static func tokenize(_ tok: any TextTokenizer, _ text: String) async throws -> [Int32] {
        if let st = tok as? ServerTokenizer { return try await st.encodeAsync(text) }
        return tok.encode(text)
    }

    static func detokenize(_ tok: any TextTokenizer, _ ids: [Int32]) async throws -> String {
        if let st = tok as? ServerTokenizer { return try await st.decodeAsync(ids) }
        return try tok.decode(ids)
    }
}

extension EndpointSettings {
    /// `root` and `base` as they may be shown (no `user:password@`).
    var displayRoot: String { EndpointURL.redacted(root) }
    var displayBase: String { EndpointURL.redacted(base) }
}

struct UncheckedBox<T>: @unchecked Sendable { let value: T; init(_ v: T) { value = v } }

/// The served model's own tokenizer through the server's `/tokenize` and `/detokenize` (vLLM:
/// `{"model", "prompt"}` → `{"tokens"}`; llama.cpp: `{"content"}` → `{"tokens"}`; one request
/// carries both spellings), or llama-cpp-python's `/extras/tokenize` (`{"input"}`) and
/// `/extras/detokenize` (→ `{"text"}`) where `/tokenize` is 404. Results are cached. `encode` cannot throw: a failure is kept in
/// `failure` and the model's next call throws it.
final class ServerTokenizer: TextTokenizer, @unchecked Sendable {
    let http: HTTPTransport
    let settings: EndpointSettings
    private let lock = NSLock()
    private var cache: [String: [Int32]] = [:]
    private var _failure: String?
    private var eot: Int32 = 0
    /// The server's routes are llama-cpp-python's `/extras/tokenize` and `/extras/detokenize`.
    private var extras = false
    /// Tokens the server's tokenizer puts before every text (a BOS), stripped from its answers.
    private var leading: [Int32] = []

    init(http: HTTPTransport, settings: EndpointSettings) throws {
        self.http = http; self.settings = settings
        let empty = (try? blocking { [self] in try await self.encodeAsync("") }) ?? []
        lock.withLock { leading = empty; cache = [:] }
        let ids = try blocking { [self] in try await self.encodeAsync("<|endoftext|>") }
        if ids.count == 1 { eot = ids[0] }
    }

    var failure: String? { lock.lock(); defer { lock.unlock() }; return _failure }
    var vocabSize: Int { 0 }
    var endOfText: Int32 { lock.lock(); defer { lock.unlock() }; return eot }

    func encode(bytes: [UInt8]) -> [Int32] {
        let text = String(decoding: bytes, as: UTF8.self)
        do { return try blocking { [self] in try await self.encodeAsync(text) } } catch {
            lock.lock(); _failure = _failure ?? "\(error)"; lock.unlock()
            return []
        }
    }

    func decodeBytes(_ ids: [Int32]) throws -> [UInt8] {
        Array(try blocking { [self] in try await self.decodeAsync(ids) }.utf8)
    }

    func save(to directory: String) throws { throw EndpointError("the server's tokenizer cannot be saved") }

    func encodeAsync(_ text: String) async throws -> [Int32] {
        let hit = lock.withLock { cache[text] }
        if let hit { return hit }
        var r = HTTPAnswer(status: 404, body: Data(), json: nil)
        if !extras {
            let body = try JSONSerialization.data(withJSONObject: ["model": settings.servedModel, "prompt": text, "content": text, "add_special_tokens": false] as [String: Any],
                                                  options: [.sortedKeys])
            r = try await http.send(settings.root + "/tokenize", body: body, kind: "tokenize", maxBytes: ResponseBudget.tokenize(bytes: text.utf8.count))
        }
        if r.status == 404 {
            // llama-cpp-python: /extras/tokenize {"input"}; it adds the model's BOS where the model asks for one
            let body = try JSONSerialization.data(withJSONObject: ["model": settings.servedModel, "input": text] as [String: Any], options: [.sortedKeys])
            let e = try await http.send(settings.root + "/extras/tokenize", body: body, kind: "tokenize", maxBytes: ResponseBudget.tokenize(bytes: text.utf8.count))
            if (200..<300).contains(e.status) { lock.withLock { extras = true }; r = e }
        }
        guard (200..<300).contains(r.status), let toks = r.object?["tokens"] as? [Any] else {
            throw EndpointError("POST \(settings.displayRoot)/tokenize: HTTP \(r.status)", status: r.status)
        }
        // llama.cpp with pieces answers [{"id": …, "piece": …}]
        var ids = try toks.map { t -> Int32 in
            guard let n = (t as? Int) ?? ((t as? [String: Any])?["id"] as? Int), n >= 0, let v = Int32(exactly: n) else {
                throw EndpointError("POST \(settings.displayRoot)/tokenize: a token that is not an id in range: \(TerminalText.escape(String("\(t)".prefix(100))))")
            }
            return v
        }
        let lead = lock.withLock { leading }
        if !lead.isEmpty, ids.starts(with: lead) { ids.removeFirst(lead.count) }
        lock.withLock { if cache.count < 200_000 { cache[text] = ids } }
        return ids
    }

    func decodeAsync(_ ids: [Int32]) async throws -> String {
        if ids.isEmpty { return "" }
        let body = try JSONSerialization.data(withJSONObject: ["model": settings.servedModel, "tokens": ids.map(Int.init)] as [String: Any], options: [.sortedKeys])
        let path = lock.withLock { extras } ? "/extras/detokenize" : "/detokenize"
        let r = try await http.send(settings.root + path, body: body, kind: "detokenize", maxBytes: ResponseBudget.detokenize(tokens: ids.count))
        guard (200..<300).contains(r.status), let obj = r.object,
              let text = (obj["prompt"] as? String) ?? (obj["content"] as? String) ?? (obj["text"] as? String) else {
            throw EndpointError("POST \(settings.displayRoot)/detokenize: HTTP \(r.status)", status: r.status)
        }
        return text
    }
}
