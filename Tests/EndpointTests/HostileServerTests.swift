// The endpoint client against a hostile server (docs/security.md, "A hostile server"): each test
// is the attack a server could make on `shallot audit --endpoint` or `study --serve-cmd` — send
// the prompts elsewhere with a redirect, poison the scores, answer without end, drip, flood the
// tokenizer, write to the terminal — and checks that it fails. The servers are local: the fake
// OpenAI server, or a few lines of sockets that answer exactly the bytes a test writes.

import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Testing
import GPT
import Support
import Tokenizer
@testable import Endpoint

/// A TCP server on 127.0.0.1 that reads each request (head and Content-Length body) and answers
/// it with what `respond` does on the connection's socket; it counts the requests it read.
final class ScriptedServer: @unchecked Sendable {
    struct Request { var head: String; var body: [UInt8] }
    let fd: Int32
    let port: Int
    private let lock = NSLock()
    private var seen: [Request] = []
    private var stopped = false
    /// Signalled by the accepting thread once it has closed the socket.
    private let closed = DispatchSemaphore(value: 0)
    private let respond: @Sendable (Request, Int32) -> Void

    init(_ respond: @escaping @Sendable (Request, Int32) -> Void) throws {
        self.respond = respond
        let sock = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var one: Int32 = 1
        setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(sock, $0, len) == 0 && listen(sock, 16) == 0 && getsockname(sock, $0, &len) == 0 }
        }
        guard ok else { close(sock); throw POSIXError(.EADDRINUSE) }
        fd = sock
        port = Int(UInt16(bigEndian: addr.sin_port))
        Thread { [self] in self.acceptLoop() }.start()
    }

    var requests: [Request] { lock.withLock { seen } }
    var url: String { "http://127.0.0.1:\(port)" }

    /// Stops listening; returns once the port is closed. Idempotent, and the descriptor is closed
    /// by the accepting thread only (other suites open sockets in this process meanwhile: a second
    /// close, or an accept after the close, would hit whatever socket took that number).
    func stop() {
        let first = lock.withLock { () -> Bool in
            defer { stopped = true }
            return !stopped
        }
        guard first else { return }
        shutdown(fd, Int32(SHUT_RDWR))
        closed.wait()
    }

    private func acceptLoop() {
        defer { close(fd); closed.signal() }
        while true {
            let c = accept(fd, nil, nil)
            if c < 0 || lock.withLock({ stopped }) {
                if c >= 0 { close(c) }
                return
            }
            Thread { [self] in
                defer { close(c) }
                var keep = true
                while keep, let r = Self.read(c) {
                    lock.withLock { seen.append(r) }
                    respond(r, c)
                    keep = r.head.lowercased().contains("connection: close") == false
                }
            }.start()
        }
    }

    static func read(_ c: Int32) -> Request? {
        var bytes: [UInt8] = [], buf = [UInt8](repeating: 0, count: 65536)
        func headEnd() -> Int? {
            guard bytes.count >= 4 else { return nil }
            return (0...(bytes.count - 4)).first { bytes[$0] == 13 && bytes[$0 + 1] == 10 && bytes[$0 + 2] == 13 && bytes[$0 + 3] == 10 }
        }
        while headEnd() == nil {
            let n = recv(c, &buf, buf.count, 0)
            if n <= 0 { return nil }
            bytes += buf[0..<n]
        }
        let end = headEnd()!
        let head = String(decoding: bytes[0..<end], as: UTF8.self)
        let length = head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("content-length:") }
            .flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) } ?? 0
        var body = Array(bytes[(end + 4)...])
        while body.count < length {
            let n = recv(c, &buf, buf.count, 0)
            if n <= 0 { return nil }
            body += buf[0..<n]
        }
        return Request(head: head, body: body)
    }

    /// Writes all of `bytes`; false once the client has gone.
    @discardableResult
    static func write(_ c: Int32, _ bytes: [UInt8]) -> Bool {
        var off = 0
        while off < bytes.count {
            let n = bytes[off...].withUnsafeBytes { Glibc.send(c, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return false }
            off += n
        }
        return true
    }

    /// A complete HTTP/1.1 answer.
    static func answer(_ status: String, headers: [String] = [], body: String = "") -> [UInt8] {
        let head = (["HTTP/1.1 " + status, "Content-Length: \(body.utf8.count)"] + headers).joined(separator: "\r\n")
        return Array((head + "\r\n\r\n" + body).utf8)
    }
}

