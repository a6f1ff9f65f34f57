// The study's child commands as an attacker would use them: a secret of ours read by an external
// trainer, `$(…)` in an output path run by /bin/sh, a salt planted in OUT (docs/security.md).

import Foundation
import Testing

@Suite(.serialized) struct ChildCommandTests {
    /// The trainer writes its environment and fails: our secrets are not in it, PATH, SHALLOT_JOB
    /// and the --pass-env name are.
    @Test func aTrainerGetsTheAllowListNotOurSecrets() throws {
        let d = try tmp()
        defer { try? FileManager.default.removeItem(atPath: d) }
        let secrets = ["SHALLOT_SCRUB_SECRET": "s3cret", "OPENAI_API_KEY": "sk-probe", "HF_TOKEN": "hf_probe", "MY_TRAINER_TOKEN": "passme"]
        let trainer = "env > \(d)/env.txt; exit 3 # {job}"
        let r = try shallot(["study", "--preset", "smoke", "--threads", "1", "--jobs", "1", "--out", d + "/study", "--keys", d + "/keys",
                             "--trainer", "command", "--trainer-cmd", trainer, "--pass-env", "MY_TRAINER_TOKEN"], environment: secrets)
        #expect(r.status != 0)
        let env = try String(contentsOfFile: d + "/env.txt", encoding: .utf8)
        for bad in ["s3cret", "sk-probe", "hf_probe"] { #expect(!env.contains(bad), "\(bad) reached the trainer") }
        #expect(env.contains("PATH=") && env.contains("MY_TRAINER_TOKEN=passme") && env.contains("SHALLOT_JOB=/") && env.contains("/job.json"), "\(env)")
    }

    /// An OUT whose path would run a command in some quoting context is refused before any
    /// command runs; nothing is executed.
    @Test func anOutputPathWithCommandSubstitutionIsRefused() throws {
        let d = try tmp()
        defer { try? FileManager.default.removeItem(atPath: d) }
        for extra in [["--trainer", "command", "--trainer-cmd", "sh -c \"cat {job}\""], ["--serve-cmd", "echo \"{model}\" {port}"]] {
            let r = try shallot(["study", "--preset", "smoke", "--threads", "1", "--out", d + "/$(touch pwned)", "--keys", d + "/keys"] + extra, cwd: d)
            #expect(r.status != 0)
            #expect(r.stderr.contains("--out") && r.stderr.contains("$(touch pwned)") && r.stderr.contains("dollar sign"), "\(r.stderr)")
            #expect(!FileManager.default.fileExists(atPath: d + "/pwned"), "the output path was executed")
        }
    }

    /// Issue 22 review, M3: a `;` in OUT with a single-quoted template (the README's sbatch
    /// style). The single quotes around the substituted path close the template's own, so the
    /// old check (which let `;` through) had /bin/sh run `touch pwned` at the first training job.
    @Test func aSemicolonInOutIsRefusedWithASingleQuotedTemplate() throws {
        let d = try tmp()
        defer { try? FileManager.default.removeItem(atPath: d) }
        let out = d + "/a;touch pwned;b"
        let r = try shallot(["study", "--preset", "smoke", "--threads", "1", "--jobs", "1", "--out", out, "--keys", d + "/keys",
                             "--trainer", "command", "--trainer-cmd", "sh -c 'test -f {job}'"], cwd: d)
        #expect(r.status != 0)
        #expect(r.stderr.contains("--out") && r.stderr.contains(out) && r.stderr.contains("a semicolon"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: d + "/pwned"), "the output path was executed")
    }

    /// A salt planted in OUT (the legacy OUT/.salt) is not adopted: the study stops and names it.
    @Test func aPlantedSaltInOutIsNotAdopted() throws {
        let d = try tmp()
        defer { try? FileManager.default.removeItem(atPath: d) }
        try FileManager.default.createDirectory(atPath: d + "/study", withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        try Data(repeating: 0x41, count: 32).write(to: URL(fileURLWithPath: d + "/study/.salt"))
        let r = try shallot(["study", "--preset", "smoke", "--threads", "1", "--out", d + "/study", "--keys", d + "/keys"])
        #expect(r.status != 0)
        #expect(r.stderr.contains(d + "/study/.salt") && r.stderr.contains("remove it"), "\(r.stderr)")
        // (issue 22 review, L3: the message told the user to pass the planted file with --salt-file)
        #expect(!r.stderr.contains("--salt-file"), "the planted salt is suggested for use: \(r.stderr)")
        let salts = (try? FileManager.default.contentsOfDirectory(atPath: d + "/keys")) ?? []
        #expect(salts.isEmpty, "a key-directory salt was made from the planted one: \(salts)")
    }
}
