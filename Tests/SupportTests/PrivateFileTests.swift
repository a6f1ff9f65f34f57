import Foundation
import Support
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Output files and directories in a directory another local user can reach (issue 22): new
/// temporary files only, no links followed, ownership and modes checked before anything is written.
@Suite struct PrivateFileTests {
    func scratch() throws -> String {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("shallot-pf-\(UUID().uuidString)").path
        try PrivateFile.makeDirectory(d)
        return d
    }

    func error(_ body: () throws -> Void) -> String {
        do { try body(); return "" } catch { return "\(error)" }
    }

    @Test func writesAreAtomicOwnerOnlyAndLeaveNoTemporaryFiles() throws {
        let d = try scratch()
        try PrivateFile.write(Data("one".utf8), to: d + "/a.json")
        try PrivateFile.write(Data("two".utf8), to: d + "/a.json")
        #expect(String(decoding: FileManager.default.contents(atPath: d + "/a.json")!, as: UTF8.self) == "two")
        #expect(PrivateFile.mode(d + "/a.json") == 0o600 && PrivateFile.mode(d) == 0o700)
        #expect(try FileManager.default.contentsOfDirectory(atPath: d).sorted() == ["a.json"])
    }

    /// A link planted where the file goes is replaced by the file (rename), never written through.
    @Test func aPlantedLinkIsReplacedNotFollowed() throws {
        let d = try scratch(), victim = d + "/victim"
        try Data("keep".utf8).write(to: URL(fileURLWithPath: victim))
        #expect(symlink(victim, d + "/out.json") == 0)
        try PrivateFile.write(Data("new".utf8), to: d + "/out.json")
        #expect(String(decoding: FileManager.default.contents(atPath: victim)!, as: UTF8.self) == "keep")
        #expect(String(decoding: FileManager.default.contents(atPath: d + "/out.json")!, as: UTF8.self) == "new")
    }

    @Test func logsAreAppendedOnlyToOwnerOnlyRegularFiles() throws {
        let d = try scratch()
        let h = try PrivateFile.openForAppending(d + "/log.jsonl")
        h.write(Data("a\n".utf8)); try h.close()
        let g = try PrivateFile.openForAppending(d + "/log.jsonl")
        g.write(Data("b\n".utf8)); try g.close()
        #expect(String(decoding: FileManager.default.contents(atPath: d + "/log.jsonl")!, as: UTF8.self) == "a\nb\n")
        #expect(PrivateFile.mode(d + "/log.jsonl") == 0o600)
        // A readable existing log, a link, a directory: refused with the reason.
        chmod(d + "/log.jsonl", 0o644)
        #expect(error { _ = try PrivateFile.openForAppending(d + "/log.jsonl") }.contains("its mode is 644"))
        #expect(symlink(d + "/elsewhere", d + "/link.jsonl") == 0)
        #expect(!error { _ = try PrivateFile.openForAppending(d + "/link.jsonl") }.isEmpty)
        #expect(!FileManager.default.fileExists(atPath: d + "/elsewhere"), "the link was not followed")
    }

    /// A FIFO planted as the log would hang a plain open; a hard link to another file of the
    /// user's would write there. Both are refused at once.
    @Test func aPlantedFifoOrHardLinkIsNotALog() throws {
        let d = try scratch()
        #expect(mkfifo(d + "/fifo.log", 0o600) == 0)
        // Without a reader the non-blocking open fails (ENXIO); with one, fstat says what it is.
        let fifo = error { _ = try PrivateFile.openLog(d + "/fifo.log", truncate: true) }
        #expect(fifo.contains("not a regular file") || fifo.contains("No such device"), "\(fifo)")
        try PrivateFile.write(Data("secret".utf8), to: d + "/keys")
        #expect(link(d + "/keys", d + "/hard.log") == 0)
        #expect(error { _ = try PrivateFile.openLog(d + "/hard.log", truncate: true) }.contains("hard links"))
        #expect(String(decoding: FileManager.default.contents(atPath: d + "/keys")!, as: UTF8.self) == "secret", "not truncated")
    }

