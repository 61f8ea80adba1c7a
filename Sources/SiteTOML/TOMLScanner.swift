/// A cursor over the Unicode scalars of a document that tracks line and column.
struct TOMLScanner {
    private let scalars: [Unicode.Scalar]
    private(set) var index = 0
    private(set) var line = 1
    private(set) var column = 1

    init(_ text: String) {
        scalars = Array(text.unicodeScalars)
        if scalars.first == "\u{FEFF}" { index = 1 }
    }

    var position: TOMLPosition { TOMLPosition(line: line, column: column) }
    var isAtEnd: Bool { index >= scalars.count }

    /// The scalar `offset` places ahead, or `nil` past the end.
    func peek(_ offset: Int = 0) -> Unicode.Scalar? {
        let i = index + offset
        return i < scalars.count ? scalars[i] : nil
    }

    /// Whether the upcoming scalars spell `text`.
    func hasPrefix(_ text: String) -> Bool {
        var i = index
        for s in text.unicodeScalars {
            guard i < scalars.count, scalars[i] == s else { return false }
            i += 1
        }
        return true
    }

    /// Counts how many times `s` repeats starting at the cursor.
    func run(of s: Unicode.Scalar) -> Int {
        var n = 0
        while peek(n) == s { n += 1 }
        return n
    }

    mutating func advance(_ count: Int = 1) {
        for _ in 0..<count {
            guard index < scalars.count else { return }
            if scalars[index] == "\n" {
                line += 1
                column = 1
            } else {
                column += 1
            }
            index += 1
        }
    }

    /// Skips spaces and tabs.
    mutating func skipWhitespace() {
        while let c = peek(), c == " " || c == "\t" { advance() }
    }

    /// Whether the cursor is at LF or CRLF.
    var atNewline: Bool {
        peek() == "\n" || (peek() == "\r" && peek(1) == "\n")
    }

    /// Consumes LF or CRLF; returns whether one was consumed.
    mutating func consumeNewline() -> Bool {
        if peek() == "\n" {
            advance()
            return true
        }
        if peek() == "\r" && peek(1) == "\n" {
            advance(2)
            return true
        }
        return false
    }
}

/// Character classes and descriptions shared by the parser.
enum TOMLChars {
    static func isBareKey(_ c: Unicode.Scalar) -> Bool {
        switch c {
        case "A"..."Z", "a"..."z", "0"..."9", "_", "-": return true
        default: return false
        }
    }

    static func isLetter(_ c: Unicode.Scalar) -> Bool { ("a"..."z").contains(c) || ("A"..."Z").contains(c) }

    static func isDigit(_ c: Unicode.Scalar) -> Bool { ("0"..."9").contains(c) }

    static func isHexDigit(_ c: Unicode.Scalar) -> Bool {
        switch c {
        case "0"..."9", "a"..."f", "A"..."F": return true
        default: return false
        }
    }

    /// Control characters forbidden in strings and comments (tab is allowed;
    /// newlines are handled separately by callers).
    static func isControl(_ c: Unicode.Scalar) -> Bool {
        (c.value < 0x20 && c != "\t") || c.value == 0x7F
    }

    /// `U+001F` style code point text.
    static func codePoint(_ c: Unicode.Scalar) -> String {
        let hex = String(c.value, radix: 16, uppercase: true)
        return "U+" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
    }

    /// Human-readable description of a found character, for error messages.
    static func describe(_ c: Unicode.Scalar?) -> String {
        guard let c else { return "end of file" }
        switch c {
        case "\n": return "end of line"
        case "\r": return "carriage return (U+000D)"
        case "\t": return "tab"
        case " ": return "space"
        default:
            if c.value < 0x20 || (0x7F...0x9F).contains(c.value) || c.properties.generalCategory == .format {
                return codePoint(c)
            }
            return "'\(c)'"
        }
    }

    /// Renders a key path for messages, quoting parts that are not bare keys.
    static func keyPath<S: Sequence>(_ parts: S) -> String where S.Element == String {
        parts.map { part in
            if !part.isEmpty && part.unicodeScalars.allSatisfy(isBareKey) { return part }
            var quoted = "\""
            for s in part.unicodeScalars {
                switch s {
                case "\"": quoted += "\\\""
                case "\\": quoted += "\\\\"
                default:
                    if isControl(s) || s == "\n" { quoted += "\\u" + codePoint(s).dropFirst(2) } else { quoted.unicodeScalars.append(s) }
                }
            }
            return quoted + "\""
        }.joined(separator: ".")
    }
}
