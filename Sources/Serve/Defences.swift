// What stands between `shallot serve` and the clients it did not ask for (docs/security.md,
// "Serving a model"): web pages a local user opens (a cross-site POST, DNS rebinding), other
// users of the machine or the network, and clients that hold the server busy. Here: the check of
// the bound address, the `Host` allow-list, the JSON-only bodies, the request context that knows
// its connection (so that an abandoned request stops), and the tokenisation thread.

import Foundation
import Hummingbird
import NIOCore
import NIOHTTPTypes
import Support
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A setting the server cannot start with.
public struct ServeError: Error, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

extension ServeSettings {
    /// Refuses settings that would open the server to others or that cannot work: a bind to an
    /// address other machines reach without an API key, and limits below 1.
    public func validate() throws {
        if apiKey == nil && !Self.isLoopback(host) {
            throw ServeError("binding to \(host) makes the API reachable from other machines; that needs an API key "
                             + "(--api-key-env NAME), or bind to 127.0.0.1")
        }
        let limits = [("maximum connections", maxConnections), ("maximum run bytes", maxRunBytes),
                      ("maximum queued sequences", engine.maxQueued)]
        for (what, v) in limits where v < 1 { throw ServeError("the \(what) is \(v); it must be at least 1") }
        guard idleTimeout > 0 else { throw ServeError("the idle timeout is \(idleTimeout) s; it must be more than 0") }
        guard bodyDeadline > 0 else { throw ServeError("the body deadline is \(bodyDeadline) s; it must be more than 0") }
        guard engine.maxQueued >= maxSequencesPerRequest else {
            throw ServeError("the queue (\(engine.maxQueued) sequences) must hold one request's \(maxSequencesPerRequest) sequences")
        }
    }

    /// True for `localhost` and the loopback addresses (127.0.0.0/8, ::1, ::ffff:127.x.y.z, in
    /// every spelling the resolver reads: isLoopbackHost).
    static func isLoopback(_ host: String) -> Bool { isLoopbackHost(host) }

    /// True for the addresses that mean "every interface".
    static func isWildcard(_ host: String) -> Bool {
        host.isEmpty || host == "*" || isUnspecifiedHost(host)
    }
}

/// The `Host` values a request may carry. A page that rebinds its own name to 127.0.0.1 still
/// sends that name, so a name that is not ours is refused: the loopback names and the bound
/// address with the bound port, and the names given by `allowedHosts` with any port.
struct HostAllowList: Sendable {
    let boundNames: Set<String>
    let extraNames: Set<String>
    let port: LockedPort

    init(settings: ServeSettings, port: LockedPort) {
        var names: Set<String> = ["localhost", "127.0.0.1", "[::1]"]
        let h = settings.host.lowercased()
        if !ServeSettings.isWildcard(h) { names.insert(h.contains(":") && !h.hasPrefix("[") ? "[\(h)]" : h) }
        boundNames = names
        extraNames = Set(settings.allowedHosts.map { $0.lowercased() })
        self.port = port
    }

    /// Whether a `Host` header value (`name`, `name:port`, `[v6]:port`) is allowed.
    func allows(_ host: String) -> Bool {
        let value = host.lowercased()
        var name = value, portText: Substring?
        if value.hasPrefix("["), let close = value.firstIndex(of: "]") {
            name = String(value[...close])
            let rest = value[value.index(after: close)...]
            if !rest.isEmpty { guard rest.hasPrefix(":") else { return false }; portText = rest.dropFirst() }
        } else if let colon = value.firstIndex(of: ":") {
            name = String(value[..<colon]); portText = value[value.index(after: colon)...]
        }
        if extraNames.contains(name) { return true }
        let port = portText.map { Int($0) } ?? 80
        return boundNames.contains(name) && port != nil && port == self.port.get()
    }
}

/// The port the server is bound to (known once it runs: port 0 asks the kernel for one).
final class LockedPort: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    func set(_ v: Int) { lock.lock(); value = v; lock.unlock() }
    func get() -> Int { lock.lock(); defer { lock.unlock() }; return value }
}

/// The request context: Hummingbird's, plus the connection, so that the engine can drop the
/// sequences of a client that went away.
struct ServeContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let channel: any Channel
    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }
}

/// Refuses a request whose `Host` is not allowed (421, before the key is checked). /health
/// answers whatever the name, as the key check does: it says nothing.
struct HostMiddleware: RouterMiddleware {
    typealias Context = ServeContext
    let allowed: HostAllowList
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard request.uri.path != "/health" else { return try await next(request, context) }
        let host = request.head.authority ?? ""
        guard allowed.allows(host) else {
            throw APIError(421, "the Host \(host.isEmpty ? "(none)" : "`\(host)`") is not one this server answers to "
                           + "(loopback names with its port, its bound address, or --allow-host NAME)", code: "host_not_allowed")
        }
        return try await next(request, context)
    }
}

