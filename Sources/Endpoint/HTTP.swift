// The HTTP side of the endpoint client: JSON POST/GET with retries and exponential backoff on
// 429, 5xx, timeouts and connection errors, a bearer key that is never logged, and a request
// log (JSON lines) that holds request ids, sizes, status, latency and the server's token counts
// (`usage`) — the bodies (raw PII:
// prompts and generations) only when the user asked for them.

import AsyncHTTPClient
import Foundation
import Support
import NIOCore
import NIOHTTP1

public struct EndpointError: Error, CustomStringConvertible {
    public var message: String
    public var status: Int?
    /// The answer was longer than the request can need and was refused unread.
    public var tooLong = false
    public init(_ message: String, status: Int? = nil) { self.message = message; self.status = status }
    public var description: String { message }
}

/// Appends JSON lines to a file, one per HTTP attempt.
final class RequestLog: @unchecked Sendable {
    let handle: FileHandle?
    let lock = NSLock()
    init(path: String?) throws {
        guard let path else { handle = nil; return }
        // Owner-only, never through a link, never a file someone else can read (it holds prompts).
        do { handle = try PrivateFile.openForAppending(path) } catch { throw EndpointError("request log: \(error)") }
    }
    func write(_ fields: [String: Any]) {
        guard let handle, let d = try? JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys]) else { return }
        lock.lock(); defer { lock.unlock() }
        handle.write(d + Data("\n".utf8))
    }
    deinit { try? handle?.close() }
}

/// One answer: its status, its bytes (for the request log) and its JSON, parsed once.
struct HTTPAnswer: @unchecked Sendable {
    let status: Int
    let body: Data
    /// The body as JSON (nil when it is not JSON).
    let json: Any?
    var object: [String: Any]? { json as? [String: Any] }
}

final class HTTPTransport: @unchecked Sendable {
    let client: HTTPClient
    let apiKey: String?
    let log: RequestLog
    let revealBodies: Bool
    let maxRetries: Int
    let retryBaseDelay: Double
    let timeout: TimeAmount
    /// Seconds one request may take, all of its attempts and their waits included.
    let deadline: Double
    /// Run before every attempt; an error it throws ends the request, unsent and not retried
    /// (a served model's listener that is no longer its server's: ModelServerProcess.checkListener).
    let beforeEachAttempt: (@Sendable () throws -> Void)?
    private let lock = NSLock()
    private var nextId = 0
    private(set) var retries = 0

