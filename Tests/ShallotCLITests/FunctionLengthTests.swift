// Issue #13: the code that drives the engine stays as readable as the engine. No function in the
// orchestration targets (Audit, Study, Unlearning, Ledger, the CLI) is longer than 60 lines, from
// its declaration to its closing brace. Scripts/function_lengths.py lists the same from a shell.

import Foundation
import Testing

struct FunctionLengthTests {
    static let limit = 60
    static let targets = ["Audit", "Study", "Unlearning", "Ledger", "shallot"]

    /// Source lines with comments and string contents blanked, so braces in them do not count.
    static func code(_ text: String) -> [String] {
        var out: [String] = [], inBlock = false
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            var kept = "", chars = Array(line), i = 0, inString = false
            while i < chars.count {
                let c = chars[i], next: Character? = i + 1 < chars.count ? chars[i + 1] : nil
                if inBlock { if c == "*" && next == "/" { inBlock = false; i += 1 }; i += 1; continue }
                if inString {
                    if c == "\\" { i += 2; continue }
                    if c == "\"" { inString = false; kept.append("\"") }
                    i += 1; continue
                }
                if c == "/" && next == "/" { break }
                if c == "/" && next == "*" { inBlock = true; i += 2; continue }
                if c == "\"" { inString = true }
                kept.append(c); i += 1
            }
            out.append(kept)
        }
        return out
    }

    /// (name, first line, length) of every function or initialiser with a body.
    static func functions(_ text: String) -> [(String, Int, Int)] {
        let lines = code(text)
        let decl = try! NSRegularExpression(pattern: #"\b(func\s+[^\s(<]+|init\??)\s*[(<]"#)
        var out: [(String, Int, Int)] = []
        for (n, line) in lines.enumerated() {
            guard let m = decl.firstMatch(in: line, range: NSRange(line.startIndex..., in: line)) else { continue }
            var depth = 0, opened = false
            scan: for k in n..<lines.count {
                for ch in lines[k] {
                    if ch == "{" { depth += 1; opened = true } else if ch == "}" { depth -= 1 }
                }
                if opened && depth <= 0 { out.append((String(line[Range(m.range(at: 1), in: line)!]), n + 1, k - n + 1)); break scan }
                if !opened && k > n + 8 { break scan }   // a requirement without a body
            }
        }
        return out
    }

    @Test func orchestrationFunctionsAreShort() throws {
        let sources = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Sources")
        var long: [String] = [], counted = 0
        for t in Self.targets {
            let dir = sources.appendingPathComponent(t)
            guard let files = FileManager.default.enumerator(atPath: dir.path) else { continue }
            for case let f as String in files where f.hasSuffix(".swift") {
                let fns = Self.functions(try String(contentsOf: dir.appendingPathComponent(f), encoding: .utf8))
                counted += fns.count
                for (name, line, length) in fns where length > Self.limit { long.append("\(t)/\(f):\(line) \(name): \(length) lines") }
            }
        }
        #expect(counted > 200, "only \(counted) functions found: the scan is broken")
        #expect(long.isEmpty, "functions over \(Self.limit) lines:\n\(long.joined(separator: "\n"))")
    }
}
