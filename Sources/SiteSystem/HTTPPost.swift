import VaultCore

/// Posts JSON to webhooks (alerts, monitoring pings).
public enum HTTPPost {
    /// POSTs `body` as JSON to `url` and returns the status and body of the response (at most
    /// 1 MiB, decoded as UTF-8 with invalid bytes replaced). A non-2xx status is returned, not
    /// thrown: the caller decides.
    ///
    /// `http://` is spoken natively over a socket (IPv4 or IPv6, one `timeout` for connecting,
    /// sending and receiving; name resolution is not bounded). `https://` runs the `curl` command
    /// found in `PATH`, with the URL, headers and body kept out of its argv.
    ///
    /// User-info in the URL (`https://user:pass@host/`) becomes HTTP basic authentication.
    /// `headers` may replace Content-Type; Host, Content-Length and Connection are always ours.
    /// Throws a VaultError naming the URL without its user-info or query when the URL or a header
    /// is invalid, the host cannot be reached, the exchange times out, or curl is missing.
    public static func postJSON(url: String, body: [UInt8], headers: [String: String] = [:],
                                timeout: Double) throws -> (status: Int, body: String) {
        try postJSON(url: url, body: body, headers: headers, timeout: timeout, curlSearchPath: nil)
    }

    /// `postJSON`, looking curl up in `curlSearchPath` instead of `PATH` when given (for tests).
    static func postJSON(url text: String, body: [UInt8], headers: [String: String] = [:], timeout: Double,
                         curlSearchPath: String?) throws -> (status: Int, body: String) {
        let url = try HTTPURL(text)
        guard timeout > 0, timeout.isFinite else {
            throw VaultError(.invalidArgument, "the timeout to post to \(url.redacted) must be positive")
        }
        let extra = try checkedHeaders(headers, url: url)
        if url.isHTTPS {
            return try CurlPost.post(url, body: body, headers: extra, timeout: timeout, searchPath: curlSearchPath)
        }
        var lines = ["POST \(url.target) HTTP/1.1", "Host: \(url.hostHeader)", "User-Agent: sitevault",
                     "Content-Length: \(body.count)", "Connection: close"]
        if let user = url.user {
            lines.append("Authorization: Basic \(base64(Array("\(user):\(url.password ?? "")".utf8)))")
        }
        lines += extra.map { "\($0): \($1)" }
        let request = Array((lines.joined(separator: "\r\n") + "\r\n\r\n").utf8) + body
        let (status, responseBody) = try PlainHTTPClient.post(url, request: request, timeout: timeout)
        return (status, String(decoding: responseBody, as: UTF8.self))
    }

    /// The caller's headers, validated, with Content-Type defaulted and the framing ones removed.
    static func checkedHeaders(_ headers: [String: String], url: HTTPURL) throws -> [(String, String)] {
        let reserved: Set<String> = ["host", "content-length", "connection", "transfer-encoding"]
        var out: [(String, String)] = []
        var hasContentType = false
        for name in headers.keys.sorted() {
            let value = headers[name]!
            let tokenChars = Set("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ".utf8)
            guard !name.isEmpty, name.utf8.allSatisfy({ tokenChars.contains($0) }) else {
                throw VaultError(.invalidArgument, "invalid HTTP header name '\(name)' for \(url.redacted)")
            }
            guard !value.utf8.contains(where: { $0 == 0x0d || $0 == 0x0a || $0 == 0 }) else {
                throw VaultError(.invalidArgument, "the HTTP header '\(name)' for \(url.redacted) contains a line break")
            }
            let lower = name.lowercased()
            if reserved.contains(lower) { continue }
            if lower == "content-type" { hasContentType = true }
            out.append((name, value))
        }
        if !hasContentType { out.insert(("Content-Type", "application/json"), at: 0) }
        return out
    }

    static func base64(_ bytes: [UInt8]) -> String {
        let table = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        var out: [UInt8] = []
        var i = 0
        while i < bytes.count {
            let n = min(3, bytes.count - i)
            let b0 = UInt32(bytes[i]), b1 = n > 1 ? UInt32(bytes[i + 1]) : 0, b2 = n > 2 ? UInt32(bytes[i + 2]) : 0
            let v = b0 << 16 | b1 << 8 | b2
            out.append(table[Int(v >> 18 & 63)])
            out.append(table[Int(v >> 12 & 63)])
            out.append(n > 1 ? table[Int(v >> 6 & 63)] : UInt8(ascii: "="))
            out.append(n > 2 ? table[Int(v & 63)] : UInt8(ascii: "="))
            i += 3
        }
        return String(decoding: out, as: UTF8.self)
    }
}