    /// A directory someone else creates at the last moment is checked, not adopted; one made here
    /// is 0700 whatever the umask.
    @Test func newDirectoriesAreOwnerOnlyAndParentsAreMade() throws {
        let d = try scratch()
        let old = umask(0o002)
        defer { umask(old) }
        try PrivateFile.makeDirectory(d + "/a/b/c")
        #expect(PrivateFile.mode(d + "/a/b/c") == 0o700 && PrivateFile.mode(d + "/a") == 0o700)
        try PrivateFile.makeDirectory(d + "/a/b/c")   // an existing directory of the user's is fine
    }

    @Test func directoriesOthersCanWriteOrThatAreLinksAreRefused() throws {
        let d = try scratch()
        try PrivateFile.makeDirectory(d + "/open")
        chmod(d + "/open", 0o777)
        #expect(error { try PrivateFile.makeDirectory(d + "/open") }.contains("writable by others (mode 777)"))
        try PrivateFile.makeDirectory(d + "/mine")
        #expect(symlink(d + "/mine", d + "/alias") == 0)
        // A link of the user's own to a directory of theirs is a user's choice; in a place Shallot
        // keeps for itself (job directories, checkpoints) a link is refused.
        try PrivateFile.makeDirectory(d + "/alias")
        #expect(error { try PrivateFile.makeDirectory(d + "/alias", restrictExisting: true) }.contains("symbolic link"))
        try Data().write(to: URL(fileURLWithPath: d + "/file"))
        #expect(error { try PrivateFile.makeDirectory(d + "/file") }.contains("not a directory"))
    }

    /// Only root can hand a directory to another user; elsewhere this check is skipped.
    @Test(.enabled(if: geteuid() == 0, "only root can hand a directory to another user"))
    func aDirectoryOfAnotherUserIsRefused() throws {
        let d = try scratch()
        try PrivateFile.makeDirectory(d + "/theirs")
        #expect(chown(d + "/theirs", 65534, 65534) == 0)
        #expect(error { try PrivateFile.makeDirectory(d + "/theirs") }.contains("belongs to user 65534"))
        try Data("x".utf8).write(to: URL(fileURLWithPath: d + "/theirs.log"))
        chmod(d + "/theirs.log", 0o600)
        #expect(chown(d + "/theirs.log", 65534, 65534) == 0)
        #expect(error { _ = try PrivateFile.openForAppending(d + "/theirs.log") }.contains("owned by user 65534"))
    }

    /// Issue 22 leftover: a missing parent was made with FileManager, which follows a link planted
    /// where the parent should be. Here another user's link stands for `planted`: nothing may be
    /// made through it (only root can give a link to another user; elsewhere this is skipped).
    @Test(.enabled(if: geteuid() == 0, "only root can give a link to another user"))
    func aParentThatIsAnotherUsersLinkIsNotFollowed() throws {
        let d = try scratch()
        try PrivateFile.makeDirectory(d + "/elsewhere")
        #expect(symlink(d + "/elsewhere", d + "/planted") == 0)
        #expect(lchown(d + "/planted", 65534, 65534) == 0)
        let why = error { try PrivateFile.makeDirectory(d + "/planted/a/b") }
        #expect(why.contains("symbolic link owned by user 65534"), "\(why)")
        #expect(!FileManager.default.fileExists(atPath: d + "/elsewhere/a"), "a parent was made through the link")
    }

    /// Parents are not made where others can rename them and put a link in their place (a
    /// directory others can write, without the sticky bit); with the sticky bit (as /tmp) they are.
    @Test func parentsAreNotMadeWhereOthersCanReplaceThem() throws {
        let d = try scratch()
        try PrivateFile.makeDirectory(d + "/open")
        chmod(d + "/open", 0o777)
        let why = error { try PrivateFile.makeDirectory(d + "/open/a/b") }
        #expect(why.contains("writable by others") && why.contains("sticky"), "\(why)")
        #expect(!FileManager.default.fileExists(atPath: d + "/open/a"))
        chmod(d + "/open", 0o1777)
        try PrivateFile.makeDirectory(d + "/open/a/b")
        #expect(PrivateFile.mode(d + "/open/a") == 0o700 && PrivateFile.mode(d + "/open/a/b") == 0o700)
    }
}

