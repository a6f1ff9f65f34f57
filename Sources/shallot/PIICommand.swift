import ArgumentParser
import Foundation
import PII
import Corpus

struct PIICommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "pii", abstract: "Find personal data in text.", subcommands: [Scan.self, Index.self, Scrub.self, Eval.self])
}

extension PIIType: ExpressibleByArgument {}

struct Scan: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Detect PII (Presidio's type names) in a file or standard input.",
        discussion: """
        Offsets are Unicode scalar offsets (Python str indices), end exclusive. Invalid UTF-8 is
        decoded as U+FFFD (one per bad sequence) and counted. With --jsonl each input line
        {"text": ...} gives an output line {"entities": [{"type","start","end","text","score"}]}.
        The table output masks values unless --reveal-pii; JSON output carries the text, as
        machine input for later steps.
        """)
    @Argument(help: "A file, or - for standard input.") var input: String
    @Flag(help: "JSON lines in ({\"text\"}) and out ({\"entities\"}).") var jsonl = false
    @Option(parsing: .upToNextOption, help: "Types to detect (default: all): \(PIIType.allCases.map(\.rawValue).joined(separator: " ")).") var types: [PIIType] = []
    @Flag(help: "Print one JSON object: {\"entities\": [...], \"invalid_utf8\": n}.") var json = false
    @Flag(help: "Show values unmasked in the table.") var revealPii = false
    @OptionGroup var threadOptions: ThreadOptions
    var threads: Int { threadOptions.effective }
    @Option(help: "Report only detections scoring at least this (0–1; default \(PIIScanner.defaultMinScore)). Scores come from the value's form, raised by context words (\"SSN\", \"tel\", \"card\") and lowered by words like \"order\"; 0 reports every validated candidate.") var minScore = PIIScanner.defaultMinScore

    struct Out: Encodable { let type: String; let start: Int; let end: Int; let text: String; let score: Double }

    func run() throws {
        let data: Data
        if input == "-" { data = FileHandle.standardInput.readDataToEndOfFile() } else {
            guard let d = FileManager.default.contents(atPath: input) else {
                fail("\(input): cannot read (\(FileManager.default.fileExists(atPath: input) ? "permission denied" : "no such file"))")
            }
            data = d
        }
        let scanner = PIIScanner(types: types.isEmpty ? Set(PIIType.allCases) : Set(types), minScore: minScore)
        let lines = data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        // JSONL records are scanned in parallel; plain text goes through scanDocument (blocks
        // that end at blank lines, in parallel).
        var texts: [String] = []
        var invalid = 0
        if jsonl {
            for (i, l) in lines.enumerated() where !l.isEmpty {
                guard let o = try? JSONSerialization.jsonObject(with: Data(l)) as? [String: Any], let t = o["text"] as? String else {
                    fail("\(input == "-" ? "stdin" : input):\(i + 1): expected a JSON object with a string field \"text\"")
                }
                texts.append(t)
            }
        } else {
            for l in lines where String(validating: l, as: UTF8.self) == nil { invalid += 1 }
        }
        let results = jsonl ? scanner.scan(all: texts, threads: threads) : []
        if jsonl {
            for i in texts.indices {
                printJSON(["entities": results[i].map { Out(type: $0.type.rawValue, start: $0.start, end: $0.end, text: $0.text, score: $0.score) }])
            }
            return
        }
        let all = scanner.scanDocument(String(decoding: data, as: UTF8.self), threads: threads)
        if json {
            struct Doc: Encodable { let entities: [Out]; let invalid_utf8_lines: Int }
            printJSON(Doc(entities: all.map { Out(type: $0.type.rawValue, start: $0.start, end: $0.end, text: $0.text, score: $0.score) }, invalid_utf8_lines: invalid))
            return
        }
        print("type\tstart\tend\tscore\tvalue")
        for e in all { print("\(e.type.rawValue)\t\(e.start)\t\(e.end)\t\(String(format: "%.2f", e.score))\t\(revealPii ? e.text : PIIMask.mask(e))") }
        if invalid > 0 { FileHandle.standardError.write(Data("note: \(invalid) lines had invalid UTF-8 (decoded as U+FFFD)\n".utf8)) }
    }
}


struct Index: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Build the PII index of a corpus: value → type, owner, subjects, occurrences with left context (JSONL).",
        discussion: "The index holds raw PII (it is derived from the corpus): it is written owner-only (0600); store it like the corpus.")
    @Argument(help: "Corpus JSONL.") var corpus: String
    @Option(help: "Output index (JSONL, one value a line).") var out: String
    @Option(parsing: .upToNextOption, help: "Types to index (default: all).") var types: [PIIType] = []
    @Option(help: "Characters of left context kept per occurrence.") var context = 400
    @Option(help: "Report only detections scoring at least this (0–1; default \(PIIScanner.defaultMinScore)). Scores come from the value's form, raised by context words (\"SSN\", \"tel\", \"card\") and lowered by words like \"order\"; 0 reports every validated candidate.") var minScore = PIIScanner.defaultMinScore

    func run() throws {
        let records = readCorpus(corpus)
        let idx = PIIIndex.build(records: records, scanner: PIIScanner(types: types.isEmpty ? Set(PIIType.allCases) : Set(types), minScore: minScore), contextLength: context)
        reporting { try idx.write(to: out) }
        var byType: [String: Int] = [:]
        for e in idx.entries { byType[e.type.rawValue, default: 0] += 1 }
        printJSON(["values": byType, "occurrences": ["total": idx.entries.reduce(0) { $0 + $1.occurrences }]])
    }
}

