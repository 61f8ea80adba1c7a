import VaultCore

/// Where a repository lives, parsed from the form restic uses for `--repo`:
/// - a path: `/srv/backup`, `./repo`, `repo`, `local:/srv/backup` (a colon after a slash stays in the path);
/// - S3: `s3:http://host:port/bucket/prefix` or `s3:https://host/bucket/prefix`;
/// - SFTP: `sftp:user@host:/path`, `sftp:host:path` or `sftp://user@host:port//absolute/path`.
public enum StoreLocation: Equatable, Sendable, CustomStringConvertible {
    case local(path: String)
    case s3(S3Location)
    case sftp(SFTPLocation)

    public struct S3Location: Equatable, Sendable {
        public var secure: Bool
        public var host: String
        public var port: Int?
        public var bucket: String
        /// The key prefix under which the repository lives, without leading or trailing slash ("" for the bucket root).
        public var prefix: String
    }

    public struct SFTPLocation: Equatable, Sendable {
        public var user: String?
        public var host: String
        public var port: Int?
        public var path: String
    }

    /// The forms accepted, for messages.
    public static let acceptedForms =
        "a folder path (/srv/backup, ./repo), s3:http://host:port/bucket/prefix, s3:https://host/bucket/prefix, or sftp:user@host:/path"

    public var description: String {
        switch self {
        case .local(let p): return p
        case .s3(let s):
            let port = s.port.map { ":\($0)" } ?? ""
            return "s3:\(s.secure ? "https" : "http")://\(s.host)\(port)/\(s.bucket)" + (s.prefix.isEmpty ? "" : "/\(s.prefix)")
        case .sftp(let s):
            return "sftp:" + (s.user.map { $0 + "@" } ?? "") + s.host + (s.port.map { ":\($0)" } ?? "") + ":" + s.path
        }
    }

    /// Parses a repository location. Throws `.invalidArgument`, naming the accepted forms, for an
    /// unknown scheme (`foo:bar`) or an incomplete one (`s3:` without a URL).
    public static func parse(_ text: String) throws -> StoreLocation {
        guard !text.isEmpty else { throw refuse(text, "it is empty") }
        guard let colon = text.firstIndex(of: ":"), !text[..<colon].contains("/") else { return .local(path: text) }
        let scheme = String(text[..<colon])
        let rest = String(text[text.index(after: colon)...])
        switch scheme {
        case "local":
            guard !rest.isEmpty else { throw refuse(text, "local: needs a path") }
            return .local(path: rest)
        case "s3": return .s3(try parseS3(rest, text))
        case "sftp": return .sftp(try parseSFTP(rest, text))
        default: throw refuse(text, "the scheme \"\(scheme):\" is unknown")
        }
    }

    static func refuse(_ text: String, _ why: String) -> VaultError {
        VaultError(.invalidArgument, "cannot use repository location \"\(text)\": \(why); give \(acceptedForms)",
                   context: ["location": text])
    }

    private static func parseS3(_ rest: String, _ text: String) throws -> S3Location {
        let secure: Bool
        let afterScheme: Substring
        if rest.hasPrefix("https://") { secure = true; afterScheme = rest.dropFirst(8) }
        else if rest.hasPrefix("http://") { secure = false; afterScheme = rest.dropFirst(7) }
        else { throw refuse(text, "s3: needs a URL starting with http:// or https://") }
        let parts = afterScheme.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        guard parts.count >= 2 else { throw refuse(text, "an S3 location needs a host and a bucket (s3:https://host/bucket)") }
        let (host, port) = try hostAndPort(parts[0], text)
        return S3Location(secure: secure, host: host, port: port, bucket: parts[1], prefix: parts.dropFirst(2).joined(separator: "/"))
    }

    private static func parseSFTP(_ rest: String, _ text: String) throws -> SFTPLocation {
        if rest.hasPrefix("//") {
            // sftp://[user@]host[:port]/path — the path is what follows the first slash after the authority.
            let body = rest.dropFirst(2)
            guard let slash = body.firstIndex(of: "/") else { throw refuse(text, "an sftp:// location needs a path") }
            let (user, hostPort) = splitUser(String(body[..<slash]))
            let (host, port) = try hostAndPort(hostPort, text)
            let path = String(body[body.index(after: slash)...])
            guard !path.isEmpty else { throw refuse(text, "an sftp:// location needs a path") }
            return SFTPLocation(user: user, host: host, port: port, path: path)
        }
        guard let colon = rest.firstIndex(of: ":") else { throw refuse(text, "an SFTP location needs host:path (sftp:user@host:/path)") }
        let (user, host) = splitUser(String(rest[..<colon]))
        let path = String(rest[rest.index(after: colon)...])
        guard !host.isEmpty, !path.isEmpty else { throw refuse(text, "an SFTP location needs a host and a path (sftp:user@host:/path)") }
        return SFTPLocation(user: user, host: host, port: nil, path: path)
    }

    private static func splitUser(_ s: String) -> (String?, String) {
        guard let at = s.lastIndex(of: "@") else { return (nil, s) }
        return (String(s[..<at]), String(s[s.index(after: at)...]))
    }

    private static func hostAndPort(_ s: String, _ text: String) throws -> (String, Int?) {
        guard let colon = s.lastIndex(of: ":"), !s.hasSuffix("]") else {
            guard !s.isEmpty else { throw refuse(text, "the host is missing") }
            return (s, nil)
        }
        let host = String(s[..<colon])
        guard !host.isEmpty, let port = Int(s[s.index(after: colon)...]), (1...65535).contains(port) else {
            throw refuse(text, "\"\(s)\" is not host:port with a port from 1 to 65535")
        }
        return (host, port)
    }
}
