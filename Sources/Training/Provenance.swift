// shallot.json: where a model came from. Written next to every model Shallot produces, read by
// the audit, unlearning and ledger to tie a model to its parent and to the records it saw.

import Foundation
import Support
import GPT
import SafeTensors


public struct Provenance: Codable, Sendable {
    public struct ParentModel: Codable, Sendable {
        public var path: String
        public var weightsSHA256: String
        enum CodingKeys: String, CodingKey { case path, weightsSHA256 = "weights_sha256" }
        public init(path: String, weightsSHA256: String) { self.path = path; self.weightsSHA256 = weightsSHA256 }
    }
    public struct Corpus: Codable, Sendable {
        public var path: String
        public var fileSHA256: String
        public var records: Int
        public var tokens: Int
        /// SHA-256 of the sorted record ids joined by newlines.
        public var manifestSHA256: String
        public init(path: String, fileSHA256: String, records: Int, tokens: Int, manifestSHA256: String) {
            self.path = path; self.fileSHA256 = fileSHA256; self.records = records; self.tokens = tokens; self.manifestSHA256 = manifestSHA256
        }
        enum CodingKeys: String, CodingKey {
            case path, records, tokens, fileSHA256 = "file_sha256", manifestSHA256 = "manifest_sha256"
        }
    }
    public var schema = "shallot.model/1"
    public var software = "shallot \(shallotVersion)"
    public var created: String
    public var weightsSHA256: String
    public var parent: ParentModel?
    public var corpus: Corpus?
    public var tokenizer: String
    public var training: TrainParameters?
    public var summary: TrainSummary?
    /// Free-form details added by later stages (unlearning method, forget set hash...).
    public var extra: [String: String]?

    enum CodingKeys: String, CodingKey {
        case schema, software, created, parent, corpus, tokenizer, training, summary, extra
        case weightsSHA256 = "weights_sha256"
    }

    public init(weightsSHA256: String, parent: ParentModel?, corpus: Corpus?, tokenizer: String,
                training: TrainParameters?, summary: TrainSummary?, extra: [String: String]? = nil) {
        let f = ISO8601DateFormatter()
        created = f.string(from: Date())
        self.weightsSHA256 = weightsSHA256; self.parent = parent; self.corpus = corpus
        self.tokenizer = tokenizer; self.training = training; self.summary = summary; self.extra = extra
    }

    public func write(directory: String) throws {
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try PrivateFile.write(enc.encode(self), to: directory + "/shallot.json")
    }

    public static func read(directory: String) -> Provenance? {
        guard let d = FileManager.default.contents(atPath: directory + "/shallot.json") else { return nil }
        return try? JSONDecoder().decode(Provenance.self, from: d)
    }
}
