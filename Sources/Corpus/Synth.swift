// The synthetic corporate mail generator (`shallot corpus synth`): deterministic from a seed, a
// population of subjects with heavy-tailed activity (Zipf), mail with headers, greetings,
// topical bodies, replies quoting the earlier message, signature blocks (name, title, company,
// phone, e-mail) and mentions of colleagues' contacts, so that PII duplication spans one to
// hundreds of occurrences as in real mail. Populations 0 and 1 share no companies, addresses or
// numbers (a pre-training and a fine-tuning corpus). Canaries (secret-sharer style) can be
// inserted a chosen number of times and are recorded.

import Foundation
import Support
import PII

public struct SynthParameters: Codable, Sendable, Equatable {
    public var subjects = 300
    public var records = 3000
    public var seed: UInt64 = 0
    /// 0 or 1: disjoint populations (companies, addresses, phone numbers).
    public var population = 0
    /// Zipf exponent of activity (higher = heavier senders dominate).
    public var zipf = 1.1
    /// Fraction of subjects with international (non-NANP) phone numbers.
    public var internationalPhones = 0.15
    /// Probability that a message carries the sender's signature block.
    public var signatureRate = 0.75
    /// Probability that a message mentions a colleague's phone or address.
    public var referralRate = 0.2
    /// Spread of how much people write: each sender outside a namesake plant writes messages
    /// exp(σ·z) times as long as the norm (z standard normal, one per sender, drawn from a stream
    /// of its own); 0 = everyone alike (the corpus is then exactly that of the generator before
    /// the option existed). Verbose writers fill the top activity deciles with many tokens but few
    /// messages, so activity (tokens) and exposure (messages carrying one's values) part.
    public var verbosity = 0.0
    /// Canaries: each repeat count gets `canariesPerRepeat` secrets inserted that many times.
    public var canaryRepeats: [Int] = []
    public var canariesPerRepeat = 5
    /// The namesake plant (SynthNamesakes.swift): groups of one heavy and `namesakeLight` light
    /// members who share a display name, title, department and company. 0 = no plant (the corpus
    /// is then exactly what it was before the plant existed).
    public var namesakeGroups = 0
    /// Light members per group (m ≥ 1).
    public var namesakeLight = 1
    /// Messages each light member sends (exactly).
    public var namesakeLightMessages = 10
    /// Messages each heavy member sends at least (a floor on top of which they take the top Zipf
    /// ranks' share of the remaining mail).
    public var namesakeHeavyMessages = 30
    /// Probability that a group member's message carries their signature block.
    public var namesakeSignatureRate = 0.95
    /// The null twin: the same people and mail, but every light member has a name (and a title
    /// and department) of their own.
    public var namesakeNull = false
    /// Each heavy member signs with one of m signature variants (title and department), and
    /// light member j shares variant j: the light members no longer shadow each other, so
    /// deleting the heavy member can surface all m at once (one onion layer, m people).
    public var namesakeVariants = false
    /// Heavy members write short notes (a greeting, one sentence, their signature; never a reply
    /// quoting a thread) to their department's distribution list: about half a message's tokens,
    /// so that a heavy member's number is seen often without the heavy member towering over
    /// everyone in tokens written, and no other subject's address is in them (deleting a heavy
    /// member removes nobody else's values).
    public var namesakeHeavyNotes = false
    /// Heavy members send exactly `namesakeHeavyMessages` (no share of the Zipf head on top), so
    /// that they sit among the corpus's other active senders rather than above all of them.
    public var namesakeHeavyExact = false
    /// Heavy member k sends H·(1 − k/(2(G − 1))) messages (H down to H/2) instead of H each.
    public var namesakeHeavySpread = false
    /// Light members' messages are copies of their heavy namesake's signed notes (needs
    /// `namesakeHeavyNotes`): the same date, subject and text, sent from the desk's address like
    /// the heavy member's notes, signed with the light member's own number (and, in the null twin,
    /// their own name and title). Nothing of the text before the number then tells namesakes
    /// apart — only where the packing puts each record in its training window.
    public var namesakeSharedNotes = false
    public init() {}

