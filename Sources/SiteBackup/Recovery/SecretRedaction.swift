import Foundation

/// Hides the values of settings that look secret (passwords, keys, tokens) in text shown to an
/// operator — a dry run's configuration diff — so that a terminal, a ticket or a log never
/// receives them. Recognised forms: `key = value`, `key: value`, `key => value`,
/// `$key = 'value';`, `define('KEY', 'value')`, `KEY=value` (environment files) and URLs with a
/// password (`scheme://user:password@host`). The key decides, the value is never looked at.
public enum SecretRedaction {
    public static let marker = "<redacted>"

    /// Words that make a key secret (matched case-insensitively inside the key's name).
    static let words = "pass(word|wd|phrase)?|pwd|secret|token|api[_-]?key|private[_-]?key|secret[_-]?key|access[_-]?key|"
        + "auth[_-]?key|credential|salt|cookie[_-]?key|session[_-]?key|encryption[_-]?key|signing[_-]?key|(^|[_.-])key$"

    private static let assignment = try! NSRegularExpression(
        pattern: #"^(\s*[\$"']?)([A-Za-z0-9_.\-\[\]'"]*?)(["']?\s*(=>|=|:)\s*)(.+?)(\s*[;,]?\s*)$"#)
    private static let define = try! NSRegularExpression(
        pattern: #"(define\s*\(\s*["']([^"']+)["']\s*,\s*)(["'][^"']*["'])"#, options: [.caseInsensitive])
    private static let secretKey = try! NSRegularExpression(pattern: words, options: [.caseInsensitive])
    private static let urlPassword = try! NSRegularExpression(pattern: #"([a-z][a-z0-9+.\-]*://[^:/@\s]+:)([^@\s]+)(@)"#, options: [.caseInsensitive])

    static func isSecret(_ key: String) -> Bool {
        let k = key.trimmingCharacters(in: CharacterSet(charactersIn: "$\"'[] "))
        return secretKey.firstMatch(in: k, range: NSRange(k.startIndex..., in: k)) != nil
    }

    /// One line with secret values replaced.
    public static func line(_ text: String) -> String {
        var s = text
        var range = NSRange(s.startIndex..., in: s)
        s = urlPassword.stringByReplacingMatches(in: s, range: range, withTemplate: "$1\(marker)$3")
        range = NSRange(s.startIndex..., in: s)
        if let m = define.firstMatch(in: s, range: range), let key = Range(m.range(at: 2), in: s), isSecret(String(s[key])),
           let value = Range(m.range(at: 3), in: s) {
            return s.replacingCharacters(in: value, with: "'\(marker)'")
        }
        if let m = assignment.firstMatch(in: s, range: range), let key = Range(m.range(at: 2), in: s), isSecret(String(s[key])),
           let value = Range(m.range(at: 5), in: s), !s[value].hasPrefix(marker) {
            return s.replacingCharacters(in: value, with: marker)
        }
        return s
    }

    /// A unified diff (or any text) with secret values replaced line by line; a diff line keeps
    /// its leading ' ', '+' or '-'.
    public static func text(_ text: String) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false).map { l -> String in
            if l.hasPrefix("+++") || l.hasPrefix("---") || l.hasPrefix("@@") { return String(l) }
            if let f = l.first, f == " " || f == "+" || f == "-" { return String(f) + line(String(l.dropFirst())) }
            return line(String(l))
        }.joined(separator: "\n")
    }
}
