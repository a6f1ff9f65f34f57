// How a `--serve-cmd` server is found and recognised (ModelServerProcess): the URLs a command
// prints, and which /models answer names the model it was started for.

import Foundation
import Testing
import GPT
@testable import Endpoint

@Suite struct ServerProcessTests {
    func log(_ bytes: [UInt8]) throws -> String {
        let p = FileManager.default.temporaryDirectory.appendingPathComponent("serve-\(UUID().uuidString).log").path
        try Data(bytes).write(to: URL(fileURLWithPath: p))
        return p
    }

    @Test func everyPrintedURLInOrderWithV1() throws {
        var text = Array("INFO see https://docs.vllm.ai/en/latest/. Starting on http://0.0.0.0:8000 (Press CTRL+C)\n".utf8)
        text += [0xE2, 0x96]   // a progress bar cut inside a character
        text += Array("\nserving m on http://127.0.0.1:9000/v1/, again http://0.0.0.0:8000\n".utf8)
        let p = try log(text)
        defer { try? FileManager.default.removeItem(atPath: p) }
        // the documentation link has no port: never polled, never sent the key
        #expect(ModelServerProcess.printedURLs(p) == ["http://0.0.0.0:8000/v1", "http://127.0.0.1:9000/v1"])
        let empty = try log([])
        defer { try? FileManager.default.removeItem(atPath: empty) }
        #expect(ModelServerProcess.printedURLs(empty).isEmpty)
    }

    @Test func theModelIsTheOneNamedLikeItsDirectory() {
        func list(_ ids: [String]) -> Data { try! JSONSerialization.data(withJSONObject: ["object": "list", "data": ids.map { ["id": $0] }]) }
        let dir = "/runs/s/jobs/round1_reseed_seed0/model"
        #expect(ModelServerProcess.pickModel(list(["a", dir]), model: dir, anyOne: false) == .found(dir))        // vLLM: the path given
        #expect(ModelServerProcess.pickModel(list(["round1_reseed_seed0/model"]), model: dir + "/", anyOne: false) == .found("round1_reseed_seed0/model"))
        // every study model's directory is called "model": that alone names no job
        if case .found = ModelServerProcess.pickModel(list(["model"]), model: dir, anyOne: false) { Issue.record("\"model\" was taken for \(dir)") }
        #expect(ModelServerProcess.pickModel(list(["other"]), model: dir, anyOne: true) == .found("other"))       // our port, one model
        if case .notThis(let why) = ModelServerProcess.pickModel(list(["other"]), model: dir, anyOne: false) {
            #expect(why.contains("other"))
        } else { Issue.record("a server of another model was taken") }
        if case .notYet = ModelServerProcess.pickModel(list([]), model: dir, anyOne: true) {} else { Issue.record("an empty list is not a model") }
        if case .notThis = ModelServerProcess.pickModel(Data("<html>".utf8), model: dir, anyOne: true) {} else { Issue.record("HTML is not a model list") }
    }