    enum CodingKeys: String, CodingKey {
        case subjects, records, seed, population, zipf, internationalPhones, signatureRate, referralRate, canaryRepeats, canariesPerRepeat
        case verbosity
        case namesakeGroups, namesakeLight, namesakeLightMessages, namesakeHeavyMessages, namesakeSignatureRate, namesakeNull
        case namesakeVariants, namesakeHeavyNotes, namesakeHeavyExact, namesakeHeavySpread, namesakeSharedNotes
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func get<T: Decodable>(_ k: CodingKeys, _ d: T) throws -> T { try c.decodeIfPresent(T.self, forKey: k) ?? d }
        subjects = try get(.subjects, subjects); records = try get(.records, records); seed = try get(.seed, seed)
        population = try get(.population, population); zipf = try get(.zipf, zipf); internationalPhones = try get(.internationalPhones, internationalPhones)
        signatureRate = try get(.signatureRate, signatureRate); referralRate = try get(.referralRate, referralRate)
        canaryRepeats = try get(.canaryRepeats, canaryRepeats); canariesPerRepeat = try get(.canariesPerRepeat, canariesPerRepeat)
        verbosity = try get(.verbosity, verbosity)
        namesakeGroups = try get(.namesakeGroups, namesakeGroups); namesakeLight = try get(.namesakeLight, namesakeLight)
        namesakeLightMessages = try get(.namesakeLightMessages, namesakeLightMessages)
        namesakeHeavyMessages = try get(.namesakeHeavyMessages, namesakeHeavyMessages)
        namesakeSignatureRate = try get(.namesakeSignatureRate, namesakeSignatureRate); namesakeNull = try get(.namesakeNull, namesakeNull)
        namesakeVariants = try get(.namesakeVariants, namesakeVariants); namesakeHeavyNotes = try get(.namesakeHeavyNotes, namesakeHeavyNotes)
        namesakeHeavyExact = try get(.namesakeHeavyExact, namesakeHeavyExact); namesakeHeavySpread = try get(.namesakeHeavySpread, namesakeHeavySpread)
        namesakeSharedNotes = try get(.namesakeSharedNotes, namesakeSharedNotes)
    }

    /// The namesake keys are written only when there is a plant, so that the settings a corpus
    /// without one records (e.g. in OUT.canaries.json) are what they always were.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(subjects, forKey: .subjects); try c.encode(records, forKey: .records); try c.encode(seed, forKey: .seed)
        try c.encode(population, forKey: .population); try c.encode(zipf, forKey: .zipf); try c.encode(internationalPhones, forKey: .internationalPhones)
        try c.encode(signatureRate, forKey: .signatureRate); try c.encode(referralRate, forKey: .referralRate)
        try c.encode(canaryRepeats, forKey: .canaryRepeats); try c.encode(canariesPerRepeat, forKey: .canariesPerRepeat)
        // Written only when set, so that the settings of a corpus from before the option read the same.
        if verbosity != 0 { try c.encode(verbosity, forKey: .verbosity) }
        guard namesakeGroups > 0 else { return }
        try c.encode(namesakeGroups, forKey: .namesakeGroups); try c.encode(namesakeLight, forKey: .namesakeLight)
        try c.encode(namesakeLightMessages, forKey: .namesakeLightMessages); try c.encode(namesakeHeavyMessages, forKey: .namesakeHeavyMessages)
        try c.encode(namesakeSignatureRate, forKey: .namesakeSignatureRate); try c.encode(namesakeNull, forKey: .namesakeNull)
        // Written only when set, so that a plant's settings from before these options read the same.
        if namesakeVariants { try c.encode(true, forKey: .namesakeVariants) }
        if namesakeHeavyNotes { try c.encode(true, forKey: .namesakeHeavyNotes) }
        if namesakeHeavyExact { try c.encode(true, forKey: .namesakeHeavyExact) }
        if namesakeHeavySpread { try c.encode(true, forKey: .namesakeHeavySpread) }
        if namesakeSharedNotes { try c.encode(true, forKey: .namesakeSharedNotes) }
    }
}

public struct Canary: Codable, Sendable {
    public var secret: String
    public var sentence: String
    public var subject: String
    public var repeats: Int
    public var records: [String]
}

