import Foundation
import Testing
@testable import PII

/// Detection output pinned byte for byte: every entity (type, start, end, text, normalised key,
/// the score's bits) that each detector reports on its own at `minScore` 0 (its whole candidate
/// list, before overlaps are resolved) and that the full scanner reports at the default
/// threshold, hashed. Changing a detector's speed must not change these digests; changing what
/// it finds must update them on purpose.
///
/// Texts: the four evaluation fixtures, and a 400 KB shuffle of their tokens with digit runs,
/// separators and context words (edge cases the fixtures hold only once). With
/// `SHALLOT_PII_DIGEST_FILE=/tmp/mail.txt` (`python3 Scripts/make_bench_mail.py /tmp/mail.txt
/// --mb 5`) the benchmark's mail text is checked too; `SHALLOT_PII_DUMP_DIR=DIR` writes the
/// dumps there for diffing (Scripts/check_pii_digest.sh does both).
@Suite struct ScanDigestTests {
    static let fixtureFiles = ["pii_eval.jsonl", "pii_heldout.jsonl", "pii_world_dev.jsonl", "pii_world_heldout.jsonl"]

    static func fixtureTexts() throws -> [String] {
        var out: [String] = []
        for f in fixtureFiles {
            let url = Bundle.module.resourceURL!.appendingPathComponent("Fixtures/" + f)
            for line in try String(contentsOf: url, encoding: .utf8).split(separator: "\n") {
                out.append(try JSONDecoder().decode(LabelledText.self, from: Data(line.utf8)).text)
            }
        }
        return out
    }

    /// The scans a text is pinned by: each type alone with every candidate, then all types.
    static let scanners: [(String, PIIScanner)] =
        PIIType.allCases.map { ($0.rawValue + "@0", PIIScanner(types: [$0], minScore: 0)) } + [("ALL@default", PIIScanner())]

    static func dump(_ texts: [String], into out: inout String) {
        for (name, scanner) in scanners {
            for (k, text) in texts.enumerated() {
                for e in scanner.scan(text) {
                    out += "\(name)\t\(k)\t\(e.type.rawValue)\t\(e.start)\t\(e.end)\t\(e.text)\t\(e.normalized)\t\(String(e.score.bitPattern, radix: 16))\n"
                }
            }
        }
    }

