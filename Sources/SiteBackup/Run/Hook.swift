#if canImport(Glibc)
import Glibc
#endif
import Foundation
import SiteSystem
import VaultCore

/// The after-backup hook: a script run after a successful run only, with the snapshot in its
/// environment. It runs only if owned by root or by the user running sitevault, and not writable
/// by group or others; a hook that is not there is silently skipped.
enum Hook {
    enum State { case none, allowed(String), refused(String) }

    static func check(_ path: String?) -> State {
        guard let path else { return .none }
        var st = stat()
        guard lstat(path, &st) == 0 else { return .none }
        if st.st_mode & S_IFMT == S_IFLNK {
            return .refused("after-backup hook \(path) is a symbolic link: point after_backup at the script itself")
        }
        guard st.st_mode & S_IFMT == S_IFREG else { return .refused("after-backup hook \(path) is not a regular file") }
        guard st.st_uid == 0 || st.st_uid == geteuid() else {
            return .refused("after-backup hook \(path) is owned by uid \(st.st_uid), not by root or the service user (uid \(geteuid())): it was not run")
        }
        guard st.st_mode & 0o022 == 0 else {
            return .refused("after-backup hook \(path) is writable by \(st.st_mode & 0o002 != 0 ? "others" : "its group") (mode \(String(st.st_mode & 0o7777, radix: 8))): it was not run; chmod go-w it")
        }
        guard access(path, X_OK) == 0 else { return .refused("after-backup hook \(path) is not executable: chmod u+x it") }
        return .allowed(path)
    }

    /// Runs the hook; returns "ok" or "failed".
    static func run(_ path: String, report: RunReport, config: SiteConfig, recorder: RunRecorder, timeout: Double) -> String {
        recorder.emit(.hookStarted, "after-backup hook \(path) started")
        let summary = report.components.map { ["name": $0.name, "kind": $0.kind.rawValue, "result": $0.result, "bytes": "\($0.bytes)"] }
        let env: [String: String] = [
            "SITEVAULT_SITE": config.site,
            "SITEVAULT_RUN_ID": report.runID,
            "SITEVAULT_SNAPSHOT": report.snapshot ?? "",
            "SITEVAULT_SNAPSHOTS": report.snapshots.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ","),
            "SITEVAULT_REPOSITORY": config.mainDestination.path,
            "SITEVAULT_CONTROL_FILE": config.file,
            "SITEVAULT_FREEZE_SECONDS": "\(report.freezeWindowSeconds)",
            "SITEVAULT_SUMMARY": String(decoding: (try? JSONSerialization.data(withJSONObject: summary, options: [.sortedKeys])) ?? Data(), as: UTF8.self),
        ]
        do {
            let r = try ProcessRunner().run(Command([path], extraEnvironment: env, timeout: timeout))
            if r.succeeded {
                recorder.emit(.hookSucceeded, "after-backup hook exited 0 in \(formatSeconds(r.duration))")
                return "ok"
            }
            recorder.emit(.hookFailed, "after-backup hook \(r.summary); the snapshot is committed")
        } catch {
            recorder.emit(.hookFailed, "after-backup hook could not run: \((error as? VaultError)?.message ?? "\(error)")")
        }
        return "failed"
    }
}

/// Failure (and optionally success) alerts: a command, fed the alert as JSON on stdin and in its
/// environment, and/or a JSON POST to a webhook.
public enum Alerts {
    struct Body: Codable {
        var site: String
        var host: String
        var run_id: String
        var result: String
        var failure: String?
        var message_id: Int
        var severity: String
        var time: String
        var text: String
        var snapshot: String?
        var components: [[String: String]]
        var hook: String?
        var copies: [[String: String]]?
    }

    static func body(_ report: RunReport, _ m: StatusMessage) -> [UInt8] {
        let b = Body(site: report.site, host: report.hostname, run_id: report.runID, result: report.result,
                     failure: report.failure?.rawValue, message_id: m.id, severity: m.severity.rawValue, time: m.time.iso8601,
                     text: m.text, snapshot: report.snapshot,
                     components: report.components.map { ["name": $0.name, "result": $0.result, "message": $0.message ?? ""] },
                     hook: report.hook,
                     copies: report.copies?.map { ["target": $0.target, "result": $0.result, "message": $0.message ?? ""] })
        return Array((try? JSONEncoder.sorted.encode(b)) ?? Data())
    }

