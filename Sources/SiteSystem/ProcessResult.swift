#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import VaultCore

/// How a command ended, with its (bounded) output.
public struct ProcessResult: Sendable {
    /// The program name (`argv[0]`), for messages.
    public var command: String
    /// The exit status when the child exited normally; nil when a signal ended it.
    public var exitCode: Int32?
    /// The signal that ended the child, if one did.
    public var signal: Int32?
    /// The start of standard output (empty for streamed runs, whose output went to the callback).
    public var stdout: [UInt8]
    /// The end of standard error.
    public var stderr: [UInt8]
    /// True when more output was written than `stdout` keeps.
    public var stdoutTruncated: Bool
    /// True when more was written to standard error than `stderr` keeps (its beginning was dropped).
    public var stderrTruncated: Bool
    /// True when the run hit `Command.timeout` and the process group was killed.
    public var timedOut: Bool
    /// The time limit the command had.
    public var timeout: Double?
    /// Seconds from the start of the child until it was reaped and its output drained.
    public var duration: Double

    public init(command: String, exitCode: Int32?, signal: Int32?, stdout: [UInt8] = [], stderr: [UInt8] = [],
                stdoutTruncated: Bool = false, stderrTruncated: Bool = false, timedOut: Bool = false,
                timeout: Double? = nil, duration: Double = 0) {
        self.command = command; self.exitCode = exitCode; self.signal = signal
        self.stdout = stdout; self.stderr = stderr
        self.stdoutTruncated = stdoutTruncated; self.stderrTruncated = stderrTruncated
        self.timedOut = timedOut; self.timeout = timeout; self.duration = duration
    }

    /// True when the child exited with status 0 within its time limit.
    public var succeeded: Bool { exitCode == 0 && !timedOut }

    /// Standard output as text (invalid UTF-8 replaced), trimmed of surrounding whitespace.
    public var stdoutText: String { Self.text(stdout) }

    /// Standard error as text (invalid UTF-8 replaced), trimmed of surrounding whitespace.
    public var stderrText: String { Self.text(stderr) }

    /// One line saying how the command ended: "exited with status 2: <last stderr line>",
    /// "killed by signal 9", "timed out after 5 s".
    public var summary: String {
        var s: String
        if timedOut {
            s = "timed out after \(Self.seconds(timeout ?? duration))"
        } else if let signal {
            s = "killed by signal \(signal)"
            if let name = Self.signalNames[signal] { s += " (\(name))" }
        } else if let exitCode {
            s = "exited with status \(exitCode)"
        } else {
            s = "ended with an unknown status (reaped elsewhere)"
        }
        if let line = lastStderrLine { s += ": \(line)" }
        return s
    }

    /// Throws a VaultError naming the command and `summary` unless the command succeeded.
    @discardableResult
    public func check() throws -> ProcessResult {
        guard succeeded else {
            throw VaultError(.io, "'\(command)' \(summary)", context: ["command": command])
        }
        return self
    }

    /// The last non-empty line of standard error, at most 300 characters.
    var lastStderrLine: String? {
        guard let line = stderrText.split(whereSeparator: { $0.isNewline }).last else { return nil }
        let t = Self.trim(String(line))
        if t.isEmpty { return nil }
        return t.count > 300 ? String(t.prefix(300)) + "…" : t
    }

    static func text(_ bytes: [UInt8]) -> String { trim(String(decoding: bytes, as: UTF8.self)) }

    static func trim(_ s: String) -> String {
        let ws: (Character) -> Bool = { $0.isWhitespace }
        guard let first = s.firstIndex(where: { !ws($0) }), let last = s.lastIndex(where: { !ws($0) }) else { return "" }
        return String(s[first...last])
    }

    /// "5 s", "0.5 s".
    static func seconds(_ v: Double) -> String { "\(number(v)) s" }

    /// A number of seconds without a needless ".0".
    static func number(_ v: Double) -> String {
        v == v.rounded() && abs(v) < 1e15 ? "\(Int(v))" : "\(v)"
    }

    static let signalNames: [Int32: String] = [
        SIGHUP: "SIGHUP", SIGINT: "SIGINT", SIGQUIT: "SIGQUIT", SIGILL: "SIGILL", SIGABRT: "SIGABRT",
        SIGKILL: "SIGKILL", SIGSEGV: "SIGSEGV", SIGPIPE: "SIGPIPE", SIGALRM: "SIGALRM", SIGTERM: "SIGTERM",
        SIGBUS: "SIGBUS", SIGFPE: "SIGFPE", SIGUSR1: "SIGUSR1", SIGUSR2: "SIGUSR2", SIGXCPU: "SIGXCPU",
        SIGXFSZ: "SIGXFSZ",
    ]
}
