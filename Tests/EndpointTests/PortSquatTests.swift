// Issue 15, item 1: port squatting. A `--serve-cmd` server binds its port only once its model is
// loaded (minutes, for vLLM); until then anyone on the machine can bind that port first and be
// sent the API key and every prompt (PII), and answer with made-up log-probabilities. Each test
// here is that squatter: a listener opened by the test process itself, which is not the serve
// command's process tree. The client must refuse before it sends a single byte to it.

import Foundation
import GPT
import Testing
import Support
import Tokenizer
@testable import Endpoint
#if canImport(Glibc)
import Glibc
#endif

/// A listener on 127.0.0.1 that records every request it is sent and answers as an obliging
/// OpenAI-compatible server would: `/models` lists `model`, a completion without a bearer key
/// gets 401 (so that a key check is passed), one with a key gets a completion.
final class Squatter: @unchecked Sendable {
    let fd: Int32
    let port: Int
    let model: String
    private let lock = NSLock()
    private var received: [String] = []
    private var running = true
    /// Signalled by the serving thread once it has closed the socket.
    private let closed = DispatchSemaphore(value: 0)

    /// `port` 0: one the kernel chooses; another: that one, taken over (SO_REUSEADDR, as a
    /// squatter would, so that the dead server's connections in TIME_WAIT do not stop it);
    /// on `address` (a loopback one).
    init(model: String, port wanted: Int = 0, address: String = "127.0.0.1") throws {
        self.model = model
        let s = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)   // no child of any test inherits it
        var one: Int32 = 1
        setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(wanted).bigEndian)
        addr.sin_addr.s_addr = inet_addr(address)
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(s, $0, len) == 0 && getsockname(s, $0, &len) == 0 }
        }
        guard s >= 0, ok, listen(s, 16) == 0 else { close(s); throw EndpointError("the squatter cannot listen") }
        fd = s
        port = Int(UInt16(bigEndian: addr.sin_port))
        Thread { [self] in serve() }.start()
    }

    /// Every request received (request line, headers and body), in order.
    var requests: [String] { lock.withLock { received } }

    /// Stops listening; returns once the port is closed. Idempotent: the descriptor is closed
    /// once, by the serving thread (the test process runs other suites at once, and a second
    /// close, or an accept after the close, would hit whatever socket took that number since).
    func stop() {
        let first = lock.withLock { () -> Bool in
            defer { running = false }
            return running
        }
        guard first else { return }
        shutdown(fd, Int32(SHUT_RDWR))
        closed.wait()
    }

    private func serve() {
        defer { close(fd); closed.signal() }
        while lock.withLock({ running }) {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, 100) > 0 else { continue }
            let c = accept(fd, nil, nil)
            guard c >= 0 else { continue }
            answer(c)
            close(c)
        }
    }

    private func answer(_ c: Int32) {
        var tv = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var data = [UInt8]()
        var buf = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = read(c, &buf, buf.count)
            if n <= 0 { break }
            data += buf[0..<n]
            let text = String(decoding: data, as: UTF8.self)
            if let end = text.range(of: "\r\n\r\n") {
                let head = text[..<end.lowerBound].lowercased()
                let length = head.split(separator: "\r\n").first { $0.hasPrefix("content-length:") }
                    .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) } ?? 0
                if text.utf8.count - text.utf8.distance(from: text.startIndex, to: end.upperBound) >= length { break }
            }
        }
        let request = String(decoding: data, as: UTF8.self)
        lock.withLock { received.append(request) }
        let keyed = request.lowercased().contains("authorization: bearer")
        var status = "200 OK"
        var body: Any = ["choices": [["index": 0, "text": " made up", "logprobs": ["token_logprobs": [-0.01]]]]]
        if request.hasPrefix("GET") && request.contains("/models") {
            body = ["object": "list", "data": [["id": model, "object": "model"]]]
        } else if !keyed {
            status = "401 Unauthorized"
            body = ["error": ["message": "no key"]]
        }
        let json = (try? JSONSerialization.data(withJSONObject: body)) ?? Data()
        let reply = "HTTP/1.1 \(status)\r\nContent-Type: application/json\r\nContent-Length: \(json.count)\r\nConnection: close\r\n\r\n"
        let bytes = Array(reply.utf8) + Array(json)
        _ = bytes.withUnsafeBytes { write(c, $0.baseAddress, $0.count) }
    }
}

