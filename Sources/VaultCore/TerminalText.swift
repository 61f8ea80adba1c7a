/// Text on its way to a person — a terminal, a log line, a status message — with every control
/// character made visible, so a name such as `esc\u{1B}[31mRED\nfake line` can neither colour the
/// terminal nor forge a line of its own. JSON output keeps the exact text instead (its encoder
/// escapes them already).
public enum TerminalText {
    /// `\n`, `\r`, `\t` and `\\x1b`-style escapes for C0 controls, DEL and C1 controls; `\u{2028}`-style
    /// escapes for the Unicode line and paragraph separators. Everything else is kept as it is.
    public static func escape(_ s: String) -> String {
        guard s.unicodeScalars.contains(where: needsEscape) else { return s }
        var out = String.UnicodeScalarView()
        for u in s.unicodeScalars {
            guard needsEscape(u) else { out.append(u); continue }
            let text: String
            switch u {
            case "\n": text = "\\n"
            case "\r": text = "\\r"
            case "\t": text = "\\t"
            default:
                let hex = String(u.value, radix: 16)
                text = u.value < 0x100 ? "\\x" + (hex.count < 2 ? "0" : "") + hex : "\\u{" + hex + "}"
            }
            out.append(contentsOf: text.unicodeScalars)
        }
        return String(out)
    }

    static func needsEscape(_ u: Unicode.Scalar) -> Bool {
        u.value < 0x20 || (0x7F...0x9F).contains(u.value) || u.value == 0x2028 || u.value == 0x2029
    }
}

extension String {
    /// This text with its control characters escaped (see `TerminalText.escape`).
    public var escapingControlCharacters: String { TerminalText.escape(self) }
}
