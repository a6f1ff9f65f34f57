import ArgumentParser
import Audit
import Foundation
import Report
import SafeTensors
import Study

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Render audit.json or study.json as a self-contained HTML report (no network; SVG charts; everything escaped).")
    @Argument(help: "An audit.json (`shallot audit`) or study.json (`shallot study`).") var input: String
    @Option(help: "Output HTML file (default: next to the input, .html).") var out: String?

    func run() throws {
        guard let d = FileManager.default.contents(atPath: input) else { fail("\(input): cannot read") }
        struct Head: Decodable { let schema: String? }
        guard let head = try? JSONDecoder().decode(Head.self, from: d) else { fail("\(input): not JSON") }
        let dec = JSONDecoder()
        dec.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        let html: String
        switch head.schema {
        case "shallot.audit/2":
            do { html = AuditHTML.render(try dec.decode(AuditReport.self, from: d)) } catch { fail("\(input): not a valid shallot.audit/2 file: \(describe(error))") }
        case "shallot.study/2":
            do { html = StudyHTML.render(try dec.decode(StudyReport.self, from: d)) } catch { fail("\(input): not a valid shallot.study/2 file: \(describe(error))") }
        case "shallot.audit/1", "shallot.study/1":
            fail("\(input): schema \(head.schema!) was written by an older Shallot (ownership, exposure bounds and verdicts changed in /2); run the audit or study again")
        default:
            fail("\(input): unknown schema \(head.schema.map { "\"\($0)\"" } ?? "(none)"); expected shallot.audit/2 or shallot.study/2")
        }
        let path = out ?? (input.hasSuffix(".json") ? String(input.dropLast(5)) + ".html" : input + ".html")
        reporting { try atomicWrite(Data(html.utf8), to: path) }
        print(path)
    }
}

/// A decoding error as a sentence naming the field.
func describe(_ e: Error) -> String {
    guard let de = e as? DecodingError else { return "\(e)" }
    func path(_ c: DecodingError.Context) -> String { c.codingPath.map { $0.intValue.map { "[\($0)]" } ?? "." + $0.stringValue }.joined() }
    switch de {
    case .keyNotFound(let k, let c): return "missing key \"\(k.stringValue)\" at \(path(c).isEmpty ? "top level" : path(c))"
    case .typeMismatch(_, let c), .valueNotFound(_, let c), .dataCorrupted(let c): return "\(c.debugDescription) at \(path(c).isEmpty ? "top level" : path(c))"
    @unknown default: return "\(e)"
    }
}

/// A CSV field, quoted when it needs to be (RFC 4180). A cell a spreadsheet would read as a
/// formula (starting with = + - @, or a tab or carriage return before one) is prefixed with a
/// single quote, so that opening the file runs nothing (OWASP's CSV injection advice).
func csvField(_ s: String) -> String {
    var s = s
    if let f = s.unicodeScalars.first, ["=", "+", "-", "@", "\t", "\r"].contains(f) { s = "'" + s }
    return s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
}
