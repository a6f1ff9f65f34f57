// The environment Shallot's child commands get (an allow-list, not ours) and the paths it
// substitutes into their /bin/sh command lines (refused when a shell could misread them).

import Foundation
import Testing
import Support

@Suite struct ChildEnvironmentTests {
    @Test func onlyTheAllowListAndTheNamedVariablesPass() {
        let parent = ["PATH": "/usr/bin", "HOME": "/home/u", "LC_ALL": "C", "SLURM_JOB_ID": "7", "OPENAI_API_KEY": "sk-x",
                      "SHALLOT_SCRUB_SECRET": "s3cret", "HF_TOKEN": "hf_x", "MY_TOKEN": "mine"]
        let env = ChildEnvironment.build(passing: ["MY_TOKEN"], adding: ["SHALLOT_JOB": "/o/job.json"], parent: parent)
        #expect(env == ["PATH": "/usr/bin", "HOME": "/home/u", "LC_ALL": "C", "SLURM_JOB_ID": "7", "MY_TOKEN": "mine", "SHALLOT_JOB": "/o/job.json"])
        #expect(ChildEnvironment.build(parent: parent)["MY_TOKEN"] == nil)
        #expect(ChildEnvironment.validName("HF_TOKEN") && !ChildEnvironment.validName("1X") && !ChildEnvironment.validName("A=B"))
    }

    @Test func pathsAShellCouldMisreadAreRefused() throws {
        #expect(try ShellPlaceholder.quoted("/runs/study-2_v1.0/a+b,c:d@e=f/job.json", for: "{job}") == "'/runs/study-2_v1.0/a+b,c:d@e=f/job.json'")
        for bad in ["/o/$(touch pwned)", "/o/`id`", "/o/a\"b", "/o/a'b", "/o/a\\b", "/o/a\nb", "/o/a\u{1b}[2J", "/o/a\u{202e}b"] {
            var message = "accepted"
            do { _ = try ShellPlaceholder.quoted(bad, for: "{job}") } catch { message = "\(error)" }
            #expect(message.hasPrefix("{job}: the path "), "\(bad.debugDescription): \(message)")
        }
    }

    /// Issue 22 review, M3: only $ ` " ' \ and control characters were refused. In a single-quoted
    /// template (`--wrap 'python t.py {job}'`) the quotes added around the path close the
    /// template's, leaving the path bare: `;`, `&`, `|`, redirections, parentheses, a space or a
    /// glob in it were read by the shell. Every character outside the allowed set is refused now,
    /// named, and the path shown.
    @Test func onlyCharactersInertInEveryQuotingContextPass() throws {
        let named = [";": "a semicolon (U+003B)", "&": "an ampersand (U+0026)", "|": "a pipe (U+007C)", " ": "a space (U+0020)",
                     "<": "\"<\" (U+003C)", ">": "\">\" (U+003E)", "(": "\"(\" (U+0028)", ")": "\")\" (U+0029)", "*": "\"*\" (U+002A)",
                     "?": "\"?\" (U+003F)", "[": "\"[\" (U+005B)", "~": "\"~\" (U+007E)", "#": "\"#\" (U+0023)", "!": "\"!\" (U+0021)",
                     "{": "\"{\" (U+007B)", "%": "\"%\" (U+0025)", "é": "\"é\" (U+00E9)", "\t": "a tab (U+0009)", "\u{202e}": "U+202E"]
        for (c, name) in named {
            let path = "/shared/a" + c + "touch x/job.json"
            var message = "accepted"
            do { _ = try ShellPlaceholder.quoted(path, for: "{job}") } catch { message = "\(error)" }
            #expect(message.contains("contains " + name) && message.contains("/shared/a"), "\(c.debugDescription): \(message)")
        }
        // What the old check let through: the single-quoted template runs `touch x`.
        let template = "sbatch --wrap 'python t.py {job}'"
        #expect(throws: UnsafePlaceholderValue.self) { try template.replacingOccurrences(of: "{job}", with: ShellPlaceholder.quoted("/shared/a;touch x;b", for: "{job}")) }
    }
}
