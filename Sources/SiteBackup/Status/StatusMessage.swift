import VaultCore

/// Severity of a status message (journald priorities: info 6, warning 4, error 3).
public enum Severity: String, Sendable, Codable, Comparable {
    case info, warning, error
    var priority: Int { switch self { case .info: return 6; case .warning: return 4; case .error: return 3 } }
    public static func < (a: Severity, b: Severity) -> Bool { a.priority > b.priority }
}

/// The stable status message IDs (docs/status-messages.md). Never renumber one: operators'
/// monitoring matches on them.
public enum MessageID: Int, Sendable, Codable, CaseIterable {
    case runStarted = 1000
    case preflightPassed = 1001
    case staleFreezeThawed = 1002
    case controlFileWarning = 1003
    case recoveryStarted = 1030
    case recoveryStep = 1031
    case recoveryInstallMedia = 1032
    case readingWithoutLock = 1033
    case repositoryIndexDamaged = 1034
    case recoveryWarning = 1035
    case drillStarted = 1040
    case drillStepPassed = 1041
    case componentStarted = 1100
    case componentSucceeded = 1101
    case componentPartial = 1102
    case componentCheck = 1103
    case writerFrozen = 1200
    case writerThawed = 1201
    case snapshotCommitted = 1300
    case runLogWritten = 1301
    case copyStarted = 1310
    case copySucceeded = 1311
    case hookStarted = 1400
    case hookSucceeded = 1401
    case alertSent = 1500
    case alertTest = 1501
    case staleAlarmCleared = 1600
    case alarmAcknowledged = 1601
    case serviceStarted = 1700
    case serviceReloaded = 1701
    case serviceStopping = 1702
    case consoleRequest = 1703
    case retentionApplied = 1800
    case runSucceeded = 1900
    case runSucceededPartially = 1901
    case recoverySucceeded = 1910
    case drillPassed = 1911

    case controlFileInvalid = 2000
    case runAlreadyActive = 2001
    case destinationMissing = 2010
    case destinationUnwritable = 2011
    case destinationFull = 2012
    case repositoryLocked = 2013
    case wrongPassword = 2014
    case repositoryFailed = 2015
    case stagingSpace = 2016
    case componentUnavailable = 2020
    case componentFailed = 2021
    case databaseCheckFailed = 2022
    case freezeFailed = 2030
    case thawFailed = 2031
    case staleFreezeThawFailed = 2032
    case commitFailed = 2040
    case copyFailed = 2041
    case runAborted = 2050
    case hookFailed = 2060
    case hookRefused = 2061
    case alertFailed = 2070
    case staleAlarmRaised = 2080
    case reloadRejected = 2081
    case retentionFailed = 2082
    case recoveryRefused = 2090
    case recoveryStepFailed = 2091
    case drillStepFailed = 2092
    case runFailed = 2900
    case recoveryFailed = 2910
    case drillFailed = 2911

    public var severity: Severity {
        switch self {
        case .controlFileWarning, .componentPartial, .runSucceededPartially, .hookFailed, .hookRefused, .alertFailed,
             .readingWithoutLock, .repositoryIndexDamaged, .recoveryWarning: return .warning
        default: return rawValue >= 2000 ? .error : .info
        }
    }

