// Issue 22 leftover: which hosts are this machine's loopback, for the plain-http warning, the
// listener check of a served model and `shallot serve`'s bind without a key. Every spelling the
// resolver reads as 127.0.0.0/8 or ::1 is loopback (getaddrinfo reads IPv4 as inet_aton does:
// `127.1` and `2130706433` connect to 127.0.0.1); nothing that leaves the machine is.

import Testing
import Support

@Suite struct LoopbackHostTests {
    @Test(arguments: ["localhost", "LocalHost", "127.0.0.1", "127.8.9.1", "[127.0.0.1]", "127.1", "0x7f.0.0.1", "0177.0.0.1", "2130706433",
                      "0x7f000001", "::1", "[::1]", "0:0:0:0:0:0:0:1", "::ffff:127.0.0.1", "[::ffff:127.0.0.1]", "::ffff:7f00:1",
                      "::FFFF:127.1.2.3", "0:0:0:0:0:ffff:7f00:0001"])
    func loopbackInEverySpelling(host: String) {
        #expect(isLoopbackHost(host), "\(host)")
    }

    /// Elsewhere: other addresses, names that only start like loopback, the IPv4-compatible and
    /// NAT64 embeddings of 127.0.0.1 (routed off the machine), zones, text after an address
    /// (inet_aton would stop at the space and read the rest as nothing).
    @Test(arguments: ["10.0.0.5", "128.0.0.1", "0x80.0.0.1", "126.255.255.255", "127.0.0.1.nip.io", "localhost.evil.com", "localhost.",
                      "127.0.0.1 evil.com", "127.0.0.1.", ".127.0.0.1", "::127.0.0.1", "64:ff9b::127.0.0.1", "::ffff:0:127.0.0.1",
                      "::ffff:10.0.0.1", "fe80::1", "::1%lo", "[::1%lo]", "::2", "", "1.2.3.4.5", "gpu-node"])
    func notLoopback(host: String) {
        #expect(!isLoopbackHost(host), "\(host)")
    }

    @Test func theUnspecifiedAddressInEverySpelling() {
        for h in ["0.0.0.0", "0", "0.0", "0x0", "::", "[::]", "0:0::0", "::ffff:0.0.0.0"] { #expect(isUnspecifiedHost(h), "\(h)") }
        for h in ["0.0.0.1", "::1", "localhost", "", "0.0.0.0.0", "::ffff:0.0.0.1"] { #expect(!isUnspecifiedHost(h), "\(h)") }
    }
}
