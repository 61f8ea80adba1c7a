import VaultCore

/// A store that injects faults into another, for tests: fail the Nth call of an operation (before
/// or after it took effect, as when a reply is lost), truncate what a read returns, or delay calls.
/// Calls are counted per operation from 1, whether they fail or not.
public final class FaultyStore: BlobStore, @unchecked Sendable {
    // @unchecked: `counts`, `faults`, `truncations` and `delays` are only touched under `lock`.
    public let inner: BlobStore
    private let timer: StoreTimer
    private let lock = Mutex()
    private var counts: [StoreOperation: Int] = [:]
    private var faults: [(op: StoreOperation, calls: ClosedRange<Int>, error: VaultError, afterEffect: Bool)] = []
    private var truncations: [(op: StoreOperation, call: Int, keep: Int)] = []
    private var delays: [StoreOperation: Double] = [:]

    public init(_ inner: BlobStore, timer: StoreTimer = SystemStoreTimer()) { self.inner = inner; self.timer = timer }

    public var location: String { inner.location }

    /// The error injected by default: a transient one, as a timeout would be.
    public static func transientError(_ op: StoreOperation) -> VaultError {
        VaultError(.transient, "injected fault in \(op.rawValue)", context: ["injected": "1"])
    }

    /// Call `call` of `op` (1-based) and the `times - 1` after it fail with `error`; with `afterEffect`
    /// the call is made first and its result thrown away.
    public func fail(_ op: StoreOperation, call: Int, times: Int = 1, with error: VaultError? = nil, afterEffect: Bool = false) {
        lock.withLock {
            faults.append((op, call...(call + max(1, times) - 1), error ?? Self.transientError(op), afterEffect))
        }
    }

    /// Read `call` of `op` (`.load` or `.loadRange`) returns only its first `keep` bytes.
    public func truncate(_ op: StoreOperation, call: Int, keep: Int) { lock.withLock { truncations.append((op, call, keep)) } }

    /// Every call of `op` waits `seconds` (through the timer) before it runs.
    public func delay(_ op: StoreOperation, seconds: Double) { lock.withLock { delays[op] = seconds } }

    /// How many calls of `op` were made so far.
    public func calls(_ op: StoreOperation) -> Int { lock.withLock { counts[op] ?? 0 } }

    /// Counts the call and runs it with the faults that apply.
    func run<T>(_ op: StoreOperation, _ body: () throws -> T) throws -> T { try runCounted(op, body).result }

    func runCounted<T>(_ op: StoreOperation, _ body: () throws -> T) throws -> (result: T, call: Int) {
        let (n, fault, wait) = lock.withLock { () -> (Int, (error: VaultError, afterEffect: Bool)?, Double) in
            let n = (counts[op] ?? 0) + 1
            counts[op] = n
            let f = faults.first { $0.op == op && $0.calls.contains(n) }
            return (n, f.map { ($0.error, $0.afterEffect) }, delays[op] ?? 0)
        }
        if wait > 0 { timer.sleep(seconds: wait) }
        if let fault, !fault.afterEffect { throw fault.error }
        let result = try body()
        if let fault { throw fault.error }
        return (result, n)
    }

    func read(_ op: StoreOperation, _ body: () throws -> [UInt8]) throws -> [UInt8] {
        let (bytes, call) = try runCounted(op, body)
        guard let t = lock.withLock({ truncations.first { $0.op == op && $0.call == call } }) else { return bytes }
        return Array(bytes.prefix(max(0, t.keep)))
    }

    public func save(_ h: Handle, bytes: UnsafeRawBufferPointer) throws { try run(.save) { try inner.save(h, bytes: bytes) } }
    public func createIfAbsent(_ h: Handle, bytes: UnsafeRawBufferPointer) throws -> Bool {
        try run(.createIfAbsent) { try inner.createIfAbsent(h, bytes: bytes) }
    }
    public func load(_ h: Handle) throws -> [UInt8] { try read(.load) { try inner.load(h) } }
    public func load(_ h: Handle, offset: Int, length: Int) throws -> [UInt8] {
        try read(.loadRange) { try inner.load(h, offset: offset, length: length) }
    }
    public func loadRun(_ h: Handle, offset: Int, length: Int) throws -> [UInt8] {
        try read(.loadRange) { try inner.loadRun(h, offset: offset, length: length) }
    }
    public var concurrentReads: Int { inner.concurrentReads }
    public var readRunSize: Int { inner.readRunSize }
    public func stat(_ h: Handle) throws -> StoredFile { try run(.stat) { try inner.stat(h) } }
    public func list(_ kind: FileKind, _ body: (StoredFile) throws -> Bool) throws {
        try run(.list) { try inner.list(kind, body) }
    }
    public func remove(_ h: Handle) throws { try run(.remove) { try inner.remove(h) } }
    public func createPending(_ kind: FileKind) throws -> PendingFile {
        let p = try run(.createPending) { try inner.createPending(kind) }
        return FaultyPendingFile(p, store: self)
    }
    public func createLayout(kinds: [FileKind]) throws { try inner.createLayout(kinds: kinds) }
    public func checkReachable() throws { try inner.checkReachable() }
    public func checkWritable() throws -> Int? { try inner.checkWritable() }
    public func removeStaleTemporaries(olderThan: Double, now: Double) throws -> Int {
        try inner.removeStaleTemporaries(olderThan: olderThan, now: now)
    }
}

/// Passes a pending file through, with the faults of `.commit`.
final class FaultyPendingFile: PendingFile, @unchecked Sendable {
    // @unchecked: used by one writer at a time, like the file it wraps.
    let inner: PendingFile
    let store: FaultyStore
    init(_ inner: PendingFile, store: FaultyStore) { self.inner = inner; self.store = store }
    var size: Int { inner.size }
    func append(_ bytes: UnsafeRawBufferPointer) throws { try inner.append(bytes) }
    func commit(as handle: Handle) throws {
        do { try store.run(.commit) { try inner.commit(as: handle) } } catch { inner.discard(); throw error }
    }
    func discard() { inner.discard() }
}
