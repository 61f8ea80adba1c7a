import VaultCore

/// How `sitevault site recover` treats databases.
public enum DatabaseMode: String, Sendable, CaseIterable, Codable {
    /// Replay the dump (or copy) into place; a database already there is renamed aside first.
    case restore
    /// The database was recovered by other means: check that it answers, record its version.
    case useExisting = "use-existing"
    /// Create an empty database from the schema part of the dump.
    case new
    /// Leave databases alone.
    case skip
}

/// What a recovery should do.
public struct RecoveryOptions: Sendable {
    public var snapshot = "latest"
    /// Restore under this folder (the same layout, relocated) instead of the original places.
    public var target: String?
    /// Only these components (nil: all of the snapshot's).
    public var components: [String]?
    /// nil: `restore`, except with `target` where PostgreSQL servers are left alone and the dumps
    /// are written as files under the target.
    public var database: DatabaseMode?
    /// Restore database OLD under the name NEW ("*" for a component with one database).
    public var databaseNames: [String: String] = [:]
    public var dryRun = false
    /// Replace paths a running process holds open.
    public var force = false
    /// Dry run: show secret values in configuration diffs (redacted by default).
    public var showSecrets = false
    /// Where a physical PostgreSQL cluster goes instead of its recorded data directory.
    public var dataDirectory: String?
    /// Skip the control file's health probe.
    public var noProbe = false
    /// Do not run the writers' start commands (the application stays stopped for inspection).
    public var noStart = false
    /// Set by `site drill`: the same recovery into its sandbox (`target`), PostgreSQL dumps
    /// restored into scratch databases named with this prefix, a physical base backup started as
    /// a temporary cluster on a free port; no run lock, no recovery log of its own.
    public var drill: DrillMode?

    public struct DrillMode: Sendable {
        public var scratchPrefix: String
        public init(scratchPrefix: String) { self.scratchPrefix = scratchPrefix }
    }
    /// Keep what was replaced (side folders, renamed databases) after a successful recovery.
    public var keepReplaced = false
    /// Read the repositories without taking a lock (`--no-lock`).
    public var noLock = false
    /// The main repository's password when it is not read from the control file's password file.
    public var password: [UInt8]?
    public var hostname: String
    public var clock: VaultClock = SystemClock()
    public var echo = MessageEcho()
    public init(hostname: String) { self.hostname = hostname }
}

/// What happened to one component.
public struct ComponentRecovery: Sendable, Codable {
    public var name: String
    public var kind: ComponentKind
    /// "restored", "checked", "created", "written as files", "skipped", "would restore" (dry run).
    public var action = "skipped"
    /// "ok", "failed", "skipped".
    public var result = "skipped"
    /// Where it went (paths, databases).
    public var destinations: [String] = []
    public var files = 0
    public var bytes: UInt64 = 0
    public var version: String?
    public var detail: String?
    /// Dry run: a unified diff (config files, settings) or a summary of what would change.
    public var diff: String?
    /// Where what was replaced is kept (side folders, renamed databases).
    public var replaced: [String] = []
    public var seconds = 0.0
}

/// The outcome of a recovery.
public struct RecoveryReport: Sendable, Codable {
    public var site: String
    public var runID: String
    public var snapshot: String = ""
    public var snapshotTime: Timestamp?
    /// The backup run that made the snapshot.
    public var backupRun: String?
    public var target: String?
    public var dryRun: Bool
    public var database: String
    /// "running", "recovered", "partial" (some components failed), "probe-failed" (everything
    /// restored, the application does not answer), "dry-run", "refused" or "failed".
    public var result = "running"
    public var message: String?
    /// Every problem found, one per failed component ("COMPONENT: what"); a dry run lists them all.
    public var problems: [String] = []
    /// The control file's health probe, run once the application was started again.
    public var probe: ProbeResult?
    /// Applications started by a writer's start command after the recovery.
    public var started: [String] = []
    /// What the operator must still do (an application left stopped, with no start command).
    public var warnings: [String] = []
    /// The error's code when it failed (e.g. "repositoryNotFound", "wrongPassword").
    public var errorCode: String?
    public var components: [ComponentRecovery] = []
    /// Writers that stopped the application for the recovery (and started it again).
    public var writers: [String] = []
    /// Processes found holding the paths to replace.
    public var busy: [String] = []
    /// Side folders and renamed databases kept (failure, or --keep-replaced).
    public var kept: [String] = []
    public var durationSeconds = 0.0
}

/// How the health probe of `[recovery] probe` went.
public struct ProbeResult: Sendable, Codable {
    public var command: [String]
    /// "passed", "failed" or "skipped".
    public var result: String
    public var attempts = 0
    public var seconds = 0.0
    /// The last attempt's exit status and output (one line).
    public var detail = ""
}