    /// One line for the table in docs/status-messages.md.
    public var summary: String {
        switch self {
        case .runStarted: return "a backup run started"
        case .preflightPassed: return "control file, destinations, repositories, staging space and hooks checked; nothing frozen yet"
        case .staleFreezeThawed: return "a freeze left by an interrupted run was found and thawed before anything else"
        case .controlFileWarning: return "the control file is usable but has a warning (e.g. a schedule sparser than the retention window with sparse = \"warn\")"
        case .componentStarted: return "a component's backup started"
        case .componentSucceeded: return "a component was stored (sizes, duration, version, checks in the message)"
        case .componentPartial: return "a component was stored but some of its files could not be read"
        case .componentCheck: return "a database integrity check on the copy passed"
        case .writerFrozen: return "a writer froze its components"
        case .writerThawed: return "a writer thawed its components (freeze window in the message)"
        case .snapshotCommitted: return "a snapshot was committed to a repository"
        case .runLogWritten: return "the run log was written into the destination"
        case .copyStarted: return "copying the site's snapshots to a copy target ([[copy]]) started, after a good run"
        case .copySucceeded: return "the site's snapshots missing from a copy target were copied (counts and the newest snapshot there in the message)"
        case .copyFailed: return "copying to a copy target failed (alert sent); the backup itself is committed and the next run copies everything missing"
        case .hookStarted: return "the after-backup hook started"
        case .hookSucceeded: return "the after-backup hook exited 0"
        case .alertSent: return "an alert (command, webhook or e-mail; the message names the channel) was delivered"
        case .alertTest: return "a test notification was requested (`sitevault alert test`); 1500 or 2070 follow, one per channel"
        case .staleAlarmCleared: return "a good run landed: the staleness alarm is cleared"
        case .alarmAcknowledged: return "an operator acknowledged the staleness alarm in the web console (the alarm stands until a good run)"
        case .consoleRequest: return "a backup, drill or thaw was requested in the web console (who asked in the message); it runs next"
        case .serviceStarted: return "the service started (schedule, next run in the site's time zone and UTC)"
        case .serviceReloaded: return "the service reloaded the control file (SIGHUP)"
        case .serviceStopping: return "the service is stopping (SIGTERM/SIGINT); a running backup is ended cleanly, writers thawed"
        case .retentionApplied: return "the retention policy was applied after a good run (snapshots removed, space reclaimed)"
        case .staleAlarmRaised: return "the newest good snapshot is older than the retention window: alert sent once until a good run lands"
        case .reloadRejected: return "a reloaded control file was rejected (file, line, reason); the previous one stays in force"
        case .retentionFailed: return "applying the retention policy failed (e.g. the repository stayed locked); retried after the next run"
        case .recoveryStarted: return "a recovery (`sitevault site recover`) started: snapshot, target, components and database mode in the message"
        case .readingWithoutLock: return "a repository's lock could not be written (read-only or full repository): recovery or drill reads it without a lock"
        case .repositoryIndexDamaged: return "a repository's index file is damaged or incomplete: recovery or drill reads the packs' headers instead (run `sitevault repair index`)"
        case .recoveryStep: return "a recovery step finished: a writer stopped or started, a component restored, a database restored, checked or created"
        case .recoveryInstallMedia: return "install media restored: the recorded version, to reinstall the same version first"
        case .recoveryWarning: return "a recovery left something for the operator to do: an application it could not start (its writer has no start command)"
        case .drillStarted: return "a recovery drill started (snapshot and sandbox in the message)"
        case .drillStepPassed: return "a drill step passed (restore, checksum check, integrity check, database restore, check query, user command), with its time"
        case .recoverySucceeded: return "the recovery finished: every selected component is back (replaced files removed, or kept with --keep-replaced)"
        case .drillPassed: return "the recovery drill passed: measured recovery time and the backup time of the snapshot in the message"
        case .recoveryRefused: return "the recovery was refused before anything was replaced (a running application holds the paths, use --force; or a precondition failed)"
        case .recoveryStepFailed: return "a recovery step failed (what it replaced is kept in the side folder named in the message)"
        case .drillStepFailed: return "a drill step failed: which component, which check, and what it found"
        case .recoveryFailed: return "the recovery failed; replaced files and databases are kept where the messages say"
        case .drillFailed: return "the recovery drill failed: the snapshot could not be proven restorable (alert sent)"
        case .runSucceeded: return "the run succeeded; every component is in the snapshot"
        case .runSucceededPartially: return "the run committed a snapshot marked partial (a component failed or files were unreadable)"
        case .controlFileInvalid: return "the control file was rejected (file, line, column, reason); nothing ran"
        case .runAlreadyActive: return "another run of the same site is still active"
        case .destinationMissing: return "a repository folder does not exist or is not a repository (run `sitevault init`)"
        case .destinationUnwritable: return "a repository folder cannot be written (read-only, permissions)"
        case .destinationFull: return "a destination or the staging folder has no space left"
        case .repositoryLocked: return "a repository is locked by another process (e.g. prune)"
        case .wrongPassword: return "a repository's password file does not open it"
        case .repositoryFailed: return "a repository could not be opened or read (damaged, unsupported version, I/O error)"
        case .stagingSpace: return "the staging folder lacks the space for the consistent copies"
        case .componentUnavailable: return "a component's source is missing or cannot be read before the run"
        case .componentFailed: return "a component failed (dump command exit status, unreadable database, …)"
        case .databaseCheckFailed: return "the integrity check of a database copy failed"
        case .freezeFailed: return "a writer could not freeze (everything already frozen was thawed)"
        case .thawFailed: return "a writer could not thaw: the application may still be stopped; act now (`sitevault site thaw`)"
        case .staleFreezeThawFailed: return "a freeze left by an interrupted run could not be thawed"
        case .commitFailed: return "the snapshot could not be committed (earlier snapshots are intact)"
        case .runAborted: return "the run was interrupted (SIGTERM/SIGINT); writers were thawed and nothing was committed"
        case .hookFailed: return "the after-backup hook failed or timed out (the snapshot is committed)"
        case .hookRefused: return "the after-backup hook was not run: not owned by root or the service user, or writable by group/others"
        case .alertFailed: return "an alert could not be delivered (the message names the channel and what to do)"
        case .runFailed: return "the run failed; no snapshot was committed for it"
        }
    }
}

/// One status message of a run.
public struct StatusMessage: Sendable, Codable {
    public var time: Timestamp
    public var id: Int
    public var severity: Severity
    public var site: String
    public var runID: String
    public var component: String?
    public var text: String
}
