import VaultCore

/// One thing wrong with a control file, with where it is.
public struct ControlFileProblem: Sendable, Equatable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int
    public var message: String
    /// One line, its control characters (from a quoted key or value) escaped.
    public var description: String { TerminalText.escape("\(file):\(line):\(column): \(message)") }
}

/// A control file that cannot be used: every problem found, each with file, line and column.
/// Nothing runs when a control file is rejected.
public struct ControlFileError: Error, Sendable, CustomStringConvertible {
    public var file: String
    public var problems: [ControlFileProblem]
    public var description: String {
        "\(file) is not a valid control file (\(problems.count) problem\(problems.count == 1 ? "" : "s")); nothing was run:\n"
            + problems.map { "  " + $0.description }.joined(separator: "\n")
    }
}
