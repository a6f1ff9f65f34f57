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

final class HTTPTransport: @unchecked Sendable {
    let client: HTTPClient
    let apiKey: String?
    let log: RequestLog
    let revealBodies: Bool
    let maxRetries: Int
    let retryBaseDelay: Double
    let timeout: TimeAmount
    private let lock = NSLock()
    private var nextId = 0
    private(set) var retries = 0

    init(concurrency: Int, apiKey: String?, logPath: String?, revealBodies: Bool, maxRetries: Int, retryBaseDelay: Double, timeoutSeconds: Int) throws {
        var config = HTTPClient.Configuration()   // TLS: the system's trust store
        config.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: max(1, concurrency))
        config.timeout = .init(connect: .seconds(10), read: .seconds(Int64(timeoutSeconds)))
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: config)
        self.apiKey = apiKey; self.revealBodies = revealBodies
        self.maxRetries = maxRetries; self.retryBaseDelay = retryBaseDelay; self.timeout = .seconds(Int64(timeoutSeconds))
        log = try RequestLog(path: logPath)
    }

    deinit { try? client.syncShutdown() }

    var retryCount: Int { lock.lock(); defer { lock.unlock() }; return retries }

    private func newId() -> Int { lock.lock(); defer { lock.unlock() }; nextId += 1; return nextId }
    private func countRetry() { lock.lock(); defer { lock.unlock() }; retries += 1 }

    /// Sends the request (JSON body or GET), retrying transient failures. Returns the status and
    /// body of the final attempt: 2xx, or a 4xx the caller may interpret (e.g. a format the
    /// server refuses). Throws after the last retry of a transient failure.
    func send(_ url: String, body: Data?, kind: String, retry: Bool = true) async throws -> (status: Int, body: Data) {
        let id = newId()
        var attempt = 0
        while true {
            attempt += 1
            var req = HTTPClientRequest(url: url)
            req.method = body == nil ? .GET : .POST
            req.headers.add(name: "Content-Type", value: "application/json")
            req.headers.add(name: "Accept", value: "application/json")
            if let k = apiKey { req.headers.add(name: "Authorization", value: "Bearer " + k) }
            if let body { req.body = .bytes(ByteBuffer(bytes: body)) }
            let t0 = Date()
            var entry: [String: Any] = ["request": id, "kind": kind, "attempt": attempt, "request_bytes": body?.count ?? 0]
            if revealBodies, let body { entry["request_body"] = String(decoding: body, as: UTF8.self) }
            var transient = false
            var result: (Int, Data)?
            var failure: String?
            do {
                let resp = try await client.execute(req, timeout: timeout)
                let buf = try await resp.body.collect(upTo: 64 << 20)
                let data = Data(buf.readableBytesView)
                let status = Int(resp.status.code)
                entry["status"] = status; entry["response_bytes"] = data.count
                // token counts the server reports (numbers only: what an audit costs in tokens)
                if let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any], let u = obj["usage"] as? [String: Any] {
                    for k in ["prompt_tokens", "completion_tokens"] { if let v = u[k] as? Int { entry[k] = v } }
                }
                if revealBodies { entry["response_body"] = String(decoding: data, as: UTF8.self) }
                if status == 429 || status >= 500 { transient = true; failure = "HTTP \(status)" } else { result = (status, data) }
            } catch {
                transient = true
                failure = Self.describe(error)
                entry["error"] = failure
            }
            entry["latency_ms"] = Int(Date().timeIntervalSince(t0) * 1000)
            log.write(entry)
            if let result { return result }
            if !retry, let status = entry["status"] as? Int, status == 500 { return (status, Data()) }   // a probe: a refusal, not a failure
            guard transient, attempt <= maxRetries else {
                throw EndpointError("\(kind) request failed after \(attempt) attempts: \(failure ?? "unknown error")")
            }
            countRetry()
            let delay = min(30, retryBaseDelay * pow(2, Double(attempt - 1))) * Double.random(in: 0.75...1.25)
            try await Task.sleep(nanoseconds: UInt64(delay * 1e9))
        }
    }

    /// A transport error without anything the server sent back (no PII).
    static func describe(_ error: any Error) -> String {
        if let e = error as? HTTPClientError { return "\(e)" }
        return String(describing: type(of: error))
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
