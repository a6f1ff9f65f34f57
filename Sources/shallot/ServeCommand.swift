import ArgumentParser
import Foundation
import GPT
import Serve
import Tokenizer

struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve a model over an OpenAI-compatible HTTP API (completions with logprobs/echo, tokenize, models, health).",
        discussion: """
        Endpoints: POST /v1/completions, GET /v1/models, POST /tokenize, POST /detokenize, GET /health.
        Concurrent requests are batched together on the KV cache. Log-probabilities are natural logs
        under the full-vocabulary softmax at temperature 1, computed as `shallot score` does; with
        echo, token_logprobs[i] of a prompt token is log p(token_i | tokens_<i) (null for the first).
        Binds to 127.0.0.1 unless --host says otherwise; any other address needs an API key, read
        from the environment variable named by --api-key-env (never from the command line).
        Defences (docs/security.md, "Serving a model"): POST bodies must be application/json (415);
        a Host other than localhost/127.0.0.1/[::1] with the server's port, the bound address or an
        --allow-host name is refused (421); a text prompt is refused before encoding when it has
        more bytes than any prompt of the token limit can hold, or a run of more than 1024 bytes
        without a break between letters, digits, symbols and spaces (send token ids instead);
        connections silent for 30 s are closed; at most --max-connections are open; at most 1024
        sequences wait for the engine (429 beyond); a client that disconnects is dropped.
        """)

    @Option(help: "Model directory (HF layout).") var model: String
    @Option(help: "Address to bind (127.0.0.1: this machine only).") var host = "127.0.0.1"
    @Option(help: "Port (0: any free port).") var port = 8000
    @Option(help: "Model name clients use (default: the model directory's name).") var servedModelName: String?
    @Option(help: "Require `Authorization: Bearer <key>`, the key read from this environment variable.") var apiKeyEnv: String?
    @Option(help: "Sequences decoded together (KV-cache slots).") var maxBatch = 8
    @Option(help: "Milliseconds an idle server waits for more requests to batch together.") var batchWindowMs = 5.0
    @Option(help: "Largest request body, in bytes.") var maxBodyBytes = 1 << 20
    @Option(help: "Longest prompt, in tokens (default and upper bound: the model's context).") var maxPromptTokens: Int?
    @Option(help: "Largest max_tokens (default and upper bound: the model's context).") var maxTokensLimit: Int?
    @Option(help: "A name clients use to reach the server (a reverse proxy's, the machine's), allowed in the Host header with any port; repeatable.")
    var allowHost: [String] = []
    @Option(help: "Connections open at once; more wait until one closes.") var maxConnections = 128

    func run() throws {
        guard maxBatch >= 1, batchWindowMs >= 0, maxBodyBytes >= 1, (0...65535).contains(port) else {
            throw ValidationError("need --max-batch ≥ 1, --batch-window-ms ≥ 0, --max-body-bytes ≥ 1 and a port in 0...65535")
        }
        var apiKey: String?
        if let name = apiKeyEnv {
            guard let k = ProcessInfo.processInfo.environment[name], !k.isEmpty else { fail("the environment variable \(name) (--api-key-env) is not set") }
            apiKey = k
        }
        let name = servedModelName ?? URL(fileURLWithPath: model).standardizedFileURL.lastPathComponent
        let s = settings(name: name, apiKey: apiKey)
        // Before the model is loaded: an open bind is refused at once.
        reporting { try s.validate() }
        let m = reporting { try GPT.load(directory: model) }
        let tok = reporting { try TokenizerFiles.load(directory: model) }
        let server = reporting { try CompletionServer(model: m, tokenizer: tok, settings: s) }
        // The command line is synchronous; the server runs on the concurrency pool until
        // SIGINT/SIGTERM (graceful: requests in flight are answered first).
        let done = DispatchSemaphore(value: 0)
        let failure = LockedBox<String?>(nil)
        let keyNote = apiKey == nil ? "" : " (API key required)"
        Task {
            do {
                try await server.run(handleSignals: true) { port in
                    FileHandle.standardError.write(Data("serving \(name) on http://\(host):\(port)/v1\(keyNote)\n".utf8))
                }
            } catch {
                failure.set("\(error)")
            }
            done.signal()
        }
        done.wait()
        if let f = failure.get() { fail(f) }
    }

    /// The server's settings from the options.
    func settings(name: String, apiKey: String?) -> ServeSettings {
        var s = ServeSettings(servedModelName: name, host: host, port: port, apiKey: apiKey)
        s.maxBodyBytes = maxBodyBytes
        s.maxPromptTokens = maxPromptTokens
        s.maxTokensLimit = maxTokensLimit
        s.allowedHosts = allowHost
        s.maxConnections = maxConnections
        s.engine = EngineSettings(maxBatch: maxBatch, batchWindow: batchWindowMs / 1000)
        return s
    }
}

final class LockedBox<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: T
    init(_ v: T) { value = v }
    func set(_ v: T) { lock.lock(); value = v; lock.unlock() }
    func get() -> T { lock.lock(); defer { lock.unlock() }; return value }
}
