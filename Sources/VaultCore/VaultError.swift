/// The one error type of sitevault's libraries: a stable code, a message that says what to do,
/// an optional cause and context (repository, path, blob id…). Only the executable maps codes to
/// exit statuses and prints them.
public struct VaultError: Error, CustomStringConvertible, Sendable {
    public enum Code: String, Sendable {
        case repositoryNotFound, repositoryExists, unsupportedVersion, wrongPassword, locked
        case invalidArgument, notFound, io, noSpace, corrupt, partial, targetNotEmpty
        case unsafePath, cancelled, damaged, invalidFormat
        /// A failure that may pass if the operation is repeated (a storage timeout, 5xx, connection reset).
        case transient
    }
    public var code: Code
    public var message: String
    public var context: [String: String]
    public var cause: String?

    public init(_ code: Code, _ message: String, context: [String: String] = [:], cause: Error? = nil) {
        self.code = code
        self.message = message
        self.context = context
        self.cause = cause.map { "\($0)" }
    }

    /// The message and its cause, for a person: control characters (from file names, say) escaped.
    public var description: String { TerminalText.escape(exactDescription) }

    /// The message and its cause as they are, for JSON output.
    public var exactDescription: String {
        var s = message
        if let cause { s += " (cause: \(cause))" }
        return s
    }
}

extension VaultError {
    /// Builds an I/O error from an errno value, naming the operation and the path.
    public static func posix(_ op: String, path: String, errno e: Int32) -> VaultError {
        let reason = String(cString: strerror(e))
        let code: Code = (e == ENOSPC || e == EDQUOT) ? .noSpace : (e == ENOENT ? .notFound : .io)
        var msg = "\(op) \(path): \(reason)"
        if code == .noSpace { msg += "; free space on the destination and run again (nothing committed was lost)" }
        return VaultError(code, msg, context: ["path": path, "errno": String(e)])
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