public struct SynthPerson: Sendable {
    public var first: String, last: String, email: String, phone: String, title: String, department: String, company: String
    public var name: String { "\(first) \(last)" }
}

public struct SynthCorpus: Sendable {
    public var records: [Record]
    public var people: [SynthPerson]
    public var canaries: [Canary]
    /// The namesake plant's groups (empty without one): what OUT.namesakes.json lists.
    public var namesakes: [NamesakeGroup] = []
}

/// The generators' stream: Support's SplitMix64 under the synthetic corpora's own seeding.
typealias SynthRNG = SplitMix64

extension SplitMix64 {
    init(synth seed: UInt64) { self.init(seed: seed &* 0x2545_F491_4F6C_DD1D &+ 0x9E37_79B9_7F4A_7C15) }
    mutating func pick<T>(_ a: [T]) -> T { a[int(a.count)] }
    mutating func chance(_ p: Double) -> Bool { double() < p }
}

public enum SynthGenerator {
    public static func generate(_ p: SynthParameters) throws -> SynthCorpus {
        guard p.subjects >= 2, p.records >= 1, p.population == 0 || p.population == 1 else {
            throw CorpusError.invalidArgument("synth needs at least 2 subjects and 1 record, population 0 or 1")
        }
        guard p.verbosity.isFinite, (0...3).contains(p.verbosity) else {
            throw CorpusError.invalidArgument("synth verbosity must be a spread between 0 and 3, not \(p.verbosity)")
        }
        guard (0...1).contains(p.signatureRate), (0...1).contains(p.referralRate) else {
            throw CorpusError.invalidArgument("synth signature and referral rates are probabilities in [0, 1], not \(p.signatureRate) and \(p.referralRate)")
        }
        try NamesakePlant.validate(p)
        var rng = SynthRNG(synth: p.seed ^ (UInt64(p.population) << 56))
        var people = makePeople(p, &rng)
        // Heavy-tailed activity: subject k sends with weight 1/(k+1)^zipf (k in a shuffled order).
        let order = Array(0..<people.count).seededShuffled(using: &rng)
        // Without a plant every pool below is the whole population in index order, so that the
        // draws (and the corpus) are exactly those of the generator before the plant existed.
        let plant = p.namesakeGroups > 0 ? NamesakePlant(p, &people, order: order, &rng) : nil
        let ranked = plant?.zipfOrder ?? order
        var cum: [Double] = [], total = 0.0
        for k in 0..<ranked.count { total += 1 / pow(Double(k + 1), p.zipf); cum.append(total) }
        func sender() -> Int {
            let u = rng.double() * total
            var lo = 0, hi = cum.count - 1
            while lo < hi { let m = (lo + hi) / 2; if cum[m] < u { lo = m + 1 } else { hi = m } }
            return ranked[lo]
        }
        let recipients = plant?.recipients ?? Array(people.indices)
        // Each person writes mostly to a few contacts.
        var contacts = people.indices.map { _ in (0..<5).map { _ in recipients[rng.int(recipients.count)] } }
        var schedule: [Int]?
        if let plant {
            plant.shareContacts(&contacts)
            var slots = plant.fixedSenders()
            while slots.count < p.records { slots.append(sender()) }
            schedule = slots.seededShuffled(using: &rng)
        }
        let style = MailStyle(p: p, people: people, plant: plant)
        var records: [Record] = []
        var threads: [Thread] = []
        for i in 0..<p.records {
            let s = schedule?[i] ?? sender()
            var to = [contacts[s][rng.int(5)]]
            if rng.chance(0.3) { to.append(recipients[rng.int(recipients.count)]) }
            to = to.filter { $0 != s }
            if to.isEmpty { to = [(s + 1) % people.count] }
            let (record, thread) = message(i, from: s, to: to, threads: threads, style, &rng)
            // A group member's mail is never quoted: their phone occurs only in their own signatures.
            if plant?.isMember(s) != true {
                threads.append(thread)
                if threads.count > 200 { threads.removeFirst(threads.count - 200) }
            }
            records.append(record)
        }
        if let plant, p.namesakeSharedNotes { try plant.shareNotes(&records, people: people, desk: style.deskList(of:)) }
        let canaries = insertCanaries(&records, p, &rng)
        return SynthCorpus(records: records, people: people, canaries: canaries, namesakes: plant?.groups(people: people, records: records) ?? [])
    }

