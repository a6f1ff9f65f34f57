// The one JSON coder for results (audit.json, study.json, stages, checkpoints, progress lines):
// sorted keys, no escaped slashes, and non-finite numbers as the strings "inf", "-inf", "nan"
// (JSON has no such numbers; an AUC of NaN must survive a round trip, not fail the write).

import Foundation

public enum ResultsJSON {
    public static func encoder(pretty: Bool = false) -> JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = pretty ? [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        e.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return e
    }

    public static func decoder() -> JSONDecoder {
        let d = JSONDecoder()
        d.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return d
    }
}

/// The version every output names (`software`, provenance, fingerprints).
public let shallotVersion = "0.1.0"
public let shallotSoftware = "shallot " + shallotVersion
