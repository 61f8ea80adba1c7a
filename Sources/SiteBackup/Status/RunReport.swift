import VaultCore

/// How a component's backup went.
public struct ComponentReport: Sendable, Codable {
    public var name: String
    public var kind: ComponentKind
    public var repository: String
    public var paths: [String]
    public var engine: String?
    public var version: String?
    public var writer: String?
    /// "ok", "partial", "failed" or "skipped".
    public var result: String = "skipped"
    public var message: String?
    public var files = 0
    public var bytes: UInt64 = 0
    public var bytesAdded: UInt64 = 0
    public var durationSeconds = 0.0
    /// A database's own integrity check on the copy ("ok" or what it found).
    public var check: String?
    /// Captured settings (config components): name → size in bytes.
    public var settings: [String: Int]?
    public var unreadable: [String]?
    /// A database file's owner and mode, and its folder's (recovery gives them back).
    public var fileOwner: FileOwner?
    public var folderOwner: FileOwner?
    /// A physical PostgreSQL backup: where the cluster lived and how it was started.
    public var cluster: ClusterInfo?
    /// When its consistent copy was taken: the staging copy or SQLite online backup, or, for a
    /// component stored without a copy, the store itself (start and end).
    public var copyStarted: Timestamp?
    public var copyFinished: Timestamp?
}

/// What a recovery needs to put a physical PostgreSQL cluster back in its place and start it.
public struct ClusterInfo: Sendable, Codable, Equatable {
    /// The server's data_directory.
    public var dataDirectory: String
    /// Owner and mode of the data directory (the cluster's operating-system user).
    public var owner: FileOwner?
    /// The server's command line (postmaster.opts), so it starts with the same port and sockets.
    public var options: String?
    public var port: Int?
    public init(dataDirectory: String) { self.dataDirectory = dataDirectory }
}

/// A writer's freeze: how long the application was quiesced.
public struct FreezeReport: Sendable, Codable {
    public var writer: String
    public var kind: WriterKind
    public var components: [String]
    public var frozenAt: Timestamp
    public var thawedAt: Timestamp?
    public var seconds: Double?
}

/// Why a run failed; each has its own exit code and status message.
public enum FailureKind: String, Sendable, Codable {
    case controlFile = "control-file"
    case alreadyRunning = "already-running"
    case destinationMissing = "destination-missing"
    case destinationUnwritable = "destination-unwritable"
    case destinationFull = "destination-full"
    case stagingSpace = "staging-space"
    case locked
    case wrongPassword = "wrong-password"
    case repository
    case componentUnavailable = "component-unavailable"
    case componentFailed = "component-failed"
    case freezeFailed = "freeze-failed"
    case thawFailed = "thaw-failed"
    case commitFailed = "commit-failed"
    case aborted

    public var messageID: MessageID {
        switch self {
        case .controlFile: return .controlFileInvalid
        case .alreadyRunning: return .runAlreadyActive
        case .destinationMissing: return .destinationMissing
        case .destinationUnwritable: return .destinationUnwritable
        case .destinationFull: return .destinationFull
        case .stagingSpace: return .stagingSpace
        case .locked: return .repositoryLocked
        case .wrongPassword: return .wrongPassword
        case .repository: return .repositoryFailed
        case .componentUnavailable: return .componentUnavailable
        case .componentFailed: return .componentFailed
        case .freezeFailed: return .freezeFailed
        case .thawFailed: return .thawFailed
        case .commitFailed: return .commitFailed
        case .aborted: return .runAborted
        }
    }
}

/// Everything about one run: stored in the status store, written (as text) into the run log, and
/// (as the site manifest) inside the snapshot.
public struct RunReport: Sendable, Codable {
    public var version = 1
    public var site: String
    public var runID: String
    public var hostname: String
    /// Where the control file was (its relative paths are relative to its folder).
    public var controlFilePath: String?
    public var started: Timestamp
    public var finished: Timestamp?
    /// "running", "succeeded", "partial", "failed" or "aborted".
    public var result = "running"
    public var failure: FailureKind?
    public var failureMessage: String?
    /// The site snapshot: the main repository's snapshot id.
    public var snapshot: String?
    /// Snapshot id per destination (the split layout commits one per repository, tied by the run id).
    public var snapshots: [String: String] = [:]
    public var snapshotTime: Timestamp?
    public var components: [ComponentReport] = []
    public var freezes: [FreezeReport] = []
    /// "component" or "site" (`consistency` in the control file); nil in reports older than it.
    public var consistency: Consistency?
    public var hook: String?
    /// How copying to each `[[copy]]` target went (nil: the site has none, or the run committed nothing).
    public var copies: [CopyOutcome]?
    public var warnings: [String] = []
    public var durationSeconds = 0.0
    /// Stored bytes of each repository the run committed to (destination name → bytes), as its
    /// in-memory index counted them after the commit (`MasterIndex.storedBytes`: the whole
    /// repository, every site in it); the service updates them after the prune of its retention run.
    /// nil when nothing was committed (and in reports older than it).
    public var repositorySizes: [String: UInt64]?

    /// The longest time the site was frozen: under site consistency, from the first freeze to the
    /// last thaw; otherwise the longest freeze of any one writer.
    public var freezeWindowSeconds: Double {
        guard consistency == .site else { return freezes.compactMap(\.seconds).max() ?? 0 }
        let ends = freezes.compactMap(\.thawedAt?.nanoseconds)
        guard let first = freezes.map(\.frozenAt.nanoseconds).min(), let last = ends.max() else { return 0 }
        return Double(last - first) / 1e9
    }
}
