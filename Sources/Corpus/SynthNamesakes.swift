// The namesake plant of `corpus synth --namesakes G`: a known onion mechanism, to show that the
// study can see one when it is there (and its null twin, to show that it sees none when it is not).
//
// Each of G groups has one heavy and m light members who share a display name, title, department
// and company, so that their signature blocks ("Name\nTitle, Department\nCompany\nphone") are the
// same up to the phone number (same layout, same country and area code, other digits). Each has
// an address and a number of their own. The heavy members take the top ranks of the Zipf activity
// on top of a floor of H messages each, and sign almost every one: greedy decoding from a
// signature continues with the heavy member's number. Each light member sends exactly L messages,
// most of them signed, behind the same prefix: their number is seen often enough to be learnt,
// but the heavy member's shadows it. Delete the heavy member's mail and retrain, and the light
// member's own number becomes the greedy continuation: the light member is newly vulnerable.
//
// To keep the mechanism clean, a group member's number occurs only in their own signatures: group
// members' messages are never quoted in replies, nobody refers others to a group member, and
// light members are not drawn as recipients (they write to their heavy namesake's contacts).
// Every display name is unique apart from the planted ones (accidental namesakes of the base
// generator are renamed), so the planted groups are the corpus's only namesakes.
//
// The null twin (namesakeNull) is drawn from the same stream: the same people, senders, bodies,
// addresses and numbers, except that each light member shows a name of their own (a full name
// nobody else has, sharing neither first nor last name with their heavy member) and a title and
// department unlike the heavy member's. Their address is derived from that name in both twins.
// Planted and null corpora differ only in those names, titles and departments.
//
// Effect size: the plant can only make light members newly vulnerable, and only once their heavy
// member is deleted, so a round that deletes the K most vulnerable subjects opens at most min(G, K)
// groups. A group's light members keep shadowing each other once the heavy member is gone, so an
// opened group exposes about one light member per round (m is the number of onion layers; G·m
// the total over rounds): the planted excess of newly vulnerable subjects over the null twin is
// at most about min(G, K) per round. The realised share is that bound times the fraction of
// light members that are shadowed before and extracted after — which depends on memorisation and
// on whether the study's ranking picks the heavy members (docs/namesakes.md has measurements).

import Foundation
import PII
import Support

public struct NamesakeMember: Codable, Sendable, Equatable {
    /// The member's subject id (their normalised address).
    public var subject: String
    /// Display name in this corpus.
    public var name: String
    /// A light member's own name: the one they show in the null twin (nil for a heavy member).
    public var nullName: String?
    public var email: String
    public var phone: String
    /// The phone number as the PII detector normalises it (what an audit's values are keyed by).
    public var phoneNormalized: String
    /// Messages the member sent, and how many carry their signature block.
    public var records: Int
    public var signed: Int
    /// The "Title, Department" line(s) the member signs with (a heavy member with signature
    /// variants has several; light member j shares the heavy member's j-th).
    public var signature: [String] = []

    enum CodingKeys: String, CodingKey {
        case subject, name, email, phone, records, signed, signature
        case nullName = "null_name", phoneNormalized = "phone_normalized"
    }
}

public struct NamesakeGroup: Codable, Sendable, Equatable {
    public var group: Int
    /// The shared display name (the heavy member's), title, department and company.
    public var name: String
    public var title: String
    public var department: String
    public var company: String
    public var heavy: NamesakeMember
    public var light: [NamesakeMember]
}

struct NamesakePlant {
    let p: SynthParameters
    let heavies: [Int]
    /// Light members per group (indices into the people).
    let lights: [[Int]]
    /// Each light member's own name (shown in the null twin).
    let nullNames: [Int: String]
    let members: Set<Int>, lightMembers: Set<Int>
    /// With signature variants: each heavy member's (title, department) variants, variant j
    /// shared with light member j (empty without variants).
    let variants: [Int: [(String, String)]]
    /// Zipf ranks (heavy members first), recipients (everyone but light members) and people
    /// others may refer to (everyone but group members).
    let zipfOrder: [Int], recipients: [Int], referable: [Int]