    /// A `--serve-cmd` server that answers a completion without the key is refused (its
    /// /v1/models may be open either way: llama.cpp leaves it so); one that answers 401 is taken.
    /// (Scripted servers on threads of their own: a server on Swift's cooperative pool can be
    /// starved past the probe's 60 s while the whole suite runs on two cores.)
    @Test func aServerThatAnswersWithoutTheKeyIsRefused() async throws {
        let completion = #"{"id":"cmpl-1","object":"text_completion","model":"tiny","choices":[{"index":0,"text":" world","finish_reason":"length"}]}"#
        let open = try ScriptedServer { _, c in
            ScriptedServer.write(c, ScriptedServer.answer("200 OK", headers: ["Content-Type: application/json"], body: completion))
        }
        let guarded = try ScriptedServer { r, c in
            let keyed = r.head.lowercased().contains("authorization: bearer the-key")
            ScriptedServer.write(c, keyed ? ScriptedServer.answer("200 OK", headers: ["Content-Type: application/json"], body: completion)
                                          : ScriptedServer.answer("401 Unauthorized", headers: ["Content-Type: application/json"], body: #"{"error":"bad key"}"#))
        }
        defer { open.stop(); guarded.stop() }
        let refusal = try await offPool { () -> String? in
            do { try ModelServerProcess.demandsKey(base: open.url + "/v1", model: "tiny", command: "serve {model}"); return nil }
            catch { return "\(error)" }
        }
        #expect(refusal?.contains("answered HTTP 200") == true && refusal?.contains("SHALLOT_SERVE_API_KEY") == true, "\(refusal ?? "taken")")
        #expect(open.requests.map { $0.head.split(separator: " ").prefix(2).joined(separator: " ") } == ["POST /v1/completions"])
        try await offPool { try ModelServerProcess.demandsKey(base: guarded.url + "/v1", model: "tiny", command: "serve {model}") }
    }

    /// Issue 22 review, H1: vLLM's key guards only paths under /v1. A server that refuses
    /// /v1/completions without the key but answers the same completion at /invocations (vLLM's
    /// SageMaker route) passed the probe, and anyone on the machine could query the model there.
    /// Now every route of `keylessProbes` is probed without the key and a 2xx refuses the server;
    /// one that demands the key everywhere (as llama.cpp's server) is still taken.
    @Test func aServerOpenOnInvocationsIsRefused() async throws {
        let completion = #"{"id":"cmpl-1","object":"text_completion","model":"tiny","choices":[{"index":0,"text":" world","finish_reason":"length"}]}"#
        /// A scripted server: `open` paths answer a completion to anyone, the others 401 without the key.
        func server(open: Set<String>) throws -> ScriptedServer {
            try ScriptedServer { r, c in
                let path = r.head.split(separator: " ").dropFirst().first.map(String.init) ?? ""
                let keyed = r.head.lowercased().contains("authorization: bearer")
                let answer = open.contains(path) || keyed ? ScriptedServer.answer("200 OK", headers: ["Content-Type: application/json"], body: completion)
                    : ScriptedServer.answer("401 Unauthorized", headers: ["Content-Type: application/json"], body: #"{"error":"Unauthorized"}"#)
                ScriptedServer.write(c, answer)
            }
        }
        let vllm = try server(open: ["/invocations"])
        defer { vllm.stop() }
        let refusal = try await offPool { () -> String? in
            do { try ModelServerProcess.demandsKey(base: vllm.url + "/v1", model: "tiny", command: "vllm serve {model}"); return nil }
            catch { return "\(error)" }
        }
        #expect(refusal?.contains("answered HTTP 200") == true && refusal?.contains("/invocations") == true, "\(refusal ?? "taken")")
        #expect(refusal?.contains("guards only paths under /v1") == true, "\(refusal ?? "taken")")
        let heads = vllm.requests.map(\.head)
        #expect(heads.contains { $0.hasPrefix("POST /invocations ") && !$0.lowercased().contains("authorization") }, "\(heads)")
        // the tokenizer's routes count too
        let tokenizer = try server(open: ["/detokenize"])
        defer { tokenizer.stop() }
        let second = try await offPool { () -> String? in
            do { try ModelServerProcess.demandsKey(base: tokenizer.url + "/v1", model: "tiny", command: "serve {model}"); return nil }
            catch { return "\(error)" }
        }
        #expect(second?.contains("/detokenize") == true, "\(second ?? "taken")")
        // a server that demands the key on every route is taken, after every route was probed
        let guarded = try server(open: [])
        defer { guarded.stop() }
        try await offPool { try ModelServerProcess.demandsKey(base: guarded.url + "/v1", model: "tiny", command: "llama-server") }
        let probed = Set(guarded.requests.compactMap { $0.head.split(separator: " ").dropFirst().first.map(String.init) })
        #expect(probed == Set(["/v1/completions"] + ModelServerProcess.keylessProbes.map(\.path)), "\(probed)")
    }

    /// A server that logged a prompt and died: the error says where its log is and how it ended,
    /// never what it logged (the old message printed the log's last 12 lines: prompts, PII).
    @Test func aFailedServerIsReportedWithoutItsLog() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("serve-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let log = dir + "/server.log"
        // (the prompt comes from a file: the error names the command, which must not hold it)
        try "INFO Received request cmpl-1: prompt: 'Thanks, Dana dana@corvale.com 713-555-0142'\n".write(toFile: dir + "/req", atomically: true, encoding: .utf8)
        let template = "cat '\(dir)/req' >&2; exit 3 # {model}"
        var message = "no error"
        do { _ = try ModelServerProcess.start(template: template, model: dir, logPath: log, timeout: 30) } catch { message = "\(error)" }
        #expect(message.contains("exited with status 3") && message.contains(log), "\(message)")
        #expect(!message.contains("dana@corvale.com") && !message.contains("Thanks, Dana"), "\(message)")
        #expect(try String(contentsOfFile: log, encoding: .utf8).contains("dana@corvale.com"), "the log itself keeps what the server wrote")
    }
}

/// A --serve-cmd server gets the allow-listed environment, its key and --pass-env names, not
/// ours: a secret of this process (an API key, SHALLOT_SCRUB_SECRET) never reaches it.
@Suite struct ServerEnvironmentTests {
    @Test func aServerDoesNotInheritOurSecrets() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("serve-env-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        setenv("SHALLOT_TEST_PROBE_SECRET", "s3cret-probe", 1)
        setenv("SHALLOT_TEST_PROBE_PASSED", "passed-probe", 1)
        let template = "env > \"$SHALLOT_MODEL/env.txt\"; exit 3 # {model}"
        _ = try? ModelServerProcess.start(template: template, model: dir, logPath: dir + "/server.log", timeout: 30,
                                          passEnvironment: ["SHALLOT_TEST_PROBE_PASSED"])
        let env = try String(contentsOfFile: dir + "/env.txt", encoding: .utf8)
        #expect(!env.contains("s3cret-probe"), "\(env)")
        #expect(env.contains("SHALLOT_TEST_PROBE_PASSED=passed-probe") && env.contains("PATH="), "\(env)")
        #expect(env.contains("SHALLOT_SERVE_API_KEY=") && env.contains("SHALLOT_MODEL=\(dir)"), "\(env)")
    }

    @Test func aModelPathAShellCouldMisreadIsRefused() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("serve-$(touch pwned)-\(UUID().uuidString)").path
        var message = "started"
        do { _ = try ModelServerProcess.start(template: "true {model}", model: dir, logPath: "/dev/null", timeout: 5) } catch { message = "\(error)" }
        #expect(message.contains("{model}") && message.contains("dollar sign"), "\(message)")
    }
}