/// Requires `Content-Type: application/json` (parameters such as `charset` allowed). A web page
/// can POST `text/plain` to any address without the browser asking the server first (no CORS
/// preflight); it cannot send `application/json` that way.
func checkJSONContentType(_ request: Request) throws {
    let given = request.headers[.contentType] ?? ""
    let media = given.split(separator: ";", maxSplits: 1).first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
    guard media == "application/json" else {
        throw APIError(415, "the request body must be sent as Content-Type: application/json (got \(given.isEmpty ? "none" : "`\(given)`"))",
                       code: "unsupported_media_type")
    }
}

/// The request in flight on each connection (HTTP/1: one at a time) and how to drop it from the
/// engine. An entry lives while its request runs, so a connection that serves many requests
/// keeps nothing of the finished ones.
final class InFlight: @unchecked Sendable {
    private let lock = NSLock()
    private var abandons: [ObjectIdentifier: @Sendable () -> Void] = [:]

    /// Runs `body`, handing it a way to register its engine work; that work is dropped when the
    /// connection closes before `body` returns.
    func watch<T>(_ channel: (any Channel)?,
                  _ body: (_ onAbandon: (@escaping @Sendable () -> Void) -> Void) async throws -> T) async throws -> T {
        guard let channel else { return try await body { _ in } }
        let id = ObjectIdentifier(channel)
        defer { set(id, nil) }
        return try await body { abandon in
            self.set(id, abandon)
            if !channel.isActive { self.closed(channel) }   // gone before it was registered
        }
    }

    private func set(_ id: ObjectIdentifier, _ abandon: (@Sendable () -> Void)?) {
        lock.withLock { abandons[id] = abandon }
    }

    /// The connection closed: drops its request's work, if any.
    func closed(_ channel: any Channel) {
        let abandon = lock.withLock { abandons.removeValue(forKey: ObjectIdentifier(channel)) }
        abandon?()
    }
}

/// Tells `InFlight` when a connection closes, and closes a connection whose client has closed
/// its side: Hummingbird lets a client half-close and keeps the connection open, but an HTTP
/// client that closes while waiting has given up.
final class ClientGoneHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny
    let inFlight: InFlight
    init(_ inFlight: InFlight) { self.inFlight = inFlight }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let e = event as? ChannelEvent, e == .inputClosed { context.close(promise: nil); return }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        inFlight.closed(context.channel)
        context.fireChannelInactive()
    }
}

/// Closes a connection whose request body has not all arrived `deadline` after its head. The
/// idle timeout restarts with every byte, so a client sending its body a byte at a time (each
/// just before the timeout) held a connection, and a handler waiting for the body, for as long
/// as it liked; the total deadline holds whatever the pace. From the head to the end of the
/// body only: the time the server takes to answer is not the client's.
final class BodyDeadlineHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    let deadline: TimeAmount
    private var timer: Scheduled<Void>?
    init(_ deadline: TimeAmount) { self.deadline = deadline }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head:
            timer?.cancel()
            let channel = context.channel
            timer = context.eventLoop.scheduleTask(in: deadline) { channel.close(promise: nil) }
        case .end:
            timer?.cancel(); timer = nil
        case .body: break
        }
        context.fireChannelRead(data)
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel(); timer = nil
        context.fireChannelInactive()
    }
}

/// Runs tokenisation on a thread of its own. BPE's cost grows with the square of a pre-token's
/// length; on Swift's cooperative pool (one thread per core) a few slow encodes would hold every
/// thread the HTTP handlers, /health included, run on.
final class EncodeThread: Sendable {
    private let queue = DispatchQueue(label: "shallot-serve-encode")
    func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { c in queue.async { c.resume(with: Result { try body() }) } }
    }
}

/// The Unicode scalars of `String(decoding: bytes, as: UTF8.self)` for a growing byte string, in
/// time linear in its length (text_offset used to decode every prefix again: quadratic).
/// Splitting before byte q leaves the decoding unchanged when that byte cannot continue a
/// character begun before it: it is not a continuation byte, or the three bytes before it are
/// (no UTF-8 character has more than three). Such a split is never more than 3 bytes back.
struct ScalarCounter {
    private(set) var bytes: [UInt8] = []
    private var settled = 0, settledScalars = 0

    mutating func append(_ more: [UInt8]) { bytes += more }

    /// Scalars in the decoding of every byte appended so far.
    mutating func count() -> Int {
        var q = bytes.count - 1
        while q > settled && !splits(at: q) { q -= 1 }
        if q > settled {
            settledScalars += scalars(settled..<q)
            settled = q
        }
        return settledScalars + scalars(settled..<bytes.count)
    }

    private func splits(at q: Int) -> Bool {
        func cont(_ i: Int) -> Bool { bytes[i] & 0xC0 == 0x80 }
        return !cont(q) || (q >= 3 && cont(q - 1) && cont(q - 2) && cont(q - 3))
    }

    private func scalars(_ r: Range<Int>) -> Int {
        r.isEmpty ? 0 : String(decoding: bytes[r], as: UTF8.self).unicodeScalars.count
    }
}