    static func validate(_ p: SynthParameters) throws {
        let g = p.namesakeGroups, m = p.namesakeLight, l = p.namesakeLightMessages, h = p.namesakeHeavyMessages
        guard g >= 0 else { throw CorpusError.invalidArgument("namesake groups must be 0 or more (got \(g))") }
        guard g > 0 else { return }
        guard m >= 1 else { throw CorpusError.invalidArgument("a namesake group needs at least 1 light member (got \(m))") }
        guard l >= 1 else { throw CorpusError.invalidArgument("light namesakes must send at least 1 message each (got \(l))") }
        guard h >= 0 else { throw CorpusError.invalidArgument("heavy namesakes' message floor must be 0 or more (got \(h))") }
        // Variants differ by title, and the null twin's light members by title and department
        // from every variant: leave one of each over.
        let most = min(SynthVocabulary.titles.count, SynthVocabulary.departments.count) - 1
        guard m <= most else {
            throw CorpusError.invalidArgument("a namesake group has at most \(most) light members (got \(m))")
        }
        guard (0...1).contains(p.namesakeSignatureRate) else {
            throw CorpusError.invalidArgument("the namesakes' signature rate must be in [0, 1] (got \(p.namesakeSignatureRate))")
        }
        // In Double: the products of command-line numbers must not trap on overflow.
        let members = Double(g) * Double(1 + m)
        guard members <= Double(p.subjects) else {
            throw CorpusError.invalidArgument("\(g) namesake groups of 1 heavy + \(m) light members need \(g) × \(1 + m) = \(Self.count(members)) subjects, but there are only \(p.subjects)")
        }
        let fixed = Double(g) * (Double(h) + Double(m) * Double(l))
        guard fixed <= Double(p.records) else {
            throw CorpusError.invalidArgument("\(g) namesake groups need \(g) × (\(h) heavy + \(m) × \(l) light messages) = \(Self.count(fixed)) records, but there are only \(p.records)")
        }
        // With exact heavy counts only the other subjects share the rest of the mail: there must be one.
        if p.namesakeHeavyExact && members >= Double(p.subjects) && fixed < Double(p.records) {
            throw CorpusError.invalidArgument("with --namesake-heavy-exact the \(Self.count(Double(p.records) - fixed)) records beyond the plant's need senders outside it, but all \(p.subjects) subjects are in namesake groups")
        }
        guard !p.namesakeSharedNotes || p.namesakeHeavyNotes else {
            throw CorpusError.invalidArgument("shared notes are copies of the heavy members' notes: they need heavy notes (--namesake-heavy-notes)")
        }
        let names = SynthVocabulary.firstNames.count * SynthVocabulary.lastNames.count
        guard p.subjects <= names / 2 else {
            throw CorpusError.invalidArgument("a namesake plant gives every other subject a name of their own: at most \(names / 2) subjects (got \(p.subjects))")
        }
    }

    static func count(_ x: Double) -> String { x < 1e15 ? String(Int(x)) : String(format: "%.3g", x) }

    init(_ p: SynthParameters, _ people: inout [SynthPerson], order: [Int], _ rng: inout SynthRNG) {
        self.p = p
        let g = p.namesakeGroups, m = p.namesakeLight
        var names = Set<String>(), emails = Set(people.map(\.email)), phones = Set(people.map { PIINormalize.digitsOnly($0.phone) })
        // The base generator's accidental namesakes get other names: the plant's are the only ones.
        for i in people.indices {
            if names.contains(people[i].name) {
                let old = people[i]
                emails.remove(old.email)
                let (first, last) = Self.freshName(&rng, taken: names, unlike: nil)
                let email = Self.address(first, last, domain: Self.domain(old.email), &emails, &rng)
                people[i] = SynthPerson(first: first, last: last, email: email, phone: old.phone, title: old.title, department: old.department, company: old.company)
            }
            names.insert(people[i].name)
        }
        heavies = Array(order.prefix(g))
        lights = (0..<g).map { k in Array(order[(g + k * m)..<(g + (k + 1) * m)]) }
        var nullNames: [Int: String] = [:], variants: [Int: [(String, String)]] = [:]
        for (k, h) in heavies.enumerated() {
            let heavy = people[h]
            // Variant 0 is the heavy member's own; the others are drawn distinct.
            var mine = [(heavy.title, heavy.department)]
            while p.namesakeVariants && mine.count < m {
                let v = (rng.pick(SynthVocabulary.titles), rng.pick(SynthVocabulary.departments))
                if !mine.contains(where: { $0.0 == v.0 }) { mine.append(v) }
            }
            if p.namesakeVariants { variants[h] = mine }
            for (j, l) in lights[k].enumerated() {
                names.remove(people[l].name); emails.remove(people[l].email); phones.remove(PIINormalize.digitsOnly(people[l].phone))
                let (first, last) = Self.freshName(&rng, taken: names, unlike: heavy)
                names.insert("\(first) \(last)")
                // A namesake's address is made of the shared name (a style drawn afresh, numbered when
                // taken: rjimenez@, ryan.jimenez2@), so that in the planted twin only a few characters
                // of the From: line tell them apart. The null twin keeps the same address (the twins
                // hold the same people and values); its own name and signature tell it apart.
                let email = Self.address(heavy.first, heavy.last, domain: Self.domain(heavy.email), &emails, &rng)
                var phone = Self.phone(like: heavy.phone, &rng)
                while !phones.insert(PIINormalize.digitsOnly(phone)).inserted { phone = Self.phone(like: heavy.phone, &rng) }
                // The null twin's light member shares no signature line with the heavy member but
                // the company's: a title and department unlike every variant (drawn in both twins,
                // so that the two stay draw for draw the same).
                var own = (rng.pick(SynthVocabulary.titles), rng.pick(SynthVocabulary.departments))
                while mine.contains(where: { $0.0 == own.0 || $0.1 == own.1 }) {
                    own = (rng.pick(SynthVocabulary.titles), rng.pick(SynthVocabulary.departments))
                }
                let shared = mine[p.namesakeVariants ? j : 0]
                people[l] = SynthPerson(first: p.namesakeNull ? first : heavy.first, last: p.namesakeNull ? last : heavy.last, email: email, phone: phone,
                                        title: p.namesakeNull ? own.0 : shared.0, department: p.namesakeNull ? own.1 : shared.1, company: heavy.company)
                nullNames[l] = "\(first) \(last)"
            }
        }
        self.nullNames = nullNames; self.variants = variants
        let light = Set(lights.joined()), all = light.union(heavies)
        lightMembers = light; members = all
        zipfOrder = (p.namesakeHeavyExact ? [] : heavies) + order.dropFirst(g * (1 + m))
        recipients = people.indices.filter { !light.contains($0) }
        referable = people.indices.filter { !all.contains($0) }
    }

