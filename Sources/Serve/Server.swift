// `shallot serve`: an OpenAI-compatible HTTP API (Hummingbird) over the local engine.
//
// Endpoints: POST /v1/completions, GET /v1/models, POST /tokenize, POST /detokenize, GET /health.
// Log-probability conventions (so that an audit through the server reproduces the in-process one):
// every log-probability is a natural log under the full-vocabulary softmax at temperature 1
// (log p(t) = logit[t] − logsumexp(logits), exactly as `Scorer`), whatever sampling settings the
// request used. With `echo`, `token_logprobs[i]` for prompt token i is log p(token_i | tokens_<i),
// and null for the first prompt token.

import Foundation
import GPT
import Hummingbird
import HummingbirdCore
import NIOCore
import Kernels
import Support
import Tokenizer

public struct ServeSettings: Sendable {
    public var host = "127.0.0.1"
    /// 0: an ephemeral port (reported through `onRunning`).
    public var port = 8000
    public var servedModelName: String
    /// When set, every endpoint but /health requires `Authorization: Bearer <apiKey>`.
    public var apiKey: String?
    public var maxBodyBytes = 1 << 20
    /// Longest prompt, in tokens (never more than the model's context).
    public var maxPromptTokens: Int?
    /// Largest `max_tokens` (prompt + max_tokens is also bounded by the model's context).
    public var maxTokensLimit: Int?
    /// Prompts × n per request.
    public var maxSequencesPerRequest = 64
    public var maxLogprobs = 20
    /// Names a request's `Host` may carry besides the loopback names and the bound address (any
    /// port): the names a reverse proxy or other machines use to reach the server.
    public var allowedHosts: [String] = []
    /// Longest run without a break (letters, digits, other symbols or spaces: a pre-token) in a
    /// text prompt, in bytes. BPE's work on a run grows with the square of its length; longer
    /// runs are refused before encoding (token-id prompts are not encoded and not limited so).
    public var maxRunBytes = 1024
    /// Connections open at once; further clients wait in the kernel's backlog until one closes.
    public var maxConnections = 128
    /// Seconds a connection may stay silent (no complete request head, no body bytes, nothing
    /// being answered) before it is closed.
    public var idleTimeout: TimeInterval = 30
    /// Seconds a request's body may take to arrive, from its head to its last byte: a client that
    /// sends it a byte at a time never lets `idleTimeout` fire, and is cut off at this deadline.
    public var bodyDeadline: TimeInterval = 60
    public var engine = EngineSettings()

    public init(servedModelName: String, host: String = "127.0.0.1", port: Int = 8000, apiKey: String? = nil) {
        self.servedModelName = servedModelName; self.host = host; self.port = port; self.apiKey = apiKey
    }
}

/// The server: the routes and the batching engine over one model.
public final class CompletionServer: Sendable {
    let model: GPT
    let tokenizer: any TextTokenizer
    let settings: ServeSettings
    let engine: BatchEngine
    let created = Int(Date().timeIntervalSince1970)
    let boundPort = LockedPort()
    let encoder = EncodeThread()
    let inFlight = InFlight()
    /// The longest token's bytes: a text prompt longer than `promptLimit` × this cannot fit.
    let longestTokenBytes: Int

    public init(model: GPT, tokenizer: any TextTokenizer, settings: ServeSettings) throws {
        try settings.validate()
        guard tokenizer.vocabSize <= model.config.vocabSize else {
            throw APIError(500, "the tokenizer has \(tokenizer.vocabSize) tokens; the model only \(model.config.vocabSize)", type: "server_error")
        }
        self.model = model; self.tokenizer = tokenizer; self.settings = settings
        engine = BatchEngine(model: model, tokenizer: tokenizer, settings: settings.engine)
        longestTokenBytes = max(1, (0..<tokenizer.vocabSize).map { (try? tokenizer.decodeBytes([Int32($0)]).count) ?? 0 }.max() ?? 1)
    }

    var context: Int { model.config.nPositions }
    var promptLimit: Int { min(context, settings.maxPromptTokens ?? context) }
    var maxTokensLimit: Int { min(context, settings.maxTokensLimit ?? context) }
    /// The most bytes a text prompt of `promptLimit` tokens can have; longer ones are refused
    /// before they are encoded.
    var promptByteLimit: Int { promptLimit.multipliedReportingOverflow(by: longestTokenBytes).partialValue }

