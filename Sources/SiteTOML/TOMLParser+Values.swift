/// Values: dispatch, arrays, inline tables and bare scalars (booleans,
/// numbers, date-times).
extension TOMLParser {
    /// Parses the value under the cursor. The returned node has no key position.
    mutating func parseValue() throws -> TOMLNode {
        let start = scanner.position
        guard let c = scanner.peek(), !scanner.atNewline else {
            throw error("expected a value, found \(found)")
        }
        switch c {
        case "\"":
            let s = scanner.hasPrefix("\"\"\"") ? try parseMultilineString(quote: "\"") : try parseBasicString()
            return TOMLNode(value: .string(s), position: start)
        case "'":
            let s = scanner.hasPrefix("'''") ? try parseMultilineString(quote: "'") : try parseLiteralString()
            return TOMLNode(value: .string(s), position: start)
        case "[":
            return try parseArray()
        case "{":
            return try parseInlineTable()
        default:
            return try parseBareValue()
        }
    }

    private mutating func enterNesting(_ start: TOMLPosition) throws {
        guard valueDepth < Self.maxValueDepth else {
            throw error("arrays and inline tables are nested too deeply", at: start)
        }
        valueDepth += 1
    }

    /// Skips whitespace, newlines and comments between array elements.
    private mutating func skipArrayTrivia() throws {
        while true {
            scanner.skipWhitespace()
            if scanner.peek() == "#" {
                try skipComment()
            } else if !scanner.consumeNewline() {
                return
            }
        }
    }

    private mutating func parseArray() throws -> TOMLNode {
        let start = scanner.position
        try enterNesting(start)
        defer { valueDepth -= 1 }
        scanner.advance() // '['
        var elements: [TOMLNode] = []
        func unterminated(_ p: TOMLParser) -> TOMLError {
            p.error("unterminated array (opened at line \(start.line), column \(start.column))")
        }
        while true {
            try skipArrayTrivia()
            guard let c = scanner.peek() else { throw unterminated(self) }
            if c == "]" { break }
            elements.append(try parseValue())
            try skipArrayTrivia()
            guard let d = scanner.peek() else { throw unterminated(self) }
            if d == "]" { break }
            guard d == "," else { throw error("expected ',' or ']' in array, found \(found)") }
            scanner.advance()
        }
        scanner.advance() // ']'
        return TOMLNode(value: .array(elements), position: start)
    }

    private mutating func parseInlineTable() throws -> TOMLNode {
        let start = scanner.position
        try enterNesting(start)
        defer { valueDepth -= 1 }
        scanner.advance() // '{'
        let table = TOMLTableBuilder(origin: .inline, position: start, keyPosition: nil, depth: 0)
        scanner.skipWhitespace()
        if scanner.peek() == "}" {
            scanner.advance()
            return TOMLNode(value: .table(table.build()), position: start)
        }
        while true {
            scanner.skipWhitespace()
            if scanner.atNewline { throw error("newlines are not allowed in an inline table") }
            if scanner.peek() == "}" { throw error("trailing comma is not allowed in an inline table") }
            try parseKeyValue(into: table)
            scanner.skipWhitespace()
            guard let c = scanner.peek() else {
                throw error("unterminated inline table (opened at line \(start.line), column \(start.column))")
            }
            if c == "}" { break }
            if scanner.atNewline { throw error("newlines are not allowed in an inline table") }
            guard c == "," else { throw error("expected ',' or '}' in inline table, found \(found)") }
            scanner.advance()
        }
        scanner.advance() // '}'
        return TOMLNode(value: .table(table.build()), position: start)
    }

    private static func isTokenChar(_ c: Unicode.Scalar) -> Bool {
        switch c {
        case "A"..."Z", "a"..."z", "0"..."9", "_", "+", "-", ".", ":": return true
        default: return false
        }
    }

    private mutating func readToken(into token: inout [Unicode.Scalar]) {
        while let c = scanner.peek(), Self.isTokenChar(c) {
            token.append(c)
            scanner.advance()
        }
    }

    /// Booleans, numbers and date-times: reads a run of token characters
    /// (plus the space of `1979-05-27 07:32:00`) and classifies it.
    private mutating func parseBareValue() throws -> TOMLNode {
        let start = scanner.position
        var token: [Unicode.Scalar] = []
        readToken(into: &token)
        if TOMLDateTime.isFullDate(token), scanner.peek() == " ",
           let next = scanner.peek(1), TOMLChars.isDigit(next) {
            token.append(" ")
            scanner.advance()
            readToken(into: &token)
        }
        guard let first = token.first else {
            throw error("expected a value, found \(found)")
        }
        let text = String(String.UnicodeScalarView(token))
        let shown = token.count > 40 ? String(String.UnicodeScalarView(token.prefix(40))) + "..." : text
        let value: TOMLValue
        if text == "true" {
            value = .boolean(true)
        } else if text == "false" {
            value = .boolean(false)
        } else if TOMLDateTime.looksLikeDateTime(token) {
            if let problem = TOMLDateTime.validate(token) {
                throw error("invalid date-time '\(shown)': \(problem)", at: start)
            }
            value = .datetime(text)
        } else if !TOMLChars.isLetter(first) || text == "inf" || text == "nan" {
            switch TOMLNumber.parse(token) {
            case .integer(let i): value = .integer(i)
            case .float(let d): value = .float(d)
            case .invalid(let problem): throw error("invalid number '\(shown)'\(problem.map { ": \($0)" } ?? "")", at: start)
            }
        } else {
            throw error("invalid value '\(shown)' (strings must be quoted)", at: start)
        }
        return TOMLNode(value: value, position: start)
    }
}
