import Foundation
import VaultCore
#if canImport(Glibc)
import Glibc
#endif

/// E-mail addresses as the control file accepts them: a bare addr-spec (`local@domain`, ASCII).
enum MailAddress {
    /// Why `address` is not accepted, or nil when it is.
    static func problem(_ address: String) -> String? {
        let atext = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+/=?^_`{|}~-".utf8)
        let parts = address.split(separator: "@", omittingEmptySubsequences: false)
        let hint = "write a plain address such as \"ops@example.com\" (no name, no angle brackets)"
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else { return "\"\(address)\" is not an e-mail address: \(hint)" }
        let local = parts[0], domain = parts[1]
        guard address.utf8.count <= 254, local.utf8.count <= 64 else { return "\"\(address)\" is too long for an e-mail address" }
        let atoms = local.split(separator: ".", omittingEmptySubsequences: false)
        guard atoms.allSatisfy({ !$0.isEmpty && $0.utf8.allSatisfy(atext.contains) }) else {
            return "\"\(address)\" has characters an address may not hold before the @: \(hint)"
        }
        let labelChars = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-".utf8)
        let labels = domain.split(separator: ".", omittingEmptySubsequences: false)
        guard labels.allSatisfy({ !$0.isEmpty && $0.utf8.count <= 63 && $0.utf8.allSatisfy(labelChars.contains)
                                  && $0.first != "-" && $0.last != "-" }) else {
            return "\"\(address)\" has an invalid domain after the @ (ASCII letters, digits, dots and hyphens; "
                + "write internationalised domains in their xn-- form)"
        }
        return nil
    }
}

/// The alert e-mail: an RFC 5322 message (UTF-8 text, quoted-printable) for `sendmail -t -oi`, which
/// reads the recipients from its To header. Every header value is made one line (control characters
/// become spaces) and RFC 2047-encoded when not plain ASCII, so no text of the alert can add a header.
struct AlertMail {
    var from: String
    var to: [String]
    var subject: String
    var date: Timestamp
    var messageID: String
    var body: String

    /// The message with LF line ends (the local convention sendmail expects).
    var text: String {
        // Many recipients: one per line (folded), keeping header lines short.
        let recipients = to.joined(separator: ", ").count > 70 ? to.joined(separator: ",\n ") : to.joined(separator: ", ")
        var h = ["From: " + from, "To: " + recipients, "Subject: " + Self.headerValue(subject),
                 "Date: " + Self.date(date), "Message-ID: <\(messageID)>", "MIME-Version: 1.0",
                 "Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: quoted-printable",
                 "Auto-Submitted: auto-generated"]
        h.append("")
        return h.joined(separator: "\n") + "\n" + Self.quotedPrintable(body)
    }

    /// One line of header text: control characters become spaces; non-ASCII text becomes RFC 2047
    /// encoded words (base64 of at most 39 bytes: lines under 78 characters, folded onto continuation lines).
    static func headerValue(_ value: String) -> String {
        let flat = String(String.UnicodeScalarView(value.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7f ? " " : $0 }))
        if flat.unicodeScalars.allSatisfy({ $0.isASCII }) && !flat.contains("=?") { return flat }
        var words: [String] = [], chunk: [UInt8] = []
        for ch in flat.unicodeScalars {
            let bytes = Array(String(ch).utf8)
            if chunk.count + bytes.count > 39 { words.append(encodedWord(chunk)); chunk = [] }
            chunk += bytes
        }
        if !chunk.isEmpty { words.append(encodedWord(chunk)) }
        return words.joined(separator: "\n ")
    }

    static func encodedWord(_ bytes: [UInt8]) -> String { "=?utf-8?B?" + Data(bytes).base64EncodedString() + "?=" }

    /// RFC 5322 date-time in UTC, e.g. `Wed, 02 Dec 2026 06:01:02 +0000`.
    static func date(_ t: Timestamp) -> String {
        let c = t.calendar(utc: true)
        let names = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        let clock = t.iso8601.split(separator: "T").last?.dropLast() ?? "00:00:00"
        return "\(names[c.weekDay % 7]), \(c.day < 10 ? "0" : "")\(c.day) \(months[c.month - 1]) \(c.year) \(clock) +0000"
    }

    /// Quoted-printable (RFC 2045): lines of at most 76 characters, trailing blanks encoded.
    static func quotedPrintable(_ text: String) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var out = ""
        for line in text.replacingOccurrences(of: "\r\n", with: "\n").split(separator: "\n", omittingEmptySubsequences: false) {
            let bytes = Array(line.utf8)
            var current: [UInt8] = []
            for (i, b) in bytes.enumerated() {
                let last = i == bytes.count - 1
                let literal = (b >= 33 && b <= 126 && b != UInt8(ascii: "=")) || ((b == 32 || b == 9) && !last)
                let piece: [UInt8] = literal ? [b] : [UInt8(ascii: "="), hex[Int(b >> 4)], hex[Int(b & 15)]]
                if current.count + piece.count > 75 {
                    out += String(decoding: current, as: UTF8.self) + "=\n"
                    current = []
                }
                current += piece
            }
            out += String(decoding: current, as: UTF8.self) + "\n"
        }
        return out
    }
}

extension AlertMail {
    /// The alert e-mail of `body`: what happened, the run, the snapshot, the run's status messages and
    /// the command to look further.
    static func make(config: SiteConfig, body b: Alerts.Body, time: Timestamp, messages: [StatusMessage]) -> AlertMail {
        var lines = ["Site \(b.site) on \(b.host): \(b.result)", "", TerminalText.escape(b.text), ""]
        if let f = b.failure { lines.append("Failure:  \(f)") }
        lines.append("Run:      \(b.run_id)")
        lines.append("Snapshot: \(b.snapshot ?? "none")")
        lines.append("Time:     \(b.time)")
        for c in b.components where c["result"] != "succeeded" && c["result"] != "ok" && c["result"] != "passed" {
            let msg = c["message"].map { $0.isEmpty ? "" : ": " + TerminalText.escape($0) } ?? ""
            lines.append("Component \(TerminalText.escape(c["name"] ?? "?")): \(c["result"] ?? "?")\(msg)")
        }
        let own = messages.filter { $0.runID == b.run_id }
        if !own.isEmpty {
            lines += ["", "Status messages of the run:"]
            lines += own.map { m in
                "  \(m.time.iso8601) \(m.id) \(m.severity.rawValue)" + (m.component.map { " \(TerminalText.escape($0)):" } ?? "")
                    + " " + TerminalText.escape(m.text)
            }
        }
        lines += ["", "To look further:", "  sitevault site messages --run \(b.run_id) --site \(config.file)"]
        let random = (0..<6).map { _ in String(UInt8.random(in: 0...255), radix: 16) }.joined()
        let host = b.host.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || "0123456789.-".unicodeScalars.contains($0)) }
            ? b.host : "localhost"
        return AlertMail(from: config.alerts.emailFrom ?? "sitevault@\(host)", to: config.alerts.email,
                         subject: "[sitevault] \(b.site): \(b.result) on \(b.host)",
                         date: time, messageID: "\(b.run_id).\(random)@\(host)",
                         body: lines.joined(separator: "\n"))
    }
}
