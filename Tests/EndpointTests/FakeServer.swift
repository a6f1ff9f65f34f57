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
            return Self.json(["object": "list", "data": [["id": "tiny", "object": "model", "owned_by": "test", "max_model_len": self.model.config.nPositions]]])
        }
        router.post("/tokenize") { [self] req, _ -> Response in
            let o = try await Self.body(req)
            let text = (o["prompt"] as? String) ?? (o["content"] as? String) ?? ""
            return Self.json(["tokens": self.tok.encode(text).map(Int.init)])
        }
        router.post("/detokenize") { [self] req, _ -> Response in
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
            if options.textPromptsOnly { return Self.json(["error": ["message": "prompt must be a string"]], status: .badRequest) }
            ids = arr.map { Int32($0) }
        } else if let s = o["prompt"] as? String {
            ids = tok.encode(s)
        } else { return Self.json(["error": ["message": "no prompt"]], status: .badRequest) }
        let maxTokens = o["max_tokens"] as? Int ?? 16
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
                p.stopAtEndOfText = !(o["ignore_eos"] as? Bool ?? false)
                out = try Generator(model: model).generate(prompts: [ids], p, endOfText: tok.endOfText)[0]
            }
            var choice: [String: Any] = ["index": 0, "text": (echo ? (try tok.decode(ids)) : "") + (try tok.decode(out)), "finish_reason": "length"]
            if echo && wantLogprobs {
                let lp = try Scorer(model: model).score([ids + out])[0].logprobs
                choice["logprobs"] = ["token_logprobs": [NSNull()] + lp.map { Double($0) as Any }, "tokens": (ids + out).map { "\($0)" }]
            } else {
                choice["logprobs"] = NSNull()
            }
            return Self.json(["id": "cmpl-\(UUID().uuidString)", "object": "text_completion", "model": "tiny", "choices": [choice]])
        } catch {
            return Self.json(["error": ["message": "\(error)"]], status: .badRequest)
        }
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
