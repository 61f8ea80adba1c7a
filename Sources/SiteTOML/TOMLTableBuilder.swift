/// One part of a (possibly dotted) key, with where it starts.
struct TOMLKeyPart {
    var name: String
    var position: TOMLPosition
}

/// A mutable table used while parsing; enforces TOML's definition rules and
/// is converted to an immutable `TOMLTable` at the end.
final class TOMLTableBuilder {
    /// How the table came into existence; decides what may extend it later.
    enum Origin {
        /// Created as a parent by a deeper header (`[a.b]` creates `a`);
        /// may still be defined by a header or by dotted keys.
        case implicit
        /// Defined by a `[header]`.
        case header
        /// Created by a dotted key (`a.b = 1` creates `a`).
        case dotted
        /// An element of an array of tables.
        case arrayElement
        /// The body of an inline table while it is being parsed.
        case inline
    }

    enum Item {
        /// A value, including inline tables and static arrays (both frozen).
        case value(TOMLNode)
        case table(TOMLTableBuilder)
        case tableArray(TOMLTableArrayBuilder)
    }

    static let maxDepth = 100

    var origin: Origin
    var position: TOMLPosition
    var keyPosition: TOMLPosition?
    let depth: Int
    private var order: [String] = []
    private var items: [String: Item] = [:]

    init(origin: Origin, position: TOMLPosition, keyPosition: TOMLPosition?, depth: Int) {
        self.origin = origin
        self.position = position
        self.keyPosition = keyPosition
        self.depth = depth
    }

    subscript(key: String) -> Item? { items[key] }

    private func add(_ key: String, _ item: Item) {
        order.append(key)
        items[key] = item
    }

    private func newChild(_ origin: Origin, _ key: TOMLKeyPart, position: TOMLPosition) throws -> TOMLTableBuilder {
        guard depth < Self.maxDepth else {
            throw TOMLError(position: key.position, message: "tables are nested too deeply")
        }
        let child = TOMLTableBuilder(origin: origin, position: position, keyPosition: key.position, depth: depth + 1)
        add(key.name, .table(child))
        return child
    }

    // MARK: - Definition rules

    /// Inserts `node` for `a.b.c = value`, creating `a` and `a.b` as dotted tables.
    func insertValue(_ node: TOMLNode, at keys: [TOMLKeyPart]) throws {
        guard let last = keys.last else { return }
        var table = self
        for (i, part) in keys.dropLast().enumerated() {
            var shown: String { TOMLChars.keyPath(keys[...i].map(\.name)) }
            switch table[part.name] {
            case nil:
                table = try table.newChild(.dotted, part, position: part.position)
            case .table(let sub):
                switch sub.origin {
                case .dotted:
                    table = sub
                case .implicit:
                    sub.origin = .dotted
                    table = sub
                case .header, .arrayElement, .inline:
                    throw TOMLError(position: part.position,
                                    message: "cannot add keys to table '\(shown)' with dotted keys: it was defined by a table header at line \(Self.line(of: .table(sub)))")
                }
            case .tableArray(let array):
                throw TOMLError(position: part.position,
                                message: "cannot add keys to '\(shown)' with dotted keys: it is an array of tables (defined at line \(Self.line(of: .tableArray(array))))")
            case .value(let v):
                throw Self.notExtendable(shown, v, at: part.position)
            }
        }
        if let existing = table[last.name] {
            let shown = TOMLChars.keyPath(keys.map(\.name))
            throw TOMLError(position: last.position,
                            message: "duplicate key '\(shown)' (first defined at line \(Self.line(of: existing)))")
        }
        table.add(last.name, .value(node))
    }

    /// Defines the table of a `[a.b.c]` header and returns it.
    func defineTable(_ path: [TOMLKeyPart], header: TOMLPosition) throws -> TOMLTableBuilder {
        guard let last = path.last else { return self }
        let parent = try descend(path.dropLast(), header: header)
        var shown: String { TOMLChars.keyPath(path.map(\.name)) }
        switch parent[last.name] {
        case nil:
            return try parent.newChild(.header, last, position: header)
        case .table(let sub):
            switch sub.origin {
            case .implicit:
                sub.origin = .header
                sub.position = header
                sub.keyPosition = last.position
                return sub
            case .dotted:
                throw TOMLError(position: last.position,
                                message: "table '\(shown)' was already defined by dotted keys at line \(Self.line(of: .table(sub)))")
            case .header, .arrayElement, .inline:
                throw TOMLError(position: last.position,
                                message: "table '\(shown)' already defined at line \(Self.line(of: .table(sub)))")
            }
        case .tableArray(let array):
            throw TOMLError(position: last.position,
                            message: "cannot define table '\(shown)': it is already an array of tables (defined at line \(Self.line(of: .tableArray(array))))")
        case .value(let v):
            if case .table = v.value {
                throw TOMLError(position: last.position,
                                message: "cannot redefine inline table '\(shown)' (defined at line \(Self.line(of: .value(v))))")
            }
            throw TOMLError(position: last.position,
                            message: "duplicate key '\(shown)' (first defined at line \(Self.line(of: .value(v))))")
        }
    }

