/// Recursive-descent TOML 1.0 parser: document structure, headers, keys and
/// comments. Values are in `TOMLParser+Values.swift`, strings in
/// `TOMLParser+Strings.swift`.
struct TOMLParser {
    var scanner: TOMLScanner
    let root: TOMLTableBuilder
    var current: TOMLTableBuilder
    /// Current nesting of arrays and inline tables.
    var valueDepth = 0
    static let maxValueDepth = 100

    init(_ text: String) {
        scanner = TOMLScanner(text)
        root = TOMLTableBuilder(origin: .header, position: .start, keyPosition: nil, depth: 0)
        current = root
    }

    func error(_ message: String, at position: TOMLPosition? = nil) -> TOMLError {
        TOMLError(position: position ?? scanner.position, message: message)
    }

    /// "found X" text for the character under the cursor.
    var found: String { scanner.atNewline ? "end of line" : TOMLChars.describe(scanner.peek()) }

    mutating func parseDocument() throws -> TOMLTable {
        while true {
            scanner.skipWhitespace()
            guard let c = scanner.peek() else { break }
            if c == "#" {
                try skipComment()
                continue
            }
            if scanner.consumeNewline() { continue }
            if c == "[" {
                try parseHeader()
                try expectLineEnd(after: "table header")
            } else {
                try parseKeyValue(into: current)
                try expectLineEnd(after: "value")
            }
        }
        return root.build()
    }

    /// Skips a `#` comment up to (not including) the end of the line.
    mutating func skipComment() throws {
        scanner.advance() // '#'
        while let c = scanner.peek(), !scanner.atNewline {
            if TOMLChars.isControl(c) {
                throw error("control character \(TOMLChars.codePoint(c)) is not allowed in a comment")
            }
            scanner.advance()
        }
    }

    /// After a key/value pair or header: optional whitespace and comment,
    /// then a newline or the end of the document.
    mutating func expectLineEnd(after what: String) throws {
        scanner.skipWhitespace()
        if scanner.peek() == "#" { try skipComment() }
        if scanner.isAtEnd || scanner.consumeNewline() { return }
        throw error("expected a newline after the \(what), found \(found)")
    }

    /// `[a.b]` or `[[a.b]]`.
    mutating func parseHeader() throws {
        let start = scanner.position
        let isArray = scanner.peek(1) == "["
        scanner.advance(isArray ? 2 : 1)
        let path = try parseKey()
        scanner.skipWhitespace()
        if isArray {
            guard scanner.hasPrefix("]]") else {
                throw error("expected ']]' to close the array-of-tables header, found \(found)")
            }
            scanner.advance(2)
            current = try root.appendTableArrayElement(path, header: start)
        } else {
            guard scanner.peek() == "]" else {
                throw error("expected ']' to close the table header, found \(found)")
            }
            scanner.advance()
            current = try root.defineTable(path, header: start)
        }
    }

    /// A bare, quoted or dotted key. Leading whitespace is skipped; trailing
    /// whitespace is left for the caller.
    mutating func parseKey() throws -> [TOMLKeyPart] {
        var parts: [TOMLKeyPart] = []
        while true {
            scanner.skipWhitespace()
            let start = scanner.position
            guard let c = scanner.peek() else { throw error("expected a key, found end of file") }
            let name: String
            if c == "\"" {
                if scanner.hasPrefix("\"\"\"") { throw error("a multi-line string cannot be used as a key") }
                name = try parseBasicString()
            } else if c == "'" {
                if scanner.hasPrefix("'''") { throw error("a multi-line string cannot be used as a key") }
                name = try parseLiteralString()
            } else if TOMLChars.isBareKey(c) {
                var bare = String.UnicodeScalarView()
                while let k = scanner.peek(), TOMLChars.isBareKey(k) {
                    bare.append(k)
                    scanner.advance()
                }
                name = String(bare)
            } else {
                throw error("expected a key, found \(found)")
            }
            parts.append(TOMLKeyPart(name: name, position: start))
            guard parts.count <= TOMLTableBuilder.maxDepth else {
                throw error("key has too many parts", at: start)
            }
            scanner.skipWhitespace()
            guard scanner.peek() == "." else { return parts }
            scanner.advance()
        }
    }

    /// `key = value`, inserted into `table`.
    mutating func parseKeyValue(into table: TOMLTableBuilder) throws {
        let keys = try parseKey()
        scanner.skipWhitespace()
        guard scanner.peek() == "=" else {
            throw error("expected '=' after key '\(TOMLChars.keyPath(keys.map(\.name)))', found \(found)")
        }
        scanner.advance()
        scanner.skipWhitespace()
        var node = try parseValue()
        node.keyPosition = keys.last?.position
        try table.insertValue(node, at: keys)
    }
}
