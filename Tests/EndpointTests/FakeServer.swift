// A small OpenAI-compatible server for the tests only (the real one is `shallot serve`): just
// enough of the API — /v1/models, /v1/completions (prompt as token ids or text, temperature,
// top_k, seed, ignore_eos, echo + logprobs + max_tokens 0), /tokenize, /detokenize — answered by
// a tiny in-process model, on 127.0.0.1 only.

import Foundation
import GPT
import Hummingbird
import Logging
import NIOCore
import Tokenizer

final class FakeOpenAIServer: @unchecked Sendable {
    struct Options: Sendable {
        /// Answer this many /v1/completions requests with 503 first.
        var failFirst = 0
        /// Ignore `echo`/`logprobs` (as servers that do not return prompt log-probabilities).
        var noPromptLogprobs = false
        /// Refuse token-id prompts with 400 (text only).
        var textPromptsOnly = false
        /// Required bearer key (nil: none).
        var apiKey: String?
        /// Behave as llama-cpp-python's server: text prompts only, no context length in
        /// /v1/models, /extras/tokenize ({"input"}) instead of /tokenize, `max_tokens: 0` read as
        /// "up to the context", EOT always ends a generation, and echoed log-probabilities one
        /// position off unless the prompt starts with <|endoftext|> (then stripped from the echo).
        var llamaCppPython = false
        /// Echo null instead of the log-probability at this position of prompts longer than it.
        var nullEchoAt: Int?
        /// Report one more prompt token in `usage` for text prompts holding this string.
        var miscountMarker: String?
        /// Echo this value instead of the log-probability at position `.0` of prompts longer than it
        /// (a hostile server: +5, 1e300).
        var echoValueAt: (Int, Double)?
        /// Append this many bytes of text to every generation of more than one token (a hostile
        /// server: far more text than max_tokens can hold).
        var padGenerations = 0
        /// Report this as the model's `max_model_len` (a hostile server: 1e9) instead of its own.
        var reportContext: Int?
        /// Add a field of `.1` bytes to every echo of a prompt longer than `.0` tokens (a hostile
        /// server: a scoring answer far larger than its echo).
        var padEchoes: (Int, Int)?
        /// Answer every generation with its ids too (`token_ids` in the choice, as vLLM's
        /// `return_token_ids`), each plus this offset (a hostile server: −1000 or 1 << 40).
        var tokenIds: Int?
    }

    let model: GPT
    let options: Options
    let tok = ByteTokenizer()
    private let lock = NSLock()
    private var failuresLeft: Int
    private(set) var completions = 0
    private var portValue: Int?
    private var task: Task<Void, any Error>?

    init(model: GPT, options: Options = Options()) {
        self.model = model; self.options = options; failuresLeft = options.failFirst
    }

    var port: Int { lock.lock(); defer { lock.unlock() }; return portValue ?? 0 }
    var baseURL: String { "http://127.0.0.1:\(port)/v1" }
    var completionRequests: Int { lock.lock(); defer { lock.unlock() }; return completions }

