#if canImport(Glibc)
import Glibc
#endif
import VaultCore

/// What `sitevault site status` shows: the last run, the newest good snapshot and its age, each
/// component's last result, and whether the site is healthy.
public struct SiteStatusReport: Sendable, Codable {
    public struct Component: Sendable, Codable {
        public var name: String
        public var kind: String
        public var result: String
        public var message: String?
        public var bytes: UInt64
        public var version: String?
        public var check: String?
    }
    public var site: String
    public var controlFile: String
    public var timeZone: String
    public var schedule: String?
    /// The next scheduled run, in the site's time zone and in UTC (nil without a schedule).
    public var nextRunLocal: String?
    public var nextRunUTC: String?
    public var retentionWindowSeconds: Double
    public var lastRun: RunReport?
    public var lastRunResult: String?
    public var lastSuccess: Timestamp?
    public var lastSuccessSnapshot: String?
    /// Age of the newest good snapshot, in seconds (nil when there is none).
    public var ageSeconds: Double?
    /// "healthy", "warning" or "unhealthy".
    public var health: String
    public var reasons: [String]
    /// True when the newest good snapshot is older than the retention window (or there is none).
    public var stale: Bool
    /// The staleness alarm raised by the service (message 2080) and not cleared yet (1600).
    public var alarm: Bool
    public var freezeWindowSeconds: Double?
    public var components: [Component]
    /// A freeze left by an interrupted run and not thawed yet.
    public var frozenWriters: [String]
    /// The newest recovery drill: result, measured recovery time, backup time of its snapshot.
    public var lastDrill: DrillSummary?
    /// The next scheduled drill (site's time zone and UTC), nil without a [drill] schedule.
    public var nextDrillLocal: String?
    public var nextDrillUTC: String?
    /// Stored bytes of each repository as the newest run that committed recorded them (after its
    /// retention run's prune); nil when no run recorded them.
    public var repositorySizes: [String: UInt64]?
    /// The newest snapshot in each copy target (`addCopyTargets`); nil when not looked up.
    public var copies: [CopyTargetStatus]?

    public struct DrillSummary: Sendable, Codable {
        public var runID: String
        public var time: Timestamp
        public var result: String
        public var failure: String?
        public var snapshot: String?
        public var recoverySeconds: Double?
        public var backupSeconds: Double?
        public var ratio: Double?
    }

    public static func compute(config: SiteConfig, store: StatusStore, now: Timestamp) throws -> SiteStatusReport {
        let last = try store.runs(limit: 1).first
        let good = try store.runs(limit: 1, result: ["succeeded"]).first
        let age = good.map { now.seconds - ($0.snapshotTime ?? $0.finished ?? $0.started).seconds }
        let window = config.schedule.retentionWindow
        let stale = age.map { $0 > window } ?? true
        var reasons: [String] = []
        var health = "healthy"
        if let last {
            switch last.result {
            case "succeeded":
                if last.hook == "failed" || last.hook == "refused" { health = "warning"; reasons.append("the after-backup hook \(last.hook!)") }
            case "partial":
                health = "warning"
                reasons.append("the last run committed a partial snapshot: " + last.components.filter { $0.result != "ok" }.map { "\($0.name) \($0.result)" }.joined(separator: ", "))
            case "running":
                if !runLockHeld(config.stateDir) {
                    health = "unhealthy"
                    reasons.append("the last run (\(last.runID)) ended without finishing: it was killed or the machine stopped")
                }
            default:
                health = "unhealthy"
                reasons.append("the last run \(last.result): \(last.failureMessage ?? "")")
            }
        } else {
            reasons.append("the site has never been backed up")
        }
        if stale {
            health = "unhealthy"
            if let age { reasons.append("the newest good snapshot is \(TimeText.age(age)) old, more than the retention window of \(DurationText.format(window))") } else if last != nil { reasons.append("there is no good snapshot") }
            if last == nil { health = "unhealthy" }
        }
        var frozen: FreezeRecord?
        do { frozen = try FreezeRecord.load(stateDir: config.stateDir) } catch let e as VaultError {
            health = "unhealthy"
            reasons.append(e.message)
        }
        if let frozen, !isAlive(frozen.pid) {
            health = "unhealthy"
            reasons.append("writers \(frozen.writers.map(\.name).joined(separator: ", ")) were left frozen by an interrupted run: run `sitevault site thaw`")
        }
        let comps = (last?.components ?? []).map {
            Component(name: $0.name, kind: $0.kind.rawValue, result: $0.result, message: $0.message, bytes: $0.bytes, version: $0.version, check: $0.check)
        }
        let drill = try? store.drills(limit: 1).first
        if let drill, drill.result == "failed" {
            if health == "healthy" { health = "warning" }
            reasons.append("the last recovery drill (\(TimeText.full(drill.started, utc: config.timeZone == .utc))) failed: \(drill.failure ?? "")")
        }
        let zone = ScheduleZone(config.timeZone)
        let next = config.schedule.calendar.map { s in s.describe(next: s.nextRun(after: now, zone: zone), zone: zone) }
        let nextDrill = config.drill.schedule.map { s in s.describe(next: s.nextRun(after: now, zone: zone), zone: zone) }
        return SiteStatusReport(site: config.site, controlFile: config.file, timeZone: config.timeZone.rawValue,
                                schedule: config.schedule.calendar?.text, nextRunLocal: next?.local, nextRunUTC: next?.utc,
                                retentionWindowSeconds: window, lastRun: last,
                                lastRunResult: last?.result, lastSuccess: good?.snapshotTime ?? good?.finished, lastSuccessSnapshot: good?.snapshot,
                                ageSeconds: age, health: health, reasons: reasons, stale: stale,
                                alarm: (try? store.staleAlarmRaised()) ?? false,
                                freezeWindowSeconds: last.map(\.freezeWindowSeconds), components: comps,
                                frozenWriters: frozen.map { $0.writers.map(\.name) } ?? [],
                                lastDrill: drill.map { DrillSummary(runID: $0.runID, time: $0.finished ?? $0.started, result: $0.result, failure: $0.failure,
                                                                    snapshot: $0.snapshot, recoverySeconds: $0.recoverySeconds, backupSeconds: $0.backupSeconds, ratio: $0.ratio) },
                                nextDrillLocal: nextDrill?.local, nextDrillUTC: nextDrill?.utc,
                                repositorySizes: last?.repositorySizes ?? good?.repositorySizes)
    }
}

/// Whether a run of the site holds its run lock right now.
func runLockHeld(_ stateDir: String) -> Bool {
    let fd = open(stateDir + "/run.lock", O_RDWR | O_CLOEXEC)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    if flock(fd, LOCK_EX | LOCK_NB) == 0 { flock(fd, LOCK_UN); return false }
    return true
}

func isAlive(_ pid: Int32) -> Bool {
    kill(pid, 0) == 0 || errno == EPERM
}
