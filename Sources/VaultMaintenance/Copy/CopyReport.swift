import VaultCore

/// What `copy` did (or would do with `dryRun`).
public struct CopyReport: Codable, Sendable {
    /// One snapshot of the source and what became of it.
    public struct Item: Codable, Sendable {
        /// The snapshot's id in the source repository.
        public var source: String
        /// Its id in the target repository: the new copy, or the copy already there (nil in a dry run).
        public var target: String?
        /// `copied`, `present` (a copy was already there) or `would-copy` (dry run).
        public var result: String
        public var time: Timestamp
        public var tags: [String]
    }
    public var snapshots: [Item] = []
    /// True when the repositories cut files differently and contents were chunked again.
    public var rechunked = false
    public var blobsCopied = 0
    /// Plaintext bytes of the blobs written into the target.
    public var bytesCopied: UInt64 = 0
    /// Bytes the new blobs take in the target.
    public var bytesStored: UInt64 = 0
    public var packsWritten = 0
    public var dryRun = false

    public var copiedCount: Int { snapshots.filter { $0.result == "copied" }.count }
    public var presentCount: Int { snapshots.filter { $0.result == "present" }.count }
}

/// Progress of a copy, passed to the caller's callback from any thread.
public struct CopyProgress: Sendable {
    /// Index (from 1) and count of the snapshots being copied in this run.
    public var snapshot = 0, snapshots = 0
    public var blobsDone = 0, blobsTotal = 0
    public var bytesDone: UInt64 = 0
    public init() {}
}
