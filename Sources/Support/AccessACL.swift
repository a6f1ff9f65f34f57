// POSIX access ACLs (Linux). On a directory that carries one, the group bits of st_mode are the
// ACL's mask, not the owning group's permissions, and named users and groups can be granted
// write: `drwxrwx---+ alice alice` with `user:mallory:rwx` read, from the mode alone, as "writable
// only by alice's private group" (issue 22 review, M4). The directory checks of PrivateFile read
// the ACL too (`system.posix_acl_access`, through getxattr/fgetxattr, which the Glibc module does
// not import: they are looked up in the C library at run time).

import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An access ACL as Linux keeps it in the `system.posix_acl_access` extended attribute: a
/// little-endian version (2), then 8-byte entries of a tag (u16), permissions (u16, r=4 w=2 x=1)
/// and a user or group id (u32).
public struct AccessACL: Equatable, Sendable {
    public struct Entry: Equatable, Sendable {
        public var tag: UInt16, perm: UInt16, id: UInt32
        public init(tag: UInt16, perm: UInt16, id: UInt32) { self.tag = tag; self.perm = perm; self.id = id }
    }
    public static let userObj: UInt16 = 0x01, user: UInt16 = 0x02, groupObj: UInt16 = 0x04, group: UInt16 = 0x08
    public static let mask: UInt16 = 0x10, other: UInt16 = 0x20
    public static let attribute = "system.posix_acl_access"
    public var entries: [Entry]

    public init(entries: [Entry]) { self.entries = entries }

    /// The attribute's bytes parsed; nil unless they are a version-2 ACL of whole entries.
    public init?(_ bytes: [UInt8]) {
        guard bytes.count >= 4, (bytes.count - 4) % 8 == 0 else { return nil }
        func u16(_ i: Int) -> UInt16 { UInt16(bytes[i]) | UInt16(bytes[i + 1]) << 8 }
        func u32(_ i: Int) -> UInt32 { UInt32(u16(i)) | UInt32(u16(i + 2)) << 16 }
        guard u32(0) == 2 else { return nil }
        entries = stride(from: 4, to: bytes.count, by: 8).map { Entry(tag: u16($0), perm: u16($0 + 2), id: u32($0 + 4)) }
    }

    /// The bytes of the attribute (for tests that set one without setfacl).
    public var bytes: [UInt8] {
        func le<T: FixedWidthInteger>(_ v: T) -> [UInt8] { withUnsafeBytes(of: v.littleEndian, Array.init) }
        return le(UInt32(2)) + entries.flatMap { le($0.tag) + le($0.perm) + le($0.id) }
    }

    /// Who besides the owner can write through this ACL ("user 1001", "group 100", "others"):
    /// a named user other than `me`, a named group, or the owning group (`owningGroup`), whose
    /// entry, masked, grants write, unless the group is `isPrivate` (the user's private group);
    /// and the other class. Empty: nobody.
    public func writers(me: uid_t, owningGroup: gid_t, isPrivate: (gid_t) -> Bool) -> [String] {
        let maskPerm = entries.first { $0.tag == Self.mask }?.perm ?? 7   // no mask: a minimal ACL, the mode itself
        var out: [String] = []
        for e in entries where e.perm & 2 != 0 {
            switch e.tag {
            case Self.user where e.id != me && maskPerm & 2 != 0: out.append("user \(e.id)")
            case Self.group where maskPerm & 2 != 0 && !isPrivate(gid_t(e.id)): out.append("group \(e.id)")
            case Self.groupObj where maskPerm & 2 != 0 && !isPrivate(owningGroup): out.append("group \(owningGroup)")
            case Self.other: out.append("others")
            default: break
            }
        }
        return out
    }
}

/// What reading a file's access ACL found.
public enum ACLRead: Equatable, Sendable {
    /// No ACL beyond the mode (none set, or a filesystem without POSIX ACLs, or not Linux).
    case none
    case acl(AccessACL)
    /// There is one, but it cannot be read or parsed (the checks then count the file as writable by others).
    case unreadable(String)

    typealias GetPath = @convention(c) (UnsafePointer<CChar>, UnsafePointer<CChar>, UnsafeMutableRawPointer?, Int) -> Int
    typealias GetFD = @convention(c) (Int32, UnsafePointer<CChar>, UnsafeMutableRawPointer?, Int) -> Int
    /// getxattr and fgetxattr from the C library (nil where it has none).
    nonisolated(unsafe) static let functions: (path: GetPath, fd: GetFD)? = {
        #if os(Linux)
        guard let h = dlopen(nil, RTLD_NOW), let p = dlsym(h, "getxattr"), let f = dlsym(h, "fgetxattr") else { return nil }
        return (unsafeBitCast(p, to: GetPath.self), unsafeBitCast(f, to: GetFD.self))
        #else
        return nil
        #endif
    }()

    /// The access ACL of the file at `path` (following a link, as stat does).
    public static func of(path: String) -> ACLRead {
        guard let get = functions?.path else { return .none }
        return read { get(path, AccessACL.attribute, $0, $1) }
    }

    /// The access ACL of an open file.
    public static func of(fd: Int32) -> ACLRead {
        guard let get = functions?.fd else { return .none }
        return read { get(fd, AccessACL.attribute, $0, $1) }
    }

    static func read(_ get: (UnsafeMutableRawPointer, Int) -> Int) -> ACLRead {
        var buf = [UInt8](repeating: 0, count: 1 << 16)
        let n = buf.withUnsafeMutableBytes { get($0.baseAddress!, $0.count) }
        if n < 0 {
            if errno == ENODATA || errno == ENOTSUP || errno == EOPNOTSUPP { return .none }
            return .unreadable(String(cString: strerror(errno)))
        }
        guard let acl = AccessACL(Array(buf[0..<n])) else { return .unreadable("not a POSIX ACL of version 2") }
        return .acl(acl)
    }
}