    /// Serves until the task is cancelled or, with `gracefulShutdownSignals`, until SIGINT/SIGTERM
    /// (requests in flight are answered first). `onRunning` receives the bound port.
    public func run(handleSignals: Bool = false, onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        engine.start()
        defer { engine.shutdown() }
        // The idle timeout closes connections that send a byte and stop (slowloris); the body
        // deadline those that keep sending a byte now and then; the connection cap bounds what
        // they can hold; ClientGoneHandler drops the sequences of a client that closes its
        // connection from the engine.
        let idle = TimeAmount.milliseconds(Int64(settings.idleTimeout * 1000))
        let bodyDeadline = TimeAmount.milliseconds(Int64(settings.bodyDeadline * 1000))
        let app = Application(
            router: makeRouter(),
            server: .http1(configuration: .init(additionalChannelHandlers: [BodyDeadlineHandler(bodyDeadline), ClientGoneHandler(self.inFlight)],
                                                idleTimeout: idle)),
            configuration: .init(address: .hostname(settings.host, port: settings.port), serverName: nil,
                                 availableConnectionsDelegate: MaximumAvailableConnections(settings.maxConnections)),
            onServerRunning: { [boundPort] channel in
                boundPort.set(channel.localAddress?.port ?? 0)
                await onRunning(channel.localAddress?.port ?? 0)
            })
        if handleSignals { try await app.runService() } else { try await app.run() }
    }

    // MARK: routes

    func makeRouter() -> Router<ServeContext> {
        let router = Router(context: ServeContext.self)
        router.add(middleware: ErrorMiddleware())
        router.add(middleware: HostMiddleware(allowed: HostAllowList(settings: settings, port: boundPort)))
        router.add(middleware: AuthMiddleware(apiKey: settings.apiKey))
        router.get("/health") { _, _ -> Response in Response(status: .ok) }
        router.get("/v1/models") { [self] _, _ -> Response in
            json(ModelList(data: [.init(id: settings.servedModelName, created: created, root: settings.servedModelName, max_model_len: context)]))
        }
        router.post("/tokenize") { [self] req, _ -> Response in
            let r: TokenizeRequest = try await decode(req)
            try checkModel(r.model)
            // Any length the body allows (audits tokenize whole records here), runs bounded.
            let ids = try await encode([r.prompt], param: "prompt", asPrompts: false)[0]
            return json(TokenizeResponse(tokens: ids, count: ids.count, max_model_len: context))
        }
        router.post("/detokenize") { [self] req, _ -> Response in
            let r: DetokenizeRequest = try await decode(req)
            try checkModel(r.model)
            try checkTokens(r.tokens, param: "tokens")
            return json(DetokenizeResponse(prompt: try tokenizer.decode(r.tokens)))
        }
        router.post("/v1/completions") { [self] req, context -> Response in
            let r: CompletionRequest = try await decode(req)
            return json(try await complete(r, connection: context.channel))
        }
        return router
    }

    func checkModel(_ name: String?) throws {
        if let name, name != settings.servedModelName {
            throw APIError(404, "The model `\(name)` does not exist.", param: "model", code: "model_not_found")
        }
    }

    func checkTokens(_ ids: [Int32], param: String) throws {
        for t in ids where t < 0 || Int(t) >= tokenizer.vocabSize {
            throw APIError.invalid("token id \(t) is outside the vocabulary (0..<\(tokenizer.vocabSize))", param: param)
        }
    }

    /// Reads the body (at most `maxBodyBytes`) and decodes it: 415 when not sent as JSON, 413
    /// when too large, 400 when not JSON, 422 when JSON of the wrong shape.
    func decode<T: Decodable>(_ req: Request) async throws -> T {
        try checkJSONContentType(req)
        if let len = req.headers[.contentLength].flatMap({ Int($0) }), len > settings.maxBodyBytes {
            throw APIError(413, "the request body has \(len) bytes; the limit is \(settings.maxBodyBytes)", code: "request_too_large")
        }
        var bytes: [UInt8] = []
        for try await chunk in req.body {
            bytes += chunk.readableBytesView
            if bytes.count > settings.maxBodyBytes {
                throw APIError(413, "the request body exceeds \(settings.maxBodyBytes) bytes", code: "request_too_large")
            }
        }
        let data = Data(bytes)
        do { _ = try JSONSerialization.jsonObject(with: data) } catch {
            throw APIError.invalid("the request body is not valid JSON")
        }
        do { return try JSONDecoder().decode(T.self, from: data) } catch let e as DecodingError {
            throw APIError(422, describe(e), param: param(e))
        }
    }

