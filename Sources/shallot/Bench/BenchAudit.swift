// `shallot bench audit`: the audit's hot paths on the workload Scripts/bench_audit_peer.py replays.

import ArgumentParser
import Audit
import Corpus
import Foundation
import Support
import GPT
import Kernels
import PII
import SafeTensors
import Tokenizer
import Training

extension Bench {
    /// The audit's two hot paths on random weights, on the exact workload the peer script replays:
    /// targeted extraction (k = 50 token prompts before PII occurrences of a synthetic corpus,
    /// greedy decoding of the value's length + 8 tokens, decode, PII check; batches of 32) and
    /// membership-inference signals (log-probs with the distribution's mean/sd for Min-K%++, the
    /// lower-cased text's loss, zlib size) for records cut to 128 tokens.
    func audit() throws {
        var sp = SynthParameters(); sp.subjects = 200; sp.records = max(400, records * 2); sp.seed = 7
        let corpus = reporting { try SynthGenerator.generate(sp) }
        // gpt2-small uses GPT-2's vocabulary (--tokenizer); tiny a BPE of 8192 tokens trained on the
        // corpus, as `shallot train --vocab-size` builds (saved in --workload for the peer).
        let (tok, cfg) = try auditTokenizer(corpus)
        let model = GPT(config: cfg, seed: 1)
        let index = PIIIndex.build(records: corpus.records, scanner: PIIScanner(types: [.email, .phone]))
        var ex = ExtractionSettings(); ex.prefixLengths = [50]; ex.occurrencesPerValue = 1
        // The first `prompts` values (in index order) and their records.
        var entries: [PIIIndexEntry] = []
        let byId = Dictionary(uniqueKeysWithValues: corpus.records.map { ($0.id, $0) })
        for e in index.entries where entries.count < prompts {
            if !TargetedExtraction.prompts(entries: [e], records: byId, tokenizer: tok, contextLength: cfg.nPositions, settings: ex).isEmpty { entries.append(e) }
        }
        var sub = index; sub.entries = entries
        let ps = TargetedExtraction.prompts(entries: entries, records: byId, tokenizer: tok, contextLength: cfg.nPositions, settings: ex)
        let texts = corpus.records.prefix(records).map { String(decoding: Array(String($0.text).utf8.prefix(600)), as: UTF8.self) }
        let cut = texts.map { t -> String in (try? tok.decode(Array(tok.encode(t).prefix(128)))) ?? t }
        // warm-up, then timed runs
        _ = try TargetedExtraction.run(model: model, tokenizer: tok, index: { var i = sub; i.entries = Array(entries.prefix(4)); return i }(), records: byId,
                                       types: [.email, .phone], settings: ex)
        var t = Date()
        _ = try TargetedExtraction.run(model: model, tokenizer: tok, index: sub, records: byId, types: [.email, .phone], settings: ex)
        let exSeconds = Date().timeIntervalSince(t)
        t = Date()
        let sig = try MembershipInference.signals(model: model, tokenizer: tok, texts: cut)
        let miaSeconds = Date().timeIntervalSince(t)
        let newTokens = ps.chunked(32).reduce(0) { $0 + $1.map(\.maxNew).max()! * $1.count }
        struct R: Encodable {
            let benchmark = "audit"; let preset: String; let threads: Int
            let prompts: Int; let generated_tokens: Int; let extraction_seconds: Double; let prompts_per_s: Double
            let records: Int; let record_tokens: Int; let mia_seconds: Double; let records_per_s: Double
        }
        let r = R(preset: preset.rawValue, threads: threads.effective, prompts: ps.count, generated_tokens: newTokens, extraction_seconds: exSeconds,
                  prompts_per_s: Double(ps.count) / exSeconds, records: cut.count, record_tokens: sig.reduce(0) { $0 + $1.logprobs.count + 1 },
                  mia_seconds: miaSeconds, records_per_s: Double(cut.count) / miaSeconds)
        if let w = workload { writeWorkload(w, prompts: ps, entries: entries, records: cut, tokenizer: tok, config: cfg) }
        if json { printJSON(r); return }
        print(String(format: "audit (%@): targeted extraction %d prompts in %.2f s (%.1f prompts/s); MIA signals %d records in %.2f s (%.1f records/s)",
                     preset.rawValue, ps.count, exSeconds, r.prompts_per_s, cut.count, miaSeconds, r.records_per_s))
    }

    /// gpt2-small uses GPT-2's vocabulary (--tokenizer); tiny a BPE of the preset's size trained
    /// on the corpus, as `shallot train --vocab-size` builds. Both are copied into --workload.
    func auditTokenizer(_ corpus: SynthCorpus) throws -> (any TextTokenizer, GPTConfig) {
        var cfg = config
        if preset == .tiny {
            let bpe = reporting { try BPETrainer.train(texts: corpus.records.map(\.text), vocabSize: cfg.vocabSize).tokenizer }
            if let w = workload { reporting { try bpe.save(to: w) } }
            cfg.eosTokenId = Int(bpe.endOfText)
            return (bpe, cfg)
        }
        guard let dir = tokenizer else { throw ValidationError("bench audit --preset gpt2-small needs --tokenizer DIR (GPT-2 vocab.json + merges.txt)") }
        let tok = reporting { try TokenizerFiles.load(directory: dir) }
        if let w = workload {
            reporting {
                try PrivateFile.makeDirectory(w)
                for f in ["vocab.json", "merges.txt"] { try PrivateFile.write(Data(contentsOf: URL(fileURLWithPath: dir + "/" + f)), to: w + "/" + f) }
            }
        }
        return (tok, cfg)
    }

    /// The exact workload timed, for Scripts/bench_audit_peer.py to replay.
    func writeWorkload(_ w: String, prompts ps: [ExtractionPrompt], entries: [PIIIndexEntry], records cut: [String], tokenizer tok: any TextTokenizer, config cfg: GPTConfig) {
        struct P: Encodable { let ids: [Int32]; let max_new: Int; let value: String; let type: String }
        struct Rec: Encodable { let text: String; let ids: [Int32]; let lower_ids: [Int32] }
        struct W: Encodable { let vocab_size: Int; let prompts: [P]; let records: [Rec] }
        let wl = W(vocab_size: cfg.vocabSize,
                   prompts: ps.map { P(ids: $0.ids, max_new: $0.maxNew, value: entries[$0.entry].places[0].text, type: entries[$0.entry].type.rawValue) },
                   records: cut.map { Rec(text: $0, ids: Array(tok.encode($0).prefix(cfg.nPositions)), lower_ids: Array(tok.encode($0.lowercased()).prefix(cfg.nPositions))) })
        reporting { try PrivateFile.write(JSONEncoder().encode(wl), to: w + "/workload.json") }
    }
}
