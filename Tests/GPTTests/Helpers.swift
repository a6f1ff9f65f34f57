import Foundation
import Testing

/// Compares two float arrays with |a−b| ≤ atol + rtol·|b|; on failure reports the largest
/// difference, its index, and the first mismatching pairs.
func expectClose(_ a: [Float], _ b: [Float], atol: Float, rtol: Float = 0, _ what: String,
                 sourceLocation: SourceLocation = #_sourceLocation) {
    guard a.count == b.count else {
        Issue.record("\(what): \(a.count) values vs \(b.count) expected", sourceLocation: sourceLocation)
        return
    }
    var worst: Float = 0, worstIdx = 0
    var bad: [String] = []
    for i in 0..<a.count {
        let d = abs(a[i] - b[i])
        if d > worst || d.isNaN { worst = d; worstIdx = i }
        if !(d <= atol + rtol * abs(b[i])), bad.count < 5 { bad.append("[\(i)] \(a[i]) vs \(b[i])") }
    }
    if !bad.isEmpty {
        Issue.record("\(what): max |diff| \(worst) at \(worstIdx) (tolerance \(atol) + \(rtol)·|ref|); first mismatches: \(bad.joined(separator: ", "))",
                     sourceLocation: sourceLocation)
    }
}

func fixturePath(_ name: String) -> String {
    Bundle.module.resourceURL!.appendingPathComponent("Fixtures").appendingPathComponent(name).path
}