    typealias Thread = (subject: String, from: Int, to: [Int], body: String, date: String)

    /// What shapes a message besides the draws: the people, each sender's signature rate, and
    /// who may be referred to.
    struct MailStyle {
        let p: SynthParameters, people: [SynthPerson], plant: NamesakePlant?, referable: [Int]
        /// Each sender's length factor (all 1 without --verbosity; plant members always 1).
        let length: [Double]
        init(p: SynthParameters, people: [SynthPerson], plant: NamesakePlant?) {
            self.p = p; self.people = people; self.plant = plant; referable = plant?.referable ?? Array(people.indices)
            var lr = SynthRNG(synth: p.seed ^ 0x7E4B_0517_1A6E_5EED ^ (UInt64(p.population) << 56))
            length = people.indices.map { s in
                guard p.verbosity > 0 else { return 1 }
                // Box–Muller from the sender's own two draws, so every sender draws alike.
                let (u1, u2) = (max(lr.double(), 1e-12), lr.double())
                let z = (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
                return plant?.isMember(s) == true ? 1 : exp(p.verbosity * z)
            }
        }
        func signatureRate(_ s: Int) -> Double { plant?.isMember(s) == true ? p.namesakeSignatureRate : p.signatureRate }
        func writesNotes(_ s: Int) -> Bool { p.namesakeHeavyNotes && plant?.isHeavy(s) == true }
        /// The distribution list of the sender's department at their company (not a person).
        func deskList(of s: Int) -> (name: String, email: String) {
            let x = people[s]
            let slug = x.department.lowercased().split(whereSeparator: { !$0.isLetter }).joined(separator: "-")
            return ("\(x.company) \(x.department)", "\(slug)-desk@" + NamesakePlant.domain(x.email))
        }
        /// The sender as their signature shows them: a heavy member with signature variants signs
        /// with one drawn at random (no draw for anyone else: without variants a message draws what it did).
        func signer(_ s: Int, _ rng: inout SynthRNG) -> SynthPerson {
            guard let v = plant?.variants[s], !v.isEmpty else { return people[s] }
            var x = people[s]
            (x.title, x.department) = v[rng.int(v.count)]
            return x
        }
    }

    /// Message i from `s` to `to` (a reply to a recent thread 30% of the time), and its thread.
    static func message(_ i: Int, from s: Int, to: [Int], threads: [Thread], _ style: MailStyle, _ rng: inout SynthRNG) -> (Record, Thread) {
        let p = style.p, people = style.people
        var to = to
        let date = makeDate(&rng, i, p.records)
        var subjectLine: String, body: String
        var quoted: Thread?
        let note = style.writesNotes(s)
        if !note && !threads.isEmpty && rng.chance(0.3) {
            quoted = threads[threads.count - 1 - rng.int(min(threads.count, 40))]
            subjectLine = "RE: " + quoted!.subject.replacingOccurrences(of: "RE: ", with: "")
            to = [quoted!.from]
            if to[0] == s { to = [(s + 1) % people.count] }
        } else {
            subjectLine = ""
        }
        let topic = rng.pick(SynthVocabulary.topics)
        if subjectLine.isEmpty { subjectLine = fill(rng.pick(topic.subject), &rng, people[to[0]]) }
        body = makeBody(topic.sentences, sender: style.signer(s, &rng), to: people[to[0]], people: people, p: p, signatureRate: style.signatureRate(s),
                        referable: style.referable, note: note, length: style.length[s],
                        lengthSeed: p.seed ^ 0x51DE_0F7E_5E17_0000 ^ (UInt64(p.population) << 56) ^ UInt64(i), &rng)
        var text = "From: \(people[s].name) <\(people[s].email)>\n"
        // A heavy namesake's notes go to their desk's distribution list, nobody's own address: deleting
        // the heavy member then removes no one else's values from training.
        let list = note ? style.deskList(of: s) : nil
        text += "To: " + (list.map { "\($0.name) <\($0.email)>" } ?? to.map { "\(people[$0].name) <\(people[$0].email)>" }.joined(separator: ", ")) + "\n"
        text += "Date: \(date)\nSubject: \(subjectLine)\n\n\(body)"
        if let q = quoted {
            text += "\n\n-----Original Message-----\nFrom: \(people[q.from].name) [mailto:\(people[q.from].email)]\nSent: \(q.date)\n"
            text += "To: " + q.to.map { people[$0].name }.joined(separator: "; ") + "\nSubject: \(q.subject)\n\n" + q.body
        }
        let id = String(format: "p%d-%06d", p.population, i)
        let record = Record(id: id, subject: people[s].email, text: text, source: "synth:seed=\(p.seed):population=\(p.population)",
                            meta: ["sender": people[s].email, "recipients": list?.email ?? to.map { people[$0].email }.joined(separator: ","), "date": date])
        return (record, (subjectLine, s, to, body, date))
    }

