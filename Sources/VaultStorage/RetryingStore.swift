import VaultCore

/// How `RetryingStore` repeats transient failures.
public struct RetryPolicy: Sendable {
    /// Attempts in all, the first included (1 disables retrying).
    public var maxAttempts: Int
    /// The wait before the second attempt; it doubles each time, up to `maxDelay`.
    public var baseDelay: Double
    public var maxDelay: Double
    public init(maxAttempts: Int = 6, baseDelay: Double = 0.5, maxDelay: Double = 30) {
        self.maxAttempts = max(1, maxAttempts); self.baseDelay = baseDelay; self.maxDelay = maxDelay
    }
    /// The wait after failed attempt `attempt` (1-based): exponential, capped, with "equal jitter"
    /// (half fixed, half random) so that many clients do not retry in step. `random` is in 0..<1.
    public func delay(after attempt: Int, random: Double) -> Double {
        let exp = min(maxDelay, baseDelay * Double(1 << min(attempt - 1, 30)))
        return exp / 2 + exp / 2 * random
    }
}

/// Repeats calls that fail with a `.transient` error (timeouts, 5xx, connection resets), with
/// exponential backoff and jitter, up to `policy.maxAttempts`. `.notFound` and permanent errors
/// pass through at once. Every operation of the contract may be repeated, with two caveats stated
/// on `BlobStore`: a repeated `createIfAbsent` may answer `false` for a file its earlier attempt
/// created, and a pending file's `commit` is not repeated (its bytes are gone after a failure).
/// A listing that fails part-way is started again and files already delivered are skipped.
public final class RetryingStore: BlobStore, @unchecked Sendable {
    // @unchecked: all stored properties are immutable and Sendable.
    public let inner: BlobStore
    public let policy: RetryPolicy
    private let timer: StoreTimer
    private let random: @Sendable () -> Double
    private let onRetry: (@Sendable (String) -> Void)?

    public init(_ inner: BlobStore, policy: RetryPolicy = RetryPolicy(), timer: StoreTimer = SystemStoreTimer(),
                random: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) },
                onRetry: (@Sendable (String) -> Void)? = nil) {
        self.inner = inner; self.policy = policy; self.timer = timer; self.random = random; self.onRetry = onRetry
    }

    public var location: String { inner.location }

    func retrying<T>(_ what: @autoclosure () -> String, _ body: () throws -> T) throws -> T {
        var attempt = 1
        while true {
            do { return try body() } catch {
                guard StoreErrorClass.of(error) == .transient, attempt < policy.maxAttempts else { throw error }
                let wait = policy.delay(after: attempt, random: random())
                onRetry?("\(what()) failed (attempt \(attempt) of \(policy.maxAttempts)): \(error); retrying in \(wait) s")
                timer.sleep(seconds: wait)
                attempt += 1
            }
        }
    }

    public func save(_ h: Handle, bytes: UnsafeRawBufferPointer) throws {
        try retrying("save \(h)") { try inner.save(h, bytes: bytes) }
    }
    public func createIfAbsent(_ h: Handle, bytes: UnsafeRawBufferPointer) throws -> Bool {
        try retrying("create \(h)") { try inner.createIfAbsent(h, bytes: bytes) }
    }
    public func load(_ h: Handle) throws -> [UInt8] { try retrying("load \(h)") { try inner.load(h) } }
    public func load(_ h: Handle, offset: Int, length: Int) throws -> [UInt8] {
        try retrying("load \(h) at \(offset)") { try inner.load(h, offset: offset, length: length) }
    }
    public func loadRun(_ h: Handle, offset: Int, length: Int) throws -> [UInt8] {
        try retrying("load \(h) at \(offset)") { try inner.loadRun(h, offset: offset, length: length) }
    }
    public var concurrentReads: Int { inner.concurrentReads }
    public var readRunSize: Int { inner.readRunSize }
    public func stat(_ h: Handle) throws -> StoredFile { try retrying("stat \(h)") { try inner.stat(h) } }
    public func list(_ kind: FileKind, _ body: (StoredFile) throws -> Bool) throws {
        var seen = Set<String>()
        try retrying("list \(kind.rawValue)") {
            try inner.list(kind) { f in
                guard seen.insert(f.name).inserted else { return true }
                return try body(f)
            }
        }
    }
    public func remove(_ h: Handle) throws { try retrying("remove \(h)") { try inner.remove(h) } }
    public func createPending(_ kind: FileKind) throws -> PendingFile {
        try retrying("create pending \(kind.rawValue)") { try inner.createPending(kind) }
    }
    public func createLayout(kinds: [FileKind]) throws { try retrying("create layout") { try inner.createLayout(kinds: kinds) } }
    public func checkReachable() throws { try retrying("reach") { try inner.checkReachable() } }
    public func checkWritable() throws -> Int? { try retrying("write probe") { try inner.checkWritable() } }
    public func removeStaleTemporaries(olderThan: Double, now: Double) throws -> Int {
        try retrying("clean temporaries") { try inner.removeStaleTemporaries(olderThan: olderThan, now: now) }
    }
}
