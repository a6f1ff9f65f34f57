// Precision and recall per type against labelled text (exact span and type = a hit).

import Foundation

public struct LabelledText: Codable, Sendable {
    public struct Label: Codable, Sendable { public var type: PIIType; public var start: Int; public var end: Int }
    public var text: String
    public var entities: [Label]
}

public struct TypeScore: Codable, Sendable {
    public var truePositives = 0, falsePositives = 0, falseNegatives = 0
    public var precision: Double { truePositives + falsePositives == 0 ? 1 : Double(truePositives) / Double(truePositives + falsePositives) }
    public var recall: Double { truePositives + falseNegatives == 0 ? 1 : Double(truePositives) / Double(truePositives + falseNegatives) }
    public var f1: Double { precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall) }
}

public enum PIIEvaluation {
    /// The mean F1 over the types that occur (labelled or reported), "ALL" and PERSON excluded:
    /// the seven pattern types the held-out measurement is stated in.
    public static func macroF1(_ scores: [String: TypeScore]) -> (f1: Double, types: Int) {
        let ts = scores.filter { $0.key != "ALL" && $0.key != PIIType.person.rawValue }
        return (ts.isEmpty ? 0 : ts.values.map(\.f1).reduce(0, +) / Double(ts.count), ts.count)
    }

    /// Scores by type and over all types ("ALL"); `misses` lists the disagreements.
    public static func evaluate(_ set: [LabelledText], scanner: PIIScanner = PIIScanner()) -> (scores: [String: TypeScore], misses: [String]) {
        var s: [String: TypeScore] = [:], misses: [String] = []
        for item in set {
            let found = scanner.scan(item.text)
            let gold = Set(item.entities.map { "\($0.type.rawValue)@\($0.start)-\($0.end)" })
            let got = Set(found.map { "\($0.type.rawValue)@\($0.start)-\($0.end)" })
            for e in found {
                let k = "\(e.type.rawValue)@\(e.start)-\(e.end)"
                if gold.contains(k) { s[e.type.rawValue, default: .init()].truePositives += 1; s["ALL", default: .init()].truePositives += 1 }
                else { s[e.type.rawValue, default: .init()].falsePositives += 1; s["ALL", default: .init()].falsePositives += 1; misses.append("false positive \(e.type.rawValue) \(e.text.debugDescription)") }
            }
            for l in item.entities where !got.contains("\(l.type.rawValue)@\(l.start)-\(l.end)") {
                s[l.type.rawValue, default: .init()].falseNegatives += 1; s["ALL", default: .init()].falseNegatives += 1
                let scalars = Array(item.text.unicodeScalars)[l.start..<l.end]
                misses.append("missed \(l.type.rawValue) \(String(String.UnicodeScalarView(scalars)).debugDescription)")
            }
        }
        return (s, misses)
    }
}
