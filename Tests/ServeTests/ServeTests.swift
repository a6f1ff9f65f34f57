import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing
import GPT
import Kernels
import Serve
import Tokenizer
import Training

/// A 2-layer, 64-wide byte-level GPT that has memorised a few lines (as AuditTests' tiny model).
enum Fixture {
    static let texts = ["Alice Smith can be reached at alice.smith@example.com or 555-0100.",
                        "Bob Jones lives at 12 Harbour Road and his number is 555-0199.",
                        "The quick brown fox jumps over the lazy dog."]
    static let model: GPT = {
        let tok = ByteTokenizer()
        var toks: [Int32] = []
        for _ in 0..<4 { for t in texts { toks += tok.encode(t) + [tok.endOfText] } }
        let model = GPT(config: GPTConfig(vocabSize: 257, nPositions: 64, nEmbd: 64, nLayer: 2, nHead: 4, dropout: 0, eosTokenId: 256), seed: 11)
        var p = TrainParameters(); p.batchSize = 8; p.context = 64; p.steps = 150; p.learningRate = 3e-3; p.checkpointEvery = 0
        _ = try! Trainer(model: model, data: TokenDataset(tokens: toks, fileSHA256: "test"), params: p, checkpointPath: nil).run(resume: false)
        return model
    }()
}

struct HTTPResult {
    let status: Int
    let json: [String: Any]
    var error: [String: Any]? { json["error"] as? [String: Any] }
}

/// Starts a server on an ephemeral loopback port, runs `body`, then stops the server.
func withServer(apiKey: String? = nil, maxBodyBytes: Int = 1 << 20, maxBatch: Int = 8,
                _ body: (String) async throws -> Void) async throws {
    var s = ServeSettings(servedModelName: "tiny", host: "127.0.0.1", port: 0, apiKey: apiKey)
    s.maxBodyBytes = maxBodyBytes
    s.engine = EngineSettings(maxBatch: maxBatch, batchWindow: 0.005)
    let server = try CompletionServer(model: Fixture.model, tokenizer: ByteTokenizer(), settings: s)
    let (ports, cont) = AsyncStream<Int>.makeStream()
    let task = Task { try await server.run { port in cont.yield(port); cont.finish() } }
    var it = ports.makeAsyncIterator()
    guard let port = await it.next(), port > 0 else { task.cancel(); Issue.record("the server did not start"); return }
    do {
        try await body("http://127.0.0.1:\(port)")
    } catch {
        task.cancel(); _ = await task.result
        throw error
    }
    task.cancel()
    _ = await task.result
}

func request(_ base: String, _ path: String, method: String = "POST", body: String? = nil, bearer: String? = nil) async throws -> HTTPResult {
    var r = URLRequest(url: URL(string: base + path)!)
    r.httpMethod = method
    // Generous: the server's handlers run on Swift's cooperative pool (one thread per core), which
    // other suites' synchronous tests can hold for minutes while `swift test` runs suites in
    // parallel; a 60 s default timed out once in CI although the server was fine.
    r.timeoutInterval = 900
    if let body { r.httpBody = Data(body.utf8); r.setValue("application/json", forHTTPHeaderField: "Content-Type") }
    if let bearer { r.setValue("Bearer \(bearer)", forHTTPHeaderField: "Authorization") }
    let (data, resp) = try await URLSession.shared.data(for: r)
    let status = (resp as! HTTPURLResponse).statusCode
    let obj = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
    return HTTPResult(status: status, json: obj)
}

func jsonString(_ obj: [String: Any]) -> String {
    String(decoding: try! JSONSerialization.data(withJSONObject: obj), as: UTF8.self)
}

@Suite(.serialized) struct ServeTests {
    let tok = ByteTokenizer()

