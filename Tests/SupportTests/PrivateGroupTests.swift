// Issue 22 leftover: "group-writable is fine when the group is the user's private group". A group
// lists only its secondary members: every account whose primary group it is belongs to it too
// without being listed, so a shared primary group (`users`, `nogroup`) with an empty member list
// looked private. The rule now asks the account database as well.

import Testing
@testable import Support

@Suite struct PrivateGroupTests {
    @Test(arguments: [
        // (group name, listed members, accounts with it as primary group, private?)
        ("alice", [String](), ["alice"], true),          // a user private group
        ("alice", ["alice"], ["alice"], true),
        ("users", [], ["alice", "bob"], false),          // shared primary group, nobody listed
        ("nogroup", [], ["alice", "nobody", "_apt"], false),
        ("alice", [], ["alice", "bob"], false),          // named after her, but bob's primary group too
        ("alice", ["bob"], ["alice"], false),            // a listed member
        ("staff", [], ["alice"], false),                 // hers alone today, but not a group of her own
    ])
    func aGroupIsPrivateOnlyWhenNobodyElseIsInIt(name: String, listed: [String], primaryOf: [String], expected: Bool) {
        #expect(PrivateFile.isPrivateGroup(name: name, listed: listed, primaryOf: primaryOf, user: "alice") == expected)
    }
}
