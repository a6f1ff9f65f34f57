// The one normalisation of a data subject's identifier, used wherever a subject enters Shallot:
// corpus records (importers, JSONL), erasure requests and ledger keys, `unlearn --forget`, the
// study. "Alice@Example.com " and "alice@example.com" are one person.

import Foundation

public enum SubjectID {
    /// Surrounding white space trimmed, lower-cased (locale-independent).
    public static func normalize(_ s: String) -> String {
        s.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
    }
}
