#if canImport(Glibc)
import Glibc
#endif
import VaultCore

/// Where status messages go besides the store: stderr, in a form journald understands
/// (`<priority>` prefixes) when stderr is not a terminal.
public struct MessageEcho: Sendable {
    public var enabled = true
    /// Show info messages too (warnings and errors are always shown).
    public var verbose = true
    public var journald = isatty(2) == 0
    public init(enabled: Bool = true, verbose: Bool = true) { self.enabled = enabled; self.verbose = verbose }
}

/// Emits a run's status messages: each is committed to the status store, echoed to stderr and
/// kept for the run log, all with the same timestamp so the three always agree.
public final class RunRecorder: @unchecked Sendable {
    // @unchecked: mutable state is guarded by `mutex`.
    public let site: String
    public let runID: String
    let store: StatusStore?
    let clock: VaultClock
    let echo: MessageEcho
    let utc: Bool
    private let mutex = Mutex()
    private var _messages: [StatusMessage] = []
    private var storeFailed = false

    public init(site: String, runID: String, store: StatusStore?, clock: VaultClock, echo: MessageEcho, utc: Bool) {
        self.site = site; self.runID = runID; self.store = store; self.clock = clock; self.echo = echo; self.utc = utc
    }

    public var messages: [StatusMessage] { mutex.withLock { _messages } }

    @discardableResult
    public func emit(_ id: MessageID, component: String? = nil, _ text: String, at time: Timestamp? = nil) -> StatusMessage {
        let m = StatusMessage(time: time ?? clock.now(), id: id.rawValue, severity: id.severity, site: site, runID: runID,
                              component: component, text: text)
        mutex.withLock { _messages.append(m) }
        do { try store?.add(m) } catch {
            // The run goes on (the backup matters more than its bookkeeping), but say so once.
            let first = mutex.withLock { () -> Bool in defer { storeFailed = true }; return !storeFailed }
            if first { writeStderr("<3>sitevault[\(site)]: cannot record status messages: \(error)\n") }
        }
        if echo.enabled && (echo.verbose || m.severity != .info) { writeStderr(format(m, journald: echo.journald) + "\n") }
        return m
    }

    /// The stderr line of a message. Texts embed file names and command output: they are stored as
    /// they are (JSON shows them exactly) and escaped here and in the run log, one line per message.
    func format(_ m: StatusMessage, journald: Bool) -> String {
        let comp = m.component.map { "\(TerminalText.escape($0)): " } ?? ""
        let text = TerminalText.escape(m.text)
        if journald { return "<\(m.severity.priority)>sitevault[\(TerminalText.escape(site))] \(m.id) \(comp)\(text)" }
        return "\(TimeText.clock(m.time, utc: utc)) \(m.id) \(m.severity == .info ? "" : m.severity.rawValue.uppercased() + ": ")\(comp)\(text)"
    }

    /// The run log: a readable line per message, with the time in the site's time zone.
    public func logText(header: [String]) -> String {
        var out = header.map(TerminalText.escape).joined(separator: "\n") + "\n\n"
        for m in messages {
            let comp = m.component.map { " [\(TerminalText.escape($0))]" } ?? ""
            out += "\(TimeText.full(m.time, utc: utc))  \(m.id)  \(m.severity.rawValue.uppercased())\(comp)  \(TerminalText.escape(m.text))\n"
        }
        return out
    }
}

/// Writes one line (`s` ends with its newline) to standard error, control characters escaped.
func writeStderr(_ s: String) {
    let line = s.hasSuffix("\n") ? String(s.dropLast()) : s
    var bytes = Array((TerminalText.escape(line) + "\n").utf8)
    var off = 0
    while off < bytes.count {
        let n = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress! + off, $0.count - off) }
        if n <= 0 { if errno == EINTR { continue }; return }
        off += n
    }
}

/// Times as operators read them, in UTC or local time (the site's `time_zone`).
public enum TimeText {
    static func fields(_ t: Timestamp, utc: Bool) -> (tm, Int) {
        var secs = time_t(t.nanoseconds / 1_000_000_000)
        var tmv = tm()
        if utc { gmtime_r(&secs, &tmv) } else { localtime_r(&secs, &tmv) }
        return (tmv, utc ? 0 : Int(tmv.tm_gmtoff))
    }

    static func p(_ v: Int32, _ w: Int = 2) -> String { let s = String(v); return String(repeating: "0", count: max(0, w - s.count)) + s }

    /// e.g. 2026-11-25T21:04:05+01:00, or …Z in UTC.
    public static func full(_ t: Timestamp, utc: Bool) -> String {
        let (tmv, off) = fields(t, utc: utc)
        let zone: String
        if utc { zone = "Z" } else {
            let a = abs(off) / 60
            zone = (off < 0 ? "-" : "+") + p(Int32(a / 60)) + ":" + p(Int32(a % 60))
        }
        return "\(p(tmv.tm_year + 1900, 4))-\(p(tmv.tm_mon + 1))-\(p(tmv.tm_mday))T\(p(tmv.tm_hour)):\(p(tmv.tm_min)):\(p(tmv.tm_sec))\(zone)"
    }

    public static func clock(_ t: Timestamp, utc: Bool) -> String {
        let (tmv, _) = fields(t, utc: utc)
        return "\(p(tmv.tm_hour)):\(p(tmv.tm_min)):\(p(tmv.tm_sec))"
    }

    /// A file-name-safe UTC stamp, e.g. 20261125T210405Z.
    public static func compact(_ t: Timestamp) -> String {
        let (tmv, _) = fields(t, utc: true)
        return "\(p(tmv.tm_year + 1900, 4))\(p(tmv.tm_mon + 1))\(p(tmv.tm_mday))T\(p(tmv.tm_hour))\(p(tmv.tm_min))\(p(tmv.tm_sec))Z"
    }

    /// "3 h 12 min", "45 s", "2 d 4 h".
    public static func age(_ seconds: Double) -> String {
        let s = Int(seconds)
        if s < 60 { return "\(s) s" }
        if s < 3600 { return "\(s / 60) min" }
        if s < 86400 { return "\(s / 3600) h \(s % 3600 / 60) min" }
        return "\(s / 86400) d \(s % 86400 / 3600) h"
    }
}
