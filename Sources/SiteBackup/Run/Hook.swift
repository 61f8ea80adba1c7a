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