@Suite(.serialized) struct PortSquatTests {
    func tempDir() throws -> String {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("squat-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }

    /// The serve command prints its URL (as vLLM does before its model is loaded) and will bind
    /// the port later; someone else is listening there already.
    @Test func aSquatterOnThePrintedPortIsNeverSentTheKey() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let squatter = try Squatter(model: dir)
        defer { squatter.stop() }
        let template = "echo \"INFO serving on http://127.0.0.1:\(squatter.port)/v1\" >&2; sleep 30 # {model}"
        let message = refusal { try ModelServerProcess.start(template: template, model: dir, logPath: dir + "/server.log", timeout: 5) }
        #expect(squatter.requests.isEmpty, "the squatter was sent: \(squatter.requests)")
        #expect(!squatter.requests.contains { $0.lowercased().contains("authorization") }, "the squatter was sent the key")
        #expect(message.contains("127.0.0.1:\(squatter.port)") && message.contains("not the serve command"), "\(message)")
    }
}

extension PortSquatTests {
    /// The error a server start that must be refused threw ("taken" if it was not refused: the
    /// server it started is stopped at once).
    func refusal(_ start: () throws -> ModelServerProcess) -> String {
        do { try start().stop(grace: 1); return "taken" } catch { return "\(error)" }
    }

    /// A tiny model directory `shallot serve` can load.
    func modelDir(context: Int = 32) throws -> String {
        let dir = try tempDir() + "/model"
        let model = GPT(config: GPTConfig(vocabSize: 257, nPositions: context, nEmbd: 16, nLayer: 1, nHead: 2, dropout: 0, eosTokenId: 256), seed: 1)
        try model.save(directory: dir)
        try ByteTokenizer().save(to: dir)
        return dir
    }

    /// The real thing passes: `shallot serve` started by the command, on the port chosen for it
    /// and on a port it chose and printed (through `/bin/sh -c`, so the listener is the shell's
    /// child, not the process that was started).
    @Test func aGenuineServerOfTheCommandIsTaken() throws {
        let dir = try modelDir()
        defer { try? FileManager.default.removeItem(atPath: URL(fileURLWithPath: dir).deletingLastPathComponent().path) }
        let bin = shallotBinary().path
        for template in ["'\(bin)' serve --model {model} --port {port} --api-key-env SHALLOT_SERVE_API_KEY",
                         "'\(bin)' serve --model {model} --port 0 --served-model-name {model} --api-key-env SHALLOT_SERVE_API_KEY"] {
            let server = try ModelServerProcess.start(template: template, model: dir, logPath: dir + "/../server.log", timeout: 120)
            #expect(server.baseURL.hasPrefix("http://127.0.0.1:"))
            server.stop(grace: 5)
        }
    }
}

extension PortSquatTests {
    /// The port handed to `{port}` is taken by someone else before the server loads: the start
    /// stops at once, naming the port and the listener, and the squatter is sent nothing.
    @Test func aSquatterOnTheGivenPortStopsTheStartAtOnce() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let squatter = try Squatter(model: dir)
        defer { squatter.stop() }
        let began = Date()
        let message = refusal {
            try ModelServerProcess.start(template: "sleep 30 # {model} {port}", model: dir, logPath: dir + "/server.log", timeout: 60,
                                         choosePort: { squatter.port })
        }
        #expect(squatter.requests.isEmpty, "the squatter was sent: \(squatter.requests)")
        #expect(message.contains("127.0.0.1:\(squatter.port)") && message.contains("not the serve command") && message.contains("socket inode"), "\(message)")
        #expect(message.contains("process \(getpid())"), "the holder (this test process) is named: \(message)")
        #expect(Date().timeIntervalSince(began) < 30, "refused at the timeout, not at once")
    }