    /// Appends a new element for a `[[a.b.c]]` header and returns it.
    func appendTableArrayElement(_ path: [TOMLKeyPart], header: TOMLPosition) throws -> TOMLTableBuilder {
        guard let last = path.last else { return self }
        let parent = try descend(path.dropLast(), header: header)
        var shown: String { TOMLChars.keyPath(path.map(\.name)) }
        guard parent.depth < Self.maxDepth else {
            throw TOMLError(position: last.position, message: "tables are nested too deeply")
        }
        let element = TOMLTableBuilder(origin: .arrayElement, position: header, keyPosition: last.position, depth: parent.depth + 1)
        switch parent[last.name] {
        case nil:
            let array = TOMLTableArrayBuilder(position: header, keyPosition: last.position)
            array.elements.append(element)
            parent.add(last.name, .tableArray(array))
        case .tableArray(let array):
            array.elements.append(element)
        case .table(let sub):
            throw TOMLError(position: last.position,
                            message: "cannot define array of tables '\(shown)': it is already a table (defined at line \(Self.line(of: .table(sub))))")
        case .value(let v):
            if case .array = v.value {
                throw TOMLError(position: last.position,
                                message: "cannot append to static array '\(shown)' (defined at line \(Self.line(of: .value(v))))")
            }
            throw TOMLError(position: last.position,
                            message: "duplicate key '\(shown)' (first defined at line \(Self.line(of: .value(v))))")
        }
        return element
    }

    /// Walks the parent part of a header path, creating implicit tables and
    /// entering the last element of arrays of tables.
    private func descend(_ parts: ArraySlice<TOMLKeyPart>, header: TOMLPosition) throws -> TOMLTableBuilder {
        var table = self
        for (i, part) in parts.enumerated() {
            var shown: String { TOMLChars.keyPath(parts.prefix(i + 1).map(\.name)) }
            switch table[part.name] {
            case nil:
                table = try table.newChild(.implicit, part, position: part.position)
            case .table(let sub):
                table = sub
            case .tableArray(let array):
                guard let lastElement = array.elements.last else {
                    throw TOMLError(position: part.position, message: "internal error: empty array of tables '\(shown)'")
                }
                table = lastElement
            case .value(let v):
                throw Self.notExtendable(shown, v, at: part.position)
            }
        }
        return table
    }

    private static func notExtendable(_ shown: String, _ v: TOMLNode, at position: TOMLPosition) -> TOMLError {
        let line = line(of: .value(v))
        switch v.value {
        case .table:
            return TOMLError(position: position, message: "cannot extend inline table '\(shown)' (defined at line \(line))")
        case .array:
            return TOMLError(position: position, message: "cannot extend static array '\(shown)' (defined at line \(line))")
        default:
            return TOMLError(position: position, message: "'\(shown)' is \(article(v.typeName)) (defined at line \(line)), not a table")
        }
    }

    private static func article(_ typeName: String) -> String {
        typeName == "integer" || typeName == "array" ? "an \(typeName)" : "a \(typeName)"
    }

    /// The line where an existing item was first defined.
    static func line(of item: Item) -> Int {
        switch item {
        case .value(let node): return (node.keyPosition ?? node.position).line
        case .table(let t): return (t.keyPosition ?? t.position).line
        case .tableArray(let a): return a.keyPosition.line
        }
    }

    // MARK: - Conversion

    func build() -> TOMLTable {
        TOMLTable(entries: order.compactMap { key in
            guard let item = items[key] else { return nil }
            return (key: key, node: Self.node(for: item))
        }, position: position)
    }

    func buildNode() -> TOMLNode {
        TOMLNode(value: .table(build()), position: position, keyPosition: keyPosition)
    }

    private static func node(for item: Item) -> TOMLNode {
        switch item {
        case .value(let node):
            return node
        case .table(let table):
            return table.buildNode()
        case .tableArray(let array):
            return TOMLNode(value: .array(array.elements.map { $0.buildNode() }),
                            position: array.position, keyPosition: array.keyPosition)
        }
    }
}

/// An array of tables being built from `[[...]]` headers.
final class TOMLTableArrayBuilder {
    let position: TOMLPosition
    let keyPosition: TOMLPosition
    var elements: [TOMLTableBuilder] = []

    init(position: TOMLPosition, keyPosition: TOMLPosition) {
        self.position = position
        self.keyPosition = keyPosition
    }
}
