import ArgumentParser
import Corpus
import Foundation
import PII
import Support
import Tokenizer

struct CorpusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "corpus", abstract: "Import, describe and split corpora of data subjects' records.",
                                                    subcommands: [Synth.self, Import.self, Stats.self, Split.self])
}

func readCorpus(_ path: String) -> [Record] {
    var out: [Record] = []
    for r in RecordReaderJSONL(path: path) {
        switch r {
        case .success(var rec): if rec.subject.isEmpty { rec.subject = SubjectID.normalize(rec.id) }; out.append(rec)
        case .failure(let e): fail(e.description)
        }
    }
    return out
}

struct Import: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Import mail or documents as records (JSONL: id, subject, text, source, meta).",
        discussion: """
        Formats: maildir (a tree like the Enron release, user/folder/N.), mbox, email-csv (a CSV
        with an RFC 822 "message" column, as the shared emails.csv), jsonl, text (a directory of
        files). The subject of a mail record is its sender's address unless --subject says
        otherwise. Malformed messages are skipped and counted; the output is written to a
        temporary file and renamed when the import succeeds.
        """)
    enum Format: String, ExpressibleByArgument, CaseIterable { case maildir, mbox, emailCSV = "email-csv", jsonl, text }
    @Option(help: "maildir | mbox | email-csv | jsonl | text") var format: Format
    @Argument(help: "Input file or directory.") var path: String
    @Option(help: "Output JSONL.") var out: String
    @Option(help: "Subject of a record: sender, folder, or header:NAME.") var subject = "sender"
    @Option(help: "jsonl: text field.") var textField = "text"
    @Option(help: "jsonl: id field.") var idField = "id"
    @Option(help: "jsonl: subject field.") var subjectField = "subject"
    @Option(help: "email-csv: message column.") var messageColumn = "message"
    @Flag(help: "Print the report as JSON.") var json = false

    func run() throws {
        var o = ImportOptions()
        switch subject {
        case "sender": o.subject = .sender
        case "folder": o.subject = .folder
        case let s where s.hasPrefix("header:"): o.subject = .header(String(s.dropFirst(7)))
        default: throw ValidationError("--subject must be sender, folder or header:NAME")
        }
        o.textField = textField; o.idField = idField; o.subjectField = subjectField; o.messageColumn = messageColumn
        let w = reporting { try RecordWriter(path: out) }
        let report: ImportReport
        do {
            let emit: Importer.Emit = { try w.write($0) }
            switch format {
            case .maildir: report = try Importer.maildir(path, options: o, emit: emit)
            case .mbox: report = try Importer.mbox(path, options: o, emit: emit)
            case .emailCSV: report = try Importer.emailCSV(path, options: o, emit: emit)
            case .jsonl: report = try Importer.jsonl(path, options: o, emit: emit)
            case .text: report = try Importer.textDirectory(path, options: o, emit: emit)
            }
            try w.close()
        } catch {
            w.discard()
            fail("\(error)")
        }
        if json { printJSON(report); return }
        print("imported \(report.imported) records, skipped \(report.skipped) → \(out)")
        for p in report.problems { FileHandle.standardError.write(Data("  skipped: \(p)\n".utf8)) }
    }
}

struct Stats: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Records, subjects, size, PII per type and the duplication histogram of PII values.")
    @Argument(help: "Corpus JSONL.") var corpus: String
    @Option(help: "Count tokens with this tokenizer (a model directory works).") var tokenizer: String?
    @Flag(help: "JSON output.") var json = false

    func run() throws {
        let records = readCorpus(corpus)
        let tok = tokenizer.map { t in reporting { try TokenizerFiles.load(directory: t) } }
        let s = CorpusStats.compute(records: records, tokenCount: tok.map { tk in { texts in tk.encodeBatch(texts).reduce(0) { $0 + $1.count } } })
        if json { printJSON(s); return }
        print("records \(s.records), subjects \(s.subjects), \(s.bytes) bytes\(s.tokens.map { ", \($0) tokens" } ?? "")")
        print("records per subject: median \(s.medianRecordsPerSubject), max \(s.maxRecordsPerSubject)")
        for t in s.piiOccurrences.keys.sorted() { print("  \(t): \(s.piiOccurrences[t]!) occurrences of \(s.piiValues[t] ?? 0) values") }
        print("PII values occurring 1×: \(s.duplication["1"]!), 2–5×: \(s.duplication["2-5"]!), 6–20×: \(s.duplication["6-20"]!), >20×: \(s.duplication[">20"]!)")
    }
}