extension PrivateFileTests {
    /// Issue 22 review, L3: `--salt-file` was read as any file — through a link, readable by
    /// others, another user's, empty. It keys the study's subject keys and verified.json's MACs.
    @Test func aSaltFileMustBeTheUsersOwnerOnlyAndOfSaneLength() throws {
        let d = try scratch()
        func salt(_ name: String, _ bytes: Int, mode: mode_t = 0o600) throws -> String {
            let p = d + "/" + name
            try Data(repeating: 0x61, count: bytes).write(to: URL(fileURLWithPath: p))
            chmod(p, mode)
            return p
        }
        func read(_ p: String) -> String {
            do { return "read \(try PrivateFile.readSecret(p, what: "--salt-file", bytes: 16...4096).count)" } catch { return "\(error)" }
        }
        #expect(read(try salt("good", 32)) == "read 32")
        #expect(read(try salt("open", 32, mode: 0o644)).contains("others have access to it (mode 644): chmod 600"))
        #expect(read(try salt("group", 32, mode: 0o640)).contains("mode 640"))
        #expect(read(try salt("short", 8)).contains("8 bytes; it must hold 16 to 4096"))
        #expect(read(try salt("empty", 0)).contains("0 bytes"))
        #expect(read(try salt("long", 5000)).contains("5000 bytes"))
        #expect(symlink(d + "/good", d + "/link") == 0)
        #expect(read(d + "/link").contains("symbolic link"))
        #expect(mkfifo(d + "/fifo", 0o600) == 0)
        #expect(read(d + "/fifo").contains("not a regular file"))
        #expect(read(d + "/missing").contains("--salt-file refused"))
        if geteuid() == 0 {
            let theirs = try salt("theirs", 32)
            #expect(chown(theirs, 65534, 65534) == 0)
            #expect(read(theirs).contains("owned by user 65534"))
        }
    }
}

extension PrivateFileTests {
    /// Issue 22 review, M3: an existing output directory was checked, its parent not. In a shared
    /// directory others can write without the sticky bit (a setgid project directory, 2775) any
    /// of them can move OUT aside and put a link to their own directory in its place — a rename
    /// in the same directory needs no permission on what is moved — and every later open by name
    /// (stage files, the audit's salt) reads theirs. Now the directory that holds OUT, and every
    /// directory above it, must be writable by nobody else unless sticky, and the holder must be
    /// the user's or root's: the rule that already applied where OUT is made.
    @Test func anExistingDirectoryInADirectoryOthersCanWriteIsRefused() throws {
        let d = try scratch(), shared = d + "/shared"
        try PrivateFile.makeDirectory(shared + "/run1")
        try PrivateFile.makeDirectory(shared + "/alice/run2")
        try PrivateFile.makeDirectory(d + "/mine")
        #expect(symlink(shared + "/run1", d + "/mine/link") == 0)
        chmod(shared, 0o2777)
        for path in [shared + "/run1", shared + "/alice/run2", d + "/mine/link", shared + "/run1/stages"] {
            let why = error { try PrivateFile.makeDirectory(path) }
            #expect(why.contains(shared + " is writable by others (mode 2777) without the sticky bit"), "\(path): \(why)")
        }
        #expect(!FileManager.default.fileExists(atPath: shared + "/run1/stages"))
        // the ledger's directory is checked the same way
        #expect(error { try PrivateFile.checkDirectory(shared + "/alice/run2") }.contains(shared + " is writable by others"))
        // sticky, as /tmp: only an entry's owner can move it
        chmod(shared, 0o3777)
        try PrivateFile.makeDirectory(shared + "/run1")
        try PrivateFile.makeDirectory(shared + "/alice/run2")
        try PrivateFile.checkDirectory(d + "/mine/link")
    }

