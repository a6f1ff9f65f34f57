// docs/architecture.md lists every target's dependencies (its arrows). This test reads them from
// Package.swift and from the document and fails when the two disagree, so the page stays exact.

import Foundation
import Testing

struct ArchitectureDocTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The text of the balanced (…) or […] group that opens at `s[start]`.
    static func group(_ s: [Character], from start: Int) -> String {
        let open = s[start], close: Character = open == "(" ? ")" : "]"
        var depth = 0
        for i in start..<s.count {
            if s[i] == open { depth += 1 } else if s[i] == close { depth -= 1; if depth == 0 { return String(s[(start + 1)..<i]) } }
        }
        return ""
    }

    /// target → its package-internal dependencies and its products from other packages.
    static func arrowsInPackage() throws -> [String: (internal: Set<String>, external: Set<String>)] {
        let text = try String(contentsOf: root.appendingPathComponent("Package.swift"), encoding: .utf8)
        let chars = Array(text)
        var out: [String: (internal: Set<String>, external: Set<String>)] = [:]
        let decl = try NSRegularExpression(pattern: #"^\s*\.(target|executableTarget|systemLibrary)\(name: "(\w+)""#, options: [.anchorsMatchLines])
        for m in decl.matches(in: text, range: NSRange(text.startIndex..., in: text)) {
            let name = String(text[Range(m.range(at: 2), in: text)!])
            let declStart = text.distance(from: text.startIndex, to: Range(m.range, in: text)!.lowerBound)
            guard let openParen = chars[declStart...].firstIndex(of: "(") else { continue }
            let body = group(chars, from: openParen)
            var deps: (internal: Set<String>, external: Set<String>) = ([], [])
            if let r = body.range(of: "dependencies: [") {
                let bodyChars = Array(body)
                var list = group(bodyChars, from: body.distance(from: body.startIndex, to: r.upperBound) - 1)
                let product = try NSRegularExpression(pattern: #"\.product\(name: "(\w+)", package: "[^"]+"\)"#)
                for pm in product.matches(in: list, range: NSRange(list.startIndex..., in: list)) { deps.external.insert(String(list[Range(pm.range(at: 1), in: list)!])) }
                list = product.stringByReplacingMatches(in: list, range: NSRange(list.startIndex..., in: list), withTemplate: "")
                let quoted = try NSRegularExpression(pattern: #""(\w+)""#)
                for qm in quoted.matches(in: list, range: NSRange(list.startIndex..., in: list)) { deps.internal.insert(String(list[Range(qm.range(at: 1), in: list)!])) }
            }
            out[name] = deps
        }
        return out
    }

    /// The lines "- `Target` → A, B (+ Product)" between the arrows markers.
    static func arrowsInDocument() throws -> [String: (internal: Set<String>, external: Set<String>)] {
        let doc = try String(contentsOf: root.appendingPathComponent("docs/architecture.md"), encoding: .utf8)
        guard let a = doc.range(of: "<!-- arrows:begin -->"), let b = doc.range(of: "<!-- arrows:end -->") else { return [:] }
        var out: [String: (internal: Set<String>, external: Set<String>)] = [:]
        for line in doc[a.upperBound..<b.lowerBound].split(separator: "\n") where line.hasPrefix("- `") {
            let parts = line.dropFirst(3).split(separator: "`", maxSplits: 1)
            guard parts.count == 2 else { continue }
            var rest = String(parts[1]).replacingOccurrences(of: "→", with: "").trimmingCharacters(in: .whitespaces)
            var external = Set<String>()
            if let p = rest.range(of: "(+") {
                external = Set(rest[p.upperBound...].replacingOccurrences(of: ")", with: "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
                rest = String(rest[..<p.lowerBound])
            }
            let internalDeps = Set(rest.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty && $0 != "nothing" })
            out[String(parts[0])] = (internalDeps, external)
        }
        return out
    }

    @Test func theDocumentedArrowsAreThePackagesArrows() throws {
        let package = try Self.arrowsInPackage(), doc = try Self.arrowsInDocument()
        #expect(package.count >= 20, "Package.swift parsed: \(package.keys.sorted())")
        #expect(Set(doc.keys) == Set(package.keys), "targets missing from docs/architecture.md: \(Set(package.keys).subtracting(doc.keys).sorted()); not in Package.swift: \(Set(doc.keys).subtracting(package.keys).sorted())")
        for (name, deps) in package {
            guard let d = doc[name] else { continue }
            #expect(d.internal == deps.internal && d.external == deps.external,
                    "\(name): Package.swift says \(deps.internal.sorted()) + \(deps.external.sorted()), docs/architecture.md says \(d.internal.sorted()) + \(d.external.sorted())")
        }
    }
}
