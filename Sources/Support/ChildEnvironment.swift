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
        "\(placeholder): the path \(TerminalText.escape(value)) contains \(character), which a shell can read as more than a path in some "
            + "place of a command line; a path put into a command may hold only letters, digits and / . _ - + , : @ = "
            + "(choose an output directory without it; commands can also read the path from the environment)"
    }
}

public enum ShellPlaceholder {
    /// The characters a substituted path may hold: ASCII letters and digits and `/ . _ - + , : @ =`.
    /// None of them means anything to /bin/sh (or bash) in any quoting context, so the path is
    /// inert wherever the template puts it: unquoted; inside the template's own single quotes
    /// (`--wrap 'python t.py {job}'`), where the quotes added around the path close and reopen the
    /// template's and leave the path itself bare, so that `;`, `&`, `|`, `<`, `>`, `(`, a space or
    /// a glob in it would be read by the shell; inside double quotes; or parsed again by another
    /// shell (sbatch --wrap). Everything else is refused rather than quoted for one context.
    static let allowed = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/._-+,:@=".unicodeScalars)

    /// Refuses `value` unless every character is in `allowed`, naming the first one that is not;
    /// returns `shellQuote(value)`.
    public static func quoted(_ value: String, for placeholder: String) throws -> String {
        if let u = value.unicodeScalars.first(where: { !allowed.contains($0) }) {
            throw UnsafePlaceholderValue(placeholder: placeholder, value: value, character: describe(u))
        }
        return shellQuote(value)
    }

    /// A character as an error message shows it: printable ones quoted and named where the name
    /// helps, the others by code point.
    static func describe(_ u: Unicode.Scalar) -> String {
        let names: [Unicode.Scalar: String] = [" ": "a space", ";": "a semicolon", "&": "an ampersand", "|": "a pipe", "$": "a dollar sign",
                                               "`": "a backtick", "\"": "a double quote", "'": "a single quote", "\\": "a backslash",
                                               "\n": "a line break", "\r": "a carriage return", "\t": "a tab"]
        let code = "U+" + String(format: "%04X", u.value)
        if let name = names[u] { return "\(name) (\(code))" }
        let visible = u.isASCII ? (0x21...0x7E).contains(u.value) : !u.properties.generalCategory.isInvisible
        return visible ? "\"\(Character(u))\" (\(code))" : code
    }
}

extension Unicode.GeneralCategory {
    /// Controls, format characters (bidi overrides among them), separators and unassigned code
    /// points: shown by code point, never as themselves.
    var isInvisible: Bool {
        [.control, .format, .lineSeparator, .paragraphSeparator, .spaceSeparator, .unassigned, .surrogate, .privateUse].contains(self)
    }
}
