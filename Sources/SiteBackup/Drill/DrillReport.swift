import VaultCore

/// One timed step of a recovery drill.
public struct DrillStep: Sendable, Codable {
    public var component: String?
    /// e.g. "restore", "checksums", "integrity_check", "pg_restore orders", "check orders", "command".
    public var name: String
    public var seconds: Double
    /// "ok" or "failed".
    public var result: String
    public var detail: String
}

/// The outcome of a recovery drill (`sitevault site drill`), kept in the status store.
public struct DrillReport: Sendable, Codable {
    public var version = 1
    public var site: String
    public var runID: String
    public var hostname: String
    public var started: Timestamp
    public var finished: Timestamp?
    /// "running", "passed" or "failed".
    public var result = "running"
    public var failure: String?
    public var snapshot: String?
    public var snapshotTime: Timestamp?
    /// The backup run that made the snapshot, and how long it took.
    public var backupRun: String?
    public var backupSeconds: Double?
    public var steps: [DrillStep] = []
    /// The recovery into the sandbox, the way `site recover` does it, from opening the repository
    /// to the last component in place (clusters started), plus the application started from the
    /// sandbox and its probe passing (`startSeconds`): the site's measured recovery time.
    public var recoverySeconds: Double?
    /// `[drill] start` and `[drill] probe` (part of `recoverySeconds`).
    public var startSeconds: Double?
    /// Reading every restored byte back and the databases' own checks, after the recovery.
    public var checkSeconds: Double?
    /// The optional user command (probing the restored application).
    public var commandSeconds: Double?
    public var cleanupSeconds: Double?
    public var totalSeconds = 0.0
    public var sandbox: String

    /// Recovery time over the backup time of the snapshot.
    public var ratio: Double? {
        guard let r = recoverySeconds, let b = backupSeconds, b > 0 else { return nil }
        return r / b
    }
}
