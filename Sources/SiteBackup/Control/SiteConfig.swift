import VaultCore

/// Where a backup goes: a repository and the file holding its password.
public struct DestinationConfig: Sendable, Equatable {
    public var name: String
    public var path: String
    public var passwordFile: String
    /// `sftp_command`: the command line that replaces `ssh … -s sftp` for an sftp: path (see SSHCommand).
    public var sftpCommand: String? = nil
    /// For an S3 location: a file of S3 keys in the `~/.aws/credentials` format (`s3_credentials_file`),
    /// used before AWS_ACCESS_KEY_ID and ~/.aws/credentials; nil to use those.
    public var s3CredentialsFile: String? = nil
    /// For an S3 location: "path" or "virtual" (`s3_url_style`); nil uses SITEVAULT_S3_URL_STYLE, else path-style.
    public var s3URLStyle: String? = nil
}

/// The four kinds of component a site is made of.
public enum ComponentKind: String, Sendable, CaseIterable, Codable {
    case database, config, folders, installMedia = "install-media"
}

/// How a database component is read.
public enum DatabaseEngine: String, Sendable, CaseIterable, Codable {
    /// SQLite's online backup API: consistent while the application keeps writing.
    case sqlite
    /// Any other database: a dump command writing to stdout, streamed into the repository.
    case command
    /// A PostgreSQL server: pg_dump per database (+ globals) or pg_basebackup, streamed.
    case postgresql
}

/// One named part of the site.
public struct ComponentConfig: Sendable {
    public var name: String
    public var kind: ComponentKind
    /// Destination name ("main" unless the component names another one).
    public var repository: String = "main"
    /// Files and folders (config, folders, install-media).
    public var paths: [String] = []
    public var excludes: [String] = []
    public var includes: [String] = []
    /// Named commands whose output is stored as text (config).
    public var settings: [(name: String, argv: [String])] = []
    /// Install media: a fixed version, or a command printing it.
    public var version: String?
    public var versionCommand: [String]?
    /// Databases.
    public var engine: DatabaseEngine?
    public var databasePath: String?
    public var check: String = "integrity"
    public var dumpCommand: [String]?
    public var restoreCommand: [String]?
    public var fileName: String = "dump"
    public var postgres: PostgresSettings?
    public var timeout: Double = 3600
    /// Where the component was defined (for messages about it).
    public var line: Int = 0
}

/// How a writer quiesces its components.
public enum WriterKind: String, Sendable, CaseIterable, Codable {
    case service, signal, command, fsfreeze
}

/// Freezes a set of components and thaws them afterwards.
public struct WriterConfig: Sendable, Codable {
    public var name: String
    public var kind: WriterKind
    public var components: [String]
    public var unit: String?
    public var stop: [String]?
    /// service: the start command (thaw). signal, command: starts the application after a
    /// recovery when it is not running (docs/control-file.md).
    public var start: [String]?
    public var pidFile: String?
    public var freezeSignal: Int32 = SIGSTOP_VALUE
    public var thawSignal: Int32 = SIGCONT_VALUE
    public var freeze: [String]?
    public var thaw: [String]?
    public var mount: String?
    /// true: copy the components to the staging folder while frozen, thaw, then store the copy
    /// (the freeze lasts as long as the copy). false: stay frozen while storing.
    public var staging: Bool = true
    public var timeout: Double = 120
    public var line: Int = 0
}

public let SIGSTOP_VALUE: Int32 = 19
public let SIGCONT_VALUE: Int32 = 18

public struct HookConfig: Sendable {
    public var afterBackup: String?
    public var timeout: Double = 600
}

/// Who is told (`[alerts]`): a command, a webhook and/or e-mail through the local sendmail interface.
public struct AlertConfig: Sendable {
    /// The webhook's body: sitevault's own JSON, or `{"text": …}` for chat tools' incoming webhooks.
    public enum WebhookFormat: String, Sendable { case json, slack }

    public var command: [String]?
    public var webhook: String?
    public var webhookFormat = WebhookFormat.json
    /// Recipients of alert e-mails (addr-spec only, checked when the control file is read).
    public var email: [String] = []
    /// The From address; nil lets sendmail choose (the service user at this host).
    public var emailFrom: String?
    /// The sendmail-compatible program, run as `sendmail -t -oi` with the message on standard input.
    public var sendmail = "/usr/sbin/sendmail"
    public var onSuccess = false
    public var timeout: Double = 30
    public var isConfigured: Bool { command != nil || webhook != nil || !email.isEmpty }
}