struct Scrub: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Remove PII from a corpus: redact to a type tag, mask, or replace with consistent pseudonyms.",
        discussion: """
        Every field that can hold PII is scrubbed: text, subject, id, source and every string in
        meta (sender, recipients, Message-ID, X-From/X-To, folders). Pseudonyms are
        format-preserving and consistent (one value, one fake; the subject gets the pseudonym its
        address gets in the text) under a secret key read from --secret-file or the
        SHALLOT_SCRUB_SECRET environment variable (never from the command line, where other users
        can see it); it must be at least 32 bytes of random text (`head -c 32 /dev/urandom |
        base64`). Ids, sources, Message-IDs and folders become keyed tokens (pseudonymize) or
        numbers and tags (redact, mask). A second detection pass over every field of the output is
        reported as "residual" (by type) and "residual_fields" (by field). The output is 0600.
        """)
    @Argument(help: "Corpus JSONL.") var corpus: String
    @Option(help: "Output JSONL.") var out: String
    @Option(help: "redact | mask | pseudonymize") var mode: ScrubMode = .redact
    @Option(parsing: .upToNextOption, help: "Types to scrub (default: all).") var types: [PIIType] = []
    @Option(help: "File holding the pseudonymisation secret.") var secretFile: String?
    @Option(help: "Report only detections scoring at least this (0–1; default \(PIIScanner.defaultMinScore)). Scores come from the value's form, raised by context words (\"SSN\", \"tel\", \"card\") and lowered by words like \"order\"; 0 reports every validated candidate.") var minScore = PIIScanner.defaultMinScore

    func run() throws {
        var secret = ProcessInfo.processInfo.environment["SHALLOT_SCRUB_SECRET"] ?? ""
        if let f = secretFile {
            guard let d = FileManager.default.contents(atPath: f) else { fail("\(f): cannot read the secret") }
            secret = String(decoding: d, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        if mode == .pseudonymize {
            if secret.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { fail("pseudonymisation needs a secret: --secret-file FILE or SHALLOT_SCRUB_SECRET") }
            if let p = ScrubSecret.problem(secret) { fail("\(secretFile ?? "SHALLOT_SCRUB_SECRET"): \(p)") }
        }
        let records = readCorpus(corpus)
        let s = Scrubber(mode: mode, types: types.isEmpty ? Set(PIIType.allCases) : Set(types), secret: secret, minScore: minScore)
        let (outRecs, report) = s.scrub(records: records)
        reporting {
            let w = try RecordWriter(path: out)
            for r in outRecs { try w.write(r) }
            try w.close()
        }
        printJSON(report)
    }
}

extension ScrubMode: ExpressibleByArgument {}

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Precision and recall per type on labelled JSONL ({\"text\", \"entities\": [{\"type\",\"start\",\"end\"}]}, scalar offsets).")
    @Argument(help: "Labelled JSONL.") var file: String
    @Flag(help: "JSON output.") var json = false
    @Flag(help: "List the disagreements (they contain PII).") var showMisses = false
    @Option(help: "Report only detections scoring at least this (0–1; default \(PIIScanner.defaultMinScore)). Scores come from the value's form, raised by context words (\"SSN\", \"tel\", \"card\") and lowered by words like \"order\"; 0 reports every validated candidate.") var minScore = PIIScanner.defaultMinScore

    func run() throws {
        guard let d = FileManager.default.contents(atPath: file) else { fail("\(file): cannot read") }
        var set: [LabelledText] = []
        for (i, l) in d.split(separator: UInt8(ascii: "\n")).enumerated() {
            guard let x = try? JSONDecoder().decode(LabelledText.self, from: Data(l)) else { fail("\(file):\(i + 1): not a labelled record") }
            set.append(x)
        }
        let (scores, misses) = PIIEvaluation.evaluate(set, scanner: PIIScanner(minScore: minScore))
        if json { printJSON(scores.mapValues { ["precision": $0.precision, "recall": $0.recall, "f1": $0.f1, "tp": Double($0.truePositives), "fp": Double($0.falsePositives), "fn": Double($0.falseNegatives)] }); return }
        print("| type | labelled | precision | recall | F1 |\n|---|---|---|---|---|")
        for t in scores.keys.sorted() where t != "ALL" {
            let s = scores[t]!
            print(String(format: "| %@ | %d | %.3f | %.3f | %.3f |", t, s.truePositives + s.falseNegatives, s.precision, s.recall, s.f1))
        }
        let a = scores["ALL"]!
        print(String(format: "| all | %d | %.3f | %.3f | %.3f |", a.truePositives + a.falseNegatives, a.precision, a.recall, a.f1))
        let macro = PIIEvaluation.macroF1(scores)
        print(String(format: "macro F1 over %d types: %.3f", macro.types, macro.f1))
        if showMisses { for m in misses { print("  " + m) } }
    }
}