    func describe(_ e: DecodingError) -> String {
        switch e {
        case .keyNotFound(let k, let c): return "missing field `\(path(c.codingPath + [k]))`"
        case .typeMismatch(_, let c), .valueNotFound(_, let c): return "wrong type for `\(path(c.codingPath))`: \(c.debugDescription)"
        case .dataCorrupted(let c): return "invalid value for `\(path(c.codingPath))`: \(c.debugDescription)"
        @unknown default: return "invalid request"
        }
    }

    func param(_ e: DecodingError) -> String? {
        switch e {
        case .keyNotFound(let k, let c): return path(c.codingPath + [k])
        case .typeMismatch(_, let c), .valueNotFound(_, let c), .dataCorrupted(let c): return path(c.codingPath)
        @unknown default: return nil
        }
    }

    func path(_ keys: [any CodingKey]) -> String {
        keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".").replacingOccurrences(of: ".[", with: "[")
    }

    // MARK: completions

    func complete(_ r: CompletionRequest, connection: (any Channel)? = nil) async throws -> CompletionResponse {
        try checkModel(r.model)
        if r.stream == true { throw APIError.invalid("streaming is not supported", param: "stream") }
        let n = r.n ?? 1
        let maxNew = r.max_tokens ?? 16
        let temperature = r.temperature ?? 1
        let topP = r.top_p ?? 1
        let topK = r.top_k ?? 0
        let echo = r.echo ?? false
        let stops = r.stop?.values ?? []
        guard n >= 1 else { throw APIError.invalid("n must be at least 1", param: "n") }
        guard r.prompt.count >= 1 else { throw APIError.invalid("prompt is empty", param: "prompt") }
        // n comes from the request: compare before multiplying (no overflow on a huge n).
        guard n <= settings.maxSequencesPerRequest, r.prompt.count <= settings.maxSequencesPerRequest / n else {
            throw APIError.invalid("prompts × n exceeds the limit of \(settings.maxSequencesPerRequest) sequences a request", param: "n")
        }
        guard maxNew >= 0 else { throw APIError.invalid("max_tokens must be at least 0", param: "max_tokens") }
        guard maxNew <= maxTokensLimit else {
            throw APIError.invalid("max_tokens is \(maxNew); the limit is \(maxTokensLimit)", param: "max_tokens", code: "max_tokens_exceeded")
        }
        guard temperature >= 0 && temperature.isFinite else { throw APIError.invalid("temperature must be ≥ 0", param: "temperature") }
        guard topP > 0 && topP <= 1 else { throw APIError.invalid("top_p must be in (0, 1]", param: "top_p") }
        guard topK >= -1 else { throw APIError.invalid("top_k must be ≥ 0 (or -1: no limit)", param: "top_k") }
        guard stops.count <= 4 else { throw APIError.invalid("at most 4 stop sequences", param: "stop") }
        if let lp = r.logprobs, lp < 0 || lp > settings.maxLogprobs {
            throw APIError.invalid("logprobs must be in 0...\(settings.maxLogprobs)", param: "logprobs")
        }
        if maxNew == 0 && !echo { throw APIError.invalid("max_tokens 0 needs echo (prompt scoring)", param: "max_tokens") }

        let prompts = try await tokenize(r.prompt, maxNew: maxNew)
        let seed = r.seed ?? (temperature == 0 ? 0 : UInt64.random(in: 0...UInt64.max))
        let sampling = SamplingParameters(maxNewTokens: maxNew, temperature: temperature, topK: max(0, topK), topP: topP,
                                          seed: seed, stopAtEndOfText: !(r.ignore_eos ?? false))
        var jobs: [SequenceJob] = []
        for p in prompts {
            for _ in 0..<n {
                jobs.append(SequenceJob(prompt: p, sampling: sampling, streamIndex: jobs.count, scorePrompt: echo && r.logprobs != nil,
                                        topLogprobs: r.logprobs, stop: stops))
            }
        }
        // A client that closes its connection has given up: its sequences leave the engine.
        let results = try await inFlight.watch(connection) { onAbandon in try await engine.run(jobs, onAbandon: onAbandon) }
        var choices: [CompletionResponse.Choice] = []
        var completionTokens = 0
        for (i, res) in results.enumerated() {
            let (choice, used) = try makeChoice(i, res, echo: echo, logprobs: r.logprobs, asIds: r.return_tokens_as_token_ids ?? false)
            choices.append(choice)
            completionTokens += used
        }
        let promptTokens = prompts.reduce(0) { $0 + $1.count }
        return CompletionResponse(id: "cmpl-" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased(),
                                  created: Int(Date().timeIntervalSince1970), model: settings.servedModelName, choices: choices,
                                  usage: .init(prompt_tokens: promptTokens, completion_tokens: completionTokens,
                                               total_tokens: promptTokens + completionTokens))
    }

    /// The prompts as token ids, each checked against the limits: text is checked in bytes
    /// before it is encoded, and encoded off the cooperative pool.
    func tokenize(_ prompt: PromptInput, maxNew: Int) async throws -> [[Int32]] {
        var prompts: [[Int32]] = []
        switch prompt {
        case .texts(let ts):
            // An empty prompt starts from <|endoftext|>, as `shallot generate`.
            prompts = try await encode(ts, param: "prompt").map { $0.isEmpty ? [tokenizer.endOfText] : $0 }
        case .tokens(let ps):
            for p in ps {
                guard !p.isEmpty else { throw APIError.invalid("a token prompt is empty", param: "prompt") }
                try checkTokens(p, param: "prompt")
            }
            prompts = ps
        }
        for p in prompts {
            guard p.count <= promptLimit else {
                throw APIError.invalid("the prompt has \(p.count) tokens; the limit is \(promptLimit)", param: "prompt", code: "context_length_exceeded")
            }
            guard p.count + maxNew <= context else {
                throw APIError.invalid("the prompt (\(p.count) tokens) plus max_tokens (\(maxNew)) exceeds the model's context (\(context))",
                                       param: "max_tokens", code: "context_length_exceeded")
            }
        }
        return prompts
    }

    /// Encodes texts on the tokenisation thread after checking their size: a text with a run
    /// (pre-token) longer than `maxRunBytes`, or `asPrompts` one longer than any prompt of
    /// `promptLimit` tokens, is refused unencoded.
    func encode(_ texts: [String], param: String, asPrompts: Bool = true) async throws -> [[Int32]] {
        for t in texts where asPrompts && t.utf8.count > promptByteLimit {
            throw APIError.invalid("the text has \(t.utf8.count) bytes; no prompt of the limit of \(promptLimit) tokens has more than "
                                   + "\(promptByteLimit)", param: param, code: "context_length_exceeded")
        }
        let (tokenizer, maxRun) = (self.tokenizer, settings.maxRunBytes)
        return try await encoder.run {
            for t in texts {
                let run = longestPreToken(Array(t.utf8))
                guard run <= maxRun else {
                    throw APIError.invalid("the text has a run of \(run) bytes without a break between letters, digits, symbols and "
                                           + "spaces; the limit is \(maxRun) (send token ids to go beyond it)", param: param, code: "run_too_long")
                }
            }
            return texts.map { tokenizer.encode($0) }
        }
    }

    /// The text and log-probabilities of one choice. Returns the choice and its completion-token count.
    func makeChoice(_ index: Int, _ res: SequenceResult, echo: Bool, logprobs: Int?, asIds: Bool) throws -> (CompletionResponse.Choice, Int) {
        var gen = res.generated, genLP = res.generatedLogprobs
        var text = try tokenizer.decode(gen)
        if let cut = res.stopCut {
            // Keep the tokens that start inside the text before the stop string.
            text = cut
            let keepChars = cut.unicodeScalars.count
            var counter = ScalarCounter(), keep = 0
            for (k, t) in gen.enumerated() {
                if counter.count() >= keepChars && k > 0 { break }
                if keepChars == 0 { break }
                counter.append(try tokenizer.decodeBytes([t])); keep = k + 1
            }
            gen = Array(gen.prefix(keep)); genLP = Array(genLP.prefix(keep))
        }
        let promptText = echo ? try tokenizer.decode(res.prompt) : ""
        var lp: CompletionResponse.Logprobs?
        if let k = logprobs {
            var tokens: [Int32] = [], tlp: [Float?] = [], top: [[String: Float]?] = []
            if echo {
                for (i, t) in res.prompt.enumerated() {
                    tokens.append(t)
                    let e = i < res.promptLogprobs.count ? res.promptLogprobs[i] : nil
                    tlp.append(e?.logprob)
                    top.append(e.map { topDict($0, chosen: t, k: k, asIds: asIds) })
                }
            }
            for (t, e) in zip(gen, genLP) {
                tokens.append(t); tlp.append(e.logprob); top.append(topDict(e, chosen: t, k: k, asIds: asIds))
            }
            // Offsets of each token in `text` (echoed prompt + completion), in Unicode scalars.
            var offsets: [Int] = [], counter = ScalarCounter()
            for t in tokens {
                offsets.append(counter.count())
                counter.append(try tokenizer.decodeBytes([t]))
            }
            lp = .init(tokens: try tokens.map { try tokenString($0, asIds: asIds) }, token_logprobs: tlp, top_logprobs: top, text_offset: offsets)
        }
        return (.init(index: index, text: promptText + text, logprobs: lp, finish_reason: res.finishReason), gen.count)
    }

    func tokenString(_ t: Int32, asIds: Bool) throws -> String {
        asIds ? "token_id:\(t)" : try tokenizer.decode([t])
    }

    /// The k alternatives plus the chosen token (as vLLM: up to k + 1 entries).
    func topDict(_ e: TokenLogprob, chosen: Int32, k: Int, asIds: Bool) -> [String: Float] {
        var d: [String: Float] = [:]
        for (t, v) in e.top.prefix(k) { if let s = try? tokenString(t, asIds: asIds), d[s] == nil { d[s] = v } }
        if let s = try? tokenString(chosen, asIds: asIds), d[s] == nil { d[s] = e.logprob }
        return d
    }
}

