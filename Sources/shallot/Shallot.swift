import ArgumentParser
import Foundation
import Training

@main
struct Shallot: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "shallot",
        abstract: "Measure which people's personal data a language model leaks, and whether deleting it works.",
        version: shallotVersion,
        subcommands: [Train.self, Generate.self, Score.self, TokenizerCommand.self, CorpusCommand.self, PIICommand.self, AuditCommand.self, ReportCommand.self, StudyCommand.self, UnlearnCommand.self, LedgerCommand.self, ServeCommand.self, Bench.self])
}

/// Prints an error the user can act on and exits with status 1 (no stack trace).
func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("error: \(message)\n".utf8))
    Foundation.exit(1)
}

/// Runs `body`, turning any library error into a clear message.
func reporting<T>(_ body: () throws -> T) -> T {
    do { return try body() } catch let e as CustomStringConvertible & Error {
        fail(e.description)
    } catch {
        fail("\(error)")
    }
}

func printJSON(_ value: some Encodable) {
    let enc = JSONEncoder()
    enc.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    enc.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    let d = (try? enc.encode(value)) ?? Data("{}".utf8)
    FileHandle.standardOutput.write(d + Data("\n".utf8))
}
