import VaultCore

/// Limits the bytes a store sends (`save`, `createIfAbsent`, pending files) and receives (`load`)
/// to `--limit-upload` / `--limit-download`, each with its own token bucket.
public final class RateLimitedStore: BlobStore, @unchecked Sendable {
    // @unchecked: all stored properties are immutable; the buckets lock themselves.
    public let inner: BlobStore
    let upload: TokenBucket?
    let download: TokenBucket?

    public init(_ inner: BlobStore, upload: TokenBucket?, download: TokenBucket?) {
        self.inner = inner; self.upload = upload; self.download = download
    }

    public var location: String { inner.location }

    public func save(_ h: Handle, bytes: UnsafeRawBufferPointer) throws {
        upload?.take(bytes.count)
        try inner.save(h, bytes: bytes)
    }
    public func createIfAbsent(_ h: Handle, bytes: UnsafeRawBufferPointer) throws -> Bool {
        upload?.take(bytes.count)
        return try inner.createIfAbsent(h, bytes: bytes)
    }
    public func load(_ h: Handle) throws -> [UInt8] {
        let b = try inner.load(h)
        download?.take(b.count)
        return b
    }
    public func load(_ h: Handle, offset: Int, length: Int) throws -> [UInt8] {
        let b = try inner.load(h, offset: offset, length: length)
        download?.take(b.count)
        return b
    }
    public func loadRun(_ h: Handle, offset: Int, length: Int) throws -> [UInt8] {
        let b = try inner.loadRun(h, offset: offset, length: length)
        download?.take(b.count)
        return b
    }
    public var concurrentReads: Int { inner.concurrentReads }
    public var readRunSize: Int { inner.readRunSize }
    public func stat(_ h: Handle) throws -> StoredFile { try inner.stat(h) }
    public func list(_ kind: FileKind, _ body: (StoredFile) throws -> Bool) throws { try inner.list(kind, body) }
    public func remove(_ h: Handle) throws { try inner.remove(h) }
    public func createPending(_ kind: FileKind) throws -> PendingFile {
        let p = try inner.createPending(kind)
        guard let upload else { return p }
        return RateLimitedPendingFile(p, bucket: upload)
    }
    public func createLayout(kinds: [FileKind]) throws { try inner.createLayout(kinds: kinds) }
    public func checkReachable() throws { try inner.checkReachable() }
    public func checkWritable() throws -> Int? { try inner.checkWritable() }
    public func removeStaleTemporaries(olderThan: Double, now: Double) throws -> Int {
        try inner.removeStaleTemporaries(olderThan: olderThan, now: now)
    }
}

/// A pending file whose appends take upload tokens.
final class RateLimitedPendingFile: PendingFile, @unchecked Sendable {
    // @unchecked: used by one writer at a time, like the file it wraps.
    let inner: PendingFile
    let bucket: TokenBucket
    init(_ inner: PendingFile, bucket: TokenBucket) { self.inner = inner; self.bucket = bucket }
    var size: Int { inner.size }
    func append(_ bytes: UnsafeRawBufferPointer) throws {
        bucket.take(bytes.count)
        try inner.append(bytes)
    }
    func commit(as handle: Handle) throws { try inner.commit(as: handle) }
    func discard() { inner.discard() }
}
