// The attacks through `OpenAICompletionsModel` against a fake OpenAI-compatible server (on
// 127.0.0.1, answering from a tiny model) give what they give in-process.

import Audit
import Corpus
import Endpoint
import Foundation
import GPT
import PII
import Testing
import Tokenizer
import Training

/// A 2-layer, 64-wide byte-level GPT trained on `texts` (as AuditTests' `tinyMemorisingModel`).
func tinyModel(_ texts: [String], steps: Int, seed: UInt64) throws -> GPT {
    let tok = ByteTokenizer()
    var toks: [Int32] = []
    for t in texts { toks += tok.encode(t) + [tok.endOfText] }
    let model = GPT(config: GPTConfig(vocabSize: 257, nPositions: 64, nEmbd: 64, nLayer: 2, nHead: 4, dropout: 0, eosTokenId: 256), seed: seed)
    var p = TrainParameters(); p.batchSize = 8; p.context = 64; p.steps = steps; p.learningRate = 3e-3; p.checkpointEvery = 0
    _ = try Trainer(model: model, data: TokenDataset(tokens: toks, fileSHA256: "test"), params: p, checkpointPath: nil).run(resume: false)
    return model
}

enum Fixture {
    static let members: [Record] = {
        var r: [Record] = []
        for i in 0..<24 {
            r.append(Record(id: "d\(i)", subject: "dana@corvale.com", text: "Note \(i % 7).\nThanks,\nDana\ndana@corvale.com | 713-555-0142\n", source: "t"))
        }
        for i in 0..<8 { r.append(Record(id: "l\(i)", subject: "lee@bayline.com", text: "Hi all,\nlee@bayline.com | 212-555-0199\n", source: "t")) }
        r.append(Record(id: "k0", subject: "kim@orvex.net", text: "Ping kim@orvex.net or 646-555-0123 today.\n", source: "t"))
        return r
    }()
    static let nonMembers: [Record] = (0..<8).map { i in
        Record(id: "n\(i)", subject: "x\(i)", text: "Room \(i) is free after lunch; bring the slides.\n", source: "t")
    }
    static let model: GPT = try! tinyModel(members.map(\.text), steps: 250, seed: 5)
    static let secret = "sk-test-\(UUID().uuidString)"
}

func endpointModel(_ server: FakeOpenAIServer, log: String? = nil, key: String? = Fixture.secret) throws -> OpenAICompletionsModel {
    var s = EndpointSettings(baseURL: server.baseURL, servedModel: "tiny")
    s.apiKey = key; s.requestLog = log; s.concurrency = 8; s.retryBaseDelay = 0.01
    return try OpenAICompletionsModel(s)
}

