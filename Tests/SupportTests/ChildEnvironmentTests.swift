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
        #expect(try ShellPlaceholder.quoted("/runs/my study/job.json", for: "{job}") == "'/runs/my study/job.json'")
        for bad in ["/o/$(touch pwned)", "/o/`id`", "/o/a\"b", "/o/a'b", "/o/a\\b", "/o/a\nb", "/o/a\u{1b}[2J", "/o/a\u{202e}b"] {
            var message = "accepted"
            do { _ = try ShellPlaceholder.quoted(bad, for: "{job}") } catch { message = "\(error)" }
            #expect(message.hasPrefix("{job}: the path "), "\(bad.debugDescription): \(message)")
        }
    }
}
