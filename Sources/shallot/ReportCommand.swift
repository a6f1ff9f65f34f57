import ArgumentParser
import Audit
import Foundation
import Support
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
        let dec = ResultsJSON.decoder()
        let html: String
        switch head.schema {
        case "shallot.audit/2":
            let r: AuditReport
            do { r = try dec.decode(AuditReport.self, from: d) } catch { fail("\(input): not a valid shallot.audit/2 file: \(describe(error))") }
            if let bad = outOfRange(r) { fail("\(input): not a valid shallot.audit/2 file: \(bad)") }
            html = AuditHTML.render(r)
        case "shallot.study/3":
            let r: StudyReport
            do { r = try dec.decode(StudyReport.self, from: d) } catch {
                if let old = olderStudy(d) { fail("\(input): this shallot.study/3 file was written by an older Shallot (\(old)); run the study again") }
                fail("\(input): not a valid shallot.study/3 file: \(describe(error))")
            }
            if let bad = outOfRange(r) { fail("\(input): not a valid shallot.study/3 file: \(bad)") }
            html = StudyHTML.render(r)
        case "shallot.audit/1", "shallot.study/1":
            fail("\(input): schema \(head.schema!) was written by an older Shallot (ownership, exposure bounds and verdicts changed in /2); run the audit or study again")
        case "shallot.study/2":
            fail("\(input): schema shallot.study/2 was written by an older Shallot (the onion study's design and verdict changed in /3: one fixed test, selection seeds, a stratified control, t intervals over seeds); run the study again")
        default:
            fail("\(input): unknown schema \(head.schema.map { "\"\($0)\"" } ?? "(none)"); expected shallot.audit/2 or shallot.study/3")
        }
        let path = out ?? (input.hasSuffix(".json") ? String(input.dropLast(5)) + ".html" : input + ".html")
        reporting { try PrivateFile.write(Data(html.utf8), to: path) }   // owner-only: an audit made with --reveal-pii holds raw values
        print(path)
    }
}

/// What changed since an older Shallot wrote this shallot.study/3 file (nil: not recognised as one).
func olderStudy(_ d: Data) -> String? {
    let leakage = ((try? JSONSerialization.jsonObject(with: d)) as? [String: Any])?["pretraining_leakage"] as? [String: Any]
    // Before the surrogate design (issue 21): the filler control's AUC.
    if leakage?["auc_difference"] != nil {
        return "the pre-training leakage comparison changed: surrogate values in identical contexts, a null base, seed pairs"
    }
    // Before clean scoring prefixes and the prospective power (issue 21 review, M1 and M2).
    if let design = leakage?["design"] as? [String: Any], design["scored"] == nil {
        return "the pre-training leakage values are now scored after a prefix holding no other target, and the design carries its prospective power"
    }
    return nil
}

/// The largest magnitude a number in a report may have: far above any count, loss, perplexity
/// or exposure Shallot writes, far below what breaks the arithmetic of charts.
let reportNumberLimit = 1e12

/// The first number in a decoded report that is infinite or beyond `reportNumberLimit`, as
/// "field: value"; nil when all are in range. NaN is Shallot's "not available" (an AUC without
/// non-members) and is rendered "n/a". A hostile file cannot make the renderer trap on a number.
func outOfRange(_ value: Any, path: String = "") -> String? {
    switch value {
    case let x as Double:
        return x.isNaN || (x.isFinite && abs(x) <= reportNumberLimit) ? nil : "\(path.isEmpty ? "a number" : path) = \(x) is out of range (finite, |x| ≤ 1e12)"
    case let x as Float: return outOfRange(Double(x), path: path)
    case let x as Int:
        return Double(x.magnitude) <= reportNumberLimit ? nil : "\(path) = \(x) is out of range (|x| ≤ 1e12)"
    case is UInt64, is UInt, is UInt32: return nil  // seeds and hashes
    case is String, is Bool: return nil
    default:
        let m = Mirror(reflecting: value)
        if m.displayStyle == .dictionary {
            for c in m.children {
                let pair = Mirror(reflecting: c.value).children.map(\.value)
                if pair.count == 2, let bad = outOfRange(pair[1], path: "\(path)[\(pair[0])]") { return bad }
            }
            return nil
        }
        for (i, c) in m.children.enumerated() {
            let name = m.displayStyle == .collection || m.displayStyle == .set ? "\(path)[\(i)]"
                : m.displayStyle == .optional ? path : path + (path.isEmpty ? "" : ".") + (c.label ?? "\(i)")
            if let bad = outOfRange(c.value, path: name) { return bad }
        }
        return nil
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
