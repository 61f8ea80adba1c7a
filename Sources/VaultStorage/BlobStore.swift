import VaultCore

/// Names one stored file.
public struct Handle: Hashable, Sendable, CustomStringConvertible {
    public var kind: FileKind
    public var name: String
    public init(_ kind: FileKind, _ name: String) { self.kind = kind; self.name = name }
    public var description: String { kind == .config ? "config" : "\(kind.rawValue)/\(name)" }
}

/// What a store knows of one stored file without reading it.
public struct StoredFile: Hashable, Sendable {
    public var name: String
    public var size: Int
    public init(name: String, size: Int) { self.name = name; self.size = size }
}

/// Where a repository's files live: the only way the layers above reach storage. Nothing above
/// the repository layer knows which store it has; stores are opened by `StoreFactory` from a
/// location (`/path`, `s3:https://host/bucket/prefix`, `sftp:user@host:/path`).
///
/// The contract every implementation keeps (checked by `StoreContract` in VaultTesting):
/// - **Atomic, durable `save`.** When `save` returns, the whole file is on stable storage under
///   its name; a crash at any moment leaves either no file or the complete file, never a part.
///   Saving a name that exists replaces it atomically (readers see the old or the new bytes).
///   `save` may be repeated safely with the same bytes. Each store states its own way of doing
///   this (`LocalStore`: temporary name, fsync, rename, fsync of the folder).
/// - **Atomic create-if-absent.** `createIfAbsent` stores a file only if no file has the name,
///   and of several concurrent callers (processes, hosts) exactly one gets `true`. Locks and key
///   files rely on it. After a `.transient` failure the file may or may not exist: a repeated call
///   that returns `false` cannot tell whether the earlier attempt created it.
/// - **Read-after-write.** `load`, `stat` and `list` see every completed `save`, `createIfAbsent`,
///   `commit` and `remove`.
/// - **Ranged reads.** `load(_:offset:length:)` returns exactly `length` bytes or throws
///   `.corrupt` when the file is shorter; runs of blobs are read this way, never whole packs.
/// - **Listing** (`list(_:_:)`) streams one page at a time through a callback that may stop it;
///   it never shows temporary files of unfinished saves, nor any partial file. A file saved or
///   removed while a listing runs may or may not appear.
/// - **Removal** of a missing file is not an error: `remove` may be repeated safely.
/// - **Errors** are `VaultError`s, classified by `StoreErrorClass.of(_:)`: `.notFound` (code
///   `.notFound`) for a missing file; `.transient` (code `.transient`: timeouts, 5xx, connection
///   resets) which `RetryingStore` repeats with backoff; every other code is `.permanent` —
///   `.noSpace` (a full device), `.io` (permission, read-only mount, media error), `.corrupt`
///   (a short file) — and repeating the call will not help.
public protocol BlobStore: Sendable {
    /// A human description of where the store is (a path or URL), for messages.
    var location: String { get }
    /// Stores `bytes` under `handle`, replacing any file of that name, atomically and durably.
    func save(_ handle: Handle, bytes: UnsafeRawBufferPointer) throws
    /// Stores `bytes` under `handle` only if no file has that name; `false` when one already does.
    func createIfAbsent(_ handle: Handle, bytes: UnsafeRawBufferPointer) throws -> Bool
    /// The whole file. Throws `.notFound` if it is missing.
    func load(_ handle: Handle) throws -> [UInt8]
    /// Reads `length` bytes at `offset`; throws `.corrupt` if the file is shorter, `.notFound` if missing.
    func load(_ handle: Handle, offset: Int, length: Int) throws -> [UInt8]
    /// The same read for a caller that reads a file in a few large runs, each range once (restore
    /// and `check --read-data` through `PackRuns`): exactly the range is fetched, never more. A
    /// store that fetches a whole file on repeated small reads (`S3Store` with packs) must not do so
    /// here, or the runs would be downloaded twice. Wrappers pass it on; the default is `load`.
    func loadRun(_ handle: Handle, offset: Int, length: Int) throws -> [UInt8]
    /// How many reads callers should keep in flight to use the store well (restore and check read
    /// this many packs at once): a remote store's reads mostly wait for the network. Default 2.
    var concurrentReads: Int { get }
    /// The longest run `PackRuns` reads in one request: long runs save round trips to a remote
    /// store; on a local disk they only cost memory (each reader holds its run). Default 4 MiB.
    var readRunSize: Int { get }
    /// The file's size. Throws `.notFound` if it is missing.
    func stat(_ handle: Handle) throws -> StoredFile
    /// Calls `body` with every file of `kind`, in pages, in no particular order, until `body`
    /// returns `false`. Only complete files are listed.
    func list(_ kind: FileKind, _ body: (StoredFile) throws -> Bool) throws
    /// Removes a file; a missing file is not an error.
    func remove(_ handle: Handle) throws
    /// Starts a file whose name is known only once it is complete (a pack). Nothing is visible
    /// under any name until `PendingFile.commit(as:)` returns.
    func createPending(_ kind: FileKind) throws -> PendingFile
    /// Prepares an empty location for a new repository, with a folder (or prefix) for each of `kinds`
    /// but `config`. Throws `.repositoryExists` when a config is already there. May be repeated.
    func createLayout(kinds: [FileKind]) throws
    /// Throws `.notFound` when the location itself cannot be found (an unmounted folder, a missing bucket).
    func checkReachable() throws
    /// Proves that new files can be created (and removed) where packs go, and returns the free
    /// space in bytes when the store knows it (nil otherwise). Throws `.noSpace` for a full
    /// destination and `.io` for one that cannot be written (read-only, permissions).
    func checkWritable() throws -> Int?
    /// Removes leftovers of interrupted saves older than `olderThan` seconds (at `now`, Unix seconds);
    /// returns how many went. Stores whose saves leave nothing behind return 0.
    func removeStaleTemporaries(olderThan: Double, now: Double) throws -> Int
}

