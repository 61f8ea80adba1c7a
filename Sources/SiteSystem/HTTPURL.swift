import VaultCore

/// An http or https URL split into what a request needs. Parsing never echoes the user-info
/// part (which may hold a password) in messages: use `redacted`.
struct HTTPURL {
    var scheme: String
    var host: String       // without the brackets of an IPv6 literal
    var port: Int
    var explicitPort: Bool
    var target: String     // path and query, as sent in the request line; starts with "/"
    var user: String?
    var password: String?
    /// The URL without user-info, query or fragment, for messages and logs.
    var redacted: String
    /// The URL as given, minus its fragment (which is never sent).
    var withoutFragment: String

    var isHTTPS: Bool { scheme == "https" }

    /// The Host header value: host, bracketed when IPv6, with the port when not the default.
    var hostHeader: String {
        let h = host.contains(":") ? "[\(host)]" : host
        return explicitPort && port != (isHTTPS ? 443 : 80) ? "\(h):\(port)" : h
    }

    /// host:port for connection messages.
    var endpoint: String { "\(host.contains(":") ? "[\(host)]" : host):\(port)" }

    init(_ text: String) throws {
        guard let sep = text.firstRange(of: "://") else {
            throw VaultError(.invalidArgument, "'\(Self.redact(text))' is not an http:// or https:// URL")
        }
        scheme = text[..<sep.lowerBound].lowercased()
        guard scheme == "http" || scheme == "https" else {
            throw VaultError(.invalidArgument, "unsupported URL scheme '\(scheme)' in \(Self.redact(text)): use http:// or https://")
        }
        if text.utf8.contains(where: { $0 <= 0x20 || $0 == 0x7f }) {
            throw VaultError(.invalidArgument, "the URL \(Self.redact(text)) contains spaces or control characters; percent-encode them")
        }
        withoutFragment = String(text.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)[0])
        let rest = withoutFragment[sep.upperBound...]
        let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? rest.endIndex
        var authority = rest[..<authorityEnd]
        let tail = String(rest[authorityEnd...])
        target = tail.isEmpty ? "/" : (tail.hasPrefix("?") ? "/" + tail : tail)
        if let at = authority.lastIndex(of: "@") {
            let info = authority[..<at]
            authority = authority[authority.index(after: at)...]
            if let colon = info.firstIndex(of: ":") {
                user = Self.percentDecode(info[..<colon])
                password = Self.percentDecode(info[info.index(after: colon)...])
            } else {
                user = Self.percentDecode(info)
            }
        }
        var portText: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else {
                throw VaultError(.invalidArgument, "bad IPv6 address in \(Self.redact(text))")
            }
            host = String(authority[authority.index(after: authority.startIndex)..<close])
            let after = authority[authority.index(after: close)...]
            if after.hasPrefix(":") { portText = after.dropFirst() } else if !after.isEmpty {
                throw VaultError(.invalidArgument, "bad host in \(Self.redact(text))")
            }
        } else if let colon = authority.lastIndex(of: ":") {
            host = String(authority[..<colon])
            portText = authority[authority.index(after: colon)...]
        } else {
            host = String(authority)
        }
        guard !host.isEmpty else { throw VaultError(.invalidArgument, "no host in \(Self.redact(text))") }
        if let portText {
            guard let p = Int(portText), (1...65535).contains(p) else {
                throw VaultError(.invalidArgument, "bad port '\(portText)' in \(Self.redact(text))")
            }
            port = p; explicitPort = true
        } else {
            port = scheme == "https" ? 443 : 80; explicitPort = false
        }
        redacted = Self.redact(text)
    }

    /// scheme://host[:port]/path of any URL-ish text: user-info, query and fragment removed.
    static func redact(_ text: String) -> String {
        let sep = text.firstRange(of: "://")
        let rest = sep.map { text[$0.upperBound...] } ?? text[...]
        let authorityEnd = rest.firstIndex(of: "/") ?? rest.endIndex
        var authority = rest[..<authorityEnd]
        if let at = authority.lastIndex(of: "@") { authority = authority[authority.index(after: at)...] }
        let kept = (authority + rest[authorityEnd...]).prefix { $0 != "?" && $0 != "#" }
        return (sep.map { text[..<$0.lowerBound].lowercased() + "://" } ?? "") + kept
    }

    static func percentDecode<S: StringProtocol>(_ s: S) -> String {
        var out: [UInt8] = []
        var bytes = Array(s.utf8)[...]
        while let b = bytes.popFirst() {
            if b == UInt8(ascii: "%"), bytes.count >= 2,
               let v = UInt8(String(decoding: bytes.prefix(2), as: UTF8.self), radix: 16) {
                out.append(v); bytes = bytes.dropFirst(2)
            } else {
                out.append(b)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
