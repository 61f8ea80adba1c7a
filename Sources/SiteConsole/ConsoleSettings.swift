#if canImport(Glibc)
import Glibc
#endif
import Foundation
import SiteBackup
import SiteService
import VaultCore

/// How the console listens and where it keeps its users and token: read once by the executable.
public struct ConsoleSettings: Sendable {
    public var host = "127.0.0.1"
    public var port = 8080
    /// The console's own state folder: `users.json` and `metrics.token`.
    public var stateDir: String
    public var clock: VaultClock = SystemClock()
    /// Failed logins from one address before it is refused, and for how long (seconds).
    public var loginAttempts = 5
    public var loginLockout: Double = 300
    /// Dashboard reload period while a run is in progress or queued (seconds).
    public var refreshSeconds = 3
    /// Serve HTTPS with this certificate and key (`--tls-cert`, `--tls-key`); nil: plain HTTP.
    /// Setting it also marks the cookies Secure.
    public var tls: ConsoleTLS? { didSet { secureCookies = tls != nil } }
    /// Cookies marked Secure (set when the console is served over TLS).
    public var secureCookies = false

    public init(stateDir: String) { self.stateDir = stateDir }

    /// The default state folder: /var/lib/sitevault/console as root, else under XDG_STATE_HOME or
    /// ~/.local/state (like the sites' state folders).
    public static func defaultStateDir(env: [String: String]) -> String {
        if geteuid() == 0 { return "/var/lib/sitevault/console" }
        if let x = env["XDG_STATE_HOME"], !x.isEmpty { return x + "/sitevault/console" }
        return (env["HOME"] ?? "/tmp") + "/.local/state/sitevault/console"
    }

    /// Parses HOST:PORT (`[::1]:8080` for IPv6; a bare port means 127.0.0.1).
    public static func parseListen(_ text: String) throws -> (host: String, port: Int) {
        var host = "127.0.0.1", portText = text
        if let colon = text.lastIndex(of: ":") {
            host = String(text[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
            portText = String(text[text.index(after: colon)...])
        }
        guard let port = Int(portText), (0...65535).contains(port), !host.isEmpty else {
            throw VaultError(.invalidArgument, "--listen \(text): give HOST:PORT, e.g. 127.0.0.1:8080")
        }
        return (host, port)
    }

    /// Whether the address is this machine only (then /metrics needs no token).
    public var isLoopback: Bool { host == "localhost" || host.hasPrefix("127.") || host == "::1" }

    /// The warning for a console reachable from other machines over plain HTTP, nil otherwise.
    public var plainTextWarning: String? {
        guard !isLoopback, tls == nil else { return nil }
        return "warning: the console listens on \(host), reachable from other machines, without TLS: passwords and session "
            + "cookies would cross the network in clear; give --tls-cert and --tls-key, or listen on 127.0.0.1 behind a "
            + "reverse proxy with TLS"
    }

    /// The bearer token for /metrics from a non-loopback address (`metrics.token`), nil without one.
    func metricsToken() -> String? {
        guard let d = FileManager.default.contents(atPath: stateDir + "/metrics.token") else { return nil }
        let t = String(decoding: d, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return t.isEmpty ? nil : t
    }
}

/// What the console reads and asks of the service (`BackupService` in the service process).
public protocol ConsoleSource: Sendable {
    func state() -> [ServiceSiteState]
    func request(site: String, _ kind: ServiceWorkKind, by: String) -> Bool
    func acknowledgeAlarm(site: String, by: String) -> Bool
}

extension BackupService: ConsoleSource {}
