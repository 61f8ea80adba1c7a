/// Entry point of the TOML 1.0 parser.
///
/// ```swift
/// let root = try TOML.parse(text)
/// if let name = root["name"] {
///     print(name.string ?? "?", "at", name.position)
/// }
/// ```
public enum TOML {
    /// Parses a complete TOML 1.0 document.
    ///
    /// - Parameter text: the document. CRLF line endings and a leading
    ///   byte-order mark are accepted.
    /// - Returns: the root table; every node records its source position.
    /// - Throws: `TOMLError` for any syntax or structure error.
    public static func parse(_ text: String) throws -> TOMLTable {
        var parser = TOMLParser(text)
        return try parser.parseDocument()
    }
}