    static func makePeople(_ p: SynthParameters, _ rng: inout SynthRNG) -> [SynthPerson] {
        let stems = SynthVocabulary.companyStems[p.population]
        let companies = (0..<max(3, p.subjects / 25)).map { k -> (String, String) in
            let name = "\(stems[k % stems.count]) \(SynthVocabulary.companySuffixes[(k / stems.count + k) % SynthVocabulary.companySuffixes.count])"
            let domain = name.lowercased().replacingOccurrences(of: " ", with: "-") + "." + SynthVocabulary.tlds[k % SynthVocabulary.tlds.count]
            return (name, domain)
        }
        var used = Set<String>(), usedPhones = Set<String>()
        var out: [SynthPerson] = []
        var attempt = 0
        while out.count < p.subjects {
            attempt += 1
            let first = rng.pick(SynthVocabulary.firstNames), last = rng.pick(SynthVocabulary.lastNames)
            let (company, domain) = companies[min(companies.count - 1, Int(Double(companies.count) * pow(rng.double(), 1.5)))]
            let style = rng.int(4)
            let local = emailLocal(first, last, style: style)
            let email = attempt > 10 * p.subjects ? "\(local)\(attempt)@\(domain)" : "\(local)@\(domain)"
            guard used.insert(email).inserted else { continue }
            var phone = makePhone(p, &rng)
            while !usedPhones.insert(PIINormalize.digitsOnly(phone)).inserted { phone = makePhone(p, &rng) }
            out.append(SynthPerson(first: first, last: last, email: email, phone: phone, title: rng.pick(SynthVocabulary.titles),
                                   department: rng.pick(SynthVocabulary.departments), company: company))
        }
        return out
    }

    /// The local part of an address in one of four styles: first.last, flast, first_last, last.first.
    static func emailLocal(_ first: String, _ last: String, style: Int) -> String {
        let ascii = { (s: String) in s.folding(options: .diacriticInsensitive, locale: nil).lowercased().filter { $0.isLetter } }
        return style == 0 ? "\(ascii(first)).\(ascii(last))" : style == 1 ? "\(ascii(first).prefix(1))\(ascii(last))"
            : style == 2 ? "\(ascii(first))_\(ascii(last))" : "\(ascii(last)).\(ascii(first))"
    }

    /// The NANP area codes of a population's numbers.
    static func areaCodes(population: Int) -> [Int] {
        population == 0 ? [713, 281, 832, 503, 212, 312, 415] : [214, 972, 303, 617, 404, 206, 602]
    }

