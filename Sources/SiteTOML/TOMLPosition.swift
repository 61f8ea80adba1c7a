/// A location in a TOML document.
///
/// Both fields are 1-based. `column` counts Unicode scalars from the start of
/// the line (a tab counts as one column). A leading byte-order mark is not
/// counted.
public struct TOMLPosition: Sendable, Equatable, Hashable, CustomStringConvertible {
    /// 1-based line number.
    public var line: Int
    /// 1-based column, counted in Unicode scalars.
    public var column: Int

    /// Creates a position from a 1-based line and column.
    public init(line: Int, column: Int) {
        self.line = line
        self.column = column
    }

    /// The start of a document: line 1, column 1.
    public static let start = TOMLPosition(line: 1, column: 1)

    /// `"line L, column C"`.
    public var description: String { "line \(line), column \(column)" }
}