    /// M3, the holder's owner: another user's directory holding OUT (they can move it, whatever
    /// its mode) is refused (only root can make one here; elsewhere this is skipped).
    @Test(.enabled(if: geteuid() == 0, "only root can hand a directory to another user"))
    func anExistingDirectoryHeldByAnotherUsersDirectoryIsRefused() throws {
        let d = try scratch()
        try PrivateFile.makeDirectory(d + "/theirs/run")
        #expect(chown(d + "/theirs", 65534, 65534) == 0)
        chmod(d + "/theirs", 0o755)
        let why = error { try PrivateFile.makeDirectory(d + "/theirs/run") }
        #expect(why.contains(d + "/theirs, which holds it, belongs to user 65534"), "\(why)")
    }
}

extension PrivateFileTests {
    /// Issue 22 review, L1: the attack the old code fell to was a link planted at the predictable
    /// temporary name (`.<name>.tmp-<pid>-<n>`) and followed by O_CREAT|O_TRUNC. With random
    /// names there is no name to plant a link at, so what is tested is that: two temporary files
    /// for the same target have names that differ in more than the counter (64 random bits), and
    /// neither is the old pattern; a link at the final path is replaced, never written through;
    /// a link in place of a directory Shallot keeps is refused.
    @Test func temporaryNamesAreUnpredictableAndLinksAreNotWrittenThrough() throws {
        let d = try scratch()
        let (fa, a) = try PrivateFile.createTemporary(beside: d + "/out.json")
        let (fb, b) = try PrivateFile.createTemporary(beside: d + "/out.json")
        close(fa); close(fb)
        defer { unlink(a); unlink(b) }
        let random = { (p: String) -> String in String(p.split(separator: "-").last ?? "") }
        #expect(a != b && random(a) != random(b), "\(a) \(b)")
        #expect(random(a).allSatisfy(\.isHexDigit) && !random(a).isEmpty)
        // not a counter: the two random parts are far apart (two consecutive 64-bit draws)
        let (ra, rb) = (UInt64(random(a), radix: 16) ?? 0, UInt64(random(b), radix: 16) ?? 0)
        #expect(max(ra, rb) - min(ra, rb) > 1_000_000, "\(a) \(b)")
        let old = try NSRegularExpression(pattern: #"/\.out\.json\.tmp-\d+-\d+$"#)
        #expect(old.firstMatch(in: a, range: NSRange(a.startIndex..., in: a)) == nil, "the old predictable pattern: \(a)")
        // a link at the final path: replaced by the file, its target untouched
        let victim = d + "/victim"
        try Data("keep".utf8).write(to: URL(fileURLWithPath: victim))
        #expect(symlink(victim, d + "/out.json") == 0)
        try PrivateFile.write(Data("new".utf8), to: d + "/out.json")
        #expect(String(decoding: FileManager.default.contents(atPath: victim) ?? Data(), as: UTF8.self) == "keep")
        var st = stat()
        #expect(lstat(d + "/out.json", &st) == 0 && st.st_mode & S_IFMT == S_IFREG)
        // a link in place of a directory Shallot keeps for itself: refused, nothing made through it
        try PrivateFile.makeDirectory(d + "/elsewhere")
        #expect(symlink(d + "/elsewhere", d + "/stages") == 0)
        #expect(error { try PrivateFile.makeDirectory(d + "/stages", restrictExisting: true) }.contains("symbolic link"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: d + "/elsewhere").isEmpty)
    }

    /// L1, a link in place of the directory a file is written into: another user's link there is
    /// not followed (only root can give a link to another user; elsewhere this is skipped).
    @Test(.enabled(if: geteuid() == 0, "only root can give a link to another user"))
    func aFileIsNotWrittenThroughAnotherUsersDirectoryLink() throws {
        let d = try scratch()
        try PrivateFile.makeDirectory(d + "/elsewhere")
        #expect(symlink(d + "/elsewhere", d + "/dir") == 0)
        #expect(lchown(d + "/dir", 65534, 65534) == 0)
        let why = error { try PrivateFile.write(Data("secret".utf8), to: d + "/dir/out.json") }
        #expect(why.contains("symbolic link owned by user 65534"), "\(why)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: d + "/elsewhere").isEmpty, "written through the link")
    }
}