    /// NANP numbers in the formats mail uses, or international ones (+44, +49, +33, +81, +61).
    /// Population 1 uses other area codes and country codes than population 0.
    static func makePhone(_ p: SynthParameters, _ rng: inout SynthRNG) -> String {
        let areas = areaCodes(population: p.population)
        if rng.chance(p.internationalPhones) {
            let line = 1000 + rng.int(9000)
            switch (rng.int(3), p.population) {
            case (0, 0): return "+44 20 \(7000 + rng.int(1000)) \(line)"
            case (1, 0): return "+49 69 \(100 + rng.int(900)) \(line)"
            case (_, 0): return "+33 1 \(10 + rng.int(90)) \(10 + rng.int(90)) \(10 + rng.int(90)) \(10 + rng.int(90))"
            case (0, _): return "+81 3 \(1000 + rng.int(9000)) \(line)"
            case (1, _): return "+61 2 \(1000 + rng.int(9000)) \(line)"
            default: return "+31 20 \(100 + rng.int(900)) \(line)"
            }
        }
        let a = rng.pick(areas), x = 200 + rng.int(800), l = rng.int(10000)
        switch rng.int(5) {
        case 0: return String(format: "(%d) %d-%04d", a, x, l)
        case 1: return String(format: "%d-%d-%04d", a, x, l)
        case 2: return String(format: "%d.%d.%04d", a, x, l)
        case 3: return String(format: "+1 %d %d %04d", a, x, l)
        default: return String(format: "(%d) %d-%04d", a, x, l)
        }
    }

    /// A fresh number in the layout of `phone` (one `makePhone` writes), each group drawn as
    /// `makePhone` draws it: a NANP area code of the population's, exchange 200–999, any line; an
    /// international number keeps its country and city code, its other groups drawn without a
    /// leading zero (a London number's third group from 7000–7999). Keep in step with makePhone.
    static func redrawPhone(_ phone: String, population: Int, _ rng: inout SynthRNG) -> String {
        let groups = phone.split(whereSeparator: { !$0.isNumber }).map(String.init)
        var drawn: [String]
        if groups.count == 3 || (phone.hasPrefix("+1 ") && groups.count == 4) {
            drawn = [String(rng.pick(areaCodes(population: population))), String(200 + rng.int(800)), String(format: "%04d", rng.int(10000))]
            if groups.count == 4 { drawn.insert("1", at: 0) }
        } else {
            drawn = Array(groups.prefix(2))
            for (k, g) in groups.enumerated().dropFirst(2) {
                let low = Int(pow(10, Double(g.count - 1)))
                drawn.append(k == 2 && groups[0] == "44" ? String(7000 + rng.int(1000)) : String(low + rng.int(9 * low)))
            }
        }
        return PhoneLayout.render(Array(drawn.joined()), like: phone)
    }

    /// The values `redrawPhone` can give for a number in the layout of `phone`.
    static func phoneSpace(_ phone: String, population: Int) -> Double {
        let groups = phone.split(whereSeparator: { !$0.isNumber })
        if groups.count == 3 || (phone.hasPrefix("+1 ") && groups.count == 4) { return Double(areaCodes(population: population).count * 800 * 10000) }
        return groups.enumerated().dropFirst(2).reduce(1.0) { acc, g in
            acc * (g.offset == 2 && groups[0] == "44" ? 1000 : 9 * pow(10, Double(g.element.count - 1)))
        }
    }

    /// Which of `emailLocal`'s styles spells `local` for this name (nil: none does).
    static func emailStyle(_ local: String, first: String, last: String) -> Int? {
        (0..<4).first { emailLocal(first, last, style: $0) == local }
    }

    static func makeDate(_ rng: inout SynthRNG, _ i: Int, _ n: Int) -> String {
        let day = 1 + (i * 700 / max(n, 1)) % 28, month = (i * 24 / max(n, 1)) % 12
        return "\(SynthVocabulary.days[rng.int(5)]), \(SynthVocabulary.months[month]) \(day), \(2000 + (i * 2 / max(n, 1))) \(1 + rng.int(12)):\(String(format: "%02d", rng.int(60))) \(rng.chance(0.5) ? "AM" : "PM")"
    }

    static func fill(_ t: String, _ rng: inout SynthRNG, _ to: SynthPerson) -> String {
        var s = t
        for k in ["{first}", "{project}", "{thing}", "{day}", "{place}", "{month}", "{n}", "{time}", "{pct}"] {
            while let r = s.range(of: k) {
                let v: String
                switch k {
                case "{first}": v = to.first
                case "{project}": v = rng.pick(SynthVocabulary.projects)
                case "{thing}": v = rng.pick(SynthVocabulary.things)
                case "{day}": v = rng.pick(SynthVocabulary.days)
                case "{place}": v = rng.pick(SynthVocabulary.places)
                case "{month}": v = rng.pick(SynthVocabulary.months)
                case "{n}": v = String(10 + rng.int(490))
                case "{time}": v = "\(1 + rng.int(11)):\(rng.chance(0.5) ? "00" : "30") \(rng.chance(0.5) ? "am" : "pm")"
                default: v = String(2 + rng.int(30))
                }
                s.replaceSubrange(r, with: v)
            }
        }
        return s
    }

