/// Totals recorded for a backup run.
public struct BackupSummary: Codable, Hashable, Sendable {
    public var filesNew = 0, filesChanged = 0, filesUnmodified = 0
    public var dirs = 0
    public var bytesProcessed: UInt64 = 0
    public var bytesAdded: UInt64 = 0
    public var bytesStored: UInt64 = 0
    public var blobsAdded = 0
    public var packsWritten = 0
    public var errors = 0
    /// Files that changed while being read, twice in a row (absent in snapshots before this field).
    public var filesChangedWhileRead: Int?
    public var durationSeconds = 0.0
    public init() {}
}

/// A snapshot: the root tree plus where, when and by whom it was taken. Stored encrypted as JSON.
public struct Snapshot: Codable, Hashable, Sendable {
    public var version = 1
    public var time: Timestamp
    public var tree: String
    public var paths: [String]
    public var hostname: String
    public var username: String
    public var tags: [String]
    public var parent: String?
    public var excludes: [String]
    public var summary: BackupSummary?
    /// Set when some files could not be read; the snapshot holds everything else.
    public var partial: Bool
    /// Files that changed while being read, twice in a row (a growing log, a file rewritten in place):
    /// each is stored as read by the second pass, whose bytes may mix old and new content. Such a
    /// snapshot is also marked `partial`. Absent when there were none.
    public var changedFiles: [String]?
    /// Set by `repair snapshots`: the snapshot this one replaces and what was left out of it
    /// (absent in snapshots written by a backup).
    public var repair: SnapshotRepair?
    /// Set by `copy`: the id of the snapshot first taken (kept through copies of copies), so a
    /// snapshot is never copied twice into the same repository (absent in snapshots a backup wrote).
    public var original: String?
    /// Set by `copy`: which repository and snapshot this one was copied from, and when.
    public var copiedFrom: SnapshotOrigin?

    public init(time: Timestamp, tree: ID, paths: [String], hostname: String, username: String, tags: [String] = [],
                parent: ID? = nil, excludes: [String] = [], summary: BackupSummary? = nil, partial: Bool = false) {
        self.time = time; self.tree = tree.hex; self.paths = paths; self.hostname = hostname; self.username = username
        self.tags = tags; self.parent = parent?.hex; self.excludes = excludes; self.summary = summary; self.partial = partial
    }

    public var treeID: ID? { ID(hex: tree) }
}

/// What `repair snapshots` removed when it rewrote a snapshot.
public struct SnapshotRepair: Codable, Hashable, Sendable {
    /// The id of the damaged snapshot this one was made from.
    public var original: String
    /// When the repair was made.
    public var time: Timestamp
    /// Each path left out, with why ("content missing: 2 of 5 blobs", "folder listing missing").
    public var removed: [RemovedPath]
    public init(original: String, time: Timestamp, removed: [RemovedPath]) {
        self.original = original; self.time = time; self.removed = removed
    }
}

/// One path a repair left out of a snapshot.
public struct RemovedPath: Codable, Hashable, Sendable {
    public var path: String
    public var reason: String
    public init(path: String, reason: String) { self.path = path; self.reason = reason }
}

/// Where a copied snapshot came from.
public struct SnapshotOrigin: Codable, Hashable, Sendable {
    /// The `id` of the source repository's config.
    public var repository: String
    /// The snapshot's id in the source repository.
    public var snapshot: String
    /// When the copy was made.
    public var time: Timestamp
    public init(repository: String, snapshot: String, time: Timestamp) {
        self.repository = repository; self.snapshot = snapshot; self.time = time
    }
}
