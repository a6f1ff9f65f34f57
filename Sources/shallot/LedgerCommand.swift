import ArgumentParser
import Audit
import Corpus
import Foundation
import GPT
import Ledger
import PII
import SafeTensors
import Support
import Tokenizer
import Training
import Unlearning

struct LedgerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ledger",
        abstract: "The deletion ledger: erasure requests, datasets, models, unlearning actions and verification audits, hash-chained in one SQLite file.",
        discussion: """
        Create the ledger once with `shallot ledger init`; every other subcommand (and `unlearn
        --ledger`, `study --ledger`) refuses a path where there is no ledger. Requests get ids of
        their own, R-1, R-2, … (give "R-3" or "3"). `verify` gives pass (the subject owns values in
        the corpus and none is extracted), fail, or inconclusive (the subject owns no value there:
        nothing to test); fail and inconclusive exit with status 1.
        """,
        subcommands: [Init.self, Request.self, List.self, Status.self, Register.self, Verify.self, Export.self, Stress.self])

    struct Common: ParsableArguments {
        @Option(help: "The ledger file (create it with `shallot ledger init`).") var ledger = "shallot-ledger.sqlite"
        @Option(help: "The ledger's key file (default: LEDGER.key, made by `ledger init`; keep a copy somewhere safe).") var ledgerKey: String?
        func open() -> Ledger { reporting { try Ledger(path: ledger, keyPath: ledgerKey) } }
    }

    struct Init: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a new, empty ledger file, its key and its anchor (an error if any of them exists).",
            discussion: """
            Makes LEDGER (SQLite), LEDGER.key (a random 256-bit HMAC key, mode 0600: the hash chain and
            the subject pseudonyms are keyed with it; without it the ledger cannot be verified or
            extended, so back it up apart from the database; a key file others can read is refused),
            LEDGER.anchor (one line per entry, appended on every write) and LEDGER.mark (the keyed
            high-water mark: the highest entry reached and its hash, under the key). `verify
            --integrity` checks the chain against both; appends refuse a chain shorter than the mark.
            """)
        @OptionGroup var common: Common
        func run() throws {
            let l = reporting { try Ledger(path: common.ledger, create: true, keyPath: common.ledgerKey) }
            print("ledger created: \(common.ledger) (key \(l.keyPath), anchor \(l.anchorPath), high-water mark \(l.markPath))")
        }
    }

    struct Request: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Record an erasure request for SUBJECT (stored as a pseudonym and a masked form).")
        @OptionGroup var common: Common
        @Argument(help: "The data subject (e.g. the e-mail address used as subject id in the corpus; trimmed and lower-cased).") var subject: String
        @Option(help: "Date received (YYYY-MM-DD; default today).") var received: String?
        @Option(help: "Legal deadline (YYYY-MM-DD; default received + 30 days, GDPR Art. 12(3)'s one month).") var deadline: String?
        @Option(help: "A note (no personal data).") var note: String?
        func run() throws {
            let f = DateFormatter(); f.dateFormat = "yyyy-MM-dd"; f.timeZone = TimeZone(identifier: "UTC"); f.locale = Locale(identifier: "en_US_POSIX")
            let r: Date
            if let received { guard let d = f.date(from: received) else { throw ValidationError("--received: not a date (YYYY-MM-DD): \(received)") }; r = d } else { r = Date() }
            if let deadline, f.date(from: deadline) == nil { throw ValidationError("--deadline: not a date (YYYY-MM-DD): \(deadline)") }
            let dl = deadline ?? f.string(from: r.addingTimeInterval(30 * 86400))
            let subject = SubjectID.normalize(subject)
            guard !subject.isEmpty else { throw ValidationError("SUBJECT is empty") }
            let masked = PIIMask.mask(subject, type: subject.contains("@") ? .email : .person)
            let l = common.open()
            var p: [String: Any] = ["subject_key": l.subjectKey(subject), "masked": masked, "received": f.string(from: r), "deadline": dl]
            if let note { p["note"] = note }
            let e = reporting { try l.append(.request, p) }
            announceHead(e, l)
            print("request \(e.requestID ?? "?"): \(masked) received \(f.string(from: r)), deadline \(dl)")
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Erasure requests and their state (open, actioned, verified, failed verification).")
        @OptionGroup var common: Common
        @Flag(help: "JSON.") var json = false
        func run() throws {
            let rs = reporting { try common.open().requests() }
            if json { printJSON(rs); return }
            if rs.isEmpty { print("no requests"); return }
            for r in rs { print("\(r.requestID)\t\(r.masked)\treceived \(r.received)\tdeadline \(r.deadline)\t\(r.state)") }
        }
    }

    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Which registered models were trained on SUBJECT's data, and whether a later model unlearned it.")
        @OptionGroup var common: Common
        @Argument(help: "The data subject (trimmed and lower-cased, as everywhere).") var subject: String
        func run() throws {
            let l = common.open()
            let ms = reporting { try l.modelsContaining(subjectKey: l.subjectKey(subject)) }
            if ms.isEmpty { print("no registered model was trained on this subject's records"); return }
            for m in ms {
                let un = (m["unlearned_in_a_later_model"] as? Bool) == true
                print("entry \(m["entry"]!)\t\(m["path"]!)\t\((m["weights_sha256"] as? String ?? "").prefix(12))…\t\(un ? "unlearned in a later model" : "STILL CONTAINS the subject's data")")
            }
        }
    }

    struct Register: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Register a model (and the dataset it was trained on): its hash, parent and the subjects of its training records.")
        @OptionGroup var common: Common
        @Option(help: "Model directory (with shallot.json).") var model: String
        @Option(help: "The corpus it was trained on (JSONL with subjects).") var data: String
        func run() throws {
            let l = common.open()
            let records = readCorpus(data)
            try registerModel(l, model: model, data: data, records: records)
        }
    }

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Audit a model for a request's subject (and for newly vulnerable others) and record pass, fail or inconclusive; or check the ledger's integrity.",
            discussion: """
            The model must be the output of an erasure action answering the request (`unlearn
            --ledger … --request R-n`), unless --any-model (then the record says so and cannot
            verify the request). pass: the subject owns at least one value in --data that the attack
            can prompt for, none is extracted, and the original model leaks at least one of them to
            the same attack (so the attack had the power to see them). fail: some are extracted.
            inconclusive: nothing to test, or the original does not leak them either. fail and
            inconclusive are recorded and exit with status 1. --data must be the corpus the
            original was trained on, as its shallot.json records.

            --integrity checks the keyed chain, the anchor, the keyed high-water mark and the
            triggers, all kept on this machine: someone who can put back an older copy of the
            ledger with its anchor and mark, or who holds the key, gets past them. An audit
            therefore keeps the head hash this prints (or an append's `ledger head:` line)
            somewhere the machine's users cannot write, and checks it the next time with
            --expect-head HASH.
            """)
        @OptionGroup var common: Common
        @Argument(help: "Request id, R-3 or 3 (omit with --integrity).") var request: String?
        @Option(help: "The model to verify.") var model: String?
        @Option(help: "The corpus the original model was trained on (true prefixes for the attack); checked against shallot.json.") var data: String?
        @Option(help: "The model before erasure, for newly vulnerable others (default: the model it was unlearned from, as its unlearning record names it).") var original: String?
        @Option(help: "The subject of the request (needed to find its values; it must hash to the request's key).") var subject: String?
        @Option(parsing: .upToNextOption, help: "PII types attacked.") var types: [PIIType] = [.email, .phone]
        @Flag(help: "Verify against --data although the model records no training corpus.") var allowUnrecordedData = false
        @Flag(help: "Audit a model that no erasure action answering the request produced (e.g. the original); recorded as such, it cannot verify the request.") var anyModel = false
        @Flag(help: "Check the hash chain instead.") var integrity = false
        @Option(help: "With --integrity: the head hash an auditor kept off this machine (part of an audit: it catches what the anchor and mark cannot).")
        var expectHead: String?
        func run() throws {
            let l = common.open()
            if integrity {
                let r = reporting { try l.verifyIntegrity(expectedHead: expectHead) }
                if r.ok {
                    if let u = r.unanchored, u > 0 {
                        FileHandle.standardError.write(Data("note: \(u) entr\(u == 1 ? "y" : "ies") after the last anchor (a writer stopped before anchoring; the next append anchors \(u == 1 ? "it" : "them"))\n".utf8))
                    }
                    let mark = r.highWaterMark.map { "high-water mark at entry \($0)" } ?? "no high-water mark yet (a ledger from before marks)"
                    print("ok: \(r.entries) entries, keyed chain intact, \(r.anchored ?? 0) anchored, \(mark), triggers in place, head \(r.headHash)")
                    return
                }
                for p in r.problems { FileHandle.standardError.write(Data("integrity: \(p)\n".utf8)) }
                fail("\(common.ledger): the ledger was altered (\(r.problems.count) problem\(r.problems.count == 1 ? "" : "s"))")
            }
            guard let request, let model, let data, let subject else { throw ValidationError("give REQUEST --model DIR --data CORPUS --subject SUBJECT (or --integrity)") }
            let req = reporting { try ErasureVerifier.request(request, subject: subject, in: l) }
            let pseudonym = l.subjectKey
            let weights = (try? sha256(file: model + "/model.safetensors")) ?? ""
            let action = reporting { try ErasureVerifier.erasureAction(for: req, weightsSHA256: weights, in: l) }
            if action == nil && !anyModel {
                fail("\(model): not the output of an erasure action answering \(req.requestID) (no `unlearn --ledger … --request \(req.requestID)` produced these weights); auditing another model cannot verify the request — give --any-model to audit it anyway, recorded as not an erasure's output")
            }
            let records = readCorpus(data)
            var v = reporting {
                try ErasureVerifier.verify(modelDirectory: model, data: data, records: records, subject: subject, pseudonym: pseudonym, originalDirectory: original,
                                           allowUnrecordedData: allowUnrecordedData, settings: ErasureVerificationSettings(types: types)) {
                    FileHandle.standardError.write(Data("\($0)…\n".utf8))
                }
            }
            v.erasureAction = action
            let e = reporting { try ErasureVerifier.record(v, request: req, in: l) }
            announceHead(e, l)
            print("verification \(e.id) of request \(req.requestID): \(v.verdict.rawValue.uppercased()) — \(v.reason)")
            if v.corpus?.match == .unrecordedAllowed { FileHandle.standardError.write(Data("warning: \(model) records no training corpus; \(data) was not checked against it\n".utf8)) }
            if v.verdict != .pass { Foundation.exit(1) }
        }
    }

    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The whole ledger as JSON (for a DPIA or a regulator), with its integrity check and head hash.")
        @OptionGroup var common: Common
        @Option(help: "Output file (default: standard output).") var out: String?
        func run() throws {
            let l = common.open()
            let integrity = reporting { try l.verifyIntegrity() }
            let all = reporting { try l.entries() }
            let obj: [String: Any] = ["schema": "shallot.ledger/2", "exported": ISO8601DateFormatter().string(from: Date()), "ledger": common.ledger,
                                      "integrity": ["ok": integrity.ok, "entries": integrity.entries, "problems": integrity.problems, "head_hash": integrity.headHash],
                                      "requests": reporting { try l.requests() }.map { r in ["request_id": r.requestID, "entry": r.id, "subject_key": r.subjectKey, "masked": r.masked, "received": r.received, "deadline": r.deadline, "state": r.state, "actions": r.actions, "verifications": r.verifications] as [String: Any] },
                                      "entries": all.map { ["id": $0.id, "kind": $0.kind, "created": $0.created, "payload": $0.object(), "prev_hash": $0.prevHash, "hash": $0.hash] as [String: Any] }]
            let d = try JSONSerialization.data(withJSONObject: obj, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
            if let out { reporting { try PrivateFile.write(d, to: out) } } else { FileHandle.standardOutput.write(d + Data("\n".utf8)) }
        }
    }
}

