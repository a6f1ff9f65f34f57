// A model server started for one model directory by the user's command template (the study's
// `--serve-cmd`, docs/plan.md "Audits through a model server"): `{model}` is replaced by the
// model directory, `{port}` by a free local port chosen here. The API base is
// `http://127.0.0.1:PORT/v1` when the template takes `{port}`, else the first http(s) URL the
// command prints (stdout or stderr; `/v1` is added when missing). The server is ready when
// GET BASE/models lists a model: the only one listed, or the one named after the directory.
// The command runs in a process group of its own, so that stopping it stops what it started
// (`vllm serve`, `srun`, a wrapper script).

import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public final class ModelServerProcess: @unchecked Sendable {
    public let baseURL: String
    public let servedModel: String
    public let command: String
    public let logPath: String
    let pid: pid_t
    private var stopped = false
    private let lock = NSLock()

    /// Starts the server and waits until it answers (at most `timeout` seconds).
    public static func start(template: String, model: String, logPath: String, timeout: Double) throws -> ModelServerProcess {
        let port = template.contains("{port}") ? try freePort() : nil
        let cmd = template.replacingOccurrences(of: "{model}", with: shellQuote(model))
            .replacingOccurrences(of: "{port}", with: port.map(String.init) ?? "")
        let pid = try spawn(cmd, log: logPath)
        let server = try waitUntilServing(pid: pid, cmd: cmd, port: port, model: model, logPath: logPath, timeout: timeout)
        return server
    }

    private init(pid: pid_t, baseURL: String, servedModel: String, command: String, logPath: String) {
        self.pid = pid; self.baseURL = baseURL; self.servedModel = servedModel; self.command = command; self.logPath = logPath
    }

    deinit { stop() }

    /// SIGTERM to the command's process group, SIGKILL after `grace` seconds; waits for it.
    public func stop(grace: Double = 15) {
        lock.lock(); defer { lock.unlock() }
        guard !stopped else { return }
        stopped = true
        Self.terminate(pid, grace: grace)
    }

    static func terminate(_ pid: pid_t, grace: Double) {
        kill(-pid, SIGTERM)
        let deadline = Date().addingTimeInterval(grace)
        var status: Int32 = 0
        while Date() < deadline {
            if waitpid(pid, &status, WNOHANG) == pid { kill(-pid, SIGKILL); return }  // the leader is gone; stragglers too
            usleep(100_000)
        }
        kill(-pid, SIGKILL)
        _ = waitpid(pid, &status, 0)
    }

    // MARK: starting

    static func shellQuote(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'" }

    /// A TCP port nothing listens on now (the kernel's choice for port 0).
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw EndpointError("cannot open a socket to find a free port") }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = 0
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
        }
        guard ok else { throw EndpointError("cannot bind a socket to find a free port") }
        return Int(UInt16(bigEndian: addr.sin_port))
    }

    /// `/bin/sh -c cmd` in a new process group, stdout and stderr appended to `log` (0600).
    static func spawn(_ cmd: String, log: String) throws -> pid_t {
        let fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw EndpointError("\(log): cannot write the server's log (\(String(cString: strerror(errno))))") }
        defer { close(fd) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, fd, 1)
        posix_spawn_file_actions_adddup2(&actions, fd, 2)
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETPGROUP))
        posix_spawnattr_setpgroup(&attr, 0)
        let args: [UnsafeMutablePointer<CChar>?] = ["/bin/sh", "-c", cmd].map { a in a.withCString { strdup($0) } }
        defer { args.forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, "/bin/sh", &actions, &attr, args + [nil], environ)  // argv as a C array, NULL-terminated
        guard rc == 0 else { throw EndpointError("cannot start /bin/sh -c \(cmd): \(String(cString: strerror(rc)))") }
        return pid
    }

    static func waitUntilServing(pid: pid_t, cmd: String, port: Int?, model: String, logPath: String, timeout: Double) throws -> ModelServerProcess {
        let deadline = Date().addingTimeInterval(timeout)
        let http = try HTTPTransport(concurrency: 1, apiKey: nil, logPath: nil, revealBodies: false, maxRetries: 0, retryBaseDelay: 0.1, timeoutSeconds: 5)
        var lastProblem = "no answer yet"
        while true {
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid {
                kill(-pid, SIGKILL)
                throw EndpointError("the serve command `\(cmd)` \(describeExit(status)) before serving; the last lines of its output (\(logPath)):\n\(tail(logPath))")
            }
            if Date() >= deadline {
                terminate(pid, grace: 5)
                throw EndpointError("the serve command `\(cmd)` did not serve within \(Int(timeout)) s (\(lastProblem)); the last lines of its output (\(logPath)):\n\(tail(logPath))")
            }
            if let base = port.map({ "http://127.0.0.1:\($0)/v1" }) ?? printedURL(logPath) {
                do {
                    let r = try blocking { try await http.send(base + "/models", body: nil, kind: "models", retry: false) }
                    if (200..<300).contains(r.status) {
                        if let name = try pickModel(r.body, model: model, base: base) {
                            return ModelServerProcess(pid: pid, baseURL: base, servedModel: name, command: cmd, logPath: logPath)
                        }
                        lastProblem = "GET \(base)/models lists no model yet"
                    } else {
                        lastProblem = "GET \(base)/models: HTTP \(r.status)"
                    }
                } catch let e as EndpointError where e.message.hasPrefix("GET ") {
                    terminate(pid, grace: 5)
                    throw e
                } catch {
                    lastProblem = "GET \(base)/models: \(error)"
                }
            }
            usleep(250_000)
        }
    }

    /// The served model's id: the only one listed, else the one named like the directory (nil:
    /// the list is still empty).
    static func pickModel(_ body: Data, model: String, base: String) throws -> String? {
        guard let obj = try? JSONSerialization.jsonObject(with: body) as? [String: Any], let data = obj["data"] as? [[String: Any]] else {
            throw EndpointError("GET \(base)/models: not an OpenAI model list")
        }
        let ids = data.compactMap { $0["id"] as? String }
        if ids.isEmpty { return nil }
        if ids.count == 1 { return ids[0] }
        let dir = URL(fileURLWithPath: model).standardizedFileURL
        if let m = ids.first(where: { $0 == model || $0 == dir.path || $0 == dir.lastPathComponent }) { return m }
        throw EndpointError("GET \(base)/models: several models (\(ids.joined(separator: ", "))) and none is named after \(model)")
    }

    /// The first http(s) URL in the log, with `/v1` added when its path does not end so.
    static func printedURL(_ logPath: String) -> String? {
        guard let h = FileHandle(forReadingAtPath: logPath) else { return nil }
        defer { try? h.close() }
        guard let d = try? h.read(upToCount: 1 << 20), let text = String(data: d, encoding: .utf8) else { return nil }
        guard let r = text.range(of: #"https?://[^\s"'<>]+"#, options: .regularExpression) else { return nil }
        var url = String(text[r])
        while let last = url.last, ".,;:)]}".contains(last) { url.removeLast() }
        while url.hasSuffix("/") { url.removeLast() }
        return url.hasSuffix("/v1") ? url : url + "/v1"
    }

    static func describeExit(_ status: Int32) -> String {
        let sig = status & 0x7f
        return sig == 0 ? "exited with status \((status >> 8) & 0xff)" : "was killed by signal \(sig)"
    }

    static func tail(_ path: String, lines: Int = 12) -> String {
        guard let d = FileManager.default.contents(atPath: path) else { return "" }
        return String(decoding: d.suffix(1 << 16), as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).suffix(lines).joined(separator: "\n")
    }
}
