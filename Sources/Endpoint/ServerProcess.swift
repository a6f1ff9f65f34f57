// A model server started for one model directory by the user's command template (the study's
// `--serve-cmd`, docs/plan.md "Audits through a model server"): `{model}` is replaced by the
// model directory, `{port}` by a free local port chosen here. The API base is
// `http://127.0.0.1:PORT/v1` when the template takes `{port}`; otherwise every http(s) URL with
// an explicit port the command prints (stdout or stderr; `/v1` added when missing) is tried in
// order. The server is ready when GET BASE/models lists the model: the one named by the
// directory's path (vLLM's default name) or by its last two components (`<job>/model`), or the
// only one listed when the template chose the port.
// The command's environment is ChildEnvironment's allow-list (plus --pass-env names), not ours;
// the model directory and port are also in SHALLOT_MODEL and SHALLOT_PORT, and a model path a
// shell could misread in some quoting context is refused (ShellPlaceholder).
// Each server gets a fresh API key in SHALLOT_SERVE_API_KEY (`shallot serve --api-key-env
// SHALLOT_SERVE_API_KEY`, `LLAMA_API_KEY=$SHALLOT_SERVE_API_KEY llama-server …`); it is sent with
// every request and never written down. Once the model is listed, one POST /completions without
// the key must be refused (401 or 403), and no other route a server may answer completions or
// its tokenizer on (vLLM's /invocations, llama.cpp's /completion, …: keylessProbes) may answer
// 2xx without it; a server that answers is stopped and refused (anyone on the machine could
// query it).
// The command runs in a process group of its own, so that stopping it stops what it started
// (`vllm serve`, `srun`, a wrapper script).
// Before anything is sent to a URL (the key-less probe included), its listener must be proven
// to be one of the command's processes (ListenerOwnership: /proc on Linux): another local user
// who bound the port first is never sent the key or a prompt.