struct Split: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Split a corpus by subject (never splitting a subject), seeded: e.g. members / non-members for membership inference.")
    @Argument(help: "Corpus JSONL.") var corpus: String
    @Option(help: "Fraction of subjects in the first output.") var fraction = 0.5
    @Option(help: "Seed.") var seed: UInt64 = 0
    @Option(help: "First output (JSONL).") var outA: String
    @Option(help: "Second output (JSONL).") var outB: String

    func run() throws {
        guard (0...1).contains(fraction) else { throw ValidationError("--fraction must be in [0, 1]") }
        let records = readCorpus(corpus)
        let (a, _) = CorpusSplit.bySubject(records.map(\.subject), fraction: fraction, seed: seed)
        let wa = reporting { try RecordWriter(path: outA) }, wb = reporting { try RecordWriter(path: outB) }
        reporting {
            for r in records { try (a.contains(r.subject) ? wa : wb).write(r) }
            try wa.close(); try wb.close()
        }
        printJSON(["a_records": wa.count, "b_records": wb.count, "a_subjects": a.count, "b_subjects": Set(records.map(\.subject)).count - a.count])
    }
}

struct Synth: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Generate a deterministic synthetic corpus of corporate mail with PII (the study's default corpus).",
        discussion: """
        Subjects have heavy-tailed activity, so PII duplication spans one to hundreds of
        occurrences. --population 1 gives subjects, companies, addresses and phone numbers
        disjoint from population 0 (a pre-training corpus beside a fine-tuning one). Canaries
        (--canary-repeats 1,5,25) are random secrets inserted that many times each; they are
        listed in OUT.canaries.json.

        Namesakes (--namesakes G) plant a known onion mechanism, to validate the study: G groups
        of one heavy and --namesake-light m light members who share a name, title, department and
        company, so that their signatures differ only in the phone number. Heavy members send at
        least --namesake-heavy-messages each and take the top activity ranks (exactly that many
        with --namesake-heavy-exact); light members send
        exactly --namesake-light-messages each; members sign almost every message and their mail
        is never quoted or referred to. Greedy decoding from a light member's signature gives the
        heavy member's number; delete the heavy member and retrain, and the light member's own
        number can become extractable. A group's light members also shadow each other, so a round
        that deletes K subjects can make about min(G, K) newly vulnerable (one light member per
        opened group), and G·m over rounds. With --namesake-variants the heavy member signs with
        m title/department variants and light member j shares only variant j, so the light members
        no longer shadow each other and one deletion can surface all m. --namesake-heavy-notes
        makes the heavy members write short notes to their desk's distribution list (about half a
        message's tokens each, nobody else's address in them), so that
        they are exposed often without towering over everyone in tokens written (the study's
        random control matches activity strata). --namesake-null writes the null twin from
        the same seed: the same mail, but every light member has a name, title and department of
        their own (only the company line is shared). The groups
        (subjects, names, addresses, phone numbers, message counts) are listed in
        OUT.namesakes.json, for scoring a validation run afterwards; the study never reads it.
        G·(1 + m) must not exceed --subjects, nor G·(heavy + m·light messages) --records.
        Sidecars are owner-only (0600), like the corpus.
        """)
    @Option(help: "Number of data subjects.") var subjects = 300
    @Option(help: "Number of records (messages).") var records = 3000
    @Option(help: "Seed.") var seed: UInt64 = 0
    @Option(help: "Population (0 or 1), disjoint from each other.") var population = 0
    @Option(help: "Zipf exponent of activity.") var zipf = 1.1
    @Option(help: "Fraction of subjects with international phone numbers.") var internationalPhones = 0.15
    @Option(help: "Comma-separated canary repeat counts, e.g. 1,5,25 (none by default).") var canaryRepeats = ""
    @Option(help: "Canaries per repeat count.") var canariesPerRepeat = 5
    @Option(help: "Spread of message length between senders: each sender outside a namesake plant writes exp(σ·z) times the usual length (z standard normal per sender); 0 = all alike.") var verbosity = 0.0
    @Option(help: "Probability that a message carries its sender's signature block (name, title, company, phone; group members of a plant: --namesake-signature-rate).") var signatureRate = SynthParameters().signatureRate
    @Option(help: "Probability that a message mentions a colleague's phone number or address.") var referralRate = SynthParameters().referralRate
    @OptionGroup(title: "Namesake plant") var namesakes: NamesakeOptions
    @Option(help: "Output JSONL.") var out: String

    func run() throws {
        var p = SynthParameters()
        guard (0...1).contains(signatureRate), (0...1).contains(referralRate) else { throw ValidationError("--signature-rate and --referral-rate are probabilities (0 to 1)") }
        p.signatureRate = signatureRate; p.referralRate = referralRate
        p.subjects = subjects; p.records = records; p.seed = seed; p.population = population; p.zipf = zipf
        p.internationalPhones = internationalPhones; p.canariesPerRepeat = canariesPerRepeat
        guard verbosity >= 0, verbosity <= 3 else { throw ValidationError("--verbosity takes a spread between 0 and 3") }
        p.verbosity = verbosity
        p.canaryRepeats = try canaryRepeats.split(separator: ",").map {
            guard let n = Int($0.trimmingCharacters(in: .whitespaces)), n > 0 else { throw ValidationError("--canary-repeats takes positive integers, e.g. 1,5,25") }
            return n
        }
        try namesakes.apply(&p)
        let c = reporting { try SynthGenerator.generate(p) }
        reporting {
            let w = try RecordWriter(path: out)
            for r in c.records { try w.write(r) }
            try w.close()
            let enc = JSONEncoder(); enc.outputFormatting = [.prettyPrinted, .sortedKeys]
            if !c.canaries.isEmpty {
                try PrivateFile.write(enc.encode(["settings": AnyEncodable(p), "canaries": AnyEncodable(c.canaries)]), to: out + ".canaries.json")
            }
            if !c.namesakes.isEmpty {
                try PrivateFile.write(enc.encode(NamesakeFile(settings: p, null: p.namesakeNull, groups: c.namesakes)), to: out + ".namesakes.json")
            }
        }
        let plant = c.namesakes.isEmpty ? "" : " with \(c.namesakes.count) namesake groups\(p.namesakeNull ? " (null twin)" : "")"
        print("wrote \(c.records.count) records of \(Set(c.records.map(\.subject)).count) subjects\(plant)\(c.canaries.isEmpty ? "" : " and \(c.canaries.count) canaries") → \(out)")
    }
}