    init(concurrency: Int, apiKey: String?, logPath: String?, revealBodies: Bool, maxRetries: Int, retryBaseDelay: Double,
         timeoutSeconds: Int, deadlineSeconds: Double, beforeEachAttempt: (@Sendable () throws -> Void)? = nil) throws {
        var config = HTTPClient.Configuration()   // TLS: the system's trust store
        config.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: max(1, concurrency))
        config.timeout = .init(connect: .seconds(10), read: .seconds(Int64(timeoutSeconds)))
        // A 3xx is answered to us, never followed: a 307/308 would resend the prompts (PII) and the
        // key to wherever it points, https to http included.
        config.redirectConfiguration = .disallow
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: config)
        self.apiKey = apiKey; self.revealBodies = revealBodies
        self.maxRetries = maxRetries; self.retryBaseDelay = retryBaseDelay; self.timeout = .seconds(Int64(timeoutSeconds))
        deadline = deadlineSeconds
        self.beforeEachAttempt = beforeEachAttempt
        log = try RequestLog(path: logPath)
    }

    deinit { try? client.syncShutdown() }

    var retryCount: Int { lock.lock(); defer { lock.unlock() }; return retries }

    private func newId() -> Int { lock.lock(); defer { lock.unlock() }; nextId += 1; return nextId }
    private func countRetry() { lock.lock(); defer { lock.unlock() }; retries += 1 }

    /// Sends the request (JSON body or GET), retrying transient failures, all within `deadline`
    /// seconds. Returns the final attempt's answer: 2xx, or a 4xx the caller may interpret (e.g. a
    /// format the server refuses). Throws after the last retry of a transient failure, at the
    /// deadline, on a redirect, and on an answer longer than `maxBytes` (what the request can
    /// need; see `ResponseBudget`) — none of these three is retried.
    func send(_ url: String, body: Data?, kind: String, retry: Bool = true, maxBytes: Int = ResponseBudget.floor) async throws -> HTTPAnswer {
        let id = newId(), seconds = deadline
        return try await withDeadline(seconds, EndpointError("\(kind) \(EndpointURL.redacted(url)): no complete answer within \(Self.format(seconds)) s "
                                                            + "(every attempt and retry of a request must end within this deadline)")) {
            try await self.attempts(url, body: body, kind: kind, id: id, retry: retry, maxBytes: maxBytes)
        }
    }

    private func attempts(_ url: String, body: Data?, kind: String, id: Int, retry: Bool, maxBytes: Int) async throws -> HTTPAnswer {
        var attempt = 0
        while true {
            attempt += 1
            var entry: [String: Any] = ["request": id, "kind": kind, "attempt": attempt, "request_bytes": body?.count ?? 0]
            if revealBodies, let body { entry["request_body"] = String(decoding: body, as: UTF8.self) }
            let t0 = Date()
            var failure: String?
            var answer: HTTPAnswer?
            do { try beforeEachAttempt?() } catch {
                entry["error"] = "not sent: \(error)"
                log.write(entry)
                throw error as? EndpointError ?? EndpointError("\(kind) \(EndpointURL.redacted(url)): not sent: \(error)")
            }
            do {
                let a = try await once(url, body: body, kind: kind, maxBytes: maxBytes, entry: &entry)
                if a.status == 429 || a.status >= 500 { failure = "HTTP \(a.status)" } else { answer = a }
            } catch let e as EndpointError {   // a redirect or an answer too long: not retried
                entry["error"] = e.message
                entry["latency_ms"] = Int(Date().timeIntervalSince(t0) * 1000)
                log.write(entry)
                throw e
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                failure = Self.describe(error)
                entry["error"] = failure
            }
            entry["latency_ms"] = Int(Date().timeIntervalSince(t0) * 1000)
            log.write(entry)
            if let answer { return answer }
            if !retry, let status = entry["status"] as? Int, status == 500 { return HTTPAnswer(status: status, body: Data(), json: nil) }   // a probe: a refusal, not a failure
            guard attempt <= maxRetries else {
                throw EndpointError("\(kind) request failed after \(attempt) attempts: \(failure ?? "unknown error")")
            }
            countRetry()
            let delay = min(30, retryBaseDelay * pow(2, Double(attempt - 1))) * Double.random(in: 0.75...1.25)
            try await Task.sleep(nanoseconds: UInt64(delay * 1e9))
        }
    }

    /// One attempt: the answer read up to `maxBytes` and parsed once. A redirect or an answer that
    /// is too long is an `EndpointError`; transport errors are thrown as they come (retried).
    private func once(_ url: String, body: Data?, kind: String, maxBytes: Int, entry: inout [String: Any]) async throws -> HTTPAnswer {
        var req = HTTPClientRequest(url: url)
        req.method = body == nil ? .GET : .POST
        req.headers.add(name: "Content-Type", value: "application/json")
        req.headers.add(name: "Accept", value: "application/json")
        if let k = apiKey { req.headers.add(name: "Authorization", value: "Bearer " + k) }
        if let body { req.body = .bytes(ByteBuffer(bytes: body)) }
        let resp = try await client.execute(req, timeout: timeout)
        let status = Int(resp.status.code)
        entry["status"] = status
        if (300..<400).contains(status) { throw Self.redirect(url, kind: kind, status: status, location: resp.headers.first(name: "Location")) }
        var tooLong = EndpointError("\(kind) \(EndpointURL.redacted(url)): the answer is longer than \(maxBytes) bytes, more than this request "
                                    + "can need (max_tokens, logprobs, n and the prompt bound it); refused unread", status: status)
        tooLong.tooLong = true
        if let declared = resp.headers.first(name: "Content-Length").flatMap(Int.init), declared > maxBytes { throw tooLong }
        let buf: ByteBuffer
        do { buf = try await resp.body.collect(upTo: maxBytes) } catch is NIOTooManyBytesError { throw tooLong }
        let data = Data(buf.readableBytesView)
        entry["response_bytes"] = data.count
        let json = data.isEmpty ? nil : try? JSONSerialization.jsonObject(with: data)
        // token counts the server reports (numbers only: what an audit costs in tokens)
        if let u = (json as? [String: Any])?["usage"] as? [String: Any] {
            for k in ["prompt_tokens", "completion_tokens"] { if let v = u[k] as? Int { entry[k] = v } }
        }
        if revealBodies { entry["response_body"] = String(decoding: data, as: UTF8.self) }
        return HTTPAnswer(status: status, body: data, json: json)
    }

    static func redirect(_ url: String, kind: String, status: Int, location: String?) -> EndpointError {
        let to = location.map { " to " + TerminalText.escape(EndpointURL.redacted(String($0.prefix(300)))) } ?? ""
        return EndpointError("\(kind) \(EndpointURL.redacted(url)): the server answered HTTP \(status), a redirect\(to); redirects are not followed "
                             + "(the prompts and the API key would go wherever it points): give the URL that answers itself", status: status)
    }

    static func format(_ seconds: Double) -> String { seconds == seconds.rounded() ? "\(Int(seconds))" : String(format: "%.1f", seconds) }

    /// A transport error without anything the server sent back (no PII).
    static func describe(_ error: any Error) -> String {
        if let e = error as? HTTPClientError { return "\(e)" }
        return String(describing: type(of: error))
    }
}

/// How many bytes an answer may have: what the request can make the server send, generously —
/// per token (of the prompt too, when echoed) its text, a log-probability, its token string,
/// `logprobs` alternatives and an offset, each JSON-escaped — never less than `floor`. A server
/// that sends more is not answering this request.
enum ResponseBudget {
    static let floor = 1 << 20
    static let models = 4 << 20

