import ArgumentParser
import Dispatch
import Foundation
import PII

struct PIICommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "pii", abstract: "Find personal data in text.", subcommands: [Scan.self])
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
    @Option(help: "Worker threads (default: all cores).") var threads = ProcessInfo.processInfo.activeProcessorCount

    struct Out: Encodable { let type: String; let start: Int; let end: Int; let text: String; let score: Double }

    func run() throws {
        let data: Data
        if input == "-" { data = FileHandle.standardInput.readDataToEndOfFile() } else {
            guard let d = FileManager.default.contents(atPath: input) else {
                fail("\(input): cannot read (\(FileManager.default.fileExists(atPath: input) ? "permission denied" : "no such file"))")
            }
            data = d
        }
        let scanner = PIIScanner(types: types.isEmpty ? Set(PIIType.allCases) : Set(types))
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
        var results = [[PIIEntity]](repeating: [], count: texts.count)
        if jsonl {
            results.withUnsafeMutableBufferPointer { rb in
                let rb = UncheckedBox(rb.baseAddress!), tx = UncheckedBox(texts)
                let parts = max(1, min(threads, texts.count))
                DispatchQueue.concurrentPerform(iterations: parts) { p in
                    for i in (tx.value.count * p / parts)..<(tx.value.count * (p + 1) / parts) { rb.value[i] = scanner.scan(tx.value[i]) }
                }
            }
        }
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

struct UncheckedBox<T>: @unchecked Sendable { let value: T; init(_ v: T) { value = v } }