import Foundation
import Support
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
    /// The key the server was started with (SHALLOT_SERVE_API_KEY); send it as a bearer token.
    public let apiKey: String
    let pid: pid_t
    private var stopped = false
    private let lock = NSLock()
    /// The listening sockets at `baseURL` proven to be the command's (guarded by `lock`).
    private var proven: Set<UInt64>

    /// The environment variable holding the server's API key.
    public static let apiKeyVariable = "SHALLOT_SERVE_API_KEY"

    /// Starts the server and waits until it answers (at most `timeout` seconds).
    /// The command gets ChildEnvironment's allow-list, the variables named in `passEnvironment`
    /// (--pass-env), SHALLOT_SERVE_API_KEY, SHALLOT_MODEL and SHALLOT_PORT (with `{port}`).
    public static func start(template: String, model: String, logPath: String, timeout: Double,
                             passEnvironment: [String] = []) throws -> ModelServerProcess {
        try start(template: template, model: model, logPath: logPath, timeout: timeout, passEnvironment: passEnvironment, choosePort: freePort)
    }

    /// `start`, with the port for `{port}` chosen by `choosePort` (the tests hand out one they hold).
    static func start(template: String, model: String, logPath: String, timeout: Double, passEnvironment: [String] = [],
                      choosePort: () throws -> Int) throws -> ModelServerProcess {
        let port = template.contains("{port}") ? try choosePort() : nil
        let cmd = template.replacingOccurrences(of: "{model}", with: try ShellPlaceholder.quoted(model, for: "{model}"))
            .replacingOccurrences(of: "{port}", with: port.map(String.init) ?? "")
        var rng = SystemRandomNumberGenerator()
        let key = (0..<4).map { _ in String(rng.next() as UInt64, radix: 16) }.joined()
        var own = [apiKeyVariable: key, "SHALLOT_MODEL": model]
        if let port { own["SHALLOT_PORT"] = String(port) }
        let pid = try spawn(cmd, log: logPath, environment: ChildEnvironment.build(passing: passEnvironment, adding: own))
        do {
            return try waitUntilServing(pid: pid, cmd: cmd, port: port, model: model, key: key, logPath: logPath, timeout: timeout)
        } catch {
            var status: Int32 = 0
            let reaped = waitpid(pid, &status, WNOHANG) == -1 && errno == ECHILD   // it exited (and its group was killed) already
            if !reaped { terminate(pid, grace: 5) }   // never a signal to a pid that may be another process's by now
            ProcessGroups.unregister(pid)
            throw error
        }
    }

    private init(pid: pid_t, baseURL: String, servedModel: String, command: String, logPath: String, apiKey: String, listeners: Set<UInt64>) {
        self.pid = pid; self.baseURL = baseURL; self.servedModel = servedModel; self.command = command; self.logPath = logPath; self.apiKey = apiKey
        proven = listeners
    }

    /// Throws unless the listener at `baseURL` is still the server's: call before every request
    /// (EndpointSettings.beforeEachAttempt). The sockets listening on the port must be ones
    /// proven the command's, or be proven so now; none at all means the server died. A server
    /// that died and a process that bound its port after it are never sent the key or a prompt.
    public func checkListener() throws {
        let now = try ListenerOwnership.inodes(url: baseURL)
        let shown = TerminalText.escape(EndpointURL.redacted(baseURL))
        guard !now.isEmpty else {
            throw EndpointError("\(shown): nothing listens there any more: the server `\(command)` stopped (\(logPointer(logPath))); "
                                + "nothing more was sent")
        }
        if lock.withLock({ now.isSubset(of: proven) }) { return }
        let (finding, inodes) = try ListenerOwnership.examine(url: baseURL, group: pid)
        switch finding {
        case .ours: lock.withLock { proven.formUnion(inodes) }
        case .nobody(let why), .foreign(let why), .unprovable(let why):
            throw EndpointError("the server `\(command)` is no longer the one listening: \(why)")
        }
    }

    deinit { stop() }

    /// SIGTERM to the command's process group, SIGKILL to whatever of it is left after `grace`
    /// seconds; waits for the command itself.
    public func stop(grace: Double = 15) {
        lock.lock(); defer { lock.unlock() }
        guard !stopped else { return }
        stopped = true
        Self.terminate(pid, grace: grace)
        ProcessGroups.unregister(pid)
    }

    /// ProcessGroups.stop, then the command itself reaped (it is our child).
    static func terminate(_ pid: pid_t, grace: Double) {
        ProcessGroups.stop([pid], grace: grace)
        var status: Int32 = 0
        _ = waitpid(pid, &status, 0)   // ECHILD when reaped already
    }

    // MARK: starting

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

    /// `/bin/sh -c cmd` in a new process group with exactly `environment`, stdin from /dev/null,
    /// stdout and stderr to `log` (truncated, 0600: a server may log prompts), no other file
    /// descriptor of ours, SIGINT/SIGTERM/SIGPIPE at their defaults and nothing blocked (we
    /// ignore SIGINT while servers run, and a child would inherit that).
    static func spawn(_ cmd: String, log: String, environment: [String: String]) throws -> pid_t {
        let opened: Int32
        do { opened = try PrivateFile.openLog(log, truncate: true) } catch { throw EndpointError("the server's log: \(error)") }
        // Above 2, so that the child's stdin/stdout/stderr actions never replace it (a process
        // started with fd 0 closed would get the log there).
        let fd = opened > 2 ? opened : fcntl(opened, F_DUPFD_CLOEXEC, 3)
        if fd != opened { close(opened) }
        guard fd >= 0 else { throw EndpointError("\(log): cannot write the server's log (\(String(cString: strerror(errno))))") }
        defer { close(fd) }
        fchmod(fd, 0o600)
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, fd, 1)
        posix_spawn_file_actions_adddup2(&actions, fd, 2)
        // None of our other descriptors (open logs, sockets): close what is open now from 3 up
        // (a descriptor closed meanwhile is no error for glibc's posix_spawn).
        let open = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []).compactMap { Int32($0) }.filter { $0 > 2 }
        for d in open.sorted() { posix_spawn_file_actions_addclose(&actions, d) }
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        var defaults = sigset_t(), none = sigset_t()
        sigemptyset(&defaults); sigemptyset(&none)
        for s in [SIGINT, SIGTERM, SIGPIPE] { sigaddset(&defaults, s) }
        posix_spawnattr_setsigdefault(&attr, &defaults)
        posix_spawnattr_setsigmask(&attr, &none)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))
        posix_spawnattr_setpgroup(&attr, 0)
        let args: [UnsafeMutablePointer<CChar>?] = ["/bin/sh", "-c", cmd].map { a in a.withCString { strdup($0) } }
        let envp: [UnsafeMutablePointer<CChar>?] = environment.map { k, v in "\(k)=\(v)".withCString { strdup($0) } }
        defer { (args + envp).forEach { free($0) } }
        return try ProcessGroups.register {
            var pid: pid_t = 0
            let rc = posix_spawn(&pid, "/bin/sh", &actions, &attr, args + [nil], envp + [nil])  // argv, envp: NULL-terminated C arrays
            guard rc == 0 else { throw EndpointError("cannot start /bin/sh -c \(cmd): \(String(cString: strerror(rc)))") }
            return pid
        }
    }

    static func waitUntilServing(pid: pid_t, cmd: String, port: Int?, model: String, key: String, logPath: String, timeout: Double) throws -> ModelServerProcess {
        let deadline = Date().addingTimeInterval(timeout)
        let http = try HTTPTransport(concurrency: 1, apiKey: key, logPath: nil, revealBodies: false, maxRetries: 0, retryBaseDelay: 0.1,
                                     timeoutSeconds: 5, deadlineSeconds: 10)
        var lastProblem = "no answer yet"
        // Printed URLs found held by another process (or not on loopback): never looked at again.
        // Trying again and again would give a squatter a new chance with every look; and a server
        // whose printed port someone else held has not bound it (or shares it: SO_REUSEPORT).
        var passedOver: [String: String] = [:]
        while true {
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid {
                kill(-pid, SIGKILL)
                ProcessGroups.unregister(pid)
                let last = lastProblem == "no answer yet" ? "" : " (\(lastProblem))"
                throw EndpointError("the serve command `\(cmd)` \(describeExit(status)) before serving\(last); \(logPointer(logPath))")
            }
            if Date() >= deadline {
                throw EndpointError("the serve command `\(cmd)` did not serve within \(Int(timeout)) s (\(lastProblem)); \(logPointer(logPath))")
            }
            let candidates = port.map { ["http://127.0.0.1:\($0)/v1"] } ?? printedURLs(logPath)
            if candidates.isEmpty && port == nil { lastProblem = "the command has printed no URL with a port" }
            var problems: [String] = []
            for base in candidates {
                let shown = TerminalText.escape(EndpointURL.redacted(base))   // printed by the command: shown escaped
                if let why = passedOver[base] { problems.append(why); continue }
                // Nothing, not even the key-less probe, before the listener is proven the command's.
                let finding = try ListenerOwnership.check(url: base, group: pid)
                if let why = try unproven(finding, portGiven: port != nil, command: cmd) {
                    if finding.passedOver { passedOver[base] = why }
                    problems.append(why); continue
                }
                var served: String?
                do {
                    let r = try blocking { try await http.send(base + "/models", body: nil, kind: "models", retry: false, maxBytes: ResponseBudget.models) }
                    guard (200..<300).contains(r.status) else { problems.append("GET \(shown)/models: HTTP \(r.status)"); continue }
                    switch pickModel(r.body, model: model, anyOne: port != nil) {
                    case .found(let name): served = name
                    case .notYet(let why), .notThis(let why): problems.append("GET \(shown)/models: \(why)")
                    }
                } catch {
                    problems.append("GET \(shown)/models: \(error)")
                }
                if let served {
                    // (again: the listener that answered is still the command's before the probe;
                    // its sockets are what every later request is checked against)
                    let (again, inodes) = try ListenerOwnership.examine(url: base, group: pid)
                    if let why = try unproven(again, portGiven: port != nil, command: cmd) {
                        if again.passedOver { passedOver[base] = why }
                        problems.append(why); continue
                    }
                    try demandsKey(base: base, model: served, command: cmd)
                    return ModelServerProcess(pid: pid, baseURL: base, servedModel: served, command: cmd, logPath: logPath, apiKey: key, listeners: inodes)
                }
            }
            if !problems.isEmpty { lastProblem = problems.joined(separator: "; ") }
            usleep(250_000)
        }
    }

    /// Why nothing may be sent to a URL yet, from what listens there (nil: the command's). A listener of
    /// another process on the port the command was given ({port}) stops the start at once; a URL
    /// the command printed is passed over for good (never sent anything, never looked at again)
    /// and reported if nothing else serves. /proc that cannot tell is an error either way
    /// (ListenerOwnership).
    static func unproven(_ finding: ListenerOwnership.Finding, portGiven: Bool, command: String) throws -> String? {
        switch finding {
        case .ours: return nil
        case .nobody(let why): return why
        case .foreign(let why), .unprovable(let why):
            if portGiven { throw EndpointError("the serve command `\(command)`: \(why)") }
            return why
        }
    }

    /// What a key-less probe sends: a completion, a chat completion, or a tokenizer request.
    enum ProbeBody { case completion, chat, tokenize, detokenize }

    /// The routes probed without the key besides BASE/completions, from the server's root (BASE
    /// without its `/v1`). vLLM's `--api-key`/`VLLM_API_KEY` guards only paths under `/v1` (newer
    /// versions: `/v2`, `/inference` too): its SageMaker route `/invocations` takes the same
    /// completion body and answers without the key, and so do `/tokenize` and `/detokenize`
    /// (the study's tokenizer is learnt from the corpus: its vocabulary holds frequent names and
    /// addresses). `/generate` is vLLM's demo server; `/completion`, `/completions` and
    /// `/chat/completions` are llama.cpp's server's own and unversioned routes.
    static let keylessProbes: [(path: String, body: ProbeBody)] = [
        ("/invocations", .completion), ("/v1/chat/completions", .chat), ("/completion", .completion), ("/completions", .completion),
        ("/chat/completions", .chat), ("/generate", .completion), ("/tokenize", .tokenize), ("/detokenize", .detokenize),
    ]

    static func probeBody(_ kind: ProbeBody, model: String) throws -> Data {
        let o: [String: Any]
        switch kind {
        case .completion: o = ["model": model, "prompt": "Hello", "max_tokens": 1]
        case .chat: o = ["model": model, "messages": [["role": "user", "content": "Hello"]], "max_tokens": 1]
        case .tokenize: o = ["model": model, "prompt": "Hello", "content": "Hello"]
        case .detokenize: o = ["model": model, "tokens": [72]]
        }
        return try JSONSerialization.data(withJSONObject: o)
    }

    /// Refuses a server that answers a completion without the key. Servers often leave
    /// /v1/models open with a key set (llama.cpp does), so the probes are the requests that
    /// matter, each sent once without the key: POST BASE/completions must be refused (401 or
    /// 403: a server that demands the key says so there); then every route of `keylessProbes`
    /// must not be answered 2xx (404, 405, 422 are fine: the route is not there, or not for
    /// this body). Any 2xx is taken as served (its body is not read), and a probe without an
    /// answer as not refused.
    static func demandsKey(base: String, model: String, command: String) throws {
        let http = try HTTPTransport(concurrency: 1, apiKey: nil, logPath: nil, revealBodies: false, maxRetries: 0, retryBaseDelay: 0.1,
                                     timeoutSeconds: 60, deadlineSeconds: 60)
        let root = base.hasSuffix("/v1") ? String(base.dropLast(3)) : base
        let probes = [(url: base + "/completions", body: ProbeBody.completion, mustRefuse: true)]
            + keylessProbes.map { (url: root + $0.path, body: $0.body, mustRefuse: false) }
        for probe in probes {
            let body = try probeBody(probe.body, model: model)
            let answer: String
            do {
                let status = try blocking { try await http.send(probe.url, body: body, kind: "key probe", retry: false) }.status
                if probe.mustRefuse ? (status == 401 || status == 403) : !(200..<300).contains(status) { continue }
                answer = "answered HTTP \(status)"
            } catch {
                answer = "did not refuse it (\(error))"
            }
            throw keylessRefusal(answer: answer, url: probe.url, command: command)
        }
    }

    static func keylessRefusal(answer: String, url: String, command: String) -> EndpointError {
        var why = "the server `\(command)` started \(answer) to POST \(TerminalText.escape(EndpointURL.redacted(url))) without the API key: anyone who "
            + "can reach it could query the model. It must demand the key in $\(apiKeyVariable) on every route that answers "
            + "(shallot serve: --api-key-env \(apiKeyVariable); llama.cpp: LLAMA_API_KEY=$\(apiKeyVariable) in its environment, "
            + "never --api-key on its command line, where every local user can read it); a server that does answers 401 or 403"
        if !url.hasSuffix("/v1/completions") {
            why += ". vLLM's key (VLLM_API_KEY) guards only paths under /v1: its /invocations, /tokenize and /detokenize answer "
                + "anyone without it (docs/security.md, \"Serving a model\")"
        }
        return EndpointError(why)
    }

    enum Pick: Equatable { case found(String), notYet(String), notThis(String) }

    /// The served model's id in a /models answer: the one named by the directory's path (as
    /// given, or standardised) or by its last two components (`<job>/model`: every study model's
    /// directory is called `model`, so the last alone names nothing); with `anyOne` (the port is
    /// ours), the only one listed.
    static func pickModel(_ body: Data, model: String, anyOne: Bool) -> Pick {
        guard let obj = try? JSONSerialization.jsonObject(with: body) as? [String: Any], let data = obj["data"] as? [[String: Any]] else {
            return .notThis("not an OpenAI model list")
        }
        let ids = data.compactMap { $0["id"] as? String }
        if ids.isEmpty { return .notYet("no model listed yet") }
        let dir = URL(fileURLWithPath: model).standardizedFileURL
        let lastTwo = dir.deletingLastPathComponent().lastPathComponent + "/" + dir.lastPathComponent
        if let m = ids.first(where: { $0 == model || $0 == dir.path || $0 == lastTwo }) { return .found(m) }
        if anyOne && ids.count == 1 { return .found(ids[0]) }
        return .notThis("it serves \(ids.prefix(20).map { TerminalText.escape(String($0.prefix(200))) }.joined(separator: ", ")), not \(model)")
    }

    /// Every distinct http(s) URL with an explicit port in the log, in order, with `/v1` added
    /// when its path does not end so (at most 16). A server announces its port; documentation
    /// links do not, and must not be sent the key.
    static func printedURLs(_ logPath: String) -> [String] {
        guard let h = FileHandle(forReadingAtPath: logPath) else { return [] }
        defer { try? h.close() }
        guard let d = try? h.read(upToCount: 1 << 20) else { return [] }
        let text = String(decoding: d, as: UTF8.self)
        var out: [String] = []
        var from = text.startIndex
        while out.count < 16, let r = text.range(of: #"https?://[^\s"'<>/:]+:[0-9]+[^\s"'<>]*"#, options: .regularExpression, range: from..<text.endIndex) {
            from = r.upperBound
            var url = String(text[r])
            while let last = url.last, ".,;:)]}".contains(last) { url.removeLast() }
            while url.hasSuffix("/") { url.removeLast() }
            if !url.hasSuffix("/v1") { url += "/v1" }
            if !out.contains(url) { out.append(url) }
        }
        return out
    }

    static func describeExit(_ status: Int32) -> String {
        let sig = status & 0x7f
        return sig == 0 ? "exited with status \((status >> 8) & 0xff)" : "was killed by signal \(sig)"
    }
}
