import ArgumentParser
import Foundation
import Support
import Training

@main
struct Shallot: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "shallot",
        abstract: "Measure which people's personal data a language model leaks, and whether deleting it works.",
        version: shallotVersion,
        subcommands: [Train.self, Generate.self, Score.self, TokenizerCommand.self, CorpusCommand.self, PIICommand.self, AuditCommand.self, ReportCommand.self, StudyCommand.self, StudyJobCommand.self, UnlearnCommand.self, LedgerCommand.self, ServeCommand.self, Bench.self])

    /// An unknown subcommand is an error even with --help (the parser would print the parent's
    /// help and exit 0, so `shallot serv --help` looked like success).
    static func main() {
        var command: ParsableCommand.Type = Shallot.self
        var path = ["shallot"]
        for a in CommandLine.arguments.dropFirst() {
            let subs = command.configuration.subcommands
            if a.hasPrefix("-") || subs.isEmpty { break }
            guard let next = subs.first(where: { $0._commandName == a }) else {
                FileHandle.standardError.write(Data("error: unknown command '\(a)' for '\(path.joined(separator: " "))'; see '\(path.joined(separator: " ")) --help'\n".utf8))
                Foundation.exit(64)
            }
            command = next
            path.append(a)
        }
        Self.main(Array(CommandLine.arguments.dropFirst()))
    }
}

/// Prints an error the user can act on and exits with status 1 (no stack trace).
func fail(_ message: String) -> Never {
    // messages can carry what a server, a log or a file said: no control characters reach the terminal
    FileHandle.standardError.write(Data("error: \(TerminalText.escape(message, keepLines: true))\n".utf8))
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
    let d = (try? ResultsJSON.encoder().encode(value)) ?? Data("{}".utf8)
    FileHandle.standardOutput.write(d + Data("\n".utf8))
}