    /// A completion of `promptTokens` tokens with these request fields: `max_tokens` generated
    /// tokens (16, the API's default, when absent; none when 0), plus the prompt when echoed.
    /// Never the server's context length: it is the server's own word, and one reporting
    /// max_model_len 1e9 made a scoring request (max_tokens 0) allow 1 GiB an answer, 32 in
    /// flight. A server that reads max_tokens 0 as "up to the context" and sends more than the
    /// echo is not answering this request (the scoring probe then asks for max_tokens 1).
    static func completion(promptTokens: Int, fields: [String: Any]) -> Int {
        let asked = fields["max_tokens"] as? Int ?? 16
        let echo = fields["echo"] as? Bool ?? false
        let tokens = min(1 << 20, max(0, asked) + (echo ? max(0, promptTokens) : 0))
        let alternatives = min(max(fields["logprobs"] as? Int ?? 0, 0), 32)
        let choices = min(max(fields["n"] as? Int ?? 1, 1), 128)
        return capped(floor + choices * tokens * (1024 + 512 * alternatives))
    }

    /// `/tokenize` of a text of `bytes` bytes: at most a token a byte (plus a BOS), each an id or
    /// an `{"id", "piece"}` object.
    static func tokenize(bytes: Int) -> Int { capped(floor + 64 * (bytes + 16)) }

    /// `/detokenize` of `tokens` ids.
    static func detokenize(tokens: Int) -> Int { capped(floor + 2048 * tokens) }

    static func capped(_ n: Int) -> Int { min(n, 1 << 30) }
}

/// Runs `body`, throwing `error` if it has not finished after `seconds`; the work is then
/// cancelled and not waited for (a transfer that ignores cancellation cannot hold the caller).
func withDeadline<T: Sendable>(_ seconds: Double, _ error: @autoclosure @escaping @Sendable () -> any Error,
                               _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    let tasks = DeadlineTasks()
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<T, any Error>) in
            let once = ResumeOnce(c)
            let work = Task {
                do { once.resume(.success(try await body())) } catch { once.resume(.failure(error)) }
                tasks.finished()
            }
            let timer = Task {
                try? await Task.sleep(nanoseconds: UInt64(max(0, seconds) * 1e9))
                if !Task.isCancelled && once.resume(.failure(error())) { work.cancel() }
            }
            tasks.set(work: work, timer: timer)
        }
    } onCancel: {
        tasks.cancel()
    }
}

/// The two tasks of `withDeadline`, for cancelling them from wherever the end comes.
final class DeadlineTasks: @unchecked Sendable {
    private let lock = NSLock()
    private var work: Task<Void, Never>?, timer: Task<Void, Never>?
    private var done = false, cancelled = false

    /// The tasks, once started; either may already be due for cancelling.
    func set(work w: Task<Void, Never>, timer t: Task<Void, Never>) {
        let (isDone, isCancelled) = lock.withLock {
            work = w
            timer = t
            return (done, cancelled)
        }
        if isDone || isCancelled { t.cancel() }
        if isCancelled { w.cancel() }
    }

    /// The work ended: the timer is no longer needed.
    func finished() {
        let t = lock.withLock {
            done = true
            return timer
        }
        t?.cancel()
    }

    /// The caller was cancelled: so are both.
    func cancel() {
        let (w, t) = lock.withLock {
            cancelled = true
            return (work, timer)
        }
        w?.cancel()
        t?.cancel()
    }
}

/// A continuation resumed by whichever comes first.
final class ResumeOnce<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var continuation: CheckedContinuation<T, any Error>?
    init(_ c: CheckedContinuation<T, any Error>) { continuation = c }
    @discardableResult func resume(_ r: Result<T, any Error>) -> Bool {
        let c = lock.withLock {
            defer { continuation = nil }
            return continuation
        }
        c?.resume(with: r)
        return c != nil
    }
}

/// Runs async work from synchronous code (the attacks are synchronous). Must not be called
/// from inside Swift concurrency's cooperative pool.
final class ResultBox<T>: @unchecked Sendable { var result: Result<T, any Error>?; init() {} }

func blocking<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
    let box = ResultBox<T>(), sem = DispatchSemaphore(value: 0)
    Task.detached {
        do { box.result = .success(try await body()) } catch { box.result = .failure(error) }
        sem.signal()
    }
    sem.wait()
    return try box.result!.get()
}

/// `f(i)` for i in 0..<count with at most `limit` in flight; results in order.
func concurrentMap<T: Sendable>(_ count: Int, limit: Int, onDone: (@Sendable (Int) -> Void)? = nil,
                                _ f: @escaping @Sendable (Int) async throws -> T) async throws -> [T] {
    var out = [T?](repeating: nil, count: count)
    try await withThrowingTaskGroup(of: (Int, T).self) { group in
        var next = 0, done = 0
        while next < min(count, max(1, limit)) { let i = next; group.addTask { (i, try await f(i)) }; next += 1 }
        while let (i, r) = try await group.next() {
            out[i] = r; done += 1
            onDone?(done)
            if next < count { let j = next; group.addTask { (j, try await f(j)) }; next += 1 }
        }
    }
    return out.map { $0! }
}