extension LedgerCommand {
    /// Appends N entries as fast as possible: the crash and concurrency tests drive it.
    struct Stress: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Append N test entries (for crash and concurrency tests).", shouldDisplay: false)
        @OptionGroup var common: Common
        @Option var count = 100
        @Option var writer = 0
        func run() throws {
            let l = common.open()
            for i in 0..<count { _ = reporting { try l.append(.dataset, ["stress_writer": writer, "i": i]) } }
        }
    }
}

/// Registers the dataset and the model (subject pseudonyms of its training records) in the ledger.
func registerModel(_ l: Ledger, model: String, data: String, records: [Record], extra: [String: Any] = [:]) throws {
    let prov = Provenance.read(directory: model)
    let subjects = Array(Set(records.map { l.subjectKey($0.subject) })).sorted()
    let ds = reporting { try l.append(.dataset, ["path": data, "file_sha256": (try? sha256(file: data)) ?? "", "records": records.count,
                                                "manifest_sha256": sha256(records.map(\.id).sorted().joined(separator: "\n")), "subject_keys": subjects]) }
    var p: [String: Any] = ["path": model, "weights_sha256": (try? sha256(file: model + "/model.safetensors")) ?? "", "dataset_entry": ds.id,
                            "parent": prov?.parent?.path ?? "", "parent_weights_sha256": prov?.parent?.weightsSHA256 ?? "", "subject_keys": subjects]
    for (k, v) in extra { p[k] = v }
    let e = reporting { try l.append(.model, p) }
    announceHead(e, l)
    print("model \(e.id) registered (dataset \(ds.id), \(subjects.count) subjects)")
}

/// Prints (on standard error) the head after an append, as anchored in LEDGER.anchor: a copy kept
/// elsewhere detects a ledger rewritten together with its anchor (`verify --integrity --expect-head`).
func announceHead(_ e: LedgerEntry, _ l: Ledger) {
    FileHandle.standardError.write(Data("ledger head: entry \(e.id) \(e.hash) (anchored in \(l.anchorPath))\n".utf8))
}