func tempDir() throws -> String {
    let d = FileManager.default.temporaryDirectory.appendingPathComponent("endpoint-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
    return d
}

@Suite(.serialized) struct EndpointAgreementTests {
    @Test func targetedExtractionAndMIAScoresMatchInProcess() async throws {
        let server = FakeOpenAIServer(model: Fixture.model, options: .init(apiKey: Fixture.secret))
        try await server.start()
        defer { server.stop() }
        let dir = try tempDir()
        let log = dir + "/requests.jsonl"
        struct Outcome: @unchecked Sendable {
            var capabilities: ModelCapabilities, contextLength: Int, promptFormat: String?
            var local: [ExtractionResult], remote: [ExtractionResult]
            var localSignals: [RecordSignals], remoteSignals: [RecordSignals]
            var localReport: AuditReport, remoteReport: AuditReport
        }
        let o = try await offPool { () -> Outcome in
            let remote = try endpointModel(server, log: log)
            let tok = ByteTokenizer()
            let local = LocalModel(Fixture.model, tokenizer: tok)
            let index = PIIIndex.build(records: Fixture.members, scanner: PIIScanner(types: [.email, .phone]))
            let byId = Dictionary(uniqueKeysWithValues: Fixture.members.map { ($0.id, $0) })
            var ex = ExtractionSettings(); ex.prefixLengths = [10, 30]
            let a = try TargetedExtraction.run(model: local, tokenizer: tok, index: index, records: byId, types: [.email, .phone], settings: ex)
            let b = try TargetedExtraction.run(model: remote, tokenizer: remote.tokenizer, index: index, records: byId, types: [.email, .phone], settings: ex)
            let texts = (Fixture.members + Fixture.nonMembers).map(\.text)
            let ls = try MembershipInference.signals(model: local, tokenizer: tok, texts: texts)
            let rs = try MembershipInference.signals(model: remote, tokenizer: remote.tokenizer, texts: texts)
            // The whole audit through the endpoint.
            let settings = AuditSettings(attacks: [.extraction, .exposure, .mia], types: [.email, .phone], extraction: ex,
                                         exposureValues: 4, exposureCandidates: 20, exposureContextTokens: 32, bootstrapResamples: 0,
                                         limit: nil, seed: 1, revealPII: false)
            let inLocal = AuditInputs(model: Fixture.model, modelInfo: [:], tokenizer: tok, records: Fixture.members, corpusInfo: [:],
                                      nonMembers: Fixture.nonMembers, reference: nil, canaries: nil)
            let inRemote = AuditInputs(model: remote, modelInfo: ["endpoint": server.baseURL, "served_model": "tiny"], tokenizer: remote.tokenizer,
                                       records: Fixture.members, corpusInfo: [:], nonMembers: Fixture.nonMembers, reference: nil, canaries: nil)
            let lr = try AuditRunner.run(inLocal, settings: settings, salt: Data("s".utf8))
            let rr = try AuditRunner.run(inRemote, settings: settings, salt: Data("s".utf8))
            return Outcome(capabilities: remote.capabilities, contextLength: remote.contextLength, promptFormat: remote.probe["prompt_format"],
                           local: a, remote: b, localSignals: ls, remoteSignals: rs, localReport: lr, remoteReport: rr)
        }
        #expect(o.capabilities == ModelCapabilities(promptLogprobs: true, distribution: false))
        #expect(o.contextLength == 64 && o.promptFormat == "token_ids")
        // Targeted extraction: the same values extracted, at the same prefix lengths.
        #expect(o.local.filter(\.extracted).count >= 2)
        #expect(Set(o.local.filter(\.extracted).map(\.value)) == Set(o.remote.filter(\.extracted).map(\.value)))
        #expect(o.local.map(\.smallestExtractingK) == o.remote.map(\.smallestExtractingK))
        // MIA signals and scores within 1e-4 (Min-K%++ needs the distribution: absent remotely).
        for (l, r) in zip(o.localSignals, o.remoteSignals) {
            #expect(l.logprobs.count == r.logprobs.count)
            for s in [MIAScore.loss, .zlib, .lowercase, .minK] { #expect(abs(s.score(l)! - s.score(r)!) < 1e-4) }
            #expect(MIAScore.minKPlusPlus.score(r) == nil)
        }
        let lr = o.localReport, rr = o.remoteReport
        #expect(lr.values.map(\.extracted) == rr.values.map(\.extracted))
        for (x, y) in zip(lr.values, rr.values) { #expect(abs((x.logLikelihoodPerToken ?? 0) - (y.logLikelihoodPerToken ?? 1)) < 1e-4) }
        #expect(abs(lr.membershipInference!["loss"]!.auc - rr.membershipInference!["loss"]!.auc) < 1e-4)
        #expect(lr.membershipInference!["min_k_plus_plus"] != nil && rr.membershipInference!["min_k_plus_plus"] == nil)
        #expect(rr.unavailable?["mia.min_k_plus_plus"] != nil && lr.unavailable == nil)
        let report = rr
        // The key is sent (the server refuses requests without it) but written nowhere.
        let json = String(decoding: try JSONEncoder().encode(report), as: UTF8.self)
        let logText = try String(contentsOfFile: log, encoding: .utf8)
        #expect(!logText.isEmpty && !json.contains(Fixture.secret) && !logText.contains(Fixture.secret))
        // No raw PII in the log without --reveal-pii.
        #expect(!logText.contains("dana@corvale.com") && !logText.contains("713-555"))
        #expect(logText.contains("\"status\":200") && logText.contains("latency_ms"))
    }

    @Test func transientErrorsAreRetried() async throws {
        let server = FakeOpenAIServer(model: Fixture.model, options: .init(failFirst: 3))
        try await server.start()
        defer { server.stop() }
        let dir = try tempDir()
        let (retries, out) = try await offPool { () -> (Int, [[Int32]]) in
            let remote = try endpointModel(server, log: dir + "/requests.jsonl", key: nil)
            let tok = ByteTokenizer()
            let out = try remote.generate(prompts: [tok.encode("Thanks,\nDana\n")], .greedy(16), endOfText: nil)
            return (remote.retries, out)
        }
        let local = try Generator(model: Fixture.model).generate(prompts: [ByteTokenizer().encode("Thanks,\nDana\n")], .greedy(16), endOfText: nil)
        #expect(retries >= 3 && out == local)
        let logText = try String(contentsOfFile: dir + "/requests.jsonl", encoding: .utf8)
        #expect(logText.components(separatedBy: "\"status\":503").count - 1 == 3)
    }

    @Test func withoutPromptLogprobsMembershipInferenceIsUnavailableNotACrash() async throws {
        let server = FakeOpenAIServer(model: Fixture.model, options: .init(noPromptLogprobs: true, textPromptsOnly: true))
        try await server.start()
        defer { server.stop() }
        let (caps, format, report) = try await offPool { () -> (ModelCapabilities, String?, AuditReport) in
            let remote = try endpointModel(server, key: nil)
            var ex = ExtractionSettings(); ex.prefixLengths = [10]
            let settings = AuditSettings(attacks: [.extraction, .exposure, .mia, .untargeted], types: [.email, .phone], extraction: ex,
                                         exposureValues: 4, exposureCandidates: 10, exposureContextTokens: 32, bootstrapResamples: 0,
                                         limit: nil, seed: 1, revealPII: false)
            var inp = AuditInputs(model: remote, modelInfo: [:], tokenizer: remote.tokenizer, records: Fixture.members, corpusInfo: [:],
                                  nonMembers: Fixture.nonMembers, reference: nil, canaries: nil)
            inp.promptText = "Thanks,\nDana\nHi all,\nPlease call me."
            var s = settings; s.untargeted.prompts = 4; s.untargeted.samplesPerPrompt = 1; s.untargeted.newTokens = 24
            return (remote.capabilities, remote.probe["prompt_format"], try AuditRunner.run(inp, settings: s, salt: Data("s".utf8)))
        }
        #expect(!caps.promptLogprobs && format == "text")
        #expect(report.membershipInference == nil)
        #expect(report.unavailable?["mia"]?.contains("membership inference unavailable") == true)
        #expect(report.unavailable?["exposure"] != nil)
        #expect(report.values.contains { $0.extracted == true })     // extraction still ran
        #expect(report.values.allSatisfy { $0.exposure == nil && $0.logLikelihoodPerToken == nil })
        #expect(report.untargeted != nil)
    }
}

func shallotBinary() -> URL {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let candidates = [Bundle.main.bundleURL.deletingLastPathComponent(), Bundle.main.bundleURL,
                      URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent(),
                      root.appendingPathComponent(".build/debug"), root.appendingPathComponent(".build/release")]
    for c in candidates where FileManager.default.isExecutableFile(atPath: c.appendingPathComponent("shallot").path) {
        return c.appendingPathComponent("shallot")
    }
    fatalError("shallot binary not found near \(candidates)")
}

@Suite(.serialized) struct EndpointCLITests {
    @Test func auditJSONRecordsTheEndpointAndNeverTheKey() async throws {
        let server = FakeOpenAIServer(model: Fixture.model, options: .init(apiKey: Fixture.secret))
        try await server.start()
        defer { server.stop() }
        let dir = try tempDir()
        func jsonl(_ rs: [Record]) throws -> Data {
            let e = JSONEncoder(); e.outputFormatting = .sortedKeys
            return Data((try rs.map { String(decoding: try e.encode($0), as: UTF8.self) }.joined(separator: "\n") + "\n").utf8)
        }
        try jsonl(Fixture.members).write(to: URL(fileURLWithPath: dir + "/data.jsonl"))
        try jsonl(Fixture.nonMembers).write(to: URL(fileURLWithPath: dir + "/non.jsonl"))
        let base = server.baseURL
        // credentials in the URL (user:password@) are not stored or shown
        let withCredentials = base.replacingOccurrences(of: "http://", with: "http://auditor:hunter2@")
        let (status, stdout, stderr) = try await offPool { () -> (Int32, String, String) in
            let p = Process()
            p.executableURL = shallotBinary()
            p.arguments = ["audit", "--endpoint", withCredentials, "--served-model", "tiny", "--data", dir + "/data.jsonl", "--nonmembers", dir + "/non.jsonl",
                           "--attacks", "extraction,mia", "--k", "10,30", "--bootstrap", "0", "--concurrency", "4", "--out", dir + "/out"]
            var env = ProcessInfo.processInfo.environment
            env["SHALLOT_TEST_KEY"] = Fixture.secret
            p.environment = env
            p.arguments! += ["--api-key-env", "SHALLOT_TEST_KEY"]
            let out = Pipe(), err = Pipe()
            p.standardOutput = out; p.standardError = err
            try p.run()
            let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
        }
        #expect(status == 0, "\(stderr)")
        let audit = try String(contentsOfFile: dir + "/out/audit.json", encoding: .utf8)
        let log = try String(contentsOfFile: dir + "/out/requests.jsonl", encoding: .utf8)
        let obj = try JSONSerialization.jsonObject(with: Data(audit.utf8)) as! [String: Any]
        let model = obj["model"] as! [String: String]
        #expect(model["endpoint"] == base && model["served_model"] == "tiny" && model["server_model_entry"]?.contains("\"max_model_len\":64") == true)
        #expect(model["weights_sha256"] == nil && model["endpoint_prompt_logprobs"] == "yes")
        #expect((obj["unavailable"] as? [String: String])?["mia.min_k_plus_plus"] != nil)
        let html = try String(contentsOfFile: dir + "/out/audit.html", encoding: .utf8)
        #expect(html.contains(base))
        for text in [audit, html, log, stdout, stderr] { #expect(!text.contains(Fixture.secret) && !text.contains("hunter2")) }
        #expect(!stderr.contains("unencrypted"), "a loopback endpoint is not warned about: \(stderr)")
        #expect(!log.contains("dana@corvale.com") && !FileManager.default.fileExists(atPath: dir + "/out/.checkpoint"))
    }
}

/// Servers that read the completions API differently (llama-cpp-python's: text prompts only,
/// `max_tokens: 0` = no limit, echoed log-probabilities one position off unless the prompt starts
/// with <|endoftext|>, /extras/tokenize): the probe finds the layout that is right, or none.
@Suite(.serialized) struct EndpointConventionTests {
    func llamaLike(_ server: FakeOpenAIServer, log: String? = nil) throws -> OpenAICompletionsModel {
        var s = EndpointSettings(baseURL: server.baseURL, servedModel: "tiny")
        s.concurrency = 4; s.retryBaseDelay = 0.01; s.contextLength = Fixture.model.config.nPositions; s.requestLog = log
        return try OpenAICompletionsModel(s)
    }

    @Test func offByOneEchoIsDetectedAndScoredAfterALeadingEndOfText() async throws {
        // (and the context the audit may use shrinks by the leading token and the generated one)
        let server = FakeOpenAIServer(model: Fixture.model, options: .init(llamaCppPython: true))
        try await server.start()
        defer { server.stop() }
        struct Out: @unchecked Sendable { var probe: [String: String]; var caps: ModelCapabilities; var remote: [SequenceScore]; var local: [SequenceScore]
            var ex: (Set<String>, Set<String>); var mismatches: Int; var contextLength: Int }
        let o = try await offPool { () -> Out in
            let remote = try self.llamaLike(server)
            let tok = ByteTokenizer()
            let texts = (Fixture.members.prefix(6) + Fixture.nonMembers.prefix(3)).map(\.text)
            let seqs = texts.map { tok.encode($0) }
            let r = try remote.score(seqs)
            // What the server's scores must equal: log p(x_t | <|endoftext|>, x_<t), t ≥ 1.
            let l = try Scorer(model: Fixture.model).score(seqs.map { [tok.endOfText] + $0 }).map { SequenceScore(logprobs: Array($0.logprobs.dropFirst())) }
            let index = PIIIndex.build(records: Fixture.members, scanner: PIIScanner(types: [.email, .phone]))
            let byId = Dictionary(uniqueKeysWithValues: Fixture.members.map { ($0.id, $0) })
            var ex = ExtractionSettings(); ex.prefixLengths = [10, 30]
            let a = try TargetedExtraction.run(model: LocalModel(Fixture.model, tokenizer: tok), tokenizer: tok, index: index, records: byId, types: [.email, .phone], settings: ex)
            let b = try TargetedExtraction.run(model: remote, tokenizer: remote.tokenizer, index: index, records: byId, types: [.email, .phone], settings: ex)
            return Out(probe: remote.probe, caps: remote.capabilities, remote: r, local: l,
                       ex: (Set(a.filter(\.extracted).map(\.value)), Set(b.filter(\.extracted).map(\.value))), mismatches: remote.promptTokenMismatches,
                       contextLength: remote.contextLength)
        }
        #expect(o.caps.promptLogprobs && o.probe["prompt_format"] == "text" && o.contextLength == Fixture.model.config.nPositions - 2)
        #expect(o.probe["prompt_logprobs_request"]?.hasSuffix("after a leading <|endoftext|> (stripped by the server)") == true, "\(o.probe)")
        let note = o.probe["prompt_logprobs_note"] ?? ""
        #expect(note.contains("disagrees") && note.contains("conditioned on a leading <|endoftext|>"), "\(note)")
        for (r, l) in zip(o.remote, o.local) {
            #expect(r.logprobs.count == l.logprobs.count)
            let d = zip(r.logprobs, l.logprobs).map { abs($0 - $1) }.max() ?? 0
            #expect(d < 1e-4)
        }
        #expect(!o.ex.0.isEmpty && o.ex.0 == o.ex.1)
        #expect(o.mismatches == 0)
    }

    @Test func aNullPromptLogprobIsAnErrorNamingThePositionNotMinusInfinity() async throws {
        let server = FakeOpenAIServer(model: Fixture.model, options: .init(nullEchoAt: 50))
        try await server.start()
        defer { server.stop() }
        let (short, long) = try await offPool { () -> ([SequenceScore], String) in
            let remote = try endpointModel(server, key: nil)
            let tok = ByteTokenizer()
            let short = try remote.score([tok.encode("Thanks,\nDana\n")])
            do { _ = try remote.score([tok.encode(String(repeating: "Note 3, Dana. ", count: 4))]); return (short, "no error") }
            catch { return (short, "\(error)") }
        }
        let finite = short[0].logprobs.allSatisfy { $0.isFinite }
        #expect(finite)
        #expect(long.contains("no log-probability (null) for prompt token 50"), "\(long)")
    }

    @Test func textPromptsTheServerCountsDifferentlyAreCountedAndLogged() async throws {
        let server = FakeOpenAIServer(model: Fixture.model, options: .init(textPromptsOnly: true, miscountMarker: "Dana"))
        try await server.start()
        defer { server.stop() }
        let dir = try tempDir()
        let n = try await offPool { () -> Int in
            let remote = try endpointModel(server, log: dir + "/requests.jsonl", key: nil)
            let tok = ByteTokenizer()
            _ = try remote.generate(prompts: [tok.encode("Thanks,\nDana\n"), tok.encode("Hi all,\n"), tok.encode("Dana")], .greedy(4), endOfText: nil)
            return remote.promptTokenMismatches
        }
        #expect(n == 2)
        let log = try String(contentsOfFile: dir + "/requests.jsonl", encoding: .utf8)
        #expect(log.components(separatedBy: "prompt_token_mismatch").count - 1 == 2 && !log.contains("Dana"))
    }
}
