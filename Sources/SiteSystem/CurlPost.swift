#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import VaultCore

/// https:// POSTs through the curl command. The URL and headers (which may carry tokens) go in
/// a config read from curl's standard input, the body in a 0600 temporary file: nothing secret
/// appears in curl's argv, which any local user can read.
enum CurlPost {
    /// `protocols` is curl's --proto value; only tests widen it (to reach a local http server).
    static func post(_ url: HTTPURL, body: [UInt8], headers: [(String, String)], timeout: Double,
                     searchPath: String?, protocols: String = "=https") throws -> (status: Int, body: String) {
        let path = searchPath ?? Spawner.currentEnvironment()["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        let curl: String
        do {
            curl = try Spawner.resolve("curl", searchPath: path)
        } catch {
            throw VaultError(.notFound, "cannot post to \(url.redacted): https URLs need the curl command, which was not found in PATH; install curl",
                             context: ["url": url.redacted])
        }
        let bodyFile = try writeTemporary(body)
        defer { unlink(bodyFile) }
        var config: [String] = [
            "url = \(quote(url.withoutFragment))",
            "proto = \(quote(protocols))",
            "request = \"POST\"",
            "data-binary = \(quote("@" + bodyFile))",
            "max-time = \(ProcessResult.number(timeout))",
            "connect-timeout = \(ProcessResult.number(timeout))",
            "user-agent = \"sitevault\"",
            "silent",
            "show-error",
            "write-out = \"\\n%{http_code}\"",
        ]
        for (name, value) in headers { config.append("header = \(quote("\(name): \(value)"))") }
        let command = Command([curl, "-q", "-K", "-"], timeout: timeout + 5)
        let result = try ProcessRunner().run(command, stdin: Array((config.joined(separator: "\n") + "\n").utf8))
        guard result.succeeded else {
            throw VaultError(.io, "cannot post to \(url.redacted): curl \(result.summary)", context: ["url": url.redacted])
        }
        var out = result.stdout
        guard let nl = out.lastIndex(of: 0x0a), let status = Int(String(decoding: out[(nl + 1)...], as: UTF8.self)),
              status > 0 else {
            throw VaultError(.io, "cannot post to \(url.redacted): curl gave no HTTP status", context: ["url": url.redacted])
        }
        out.removeSubrange(nl...)
        return (status, String(decoding: out, as: UTF8.self))
    }

    /// A curl config string: double-quoted, backslashes and quotes escaped.
    static func quote(_ s: String) -> String {
        var out = "\""
        for c in s.unicodeScalars {
            switch c {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\t": out += "\\t"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            default: out.unicodeScalars.append(c)
            }
        }
        return out + "\""
    }

    /// Writes `bytes` to a new file only we can read, in $TMPDIR or /tmp; returns its path.
    static func writeTemporary(_ bytes: [UInt8]) throws -> String {
        let dir = Spawner.currentEnvironment()["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        var template = Array("\(dir)/sitevault-post-XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        let path = String(cString: template)
        guard fd >= 0 else { throw VaultError.posix("cannot create a temporary file in", path: dir, errno: errno) }
        defer { close(fd) }
        fchmod(fd, 0o600)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 {
                if errno == EINTR { continue }
                let e = errno
                unlink(path)
                throw VaultError.posix("cannot write", path: path, errno: e)
            }
            offset += n
        }
        return path
    }
}