    func start() async throws {
        let router = Router()
        router.get("/v1/models") { [self] req, _ -> Response in
            if let r = self.unauthorised(req) { return r }
            if self.options.llamaCppPython { return Self.json(["object": "list", "data": [["id": "tiny", "object": "model", "owned_by": "me", "permissions": [Any]()]]]) }
            let context = self.options.reportContext ?? self.model.config.nPositions
            return Self.json(["object": "list", "data": [["id": "tiny", "object": "model", "owned_by": "test", "max_model_len": context]]])
        }
        router.post("/extras/tokenize") { [self] req, _ -> Response in
            guard self.options.llamaCppPython else { return Self.json(["detail": "Not Found"], status: .notFound) }
            let o = try await Self.body(req)
            return Self.json(["tokens": self.encode(o["input"] as? String ?? "").map(Int.init)])
        }
        router.post("/extras/detokenize") { [self] req, _ -> Response in
            guard self.options.llamaCppPython else { return Self.json(["detail": "Not Found"], status: .notFound) }
            let o = try await Self.body(req)
            return Self.json(["text": (try? self.tok.decode((o["tokens"] as? [Int] ?? []).map { Int32($0) })) ?? ""])
        }
        router.post("/tokenize") { [self] req, _ -> Response in
            if let r = self.unauthorised(req) { return r }   // (as shallot serve: every route but /health)
            if self.options.llamaCppPython { return Self.json(["detail": "Not Found"], status: .notFound) }
            let o = try await Self.body(req)
            let text = (o["prompt"] as? String) ?? (o["content"] as? String) ?? ""
            return Self.json(["tokens": self.tok.encode(text).map(Int.init)])
        }
        router.post("/detokenize") { [self] req, _ -> Response in
            if let r = self.unauthorised(req) { return r }
            let o = try await Self.body(req)
            let ids = (o["tokens"] as? [Int] ?? []).map { Int32($0) }
            return Self.json(["prompt": (try? self.tok.decode(ids)) ?? ""])
        }
        router.post("/v1/completions") { [self] req, _ -> Response in
            if let r = self.unauthorised(req) { return r }
            let o = try await Self.body(req)
            return self.complete(o)
        }
        let ready = AsyncStream<Void>.makeStream()
        var logger = Logger(label: "fake-openai-server")
        logger.logLevel = .critical
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                              onServerRunning: { [self] ch in
                                  self.lock.withLock { self.portValue = ch.localAddress?.port }
                                  ready.continuation.yield()
                              }, logger: logger)
        task = Task { try await app.run() }
        for await _ in ready.stream { break }
    }

    func stop() { task?.cancel() }

    func unauthorised(_ req: Request) -> Response? {
        guard let key = options.apiKey else { return nil }
        if req.headers[.authorization] == "Bearer " + key { return nil }
        return Self.json(["error": ["message": "bad key", "type": "invalid_request_error"]], status: .unauthorized)
    }

    func complete(_ o: [String: Any]) -> Response {
        lock.lock()
        completions += 1
        if failuresLeft > 0 { failuresLeft -= 1; lock.unlock(); return Self.json(["error": ["message": "busy"]], status: .serviceUnavailable) }
        defer { lock.unlock() }   // one model call at a time
        var ids: [Int32]
        if let arr = o["prompt"] as? [Int] {
            if options.textPromptsOnly || options.llamaCppPython { return Self.json(["error": ["message": "prompt must be a string"]], status: .badRequest) }
            ids = arr.map { Int32($0) }
        } else if let s = o["prompt"] as? String {
            ids = encode(s)
        } else { return Self.json(["error": ["message": "no prompt"]], status: .badRequest) }
        var maxTokens = o["max_tokens"] as? Int ?? 16
        if options.llamaCppPython && maxTokens <= 0 { maxTokens = model.config.nPositions - ids.count }
        let echo = (o["echo"] as? Bool ?? false) && !options.noPromptLogprobs
        let wantLogprobs = o["logprobs"] != nil && !(o["logprobs"] is NSNull) && !options.noPromptLogprobs
        if ids.isEmpty || ids.count + maxTokens > model.config.nPositions && maxTokens > 0 {
            return Self.json(["error": ["message": "too long"]], status: .badRequest)
        }
        do {
            var out: [Int32] = []
            if maxTokens > 0 {
                let t = Float((o["temperature"] as? NSNumber)?.doubleValue ?? 1)
                var p = SamplingParameters(maxNewTokens: maxTokens, temperature: t, topK: o["top_k"] as? Int ?? 0,
                                           topP: Float((o["top_p"] as? NSNumber)?.doubleValue ?? 1), seed: UInt64(o["seed"] as? Int ?? 0))
                p.stopAtEndOfText = options.llamaCppPython || !(o["ignore_eos"] as? Bool ?? false)
                out = try Generator(model: model).generate(prompts: [ids], p, endOfText: tok.endOfText)[0]
            }
            // llama-cpp-python strips a leading <|endoftext|> (GPT-2's BOS) from the echo
            let stripped = options.llamaCppPython && ids.first == tok.endOfText
            let shown = stripped ? Array(ids.dropFirst()) : ids
            var choice: [String: Any] = ["index": 0, "text": (echo ? (try tok.decode(shown)) : "") + (try tok.decode(out)), "finish_reason": "length"]
            let full = ids + out
            let lp: [Any] = [NSNull()] + (try Scorer(model: model).score([full])[0].logprobs).map { Double($0) as Any }  // lp[i] = log p(full_i | full_<i)
            if echo && wantLogprobs {
                var entries: [Any]
                if stripped { entries = Array(lp.dropFirst()); entries[0] = NSNull() }
                else if options.llamaCppPython {   // one position off: entry i holds what belongs to i + 1
                    entries = [NSNull()]
                    for i in 1..<full.count { entries.append(i + 1 < full.count ? lp[i + 1] : (-0.5 as Any)) }
                }
                else { entries = lp }
                if let k = options.nullEchoAt, entries.count > k + 1 { entries[k] = NSNull() }
                if let (k, v) = options.echoValueAt, entries.count > k + 1 { entries[k] = v }
                choice["logprobs"] = ["token_logprobs": entries, "tokens": shown.map { "\($0)" } + out.map { "\($0)" }]
            } else if wantLogprobs {
                choice["logprobs"] = ["token_logprobs": Array(lp.suffix(out.count)), "tokens": out.map { "\($0)" }]
            } else {
                choice["logprobs"] = NSNull()
            }
            if let offset = options.tokenIds, !echo { choice["token_ids"] = out.map { Int($0) + offset } }
            if options.padGenerations > 0 && maxTokens > 1 && !echo {
                choice["text"] = (choice["text"] as? String ?? "") + String(repeating: "x", count: options.padGenerations)
            }
            var extra: [String: Any] = [:]
            if let (over, bytes) = options.padEchoes, echo && ids.count > over { extra["padding"] = String(repeating: "x", count: bytes) }
            var promptTokens = ids.count
            if let m = options.miscountMarker, let s = o["prompt"] as? String, s.contains(m) { promptTokens += 1 }
            return Self.json(extra.merging(["id": "cmpl-\(UUID().uuidString)", "object": "text_completion", "model": "tiny", "choices": [choice],
                                            "usage": ["prompt_tokens": promptTokens, "completion_tokens": out.count, "total_tokens": promptTokens + out.count]]) { $1 })
        } catch {
            return Self.json(["error": ["message": "\(error)"]], status: .badRequest)
        }
    }

    /// Text to ids; as llama-cpp-python (special tokens parsed), "<|endoftext|>" in the text is the token.
    func encode(_ text: String) -> [Int32] {
        guard options.llamaCppPython else { return tok.encode(text) }
        let parts = text.components(separatedBy: "<|endoftext|>")
        return parts.enumerated().flatMap { i, p in (i > 0 ? [tok.endOfText] : []) + tok.encode(p) }
    }

    static func body(_ req: Request) async throws -> [String: Any] {
        let buf = try await req.body.collect(upTo: 1 << 22)
        return (try? JSONSerialization.jsonObject(with: Data(buf.readableBytesView)) as? [String: Any]) ?? [:]
    }

    static func json(_ obj: Any, status: HTTPResponse.Status = .ok) -> Response {
        let d = (try? JSONSerialization.data(withJSONObject: obj)) ?? Data("{}".utf8)
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: d)))
    }
}

/// Runs blocking work (the synchronous attacks, which wait for HTTP) off Swift concurrency's
/// cooperative pool, so that the server and the client's tasks keep their threads.
func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { c in
        Thread { c.resume(with: Result { try body() }) }.start()
    }
}
