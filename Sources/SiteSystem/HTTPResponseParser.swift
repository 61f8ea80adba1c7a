import VaultCore

/// Parses an HTTP/1.x response: status line, headers, then a body framed by Content-Length,
/// chunked transfer coding, or the end of the connection.
enum HTTPResponseParser {
    /// The status and body once `data` holds a whole response; nil when more is needed.
    /// At end of input a response with a short body is returned as it is.
    static func parse(_ data: ArraySlice<UInt8>, atEOF: Bool) throws -> (status: Int, body: [UInt8])? {
        guard let (headEnd, bodyStart) = findHeadEnd(data) else {
            if atEOF { throw VaultError(.invalidFormat, data.isEmpty ? "the server closed the connection without a response" : "the server sent a malformed HTTP response") }
            return nil
        }
        let head = String(decoding: data[data.startIndex..<headEnd], as: UTF8.self)
        let lines = head.split(whereSeparator: { $0.isNewline })
        let parts = lines.first?.split(separator: " ", maxSplits: 2) ?? []
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/"), let status = Int(parts[1]), (100...999).contains(status) else {
            throw VaultError(.invalidFormat, "the server sent a malformed HTTP status line: \(String(lines.first?.prefix(80) ?? ""))")
        }
        let rest = data[bodyStart...]
        if (100...199).contains(status) && status != 101 {
            return try parse(rest, atEOF: atEOF)  // an interim response: the real one follows.
        }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = line[..<colon].lowercased()
            let value = ProcessResult.trim(String(line[line.index(after: colon)...]))
            headers[name] = headers[name].map { "\($0), \(value)" } ?? value
        }
        if status == 204 || status == 304 { return (status, []) }
        if let te = headers["transfer-encoding"], te.lowercased().contains("chunked") {
            guard let body = try dechunk(rest, atEOF: atEOF) else { return nil }
            return (status, body)
        }
        if let cl = headers["content-length"], let length = Int(cl.split(separator: ",").first.map { ProcessResult.trim(String($0)) } ?? "") {
            if rest.count >= length { return (status, Array(rest.prefix(length))) }
            return atEOF ? (status, Array(rest)) : nil
        }
        return atEOF ? (status, Array(rest)) : nil
    }

    /// The end of the header block and the start of the body.
    static func findHeadEnd(_ d: ArraySlice<UInt8>) -> (Int, Int)? {
        var i = d.startIndex
        while i < d.endIndex {
            if d[i] == 0x0a {
                if i + 1 < d.endIndex && d[i + 1] == 0x0a { return (i, i + 2) }
                if i + 2 < d.endIndex && d[i + 1] == 0x0d && d[i + 2] == 0x0a { return (i, i + 3) }
            }
            i += 1
        }
        return nil
    }

    /// Decodes a chunked body; nil when incomplete and more may come.
    static func dechunk(_ d: ArraySlice<UInt8>, atEOF: Bool) throws -> [UInt8]? {
        var out: [UInt8] = []
        var i = d.startIndex
        while true {
            guard let lf = d[i...].firstIndex(of: 0x0a) else { return atEOF ? out : nil }
            let sizeText = String(decoding: d[i..<lf], as: UTF8.self).split(separator: ";").first.map { ProcessResult.trim(String($0)) } ?? ""
            guard let size = Int(sizeText, radix: 16), size >= 0 else {
                throw VaultError(.invalidFormat, "the server sent a malformed chunked body")
            }
            if size == 0 { return out }
            let start = lf + 1
            guard d.endIndex - start >= size else {
                if atEOF { out += d[start...]; return out }
                return nil
            }
            out += d[start..<start + size]
            i = start + size
            // Skip the CRLF after the chunk data.
            if i < d.endIndex && d[i] == 0x0d { i += 1 }
            if i < d.endIndex && d[i] == 0x0a { i += 1 }
            if i >= d.endIndex { return atEOF ? out : nil }
        }
    }
}
