// Issue 22 review, M1: the docs and the messages told users to start llama.cpp's server with
// `--api-key $SHALLOT_SERVE_API_KEY`. The shell expands the key into the server's arguments,
// which `ps` and /proc/PID/cmdline show to every user of the machine for as long as it serves.
// Keys go through the environment (VLLM_API_KEY, LLAMA_API_KEY, --api-key-env NAME) or a file.
// This test reads everything a user is told — README, docs, examples, help and error strings in
// Sources — and fails on any advice to put a key value after a key option.

import Foundation
import Testing

struct KeyAdviceTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// A key option followed by a value a user would substitute: `$VAR`, `"$VAR"`, `…`, `<key>`, `sk-…`.
    static let keyOnCommandLine = try! NSRegularExpression(
        pattern: #"--(api[-_]key|token|secret|password)(=|[ \t]+)["']?(\$|…|<|sk-)"#, options: [.caseInsensitive])

    static func files() -> [URL] {
        var out = [root.appendingPathComponent("README.md")]
        for dir in ["docs", "examples", "Sources"] {
            let e = FileManager.default.enumerator(at: root.appendingPathComponent(dir), includingPropertiesForKeys: nil)
            while let u = e?.nextObject() as? URL {
                if ["md", "swift", "py", "sh"].contains(u.pathExtension) { out.append(u) }
            }
        }
        return out
    }

    @Test func noDocOrMessageAdvisesAKeyOnACommandLine() throws {
        let files = Self.files()
        #expect(files.count > 50, "the sources were not found: \(files.count) files")
        var found: [String] = []
        for f in files {
            let text = try String(contentsOf: f, encoding: .utf8)
            for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                let l = String(line)
                if Self.keyOnCommandLine.firstMatch(in: l, range: NSRange(l.startIndex..., in: l)) != nil {
                    found.append("\(f.path.dropFirst(Self.root.path.count + 1)):\(n + 1): \(l.trimmingCharacters(in: .whitespaces))")
                }
            }
        }
        #expect(found.isEmpty, "a key on a command line is visible to every user (ps):\n\(found.joined(separator: "\n"))")
        // the pattern itself catches the advice this test was written for
        let old = "llama.cpp: --api-key $SHALLOT_SERVE_API_KEY"
        #expect(Self.keyOnCommandLine.firstMatch(in: old, range: NSRange(old.startIndex..., in: old)) != nil)
    }
}
