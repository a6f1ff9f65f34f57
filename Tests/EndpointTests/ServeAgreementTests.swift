// Issue #14's proof: the same audit of the same model, in-process and through `shallot serve`
// (the real server, on 127.0.0.1), gives the same extracted values and the same MIA scores.

import Audit
import Corpus
import Endpoint
import Foundation
import GPT
import PII
import Serve
import Testing
import Tokenizer

@Suite(.serialized) struct ServeAgreementTests {
    @Test func anAuditThroughShallotServeEqualsTheInProcessAudit() async throws {
        var s = ServeSettings(servedModelName: "tiny", host: "127.0.0.1", port: 0, apiKey: Fixture.secret)
        s.engine = EngineSettings(maxBatch: 8, batchWindow: 0.005)
        let server = try CompletionServer(model: Fixture.model, tokenizer: ByteTokenizer(), settings: s)
        let (ports, cont) = AsyncStream<Int>.makeStream()
        let task = Task { try await server.run { port in cont.yield(port); cont.finish() } }
        defer { task.cancel() }
        var it = ports.makeAsyncIterator()
        let port = try #require(await it.next())
        let base = "http://127.0.0.1:\(port)/v1"
        struct Reports: @unchecked Sendable { var local: AuditReport; var remote: AuditReport; var capabilities: ModelCapabilities }
        let r = try await offPool { () -> Reports in
            var es = EndpointSettings(baseURL: base, servedModel: "tiny")
            es.apiKey = Fixture.secret; es.concurrency = 8; es.retryBaseDelay = 0.01
            let remote = try OpenAICompletionsModel(es)
            var ex = ExtractionSettings(); ex.prefixLengths = [10, 30]
            let settings = AuditSettings(attacks: [.extraction, .exposure, .mia], types: [.email, .phone], extraction: ex,
                                         exposureValues: 4, exposureCandidates: 20, exposureContextTokens: 32, bootstrapResamples: 0,
                                         limit: nil, seed: 1, revealPII: true)
            let local = try AuditRunner.run(AuditInputs(model: Fixture.model, modelInfo: [:], tokenizer: ByteTokenizer(), records: Fixture.members, corpusInfo: [:],
                                                        nonMembers: Fixture.nonMembers, reference: nil, canaries: nil), settings: settings, salt: Data("s".utf8))
            let viaServer = try AuditRunner.run(AuditInputs(model: remote, modelInfo: [:], tokenizer: remote.tokenizer, records: Fixture.members, corpusInfo: [:],
                                                            nonMembers: Fixture.nonMembers, reference: nil, canaries: nil), settings: settings, salt: Data("s".utf8))
            return Reports(local: local, remote: viaServer, capabilities: remote.capabilities)
        }
        #expect(r.capabilities.promptLogprobs)
        // The same values extracted, at the same prefix lengths; the memorised ones among them.
        #expect(r.local.values.filter { $0.extracted == true }.count >= 2)
        #expect(r.local.values.map(\.value) == r.remote.values.map(\.value))
        #expect(r.local.values.map(\.extracted) == r.remote.values.map(\.extracted))
        #expect(r.local.values.map(\.smallestExtractingK) == r.remote.values.map(\.smallestExtractingK))
        for (x, y) in zip(r.local.values, r.remote.values) {
            #expect(abs((x.logLikelihoodPerToken ?? 0) - (y.logLikelihoodPerToken ?? 1)) < 1e-4)
            #expect((x.exposure == nil) == (y.exposure == nil))
            if let a = x.exposure, let b = y.exposure { #expect(abs(a.logLikelihood - b.logLikelihood) < 1e-3 && a.rankAmongSampled == b.rankAmongSampled) }
        }
        // The MIA scores the server can give agree (Min-K%++ needs the full distribution: local only).
        for k in ["loss", "zlib", "lowercase", "min_k"] {
            let a = try #require(r.local.membershipInference?[k]), b = try #require(r.remote.membershipInference?[k])
            #expect(abs(a.auc - b.auc) < 1e-6, "\(k)")
        }
        #expect(r.remote.membershipInference?["min_k_plus_plus"] == nil && r.local.membershipInference?["min_k_plus_plus"] != nil)
    }
}