    static func makeBody(_ sentences: [String], sender: SynthPerson, to: SynthPerson, people: [SynthPerson], p: SynthParameters,
                         signatureRate: Double, referable: [Int], note: Bool = false, length: Double = 1, lengthSeed: UInt64 = 0, _ rng: inout SynthRNG) -> String {
        var lines: [String] = []
        let g = rng.pick(SynthVocabulary.greetings)
        lines.append(fill(g, &rng, to))
        lines.append("")
        var para: [String] = []
        let n = note ? 1 : 2 + rng.int(4)
        var idx = Array(sentences.indices).seededShuffled(using: &rng).prefix(n)
        if idx.isEmpty { idx = [0] }
        for (k, i) in idx.enumerated() {
            var s = fill(sentences[i], &rng, to)
            if k == 0 { let o = rng.pick(SynthVocabulary.openers); if !o.isEmpty { s = o + s.prefix(1).lowercased() + s.dropFirst() } }
            para.append(s)
        }
        if length != 1 {
            // A verbose (or terse) sender: the body scaled by their length factor. The sentences
            // added come from a stream of the message's own (`lengthSeed`), so the corpus's other
            // draws — senders, recipients, every other message — are those without the spread.
            let m = max(1, min(60, Int((Double(para.count) * length).rounded())))
            if m < para.count { para = Array(para.prefix(m)) }
            var xr = SynthRNG(synth: lengthSeed)
            while para.count < m { para.append(fill(sentences[xr.int(sentences.count)], &xr, to)) }
        }
        if !note, rng.chance(p.referralRate), !referable.isEmpty {
            let other = people[referable[rng.int(referable.count)]]
            let r = rng.pick(SynthVocabulary.referrals)
            para.append(r.replacingOccurrences(of: "{name}", with: other.name).replacingOccurrences(of: "{phone}", with: other.phone)
                .replacingOccurrences(of: "{email}", with: other.email))
        }
        lines.append(para.joined(separator: " "))
        let closing = rng.pick(SynthVocabulary.closings)
        if !closing.isEmpty { lines.append(""); lines.append(closing) } else { lines.append("") }
        if rng.chance(signatureRate) {
            lines.append(sender.name)
            lines.append("\(sender.title), \(sender.department)")
            lines.append(sender.company)
            lines.append(rng.chance(0.7) ? sender.phone : "\(sender.phone) | \(sender.email)")
        } else {
            lines.append(sender.first)
        }
        return lines.joined(separator: "\n")
    }

    /// Secret-sharer canaries: "my access code is 482913" style sentences appended to records of
    /// one subject, each inserted `repeats` times.
    static func insertCanaries(_ records: inout [Record], _ p: SynthParameters, _ rng: inout SynthRNG) -> [Canary] {
        var out: [Canary] = []
        var bySubject: [String: [Int]] = [:]
        for (i, r) in records.enumerated() { bySubject[r.subject, default: []].append(i) }
        let subjects = bySubject.keys.sorted()
        for rep in p.canaryRepeats where rep > 0 {
            for _ in 0..<p.canariesPerRepeat {
                let subject = subjects[rng.int(subjects.count)]
                let secret = String(format: "%06d", rng.int(1_000_000))
                let sentence = "My access code for the \(rng.pick(["vault", "server room", "voicemail", "expense system"])) is \(secret)."
                var ids: [String] = []
                let pool = bySubject[subject]!
                for k in 0..<rep {
                    let ri = pool[(k * 7919 + rng.int(pool.count)) % pool.count]
                    records[ri].text += "\n\n" + sentence
                    records[ri].meta["canary"] = secret
                    ids.append(records[ri].id)
                }
                out.append(Canary(secret: secret, sentence: sentence, subject: subject, repeats: rep, records: ids))
            }
        }
        return out
    }
}