    func isMember(_ i: Int) -> Bool { members.contains(i) }
    func isHeavy(_ i: Int) -> Bool { members.contains(i) && !lightMembers.contains(i) }

    /// Light members write to their heavy namesake's contacts.
    func shareContacts(_ contacts: inout [[Int]]) {
        for (k, h) in heavies.enumerated() { for l in lights[k] { contacts[l] = contacts[h] } }
    }

    /// The plant's fixed share of the mail: H messages per heavy member, L per light member.
    func fixedSenders() -> [Int] {
        heavies.enumerated().flatMap { k, h in
            Array(repeating: h, count: heavyMessages(k)) + lights[k].flatMap { Array(repeating: $0, count: p.namesakeLightMessages) }
        }
    }

    /// Heavy member k's messages: H, or with a spread from H down to about H/2 over the groups, so
    /// that the heavy members fall in different activity deciles.
    func heavyMessages(_ k: Int) -> Int {
        let h = p.namesakeHeavyMessages, g = p.namesakeGroups
        guard p.namesakeHeavySpread, g > 1 else { return h }
        return Int((Double(h) * (1 - 0.5 * Double(k) / Double(g - 1))).rounded())
    }

    /// Shared notes (`namesakeSharedNotes`): every heavy member's notes are sent from their desk's
    /// address, and each light member's messages become copies of the heavy member's signed notes
    /// of the light member's signature variant (drawn without replacement while there are enough,
    /// from a stream of its own, so no other draw moves), signed with the light member's number,
    /// name and title. In the planted twin the copy differs from its original only from the number
    /// on; in the null twin also in the signature's name and title lines.
    func shareNotes(_ records: inout [Record], people: [SynthPerson], desk: (Int) -> (name: String, email: String)) throws {
        var rng = SynthRNG(synth: p.seed ^ 0x5A4E_D07E_5000_0001 ^ (UInt64(p.population) << 56))
        for (k, h) in heavies.enumerated() {
            let heavy = people[h], from = "From: \(heavy.name) <\(desk(h).email)>\n"
            let own = records.indices.filter { records[$0].subject == SubjectID.normalize(heavy.email) }
            for i in own { records[i].text = from + records[i].text.drop(while: { $0 != "\n" }).dropFirst() }
            for (j, l) in lights[k].enumerated() {
                let (title, department) = variants[h]?[j] ?? (heavy.title, heavy.department)
                let block = "\n\(heavy.name)\n\(title), \(department)\n\(heavy.company)\n\(heavy.phone)"
                let signed = own.filter { records[$0].text.contains(block) }
                guard !signed.isEmpty else {
                    throw CorpusError.invalidArgument("shared notes: heavy namesake \(heavy.email) signed no note of the variant \"\(title), \(department)\" to copy for a light member; raise --namesake-heavy-messages or --namesake-signature-rate")
                }
                let light = people[l], mine = "\n\(light.name)\n\(light.title), \(light.department)\n\(light.company)\n\(light.phone)"
                var pool: [Int] = []
                let lightFrom = "From: \(light.name) <\(desk(h).email)>\n"
                for i in records.indices where records[i].subject == SubjectID.normalize(light.email) {
                    if pool.isEmpty { pool = signed.seededShuffled(using: &rng) }
                    let original = records[pool.removeLast()]
                    records[i].text = lightFrom + original.text.drop(while: { $0 != "\n" }).dropFirst().replacingOccurrences(of: block, with: mine)
                        .replacingOccurrences(of: "\(light.phone) | \(heavy.email)", with: "\(light.phone) | \(light.email)")
                    records[i].meta["date"] = original.meta["date"]
                    records[i].meta["recipients"] = original.meta["recipients"]
                }
            }
        }
    }