    /// The check itself: a listener of this process belongs to this process's group, not to a
    /// child's; an address nothing listens on is "nobody"; no /proc, no proof.
    @Test func theListenerIsTracedToItsProcess() throws {
        let squatter = try Squatter(model: "m")
        defer { squatter.stop() }
        let url = "http://127.0.0.1:\(squatter.port)/v1"
        #expect(try ListenerOwnership.check(url: url, group: getpgrp()) == .ours)
        let child = try ModelServerProcess.spawn("sleep 30", log: try tempDir() + "/sleep.log", environment: ["PATH": "/usr/bin:/bin"])
        defer { ModelServerProcess.terminate(child, grace: 1); ProcessGroups.unregister(child) }
        if case .foreign(let why) = try ListenerOwnership.check(url: url, group: child) {
            #expect(why.contains("socket inode") && why.contains("process \(getpid())"), "\(why)")
        } else { Issue.record("this process's listener was taken for the child's") }
        if case .nobody = try ListenerOwnership.check(url: "http://localhost:\(squatter.port == 1 ? 2 : 1)/v1", group: child) {} else {
            Issue.record("a port nothing listens on")
        }
        if case .unprovable(let why) = try ListenerOwnership.check(url: "http://10.1.2.3:\(squatter.port)/v1", group: getpgrp()) {
            #expect(why.contains("not a loopback address"))
        } else { Issue.record("a remote host was taken as checked") }
        #expect(throws: EndpointError.self) { try ListenerOwnership.check(url: url, group: getpgrp(), proc: "/nonexistent-proc") }
    }

    @Test func procNetLinesAreRead() {
        let v4 = ListenerOwnership.parse("   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 12345 1 0", v6: false)
        #expect(v4 == .init(address: "127.0.0.1", port: 8080, uid: 1000, inode: 12345, loopbackReachable: true, bytes: [127, 0, 0, 1]))
        let any6 = ListenerOwnership.parse("   1: 00000000000000000000000000000000:1F90 00000000000000000000000000000000:0000 0A 0:0 00:0 0 1001 0 777 1", v6: true)
        #expect(any6?.loopbackReachable == true && any6?.uid == 1001 && any6?.inode == 777)
        let lo6 = ListenerOwnership.parse("   2: 00000000000000000000000001000000:0050 00000000000000000000000000000000:0000 0A 0:0 00:0 0 0 0 9 1", v6: true)
        #expect(lo6?.address == "[0:0:0:0:0:0:0:1]" && lo6?.loopbackReachable == true && lo6?.port == 80)
        let other = ListenerOwnership.parse("   3: 0502010A:1F90 00000000:0000 0A 0:0 00:0 0 0 0 10 1", v6: false)
        #expect(other?.address == "10.1.2.5" && other?.loopbackReachable == false)
        // not listening (01: ESTABLISHED)
        #expect(ListenerOwnership.parse("   4: 0100007F:1F90 0100007F:D431 01 0:0 00:0 0 0 0 11 1", v6: false) == nil)
    }
}

extension PortSquatTests {
    /// Issue 22, leftover of §1: the listener was proven the server's once, at its start. The
    /// server then dies during the audit and another process binds its port: the client must
    /// look again before it sends, and refuse — the squatter is sent nothing, not the key.
    @Test func aSquatterAfterTheServerDiedIsNeverSentAnything() throws {
        let dir = try modelDir(context: 128)   // room for the client's probe sentence
        defer { try? FileManager.default.removeItem(atPath: URL(fileURLWithPath: dir).deletingLastPathComponent().path) }
        let bin = shallotBinary().path
        let server = try ModelServerProcess.start(template: "'\(bin)' serve --model {model} --port {port} --api-key-env SHALLOT_SERVE_API_KEY",
                                                  model: dir, logPath: dir + "/../server.log", timeout: 120)
        defer { server.stop(grace: 1) }
        var es = EndpointSettings(baseURL: server.baseURL, servedModel: server.servedModel)
        es.apiKey = server.apiKey; es.tokenizer = ByteTokenizer(); es.maxRetries = 1; es.retryBaseDelay = 0.05
        es.beforeEachAttempt = { try server.checkListener() }
        let model = try OpenAICompletionsModel(es)   // the real server, proven its command's
        _ = try model.score([[72, 105, 33]], distribution: false, progress: nil)
        // The server dies; someone else binds its port.
        kill(-server.pid, SIGKILL)
        var status: Int32 = 0
        _ = waitpid(server.pid, &status, 0)
        // (the server, the shell's child, lets go of its socket a moment after the shell is reaped)
        let port = try #require(EndpointURL.port(server.baseURL))
        var taken: Squatter?
        let until = Date().addingTimeInterval(30)
        while taken == nil && Date() < until {
            taken = try? Squatter(model: server.servedModel, port: port)
            if taken == nil { usleep(100_000) }
        }
        let squatter = try #require(taken, "the port was never freed")
        defer { squatter.stop() }
        var message = "sent"
        do { _ = try model.score([[72, 105, 33]], distribution: false, progress: nil) } catch { message = "\(error)" }
        #expect(squatter.requests.isEmpty, "the squatter was sent: \(squatter.requests)")
        #expect(message.contains("no longer the one listening") && message.contains("not the serve command"), "\(message)")
        // and nothing listening at all (the server died, nobody took the port): refused too
        squatter.stop()
        do { _ = try model.score([[72, 105, 33]], distribution: false, progress: nil); message = "sent" } catch { message = "\(error)" }
        #expect(message.contains("nothing listens there any more"), "\(message)")
    }
}