/// Recovery drills (`sitevault site drill`, and the service on `schedule`).
public struct DrillConfig: Sendable {
    /// When the service runs a drill (nil: only by hand).
    public var schedule: Schedule?
    /// Where the snapshot is restored (default: STATE/drill); emptied and removed after each drill.
    public var sandbox: String?
    /// A command run after the restore with SITEVAULT_SANDBOX (and the scratch databases) in its
    /// environment, e.g. starting the application against the sandbox and probing it; exit 0 = pass.
    public var command: [String]?
    public var timeout: Double = 3600
    /// Starts the application against the sandbox once every component is recovered (same
    /// environment as `command`); kept running in the background (or left to daemonize) until
    /// the drill ends, when its process group is stopped (after `stop`, if given).
    public var start: [String]?
    /// Stops what `start` started, when it daemonized (run at the end of the drill).
    public var stop: [String]?
    /// A health probe of the application started from the sandbox, as `[recovery] probe`.
    public var probe: [String]?
    public var probeTimeout: Double = 60
}

/// How `sitevault site recover` checks that the site is back (`[recovery]`).
public struct RecoveryConfig: Sendable {
    /// A health probe run after the application was started again, until it exits 0 or
    /// `probeTimeout` passes; the recovery is good only when it passes.
    public var probe: [String]?
    public var probeTimeout: Double = 60
}

/// The retention policy applied after each good run (by the service).
public struct RetentionConfig: Sendable, Equatable {
    public var keepLast = 0, keepHourly = 0, keepDaily = 0, keepWeekly = 0, keepMonthly = 0, keepYearly = 0
    public var keepWithin: Double = 0
    public var isEmpty: Bool { self == RetentionConfig() }
}

/// A copy target (`[[copy]]`): after each good run the site's new snapshots are copied into this
/// `[repositories.NAME]`, which has its own retention policy.
public struct CopyTargetConfig: Sendable, Equatable {
    /// The name of a `[repositories.NAME]`.
    public var repository: String
    public var retention = RetentionConfig()
    public var line = 0
}

public enum TimeZoneChoice: String, Sendable, Codable { case utc = "UTC", local }

public struct ScheduleConfig: Sendable {
    public var calendar: Schedule?
    /// The change-tracking window: no two good runs may be further apart than this.
    public var retentionWindow: Double = 5 * 86400
    /// When the schedule is sparser than the window: refuse the file (default) or warn.
    public var refuseSparse = true
}

/// A site's control file, parsed and validated.
/// How far the consistent copies of a run agree with each other (`consistency` in the control file).
public enum Consistency: String, Sendable, Codable, CaseIterable {
    /// Each writer is frozen only while its own components are copied, one writer after another.
    case component
    /// One freeze window: every writer freezes (file order), every consistent copy is made, then
    /// every writer thaws (reverse order).
    case site
}

public struct SiteConfig: Sendable {
    public var file: String
    public var text: String
    public var site: String
    public var timeZone: TimeZoneChoice
    public var stateDir: String
    public var stagingDir: String
    public var destinations: [String: DestinationConfig]
    public var schedule = ScheduleConfig()
    public var retention = RetentionConfig()
    /// Where the site's snapshots are copied after each good run.
    public var copies: [CopyTargetConfig] = []
    public var components: [ComponentConfig] = []
    public var writers: [WriterConfig] = []
    /// All or nothing: when a component fails, commit nothing (default: commit a partial snapshot).
    public var atomic = false
    public var consistency = Consistency.component
    public var hooks = HookConfig()
    public var alerts = AlertConfig()
    public var drill = DrillConfig()
    public var recovery = RecoveryConfig()
    /// Problems that do not stop the site from running (e.g. a sparse schedule with `sparse = "warn"`).
    public var warnings: [String] = []

    public var mainDestination: DestinationConfig { destinations["main"]! }

    /// The repositories a backup run writes to: main and those components name (not copy targets alone).
    public var backupRepositories: [String] { Set(components.map(\.repository)).union(["main"]).sorted() }
    public var drillSandbox: String { drill.sandbox ?? stateDir + "/drill" }

    public func writer(for component: String) -> WriterConfig? {
        writers.first { $0.components.contains(component) }
    }
}

extension SiteConfig {
    /// This configuration reading from copy target `name` instead of the main repository
    /// (`site recover --from`, `site drill --from`). Throws `.invalidArgument` naming the copy
    /// targets when `name` is not one.
    public func readingFromCopy(_ name: String) throws -> SiteConfig {
        guard copies.contains(where: { $0.repository == name }), var d = destinations[name] else {
            let known = copies.map(\.repository)
            throw VaultError(.invalidArgument, "\"\(name)\" is not a copy target of site \(site): " +
                             (known.isEmpty ? "the control file has no [[copy]]" : "use one of \(known.joined(separator: ", "))"))
        }
        var c = self
        d.name = "main"
        c.destinations["main"] = d
        return c
    }
}