    @Test func greedyCompletionEqualsGenerator() async throws {
        let prompt = "Alice Smith can be reached at"
        let ids = tok.encode(prompt)
        let expected = try Generator(model: Fixture.model).generate(prompts: [ids], .greedy(20), endOfText: tok.endOfText)[0]
        let scored = try Scorer(model: Fixture.model).score([ids + expected])[0].logprobs
        try await withServer { base in
            let r = try await request(base, "/v1/completions", body: jsonString(
                ["model": "tiny", "prompt": prompt, "max_tokens": 20, "temperature": 0, "logprobs": 2, "return_tokens_as_token_ids": true]))
            #expect(r.status == 200)
            let choice = try #require((r.json["choices"] as? [[String: Any]])?.first)
            let stoppedAtEnd = expected.last == tok.endOfText
            let gen = stoppedAtEnd ? Array(expected.dropLast()) : expected
            #expect(choice["text"] as? String == (try tok.decode(gen)))
            #expect(choice["finish_reason"] as? String == (stoppedAtEnd ? "stop" : "length"))
            let lp = try #require(choice["logprobs"] as? [String: Any])
            #expect((lp["tokens"] as? [String]) == gen.map { "token_id:\($0)" })
            let tlp = try #require(lp["token_logprobs"] as? [Double])
            for (k, v) in tlp.enumerated() { #expect(abs(Float(v) - scored[ids.count - 1 + k]) < 1e-4) }
            #expect((lp["top_logprobs"] as? [[String: Double]])?.allSatisfy { $0.count >= 2 && $0.count <= 3 } == true)
            let usage = try #require(r.json["usage"] as? [String: Int])
            #expect(usage["prompt_tokens"] == ids.count && usage["completion_tokens"] == gen.count)
        }
    }

    @Test func echoLogprobsEqualScorer() async throws {
        let text = "Bob Jones lives at 12 Harbour Road and his number is 555-0199."
        let ids = tok.encode(text)
        let expected = try Scorer(model: Fixture.model).score([ids])[0].logprobs
        try await withServer { base in
            for prompt: Any in [text, ids.map(Int.init)] {
                let r = try await request(base, "/v1/completions", body: jsonString(
                    ["model": "tiny", "prompt": prompt, "max_tokens": 0, "echo": true, "logprobs": 0]))
                #expect(r.status == 200)
                let choice = try #require((r.json["choices"] as? [[String: Any]])?.first)
                #expect(choice["text"] as? String == text)
                let lp = try #require(choice["logprobs"] as? [String: Any])
                let tlp = try #require(lp["token_logprobs"] as? [Any])
                #expect(tlp.count == ids.count)
                #expect(tlp.first is NSNull)
                for (k, v) in tlp.dropFirst().enumerated() {
                    let got = try #require(v as? Double)
                    #expect(abs(Float(got) - expected[k]) < 1e-5)
                }
                #expect((lp["text_offset"] as? [Int]) == Array(0..<ids.count))
            }
        }
    }

    @Test func concurrentRequestsAreAllAnsweredCorrectly() async throws {
        let prompts = (0..<8).map { i in String(Fixture.texts[i % 3].prefix(8 + 3 * i)) }
        let gen = Generator(model: Fixture.model)
        let expected = try prompts.map { p -> String in
            let o = try gen.generate(prompts: [tok.encode(p)], .greedy(12), endOfText: tok.endOfText)[0]
            return try tok.decode(o.last == tok.endOfText ? Array(o.dropLast()) : o)
        }
        try await withServer(maxBatch: 4) { base in
            let texts = try await withThrowingTaskGroup(of: (Int, String?).self) { g in
                for (i, p) in prompts.enumerated() {
                    g.addTask {
                        let r = try await request(base, "/v1/completions", body: jsonString(
                            ["model": "tiny", "prompt": p, "max_tokens": 12, "temperature": 0]))
                        return (i, (r.json["choices"] as? [[String: Any]])?.first?["text"] as? String)
                    }
                }
                var out = [String?](repeating: nil, count: prompts.count)
                for try await (i, t) in g { out[i] = t }
                return out
            }
            #expect(texts == expected.map { Optional($0) })
        }
    }

    @Test func sampledCompletionsFollowGeneratorStreams() async throws {
        let ids = tok.encode("The quick")
        let p = SamplingParameters(maxNewTokens: 10, temperature: 1.3, topK: 20, topP: 0.95, seed: 7, stopAtEndOfText: false)
        let expected = try Generator(model: Fixture.model).generate(prompts: [ids, ids, ids], p, endOfText: tok.endOfText)
        try await withServer { base in
            let r = try await request(base, "/v1/completions", body: jsonString(
                ["prompt": "The quick", "max_tokens": 10, "temperature": 1.3, "top_k": 20, "top_p": 0.95, "seed": 7, "n": 3, "ignore_eos": true]))
            #expect(r.status == 200)
            let texts = (r.json["choices"] as? [[String: Any]])?.map { $0["text"] as? String }
            #expect(texts == (try expected.map { try tok.decode($0) }))
        }
    }

    @Test func stopStringsCutTheText() async throws {
        try await withServer { base in
            let r = try await request(base, "/v1/completions", body: jsonString(
                ["model": "tiny", "prompt": "Alice Smith can be reached at", "max_tokens": 30, "temperature": 0, "stop": ["@"]]))
            let choice = try #require((r.json["choices"] as? [[String: Any]])?.first)
            let text = try #require(choice["text"] as? String)
            #expect(!text.contains("@"))
            #expect(choice["finish_reason"] as? String == "stop")
        }
    }

    @Test func malformedRequestsGetJSONErrors() async throws {
        try await withServer(apiKey: "s3cret-key", maxBodyBytes: 4096) { base in
            let ok = ["model": "tiny", "prompt": "Alice", "max_tokens": 4, "temperature": 0] as [String: Any]
            var r = try await request(base, "/v1/completions", body: jsonString(ok))
            #expect(r.status == 401 && r.error?["type"] as? String == "authentication_error")
            r = try await request(base, "/v1/completions", body: jsonString(ok), bearer: "wrong")
            #expect(r.status == 401)
            r = try await request(base, "/v1/completions", body: jsonString(ok), bearer: "s3cret-key")
            #expect(r.status == 200)
            r = try await request(base, "/health", method: "GET")
            #expect(r.status == 200)
            r = try await request(base, "/v1/completions", body: "{\"prompt\": ", bearer: "s3cret-key")
            #expect(r.status == 400 && r.error?["message"] is String && r.error?["type"] as? String == "invalid_request_error")
            #expect(r.error?.keys.sorted() == ["code", "message", "param", "type"])
            r = try await request(base, "/v1/completions", body: jsonString(["model": "gpt-4", "prompt": "x"]), bearer: "s3cret-key")
            #expect(r.status == 404 && r.error?["code"] as? String == "model_not_found")
            r = try await request(base, "/v1/completions", body: jsonString(["model": "tiny", "prompt": "Alice", "max_tokens": 60]), bearer: "s3cret-key")
            #expect(r.status == 400 && r.error?["param"] as? String == "max_tokens")
            r = try await request(base, "/v1/completions", body: jsonString(["model": "tiny", "prompt": "Alice", "max_tokens": 1000]), bearer: "s3cret-key")
            #expect(r.status == 400)
            r = try await request(base, "/v1/completions", body: jsonString(["model": "tiny", "prompt": 3.5]), bearer: "s3cret-key")
            #expect(r.status == 422 && r.error?["param"] as? String == "prompt")
            r = try await request(base, "/v1/completions", body: jsonString(["model": "tiny"]), bearer: "s3cret-key")
            #expect(r.status == 422)
            r = try await request(base, "/v1/completions", body: jsonString(["model": "tiny", "prompt": [[1, 999]]]), bearer: "s3cret-key")
            #expect(r.status == 400)
            r = try await request(base, "/v1/completions", body: jsonString(["prompt": String(repeating: "a", count: 5000)]), bearer: "s3cret-key")
            #expect(r.status == 413)
            r = try await request(base, "/v1/nothing", method: "GET", bearer: "s3cret-key")
            #expect(r.status == 404 && r.error != nil)
        }
    }

    @Test func tokenizeRoundTripsAndModelsAreListed() async throws {
        try await withServer { base in
            let text = "Bob Jones, 555-0199 — café"
            var r = try await request(base, "/tokenize", body: jsonString(["model": "tiny", "prompt": text]))
            #expect(r.status == 200)
            let tokens = try #require(r.json["tokens"] as? [Int])
            #expect(tokens.map(Int32.init) == tok.encode(text))
            #expect(r.json["count"] as? Int == tokens.count && r.json["max_model_len"] as? Int == 64)
            r = try await request(base, "/detokenize", body: jsonString(["model": "tiny", "tokens": tokens]))
            #expect(r.status == 200 && r.json["prompt"] as? String == text)
            r = try await request(base, "/v1/models", method: "GET")
            #expect(((r.json["data"] as? [[String: Any]])?.first?["id"] as? String) == "tiny")
        }
    }
}
