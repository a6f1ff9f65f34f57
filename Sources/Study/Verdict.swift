// The pre-training leakage verdict's outcome and constants (Leakage.swift). The onion study's
// verdict is OnionDecision.swift; issue 17 rebuilds this one on the surrogate design.

import Audit
import Foundation
import Support

public enum VerdictOutcome: String, Codable, Sendable {
    case exceeds
    case doesNotExceed = "does_not_exceed"
    case inconclusive
}

/// Constants of the pre-training leakage verdict (issue 17 replaces it with the surrogate design).
public enum VerdictStatistics {
    public static let minimumEligible = 20
    static let z975 = 1.959963984540054, z80 = 0.8416212335729143
}