    static func shouldAlert(_ report: RunReport, config: AlertConfig) -> Bool {
        if report.result != "succeeded" { return true }
        if report.hook == "failed" || report.hook == "refused" { return true }
        if report.copies?.contains(where: { $0.result != "ok" }) == true { return true }
        return config.onSuccess
    }

    public static func send(config: SiteConfig, report: RunReport, message: StatusMessage, recorder: RunRecorder) {
        guard shouldAlert(report, config: config.alerts) else { return }
        deliver(config.alerts, body: body(report, message), result: report.result, runID: report.runID, message: message, recorder: recorder)
    }

    /// A failed drill alerts like a failed backup (result "drill-failed"); a passed one only with on_success.
    public static func send(config: SiteConfig, drill: DrillReport, message: StatusMessage, recorder: RunRecorder) {
        guard drill.result != "passed" || config.alerts.onSuccess else { return }
        let b = Body(site: drill.site, host: drill.hostname, run_id: drill.runID, result: "drill-\(drill.result)", failure: drill.failure,
                     message_id: message.id, severity: message.severity.rawValue, time: message.time.iso8601, text: message.text,
                     snapshot: drill.snapshot,
                     components: drill.steps.map { ["name": $0.component ?? "", "step": $0.name, "result": $0.result, "message": $0.detail] },
                     hook: nil)
        deliver(config.alerts, body: Array((try? JSONEncoder.sorted.encode(b)) ?? Data()), result: "drill-\(drill.result)", runID: drill.runID,
                message: message, recorder: recorder)
    }

    static func deliver(_ a: AlertConfig, body data: [UInt8], result: String, runID: String, message: StatusMessage, recorder: RunRecorder) {
        guard a.isConfigured else { return }
        if let argv = a.command {
            let env = ["SITEVAULT_SITE": message.site, "SITEVAULT_RESULT": result, "SITEVAULT_MESSAGE_ID": "\(message.id)",
                       "SITEVAULT_MESSAGE": TerminalText.escape(message.text), "SITEVAULT_RUN_ID": runID]
            do {
                let r = try ProcessRunner().run(Command(argv, extraEnvironment: env, timeout: a.timeout), stdin: data)
                if r.succeeded { recorder.emit(.alertSent, "alert command \(argv[0]) notified (\(result))") } else {
                    recorder.emit(.alertFailed, "alert command \(argv.joined(separator: " ")) \(r.summary)")
                }
            } catch { recorder.emit(.alertFailed, "alert command \(argv[0]) could not run: \((error as? VaultError)?.message ?? "\(error)")") }
        }
        if let url = a.webhook {
            let shown = redactURL(url)
            do {
                let r = try HTTPPost.postJSON(url: url, body: data, timeout: a.timeout)
                if (200..<300).contains(r.status) { recorder.emit(.alertSent, "webhook \(shown) answered \(r.status)") } else {
                    recorder.emit(.alertFailed, "webhook \(shown) answered \(r.status): \(r.body.prefix(200))")
                }
            } catch { recorder.emit(.alertFailed, "webhook \(shown): \((error as? VaultError)?.message ?? "\(error)")") }
        }
    }

    /// A URL without user, password or query (they may carry secrets).
    static func redactURL(_ url: String) -> String {
        guard let schemeEnd = url.range(of: "://") else { return url }
        var rest = String(url[schemeEnd.upperBound...])
        if let at = rest.firstIndex(of: "@"), rest[..<at].firstIndex(of: "/") == nil { rest = String(rest[rest.index(after: at)...]) }
        if let q = rest.firstIndex(of: "?") { rest = String(rest[..<q]) + "?…" }
        return String(url[..<schemeEnd.upperBound]) + rest
    }
}