/// OUT.namesakes.json: the plant's settings and groups (docs/namesakes.md).
struct NamesakeFile: Encodable {
    let schema = "shallot.namesakes/1"
    let settings: SynthParameters
    let null: Bool
    let groups: [NamesakeGroup]
}

struct NamesakeOptions: ParsableArguments {
    @Option(name: .customLong("namesakes"), help: "Namesake groups to plant (0 = none).") var groups = 0
    @Option(name: .customLong("namesake-light"), help: "Light members per group.") var light: Int?
    @Option(name: .customLong("namesake-light-messages"), help: "Messages each light member sends.") var lightMessages: Int?
    @Option(name: .customLong("namesake-heavy-messages"), help: "Messages each heavy member sends at least.") var heavyMessages: Int?
    @Option(name: .customLong("namesake-signature-rate"), help: "Probability that a group member signs a message.") var signatureRate: Double?
    @Flag(name: .customLong("namesake-null"), help: "Write the null twin: every light member has a name, title and department of their own.") var null = false
    @Flag(name: .customLong("namesake-variants"), help: "Heavy members sign with one title/department variant per light member; light member j shares only variant j.") var variants = false
    @Flag(name: .customLong("namesake-heavy-notes"), help: "Heavy members write short notes (one sentence and their signature).") var heavyNotes = false
    @Flag(name: .customLong("namesake-heavy-exact"), help: "Heavy members send exactly --namesake-heavy-messages (no share of the top activity ranks).") var heavyExact = false
    @Flag(name: .customLong("namesake-heavy-spread"), help: "Heavy members' message counts run from --namesake-heavy-messages down to half of it over the groups.") var heavySpread = false
    @Flag(name: .customLong("namesake-shared-notes"), help: "Light members send copies of their heavy namesake's signed notes (same date, subject and text, from the desk's address) signed with their own number: nothing before the number tells namesakes apart (needs --namesake-heavy-notes).") var sharedNotes = false

    func apply(_ p: inout SynthParameters) throws {
        guard groups >= 0 else { throw ValidationError("--namesakes must be 0 or more (got \(groups))") }
        if groups == 0 {
            let stray = [("--namesake-light", light != nil), ("--namesake-light-messages", lightMessages != nil),
                         ("--namesake-heavy-messages", heavyMessages != nil), ("--namesake-signature-rate", signatureRate != nil), ("--namesake-null", null),
                         ("--namesake-variants", variants), ("--namesake-heavy-notes", heavyNotes),
                         ("--namesake-heavy-exact", heavyExact), ("--namesake-heavy-spread", heavySpread), ("--namesake-shared-notes", sharedNotes)]
                .filter(\.1).map(\.0)
            if !stray.isEmpty { throw ValidationError("\(stray.joined(separator: ", ")) need(s) --namesakes G with G > 0") }
            return
        }
        p.namesakeGroups = groups; p.namesakeNull = null; p.namesakeVariants = variants; p.namesakeHeavyNotes = heavyNotes
        p.namesakeHeavyExact = heavyExact; p.namesakeHeavySpread = heavySpread; p.namesakeSharedNotes = sharedNotes
        if let light { p.namesakeLight = light }
        if let lightMessages { p.namesakeLightMessages = lightMessages }
        if let heavyMessages { p.namesakeHeavyMessages = heavyMessages }
        if let signatureRate { p.namesakeSignatureRate = signatureRate }
    }
}

struct AnyEncodable: Encodable {
    let value: any Encodable
    init(_ v: any Encodable) { value = v }
    func encode(to encoder: Encoder) throws { try value.encode(to: encoder) }
}