extension PortSquatTests {
    /// Issue 22 review, L1: the proof took any loopback listener on the port. A listener of the
    /// command's on 127.0.0.2 (or ::1) "proved" a URL at 127.0.0.1, where nothing of its listened
    /// and anyone could bind next. Now only listeners a connection to the URL's own address can
    /// reach count: that address, or a wildcard that takes it.
    @Test func theProofIsTiedToTheAddressConnectedTo() throws {
        let ours = try Squatter(model: "m", address: "127.0.0.2")   // this process's: "the command's" for getpgrp()
        defer { ours.stop() }
        let url = "http://127.0.0.1:\(ours.port)/v1"
        #expect(try ListenerOwnership.check(url: url, group: getpgrp()) == .nobody("nothing listens on 127.0.0.1:\(ours.port) yet"),
                "a listener on another address proved this one")
        #expect(try ListenerOwnership.inodes(url: url).isEmpty)
        #expect(try ListenerOwnership.check(url: "http://127.0.0.2:\(ours.port)/v1", group: getpgrp()) == .ours)
        // Who takes a connection to what (bytes as /proc/net/tcp{,6} give them).
        let v4: [UInt8] = [127, 0, 0, 1], other: [UInt8] = [127, 0, 0, 2], any4: [UInt8] = [0, 0, 0, 0]
        let any6 = [UInt8](repeating: 0, count: 16), lo6 = [UInt8](repeating: 0, count: 15) + [1]
        let mapped = [UInt8](repeating: 0, count: 10) + [0xFF, 0xFF] + v4
        #expect(ListenerOwnership.takes(v4, v4) && ListenerOwnership.takes(any4, v4) && ListenerOwnership.takes(any6, v4) && ListenerOwnership.takes(mapped, v4))
        #expect(!ListenerOwnership.takes(other, v4) && !ListenerOwnership.takes(lo6, v4) && !ListenerOwnership.takes(v4, lo6) && !ListenerOwnership.takes(any4, lo6))
        #expect(ListenerOwnership.takes(lo6, lo6) && ListenerOwnership.takes(any6, lo6))
        #expect(ListenerOwnership.destinations("0.0.0.0") == [v4] && ListenerOwnership.destinations("[::]") == [lo6])
        #expect(ListenerOwnership.destinations("127.1") == [v4] && ListenerOwnership.destinations("[::ffff:127.0.0.1]") == [v4])
        #expect(ListenerOwnership.destinations("localhost") == [v4, lo6])
    }

    /// L1, the printed-URL flow: a URL the command printed was found held by someone else, and
    /// passed over — then looked at again every 250 ms, so that whoever held it could try again
    /// and again (and a listener that appeared there later was taken). Now it is never tried
    /// again: here the squatter leaves and the command's own server binds the port after it; the
    /// start still refuses that URL, naming the listener it found first.
    @Test func aPrintedURLFoundHeldByAnotherIsNeverTriedAgain() throws {
        let dir = try modelDir(context: 128)
        defer { try? FileManager.default.removeItem(atPath: URL(fileURLWithPath: dir).deletingLastPathComponent().path) }
        let squatter = try Squatter(model: dir)
        let port = squatter.port
        Thread { usleep(1_500_000); squatter.stop() }.start()
        let bin = shallotBinary().path
        let template = "echo \"INFO serving on http://127.0.0.1:\(port)/v1\" >&2; sleep 4; exec '\(bin)' serve --model {model} --port \(port) "
            + "--served-model-name {model} --api-key-env SHALLOT_SERVE_API_KEY"
        let message = refusal { try ModelServerProcess.start(template: template, model: dir, logPath: dir + "/../server.log", timeout: 25) }
        #expect(squatter.requests.isEmpty, "the squatter was sent: \(squatter.requests)")
        #expect(message.contains("did not serve") && message.contains("127.0.0.1:\(port)") && message.contains("not the serve command"), "\(message)")
    }
}

