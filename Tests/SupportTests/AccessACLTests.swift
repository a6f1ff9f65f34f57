// Issue 22 review, M4: "writable by others" read the mode bits only. On a directory with a POSIX
// ACL the group bits are the ACL's mask, and named users and groups can write: `drwxrwx---+` of
// the user's private group with `user:mallory:rwx` passed as private. Each test sets the ACL
// itself (the raw `system.posix_acl_access` attribute, as setfacl writes it), and is skipped
// where the filesystem of the temporary directory takes no ACLs.

import Foundation
import Support
import Testing
#if canImport(Glibc)
import Glibc
#endif

typealias SetXattr = @convention(c) (UnsafePointer<CChar>, UnsafePointer<CChar>, UnsafeRawPointer?, Int, Int32) -> Int32
/// setxattr from the C library (the Glibc module does not import it).
nonisolated(unsafe) let setxattrFunction: SetXattr? = {
    guard let h = dlopen(nil, RTLD_NOW), let f = dlsym(h, "setxattr") else { return nil }
    return unsafeBitCast(f, to: SetXattr.self)
}()

/// Sets the access ACL of `path`; false when the filesystem (or the C library) takes none.
@discardableResult
func setAccessACL(_ path: String, _ acl: AccessACL) -> Bool {
    guard let set = setxattrFunction else { return false }
    let bytes = acl.bytes
    return bytes.withUnsafeBytes { set(path, AccessACL.attribute, $0.baseAddress, $0.count, 0) } == 0
}

/// Whether an ACL can be set on a directory in the temporary directory.
let aclsWork: Bool = {
    let d = FileManager.default.temporaryDirectory.appendingPathComponent("shallot-acl-probe-\(UUID().uuidString)").path
    guard mkdir(d, 0o700) == 0 else { return false }
    defer { rmdir(d) }
    return setAccessACL(d, AccessACL(entries: [.init(tag: AccessACL.userObj, perm: 7, id: UInt32.max), .init(tag: AccessACL.user, perm: 7, id: 65534),
                                               .init(tag: AccessACL.groupObj, perm: 0, id: UInt32.max), .init(tag: AccessACL.mask, perm: 7, id: UInt32.max),
                                               .init(tag: AccessACL.other, perm: 0, id: UInt32.max)]))
}()

@Suite struct AccessACLTests {
    static let none = UInt32.max
    /// An ACL like `setfacl -m u:65534:rwx` (or `g:` with `group`) on a 0700 directory, with `mask`.
    static func acl(named tag: UInt16 = AccessACL.user, perm: UInt16 = 7, mask: UInt16 = 7) -> AccessACL {
        AccessACL(entries: [.init(tag: AccessACL.userObj, perm: 7, id: none), .init(tag: tag, perm: perm, id: 65534),
                            .init(tag: AccessACL.groupObj, perm: 0, id: none), .init(tag: AccessACL.mask, perm: mask, id: none),
                            .init(tag: AccessACL.other, perm: 0, id: none)].sorted { $0.tag < $1.tag })   // (the kernel's order)
    }

    func error(_ body: () throws -> Void) -> String {
        do { try body(); return "" } catch { return "\(error)" }
    }

    /// The attribute's layout and the rule, without a filesystem.
    @Test func whoCanWriteThroughAnACL() {
        let a = Self.acl()
        #expect(AccessACL(a.bytes) == a && a.bytes.count == 4 + 5 * 8 && Array(a.bytes.prefix(4)) == [2, 0, 0, 0])
        #expect(AccessACL([1, 0, 0, 0]) == nil && AccessACL([2, 0, 0, 0, 1]) == nil)
        let never: (gid_t) -> Bool = { _ in false }, always: (gid_t) -> Bool = { _ in true }
        #expect(a.writers(me: 1000, owningGroup: 1000, isPrivate: always) == ["user 65534"])
        #expect(a.writers(me: 65534, owningGroup: 1000, isPrivate: always).isEmpty, "the user's own named entry")
        #expect(Self.acl(mask: 5).writers(me: 1000, owningGroup: 1000, isPrivate: never).isEmpty, "the mask takes write away")
        #expect(Self.acl(perm: 5).writers(me: 1000, owningGroup: 1000, isPrivate: never).isEmpty)
        #expect(Self.acl(named: AccessACL.group).writers(me: 1000, owningGroup: 1000, isPrivate: never) == ["group 65534"])
        var owning = Self.acl(perm: 5)
        owning.entries[2].perm = 7   // group::rwx
        #expect(owning.entries[2].tag == AccessACL.groupObj)
        #expect(owning.writers(me: 1000, owningGroup: 100, isPrivate: never) == ["group 100"])
        #expect(owning.writers(me: 1000, owningGroup: 100, isPrivate: always).isEmpty, "the user's private group")
    }

    /// The attack: a directory of the user's, mode 0770 through the mask, group private (or none
    /// at all), and an ACL entry that lets another user (or a group) write. Refused as OUT, as a
    /// directory holding OUT, as the ledger's; taken once the mask takes write away.
    @Test(.enabled(if: aclsWork, "the temporary directory's filesystem takes no POSIX ACLs"))
    func aDirectoryAnACLLetsOthersWriteIsNotPrivate() throws {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("shallot-acl-\(UUID().uuidString)").path
        try PrivateFile.makeDirectory(d + "/out/run")
        defer { try? FileManager.default.removeItem(atPath: d) }
        try PrivateFile.makeDirectory(d + "/out")
        #expect(setAccessACL(d + "/out", Self.acl()))
        #expect(PrivateFile.mode(d + "/out") == 0o770, "the mask shows as the group bits")
        for (what, body) in [("OUT", { try PrivateFile.makeDirectory(d + "/out") }), ("the ledger's directory", { try PrivateFile.checkDirectory(d + "/out") }),
                             ("a new directory in it", { try PrivateFile.makeDirectory(d + "/out/new") })] as [(String, () throws -> Void)] {
            let why = error(body)
            #expect(why.contains("its ACL lets user 65534 write"), "\(what): \(why.isEmpty ? "taken" : why)")
        }
        #expect(!FileManager.default.fileExists(atPath: d + "/out/new"))
        let held = error { try PrivateFile.makeDirectory(d + "/out/run") }
        #expect(held.contains(d + "/out is writable by others") && held.contains("user 65534"), "\(held)")
        #expect(setAccessACL(d + "/out", Self.acl(named: AccessACL.group)))
        #expect(error { try PrivateFile.makeDirectory(d + "/out") }.contains("its ACL lets group 65534 write"))
        // the mask without write: the named entry's write has no effect
        #expect(setAccessACL(d + "/out", Self.acl(mask: 5)))
        try PrivateFile.makeDirectory(d + "/out")
        try PrivateFile.makeDirectory(d + "/out/run")
    }
}