// MARK: helpers

func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) -> Response {
    let enc = JSONEncoder()
    enc.outputFormatting = [.withoutEscapingSlashes]
    enc.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
    let data = (try? enc.encode(value)) ?? Data(#"{"error":{"message":"encoding failed","type":"server_error","param":null,"code":null}}"#.utf8)
    var headers = HTTPFields()
    headers[.contentType] = "application/json"
    return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
}

/// Turns every error into an OpenAI-style JSON error (unknown routes included); never a crash.
struct ErrorMiddleware: RouterMiddleware {
    typealias Context = ServeContext
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let e as APIError {
            var r = json(e.body, status: .init(code: e.status))
            if let after = e.retryAfter { r.headers[.retryAfter] = String(after) }
            return r
        } catch let e as HTTPError {
            let type = e.status.code == 404 ? "not_found_error" : "invalid_request_error"
            let msg = e.status.code == 404 ? "no route \(request.method) \(request.uri.path)" : (e.body ?? e.status.reasonPhrase)
            return json(APIError(e.status.code, msg, type: type).body, status: e.status)
        } catch {
            return json(APIError(500, "internal error: \(error)", type: "server_error").body, status: .internalServerError)
        }
    }
}

/// `Authorization: Bearer <key>` on every route but /health, compared in constant time.
struct AuthMiddleware: RouterMiddleware {
    typealias Context = ServeContext
    let apiKey: String?
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let apiKey, request.uri.path != "/health" else { return try await next(request, context) }
        let given = request.headers[.authorization] ?? ""
        let prefix = "Bearer "
        let token = given.hasPrefix(prefix) ? String(given.dropFirst(prefix.count)) : ""
        guard constantTimeEqual(Array(token.utf8), Array(apiKey.utf8)) else {
            throw APIError(401, "a valid API key is required (Authorization: Bearer <key>)", type: "authentication_error", code: "invalid_api_key")
        }
        return try await next(request, context)
    }

}