    static func fnv1a(_ s: String) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in s.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01B3 }
        return h
    }

    static func keep(_ dump: String, _ name: String) {
        guard let dir = ProcessInfo.processInfo.environment["SHALLOT_PII_DUMP_DIR"] else { return }
        try? dump.write(toFile: dir + "/" + name, atomically: true, encoding: .utf8)
    }

    /// A deterministic text of fixture tokens, digit groups, separators and context words.
    static func shuffledText(_ fixtures: [String], bytes: Int) -> String {
        var rng: UInt64 = 0x5EED_0F_5A11
        func next() -> Int {
            rng &+= 0x9E37_79B9_7F4A_7C15
            var z = rng
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return Int(truncatingIfNeeded: (z ^ (z >> 31)) >> 1)
        }
        func pick<T>(_ a: [T]) -> T { a[next() % a.count] }
        let tokens = fixtures.flatMap { $0.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init) }
        let words = ["phone", "Tel.", "tel:", "SSN", "social security", "card", "Visa", "order", "Order #", "invoice", "ref", "ext.", "x",
                     "call me at", "Mobile", "fax", "id", "version", "v", "From:", "To:", "Hi", "Thanks,", "Regards,", "IP", "on", "at", "电话",
                     "Téléphone", "телефон", "ISBN", "www.", "http://", "mailto:", "@", "Dear", "Cc:", "<", ">", "(0)", "+", "00", "011", "Ms."]
        let seps = [" ", " ", " ", "-", ".", "/", "", "(", ") ", ", ", ": ", "\n", "\u{A0}", "\t", "\n\n", " #"]
        var out = "", size = 0
        while size < bytes {
            var piece: String
            switch next() % 10 {
            case 0, 1, 2, 3: piece = pick(tokens)
            case 4, 5: piece = pick(words)
            case 6, 7:
                piece = ""
                for g in 0..<(1 + next() % 5) {
                    if g > 0 { piece += pick(["-", " ", ".", "/", " ", "-"]) }
                    for _ in 0..<(1 + next() % 6) { piece += String(next() % 10) }
                }
            case 8: piece = pick(tokens) + pick(seps) + pick(tokens)
            default: piece = pick(["+", "00", "(", "+1 ", "+44 (0)", "0", "8 (", "1-"]) + String(100 + next() % 900) + pick(seps) + String(1000 + next() % 9000)
            }
            piece += pick(seps)
            out += piece; size += piece.utf8.count
        }
        return out
    }

    @Test func fixturesScanToThePinnedOutput() throws {
        var d = ""
        Self.dump(try Self.fixtureTexts(), into: &d)
        Self.keep(d, "fixtures.tsv")
        let lines = d.split(separator: "\n").count
        print("pii digest fixtures: \(lines) lines, \(String(Self.fnv1a(d), radix: 16))")
        #expect(lines == 2417 && String(Self.fnv1a(d), radix: 16) == "f11749c3def87115")
    }

    @Test func shuffledTextScansToThePinnedOutput() throws {
        let text = Self.shuffledText(try Self.fixtureTexts(), bytes: 400_000)
        #expect(String(Self.fnv1a(text), radix: 16) == "6cf0257d4ba30325", "the generated text changed: \(String(Self.fnv1a(text), radix: 16))")
        var d = ""
        Self.dump([text], into: &d)
        Self.keep(d, "shuffled.tsv")
        let lines = d.split(separator: "\n").count
        print("pii digest shuffled: \(lines) lines, \(String(Self.fnv1a(d), radix: 16))")
        #expect(lines == 7052 && String(Self.fnv1a(d), radix: 16) == "c60e9f68be07d573")
    }

    /// The benchmark's mail text, when given (its own digest is checked first).
    @Test func benchmarkMailScansToThePinnedOutput() throws {
        guard let path = ProcessInfo.processInfo.environment["SHALLOT_PII_DIGEST_FILE"] else { return }
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(String(Self.fnv1a(text), radix: 16) == "f1411277697e13b6", "\(path) is not make_bench_mail.py --mb 5 output")
        var d = ""
        Self.dump([text], into: &d)
        Self.keep(d, "mail.tsv")
        let lines = d.split(separator: "\n").count
        print("pii digest mail: \(lines) lines, \(String(Self.fnv1a(d), radix: 16))")
        #expect(lines == 107906 && String(Self.fnv1a(d), radix: 16) == "513cc88a1d07e763")
    }
}


extension ScanDigestTests {
    /// The ASCII fast path of phone normalisation gives what the general one gives.
    @Test func asciiPhoneKeysMatchTheGeneralPath() {
        var rng: UInt64 = 7
        let alphabet = Array("0123456789 0123456789+-.()/ \t(0)0x#ext,:".unicodeScalars)
        var fast = 0
        for n in 0..<20_000 {
            var s = ""
            for _ in 0..<(n % 24) {
                rng = rng &* 6364136223846793005 &+ 1442695040888963407
                s.unicodeScalars.append(alphabet[Int(rng >> 33) % alphabet.count])
            }
            if let k = PIINormalize.asciiPhone(s) { fast += 1; #expect(k == PIINormalize.foundationPhone(s), "\(s)") }
        }
        #expect(fast > 5_000)
        for s in ["+44 (0)20 7946 0958", "(0)(0)12", "((0))555", " 00 49 30 1234", "\t1 (800) 555-0100 ", "020 7946 0958", "415.555.0100 x12", "+1 212 555 0100 ext. 7"] {
            #expect(PIINormalize.phone(s) == PIINormalize.foundationPhone(s), "\(s)")
        }
    }
}

extension ScanDigestTests {
    /// scanDocument over the UTF-8 bytes cuts the same blocks and shifts offsets by the same
    /// scalar counts as the String-walking version, on 1 and 2 threads (non-ASCII included).
    @Test func documentScanMatchesTheStringPath() throws {
        var text = Self.shuffledText(try Self.fixtureTexts(), bytes: 400_000)
        if let path = ProcessInfo.processInfo.environment["SHALLOT_PII_DIGEST_FILE"] { text += "\n\n" + (try String(contentsOfFile: path, encoding: .utf8)) }
        for types in [Set<PIIType>([.email, .phone]), Set(PIIType.allCases)] {
            let s = PIIScanner(types: types, minScore: 0)
            let reference = s.scanDocumentByString(text, threads: 1)
            #expect(reference.count > 1_000)
            for threads in [1, 2] { #expect(s.scanDocument(text, threads: threads) == reference) }
        }
    }
}
