/// The four TOML string forms.
extension TOMLParser {
    /// Rejects a control character at the cursor (a lone CR included).
    private func checkNotControl(_ c: Unicode.Scalar) throws {
        if TOMLChars.isControl(c) {
            throw error("control character \(TOMLChars.codePoint(c)) is not allowed in a string; use an escape")
        }
    }

    /// `"..."` with escapes.
    mutating func parseBasicString() throws -> String {
        let start = scanner.position
        scanner.advance() // '"'
        var out = String.UnicodeScalarView()
        while true {
            guard let c = scanner.peek(), !scanner.atNewline else {
                throw error("unterminated string", at: start)
            }
            if c == "\"" {
                scanner.advance()
                return String(out)
            }
            if c == "\\" {
                try parseEscape(into: &out)
                continue
            }
            try checkNotControl(c)
            out.append(c)
            scanner.advance()
        }
    }

    /// `'...'`, no escapes.
    mutating func parseLiteralString() throws -> String {
        let start = scanner.position
        scanner.advance() // '\''
        var out = String.UnicodeScalarView()
        while true {
            guard let c = scanner.peek(), !scanner.atNewline else {
                throw error("unterminated string", at: start)
            }
            if c == "'" {
                scanner.advance()
                return String(out)
            }
            try checkNotControl(c)
            out.append(c)
            scanner.advance()
        }
    }

    /// `"""..."""` (escapes, line-ending backslashes) or `'''...'''` (raw text); the first newline
    /// is trimmed in both.
    mutating func parseMultilineString(quote: Unicode.Scalar) throws -> String {
        let escapes = quote == "\""
        let start = scanner.position
        scanner.advance(3)
        _ = scanner.consumeNewline()
        var out = String.UnicodeScalarView()
        while true {
            guard let c = scanner.peek() else {
                throw error("unterminated multi-line string", at: start)
            }
            if c == quote {
                if try closeMultiline(quote: quote, into: &out) { return String(out) }
                continue
            }
            if escapes && c == "\\" {
                var n = 1
                while let w = scanner.peek(n), w == " " || w == "\t" { n += 1 }
                if scanner.peek(n) == "\n" || (scanner.peek(n) == "\r" && scanner.peek(n + 1) == "\n") {
                    // Line-ending backslash: drop it and all following whitespace and newlines.
                    scanner.advance(n)
                    while true {
                        scanner.skipWhitespace()
                        if !scanner.consumeNewline() { break }
                    }
                    continue
                }
                try parseEscape(into: &out)
                continue
            }
            if scanner.consumeNewline() {
                out.append("\n")
                continue
            }
            try checkNotControl(c)
            out.append(c)
            scanner.advance()
        }
    }

    /// Handles a run of quote characters inside a multi-line string. Up to
    /// two quotes may directly precede the closing delimiter. Returns `true`
    /// if the string was closed.
    private mutating func closeMultiline(quote: Unicode.Scalar, into out: inout String.UnicodeScalarView) throws -> Bool {
        let n = scanner.run(of: quote)
        if n > 5 {
            throw error("too many quotes in a row in a multi-line string", at: scanner.position)
        }
        let content = n >= 3 ? n - 3 : n
        for _ in 0..<content { out.append(quote) }
        scanner.advance(n)
        return n >= 3
    }

    /// An escape sequence starting at the backslash under the cursor.
    private mutating func parseEscape(into out: inout String.UnicodeScalarView) throws {
        let start = scanner.position
        scanner.advance() // '\'
        guard let e = scanner.peek(), !scanner.atNewline else {
            throw error("incomplete escape sequence", at: start)
        }
        let simple: Unicode.Scalar?
        switch e {
        case "b": simple = "\u{08}"
        case "t": simple = "\t"
        case "n": simple = "\n"
        case "f": simple = "\u{0C}"
        case "r": simple = "\r"
        case "\"": simple = "\""
        case "\\": simple = "\\"
        case "u", "U": simple = nil
        default:
            throw error("invalid escape sequence '\\\(TOMLChars.isControl(e) ? TOMLChars.codePoint(e) : String(e))'", at: start)
        }
        scanner.advance()
        if let simple {
            out.append(simple)
            return
        }
        let width = e == "u" ? 4 : 8
        var value: UInt32 = 0
        var digits = ""
        for _ in 0..<width {
            guard let h = scanner.peek(), TOMLChars.isHexDigit(h), let d = UInt32(String(h), radix: 16) else {
                throw error("invalid Unicode escape '\\\(e)\(digits)': expected \(width) hex digits", at: start)
            }
            digits.unicodeScalars.append(h)
            value = value &* 16 &+ d
            scanner.advance()
        }
        guard let scalar = Unicode.Scalar(value) else {
            throw error("invalid Unicode escape '\\\(e)\(digits)': not a Unicode scalar value", at: start)
        }
        out.append(scalar)
    }
}