/// Whether an IPv6 socket can listen here (for the IPv6-only test).
let ipv6Listens: Bool = {
    let s = socket(AF_INET6, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard s >= 0 else { return false }
    defer { close(s) }
    var addr = sockaddr_in6()
    addr.sin6_family = sa_family_t(AF_INET6)
    return withUnsafePointer(to: &addr) { p in
        p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(s, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) == 0 }
    }
}()

extension PortSquatTests {
    /// Issue 22 review, L8: the command's socket on [::] counted as proof for a URL at 127.0.0.1.
    /// Bound IPV6_V6ONLY it takes no IPv4 connection: nothing of the command's serves 127.0.0.1,
    /// and anyone could bind 127.0.0.1:PORT next. Now an IPv4 URL is proven only by a listener of
    /// its own family (the address, or 0.0.0.0); the IPv6 wildcard still counts against a stranger.
    @Test(.enabled(if: ipv6Listens, "no IPv6 here"))
    func anIPv6OnlyListenerDoesNotProveAnIPv4URL() throws {
        let s = socket(AF_INET6, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        #expect(s >= 0)
        defer { close(s) }
        var one: Int32 = 1
        #expect(setsockopt(s, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &one, socklen_t(MemoryLayout<Int32>.size)) == 0)
        var addr = sockaddr_in6()
        addr.sin6_family = sa_family_t(AF_INET6)   // [::], port 0: the kernel's choice
        var len = socklen_t(MemoryLayout<sockaddr_in6>.size)
        let ok = withUnsafeMutablePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(s, $0, len) == 0 && getsockname(s, $0, &len) == 0 }
        }
        #expect(ok && listen(s, 4) == 0)
        let port = Int(UInt16(bigEndian: addr.sin6_port))
        // this process's socket: "the command's" for getpgrp()
        if case .nobody(let why) = try ListenerOwnership.check(url: "http://127.0.0.1:\(port)/v1", group: getpgrp()) {
            #expect(why.contains("for certain") && why.contains("IPv6-only"), "\(why)")
        } else { Issue.record("an IPv6-only socket proved a URL at 127.0.0.1") }
        #expect(try ListenerOwnership.check(url: "http://[::1]:\(port)/v1", group: getpgrp()) == .ours)
        // against someone else, the same socket still counts: it may take the connection
        let child = try ModelServerProcess.spawn("sleep 30", log: try tempDir() + "/sleep.log", environment: ["PATH": "/usr/bin:/bin"])
        defer { ModelServerProcess.terminate(child, grace: 1); ProcessGroups.unregister(child) }
        if case .foreign = try ListenerOwnership.check(url: "http://127.0.0.1:\(port)/v1", group: child) {} else {
            Issue.record("a stranger's IPv6 wildcard socket was not held against an IPv4 URL")
        }
        let any6 = [UInt8](repeating: 0, count: 16), v4: [UInt8] = [127, 0, 0, 1], mapped = [UInt8](repeating: 0, count: 10) + [0xFF, 0xFF] + v4
        #expect(!ListenerOwnership.certainlyTakes(any6, v4) && ListenerOwnership.takes(any6, v4))
        #expect(ListenerOwnership.certainlyTakes([0, 0, 0, 0], v4) && ListenerOwnership.certainlyTakes(v4, v4) && ListenerOwnership.certainlyTakes(mapped, v4))
        #expect(ListenerOwnership.certainlyTakes(any6, [UInt8](repeating: 0, count: 15) + [1]))
    }
}