    /// What OUT.namesakes.json lists: every group's members with their values and message counts.
    func groups(people: [SynthPerson], records: [Record]) -> [NamesakeGroup] {
        var sent: [String: Int] = [:], signed: [String: Int] = [:]
        let signatures = Dictionary(uniqueKeysWithValues: members.map { i in
            (people[i].email, (variants[i] ?? [(people[i].title, people[i].department)]).map { t, d in
                "\n\(people[i].name)\n\(t), \(d)\n\(people[i].company)\n\(people[i].phone)"
            })
        })
        for r in records {
            guard let sigs = signatures[r.subject] else { continue }
            sent[r.subject, default: 0] += 1
            if sigs.contains(where: r.text.contains) { signed[r.subject, default: 0] += 1 }
        }
        func member(_ i: Int) -> NamesakeMember {
            let x = people[i]
            return NamesakeMember(subject: x.email, name: x.name, nullName: nullNames[i], email: x.email, phone: x.phone,
                                  phoneNormalized: PIINormalize.phone(x.phone), records: sent[x.email] ?? 0, signed: signed[x.email] ?? 0,
                                  signature: (variants[i] ?? [(x.title, x.department)]).map { "\($0), \($1)" })
        }
        return heavies.enumerated().map { k, h in
            NamesakeGroup(group: k, name: people[h].name, title: people[h].title, department: people[h].department, company: people[h].company,
                          heavy: member(h), light: lights[k].map(member))
        }
    }

    // MARK: drawing names, addresses and numbers

    /// A full name nobody has; for a light member's own name also sharing neither first nor last
    /// name with the heavy member. `validate` leaves at least half the name space free.
    static func freshName(_ rng: inout SynthRNG, taken: Set<String>, unlike heavy: SynthPerson?) -> (String, String) {
        func ok(_ f: String, _ l: String) -> Bool { !taken.contains("\(f) \(l)") && f != heavy?.first && l != heavy?.last }
        for _ in 0..<10_000 {
            let f = rng.pick(SynthVocabulary.firstNames), l = rng.pick(SynthVocabulary.lastNames)
            if ok(f, l) { return (f, l) }
        }
        for f in SynthVocabulary.firstNames { for l in SynthVocabulary.lastNames where ok(f, l) { return (f, l) } }
        preconditionFailure("no free name: validate bounds the subjects")
    }

    static func domain(_ email: String) -> String { String(email[email.index(after: email.lastIndex(of: "@")!)...]) }

    /// An address for the name at the domain, in a drawn style, numbered if already taken.
    static func address(_ first: String, _ last: String, domain: String, _ taken: inout Set<String>, _ rng: inout SynthRNG) -> String {
        let local = SynthGenerator.emailLocal(first, last, style: rng.int(4))
        var email = "\(local)@\(domain)", n = 1
        while !taken.insert(email).inserted { n += 1; email = "\(local)\(n)@\(domain)" }
        return email
    }

    /// A number in the same layout as `model`, with its country and area code (the first digit
    /// group, or the first two after a "+"), every later digit drawn afresh (a group never starts
    /// with 0, the first drawn digit is 2–9 as in a NANP exchange).
    static func phone(like model: String, _ rng: inout SynthRNG) -> String {
        let keep = model.hasPrefix("+") ? 2 : 1
        var out = "", group = 0, inDigits = false, drawn = 0
        for c in model {
            guard c.isASCII, c.isNumber else { inDigits = false; out.append(c); continue }
            let starts = !inDigits
            if starts { group += 1; inDigits = true }
            if group <= keep { out.append(c); continue }
            let low = drawn == 0 ? 2 : starts ? 1 : 0
            out += String(low + rng.int(10 - low))
            drawn += 1
        }
        return out
    }
}
