// The environment of the commands Shallot starts for the user (an external trainer, a model
// server): an allow-list, never the whole of ours. API keys, HF tokens and SHALLOT_SCRUB_SECRET
// stay in this process; what a trainer or server needs beyond the list is named with --pass-env.
// Paths substituted into those command lines are checked by `ShellPlaceholder.check`.

import Foundation

public enum ChildEnvironment {
    /// Variables passed by name.
    public static let allowed: Set<String> = [
        "PATH", "HOME", "USER", "LOGNAME", "LANG", "TZ", "TMPDIR", "CUDA_VISIBLE_DEVICES", "HF_HOME",
        "TRANSFORMERS_CACHE", "PYTHONPATH", "VIRTUAL_ENV", "OMP_NUM_THREADS",
    ]
    /// Variables passed by prefix (locale settings, the Slurm job's own variables).
    public static let allowedPrefixes = ["LC_", "SLURM_"]

    /// Whether `name` is passed without being asked for.
    public static func isAllowed(_ name: String) -> Bool {
        allowed.contains(name) || allowedPrefixes.contains { name.hasPrefix($0) }
    }

    /// The child's environment: the allowed variables of `parent`, those named in `passing`
    /// (--pass-env) when set, then `adding` (the child's own, e.g. SHALLOT_JOB).
    public static func build(passing: [String] = [], adding: [String: String] = [:],
                             parent: [String: String] = ProcessInfo.processInfo.environment) -> [String: String] {
        let named = Set(passing)
        var env = parent.filter { isAllowed($0.key) || named.contains($0.key) }
        for (k, v) in adding { env[k] = v }
        return env
    }

    /// A --pass-env name is a variable name (letters, digits, underscores; no leading digit).
    public static func validName(_ name: String) -> Bool {
        let digits = Set("0123456789"), letters = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_")
        guard let first = name.first, !digits.contains(first) else { return false }
        return name.allSatisfy { letters.contains($0) || digits.contains($0) }
    }
}

/// A value refused for a `{job}`/`{model}`-style placeholder of a /bin/sh command line.
public struct UnsafePlaceholderValue: Error, CustomStringConvertible {
    public let placeholder: String, value: String, character: String
    public var description: String {
        "\(placeholder): the path \(TerminalText.escape(value)) contains \(character), which a shell can interpret in some quoting context;"
            + " use an output directory without $ ` \" ' \\, newlines or control characters (commands can also read the path from the environment)"
    }
}

public enum ShellPlaceholder {
    /// Refuses `value` if it holds a character that is dangerous in some shell quoting context
    /// ($, backtick, double or single quote, backslash, newline, any non-printing character), so
    /// that the single-quoted substitution stays inert whether the template put it in double
    /// quotes, single quotes, or none. Returns `shellQuote(value)`.
    public static func quoted(_ value: String, for placeholder: String) throws -> String {
        for u in value.unicodeScalars {
            let bad: String?
            switch u {
            case "$": bad = "a dollar sign"
            case "`": bad = "a backtick"
            case "\"": bad = "a double quote"
            case "'": bad = "a single quote"
            case "\\": bad = "a backslash"
            case "\n", "\r": bad = "a line break"
            default:
                let nonPrinting: [Unicode.GeneralCategory] = [.control, .format, .lineSeparator, .paragraphSeparator]
                bad = nonPrinting.contains(u.properties.generalCategory) ? "a non-printing character" : nil
            }
            if let bad { throw UnsafePlaceholderValue(placeholder: placeholder, value: value, character: bad) }
        }
        return shellQuote(value)
    }
}