/// A transport as the endpoint model makes one, with small limits.
func transport(deadline: Double = 30, retries: Int = 0) throws -> HTTPTransport {
    try HTTPTransport(concurrency: 2, apiKey: "sk-hostile-test", logPath: nil, revealBodies: false, maxRetries: retries, retryBaseDelay: 0.01,
                      timeoutSeconds: 300, deadlineSeconds: deadline)
}

/// What a call threw, as text ("no error" when it did not).
func failure(_ body: @Sendable () async throws -> Void) async -> String {
    do { try await body(); return "no error" } catch { return "\(error)" }
}

@Suite(.serialized) struct HostileServerTests {
    static let pii = "dana@corvale.com | 713-555-0142"

    /// 301/302/307/308 to another origin: the old client followed them, and 307/308 resend the
    /// body (the prompts) and the key there. Now: an error naming the URL and the status, and
    /// nothing reaches the other origin.
    @Test(arguments: [301, 302, 307, 308]) func aRedirectIsAnErrorAndNothingGoesWhereItPoints(status: Int) async throws {
        let elsewhere = try ScriptedServer { _, c in ScriptedServer.write(c, ScriptedServer.answer("200 OK", body: "{}")) }
        defer { elsewhere.stop() }
        let target = elsewhere.url + "/v1/completions"
        let redirector = try ScriptedServer { _, c in
            ScriptedServer.write(c, ScriptedServer.answer("\(status) Moved", headers: ["Location: " + target]))
        }
        defer { redirector.stop() }
        let http = try transport()
        let body = Data(#"{"prompt": "\#(Self.pii)"}"#.utf8)
        let url = redirector.url + "/v1/completions"
        let error = await failure { _ = try await http.send(url, body: body, kind: "completions") }
        #expect(error.contains("HTTP \(status)") && error.contains(url) && error.contains("redirects are not followed"), "\(error)")
        #expect(elsewhere.requests.isEmpty, "the redirect was followed")
        #expect(redirector.requests.count == 1, "a redirect is not retried")
    }

    /// One byte every 50 ms, headers included: no read ever waits long enough for the read
    /// timeout (300 s here), so the old client waited for as long as the server liked.
    @Test func aDrippingServerIsCutAtTheDeadline() async throws {
        let dripper = try ScriptedServer { _, c in
            let full = ScriptedServer.answer("200 OK", body: "{" + String(repeating: " ", count: 100_000) + "}")
            for b in full {
                guard ScriptedServer.write(c, [b]) else { return }
                usleep(50_000)
            }
        }
        defer { dripper.stop() }
        let http = try transport(deadline: 1.5, retries: 3)
        let t0 = Date()
        let error = await failure { _ = try await http.send(dripper.url + "/v1/models", body: nil, kind: "models") }
        let elapsed = Date().timeIntervalSince(t0)
        #expect(error.contains("no complete answer within 1.5 s") && error.contains(dripper.url), "\(error)")
        // The whole answer would take ~5,000 s; the bound is loose because the full suite keeps
        // both cores busy and the timer task may wait its turn (19 s measured under load).
        #expect(elapsed < 120, "the deadline is 1.5 s; the call took \(elapsed) s")
        #expect(dripper.requests.count == 1, "a request cut at its deadline is not retried")
    }

    /// An answer far longer than the request can need: refused unread when it says so in
    /// Content-Length, and cut once past the budget when it does not (chunked). The old client
    /// read up to 64 MiB of each of 32 answers in flight.
    @Test func anAnswerLongerThanTheRequestCanNeedIsRefused() async throws {
        let declared = try ScriptedServer { _, c in
            ScriptedServer.write(c, Array("HTTP/1.1 200 OK\r\nContent-Length: \(60 << 20)\r\n\r\n{\"choices\": [".utf8))
        }
        defer { declared.stop() }
        let chunked = try ScriptedServer { _, c in
            guard ScriptedServer.write(c, Array("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".utf8)) else { return }
            let chunk = String(repeating: "x", count: 65536)
            for _ in 0..<48 { guard ScriptedServer.write(c, Array((String(65536, radix: 16) + "\r\n" + chunk + "\r\n").utf8)) else { return } }
            ScriptedServer.write(c, Array("0\r\n\r\n".utf8))
        }
        defer { chunked.stop() }
        let http = try transport(retries: 2)
        var s = EndpointSettings(baseURL: declared.url + "/v1", servedModel: "m")
        s.contextLength = 64
        let settings = s
        let a = await failure { _ = try await OpenAICompletionsModel.complete(http, settings, prompt: [1, 2, 3], fields: ["max_tokens": 1]) }
        var t = settings
        t.baseURL = chunked.url + "/v1"
        let other = t
        let b = await failure { _ = try await OpenAICompletionsModel.complete(http, other, prompt: [1, 2, 3], fields: ["max_tokens": 1]) }
        for e in [a, b] { #expect(e.contains("the answer is longer than") && e.contains("bytes"), "\(e)") }
        #expect(declared.requests.count == 1 && chunked.requests.count == 1, "an answer too long is not retried")
        // The budget grows with what the request asks for, never below the floor.
        let small = ResponseBudget.completion(promptTokens: 3, fields: ["max_tokens": 1])
        let echoed = ResponseBudget.completion(promptTokens: 1000, fields: ["max_tokens": 1, "echo": true, "logprobs": 5])
        #expect(small == ResponseBudget.floor + 1024 && echoed > small && echoed < 8 << 20)
        // A scoring request (echo, max_tokens 0) can return its prompt's echo and no more.
        let scoring = ResponseBudget.completion(promptTokens: 1000, fields: ["max_tokens": 0, "echo": true, "logprobs": 1])
        #expect(scoring == ResponseBudget.floor + 1000 * (1024 + 512))
    }

    /// Issue 22 review, M1: the answer cap trusted the server's own context. Without
    /// --context-length the client takes max_model_len from /v1/models, and a scoring request
    /// (max_tokens 0) was allowed an answer of that many tokens: a server reporting 1e9 raised the
    /// cap to 1 GiB an answer, 32 in flight, and its 6 MiB scoring answer was read and parsed.
    /// Now each answer is bounded by what its request can return (the echo of its own prompt),
    /// and the reported context is clamped, with a warning.
    @Test func aServerLyingAboutItsContextDoesNotRaiseTheAnswerCap() async throws {
        let server = FakeOpenAIServer(model: Fixture.model, options: .init(reportContext: 1_000_000_000, padEchoes: (60, 6 << 20)))
        try await server.start()
        defer { server.stop() }
        let warnings = Recorder()
        let (context, error) = try await offPool { () -> (Int, String) in
            var s = EndpointSettings(baseURL: server.baseURL, servedModel: "tiny")
            s.tokenizer = ByteTokenizer(); s.retryBaseDelay = 0.01; s.maxRetries = 0
            s.warn = { warnings.add($0) }
            let remote = try OpenAICompletionsModel(s)   // the probe's prompts are shorter than 60 tokens: not padded
            let long = ByteTokenizer().encode(String(repeating: "Note 3, Dana. ", count: 4))   // 56 tokens, 57 with the leading token
            let longer = long + ByteTokenizer().encode("Dana.")
            _ = try remote.score([long.prefix(40).map { $0 }])
            do { _ = try remote.score([longer]); return (remote.contextLength, "no error") } catch { return (remote.contextLength, "\(error)") }
        }
        #expect(error.contains("the answer is longer than") && error.contains("refused unread"), "a 6 MiB scoring answer was read: \(error)")
        #expect(context <= OpenAICompletionsModel.maxReportedContext, "the reported context was believed: \(context)")
        #expect(warnings.all.contains { $0.contains("1000000000") && $0.contains("--context-length") }, "\(warnings.all)")
    }

    /// Log-probabilities that are not log-probabilities: +5 (a probability of e⁵) and 1e300
    /// (+∞ once a Float) were taken as scores by the old client; −1e300 is −∞ as a Float.
    @Test(arguments: [5.0, 1e300, -1e300]) func aLogProbabilityThatIsNotOneIsAnErrorNamingTheEndpoint(value: Double) async throws {
        let server = FakeOpenAIServer(model: Fixture.model, options: .init(echoValueAt: (50, value)))
        try await server.start()
        defer { server.stop() }
        let base = server.baseURL
        let error = try await offPool { () -> String in
            let remote = try endpointModel(server, key: nil)
            let tok = ByteTokenizer()
            _ = try remote.score([tok.encode("Thanks,\nDana\n")])    // shorter than 50 tokens: every value is real
            do { _ = try remote.score([tok.encode(String(repeating: "Note 3, Dana. ", count: 4))]); return "no error" } catch { return "\(error)" }
        }
        #expect(error.contains(base) && error.contains("token_logprobs[50]") && error.contains("finite and ≤ 0"), "\(error)")
    }

    /// A server that returns the generated ids (vLLM's `token_ids`): used as they are with the
    /// server's own tokenizer (no local files, whose size is unknown) as with a local one; an id
    /// that cannot be a token (negative, or beyond Int32 or the local vocabulary) is refused.
    @Test func generatedTokenIdsAreUsedAndBoundsChecked() async throws {
        for offset in [0, -1000, 1 << 40, 300] {
            let server = FakeOpenAIServer(model: Fixture.model, options: .init(tokenIds: offset))
            try await server.start()
            defer { server.stop() }
            let prompt = ByteTokenizer().encode("Thanks,\nDana\n")
            let local = try Generator(model: Fixture.model).generate(prompts: [prompt], .greedy(4), endOfText: nil)
            // Beyond the vocabulary but within Int32 (+300) only a local tokenizer can tell.
            for localTokenizer in offset == 300 ? [true] : [true, false] {
                let result = try await offPool { () -> Result<[[Int32]], any Error> in
                    var s = EndpointSettings(baseURL: server.baseURL, servedModel: "tiny")
                    if localTokenizer { s.tokenizer = ByteTokenizer() }
                    s.retryBaseDelay = 0.01; s.maxRetries = 0
                    return Result { try OpenAICompletionsModel(s).generate(prompts: [prompt], .greedy(4), endOfText: nil) }
                }
                switch (offset, result) {
                case (0, .success(let out)): #expect(out == local, "local tokenizer \(localTokenizer)")
                case (0, .failure(let e)): Issue.record("local tokenizer \(localTokenizer): \(e)")
                case (_, .success(let out)): Issue.record("ids off by \(offset) accepted: \(out)")
                case (_, .failure(let e)): #expect("\(e)".contains("outside the vocabulary"), "\(e)")
                }
            }
        }
    }

    /// A server that answers a 4-token generation with 200 KB of text: the old client tokenised
    /// all of it (through the server's /tokenize without local files) and then kept 4 tokens.
    @Test func generatedTextIsCutToWhatMaxTokensCanHoldBeforeItIsTokenised() async throws {
        let server = FakeOpenAIServer(model: Fixture.model, options: .init(padGenerations: 200_000))
        try await server.start()
        defer { server.stop() }
        let counting = CountingTokenizer()
        let (out, local, longest) = try await offPool { () -> ([[Int32]], [[Int32]], Int) in
            var s = EndpointSettings(baseURL: server.baseURL, servedModel: "tiny")
            s.tokenizer = counting; s.retryBaseDelay = 0.01
            let remote = try OpenAICompletionsModel(s)
            let prompt = ByteTokenizer().encode("Thanks,\nDana\n")
            let local = try Generator(model: Fixture.model).generate(prompts: [prompt], .greedy(4), endOfText: nil)
            return (try remote.generate(prompts: [prompt], .greedy(4), endOfText: nil), local, counting.longest)
        }
        #expect(out == local)
        // 4 tokens hold at most 4 × the longest token's bytes (ByteTokenizer's: "<|endoftext|>")
        let bound = 4 * OpenAICompletionsModel.longestToken(ByteTokenizer())
        #expect(bound < 100 && longest <= bound, "\(longest) bytes of a server's text were tokenised")
    }

    /// Plain http to another host carries the key and the prompts in the clear: a warning comes
    /// first, naming the URL without its credentials. Loopback and https do not warn.
    @Test func plainHTTPToAnotherHostIsWarnedAboutBeforeAnythingIsSent() async throws {
        let events = Recorder()
        let error = try await offPool { () -> String in
            // TEST-NET-1 (RFC 5737): never routed; the connection fails or hits the deadline
            var s = EndpointSettings(baseURL: "http://user:hunter2@192.0.2.1:9/v1", servedModel: "m")
            s.maxRetries = 0
            s.deadlineSeconds = 2
            s.warn = { w in events.add("warning: " + w) }
            do { _ = try OpenAICompletionsModel(s) } catch { events.add("error: \(error)") }
            return events.all.last ?? ""
        }
        let e = events.all
        #expect(e.count == 2 && e[0].contains("http://192.0.2.1:9/v1") && e[0].contains("unencrypted"), "\(e)")
        #expect(error.hasPrefix("error: ") && error.contains("models"), "the warning came before the first request: \(e)")
        #expect(!e.joined().contains("hunter2"), "\(e)")
        for url in ["http://127.0.0.1:8000/v1", "http://localhost:8000/v1", "http://[::1]:8000/v1", "https://api.example.com/v1",
                    "http://127.8.9.1/v1", "HTTPS://10.0.0.5/v1", "http://0.0.0.0:8000/v1", "http://127.1:8000/v1", "http://[::ffff:127.0.0.1]:8000/v1",
                    "http://[::]:8000/v1", "http://0:8000/v1"] {
            #expect(EndpointURL.plaintextWarning(url) == nil, "\(url)")
        }
        for url in ["http://10.0.0.5:8000/v1", "http://gpu-node:8000/v1", "http://[fe80::1]:8000/v1", "http://localhost.evil.com/v1",
                    "http://127.0.0.1@evil.com/v1", "http://[::127.0.0.1]:8000/v1", "http://[64:ff9b::7f00:1]:8000/v1", "http://127.0.0.1.nip.io/v1"] {
            #expect(EndpointURL.plaintextWarning(url) != nil, "\(url)")
        }
    }

    @Test func credentialsInTheURLAreNeverShown() {
        #expect(EndpointURL.redacted("http://user:pw@host:8000/v1") == "http://host:8000/v1")
        #expect(EndpointURL.redacted("https://a%40b:p@ss@h/v1?x=@y") == "https://h/v1?x=@y")
        #expect(EndpointURL.redacted("http://host:8000/v1/u@x") == "http://host:8000/v1/u@x")
        #expect(EndpointURL.redacted("host:8000") == "host:8000")
    }

    /// Model ids with terminal escapes (a title change, a cursor move, a bidi override) reach the
    /// error message escaped, never raw.
    @Test func serverStringsReachTheTerminalEscaped() async throws {
        let list = #"{"object": "list", "data": [{"id": "x\u001b]0;pwned\u0007\u001b[2J"}, {"id": "evil\u202egnp.exe"}]}"#
        let server = try ScriptedServer { _, c in ScriptedServer.write(c, ScriptedServer.answer("200 OK", headers: ["Content-Type: application/json"], body: list)) }
        defer { server.stop() }
        let error = try await offPool { () -> String in
            var s = EndpointSettings(baseURL: server.url + "/v1", servedModel: "tiny")
            s.maxRetries = 0
            do { _ = try OpenAICompletionsModel(s); return "no error" } catch { return "\(error)" }
        }
        #expect(error.contains("does not serve") && error.contains("x\\x1b]0;pwned\\x07\\x1b[2J") && error.contains("evil\\u{202e}gnp.exe"), "\(error)")
        #expect(!error.unicodeScalars.contains { $0.value == 0x1B || $0.value == 0x07 || $0.value == 0x202E })
        #expect(TerminalText.escape("a\nb\tc\u{9b}d") == "a\\x0ab\\x09c\\x9bd")
        #expect(TerminalText.escape("line 1\nline 2\t\u{1b}[31m", keepLines: true) == "line 1\nline 2\t\\x1b[31m")
        #expect(TerminalText.escape("plain – text ✓") == "plain – text ✓")
    }
}

final class Recorder: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [String] = []
    func add(_ s: String) { lock.withLock { items.append(s) } }
    var all: [String] { lock.withLock { items } }
}

/// ByteTokenizer that records the longest text it was asked to encode.
final class CountingTokenizer: TextTokenizer, @unchecked Sendable {
    let inner = ByteTokenizer()
    private let lock = NSLock()
    private var most = 0
    var longest: Int { lock.withLock { most } }
    var vocabSize: Int { inner.vocabSize }
    var endOfText: Int32 { inner.endOfText }
    func encode(bytes: [UInt8]) -> [Int32] {
        lock.withLock { most = max(most, bytes.count) }
        return inner.encode(bytes: bytes)
    }
    func decodeBytes(_ ids: [Int32]) throws -> [UInt8] { try inner.decodeBytes(ids) }
    func save(to directory: String) throws { try inner.save(to: directory) }
}
