/// A TOML table: keys in source order, each with its positioned node.
public struct TOMLTable: Sendable {
    /// The entries in the order their keys first appeared in the source.
    /// Keys are unique.
    public var entries: [(key: String, node: TOMLNode)]
    /// Where the table was defined: the `[` of its `[table]` or `[[array]]`
    /// header, the `{` of an inline table, the key that implicitly created
    /// it, or line 1, column 1 for the root table.
    public var position: TOMLPosition

    /// Creates a table.
    public init(entries: [(key: String, node: TOMLNode)] = [], position: TOMLPosition = .start) {
        self.entries = entries
        self.position = position
    }

    /// The node stored under `key`, if any.
    public subscript(key: String) -> TOMLNode? {
        for entry in entries where entry.key == key {
            return entry.node
        }
        return nil
    }

    /// The keys in source order.
    public var keys: [String] { entries.map(\.key) }

    /// The number of entries.
    public var count: Int { entries.count }

    /// Whether the table has no entries.
    public var isEmpty: Bool { entries.isEmpty }

    /// Follows `path` through nested tables, e.g. `["server", "port"]`.
    /// Returns `nil` if a key is missing or an intermediate node is not a table.
    /// An empty path returns `nil`.
    public func node(at path: [String]) -> TOMLNode? {
        guard let first = path.first, let node = self[first] else { return nil }
        if path.count == 1 { return node }
        return node.table?.node(at: Array(path.dropFirst()))
    }
}