/// A file being written piece by piece, invisible to `list` until committed.
public protocol PendingFile: AnyObject, Sendable {
    /// Bytes appended so far.
    var size: Int { get }
    func append(_ bytes: UnsafeRawBufferPointer) throws
    /// Makes the file durable and visible under `handle`, atomically (same contract as `save`).
    /// Not repeatable: after a failure the pending file is discarded and must be written again.
    func commit(as handle: Handle) throws
    /// Deletes the unfinished file. Safe to call after a failure and more than once.
    func discard()
}

extension BlobStore {
    public func loadRun(_ handle: Handle, offset: Int, length: Int) throws -> [UInt8] {
        try load(handle, offset: offset, length: length)
    }

    public var concurrentReads: Int { 2 }

    public var readRunSize: Int { 4 << 20 }

    public func save(_ handle: Handle, bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try save(handle, bytes: $0) }
    }

    public func createIfAbsent(_ handle: Handle, bytes: [UInt8]) throws -> Bool {
        try bytes.withUnsafeBytes { try createIfAbsent(handle, bytes: $0) }
    }

    /// Reads the bytes of `range` (a ranged read; see `load(_:offset:length:)`).
    public func load(_ handle: Handle, range: Range<Int>) throws -> [UInt8] {
        try load(handle, offset: range.lowerBound, length: range.count)
    }

    public func size(_ handle: Handle) throws -> Int { try stat(handle).size }

    /// Whether the file exists; errors other than `.notFound` are thrown.
    public func exists(_ handle: Handle) throws -> Bool {
        do { _ = try stat(handle); return true } catch let e as VaultError where e.code == .notFound { return false }
    }

    /// Every file of `kind` (all pages).
    public func list(_ kind: FileKind) throws -> [(name: String, size: Int)] {
        var out: [(name: String, size: Int)] = []
        try list(kind) { out.append(($0.name, $0.size)); return true }
        return out
    }

    /// Prepares the layout of the repository format's kinds only.
    public func createLayout() throws { try createLayout(kinds: FileKind.repositoryKinds) }

    public func removeStaleTemporaries(now: Double) throws -> Int {
        try removeStaleTemporaries(olderThan: 3600, now: now)
    }
}
