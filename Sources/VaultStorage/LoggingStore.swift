import VaultCore

/// Writes one debug line per store call — operation, file, bytes, outcome, duration — to `log`
/// (enabled by `--debug-store` or SITEVAULT_DEBUG_STORE=1). File contents are never logged.
public final class LoggingStore: BlobStore, @unchecked Sendable {
    // @unchecked: all stored properties are immutable and Sendable.
    public let inner: BlobStore
    private let log: @Sendable (String) -> Void
    private let timer: StoreTimer

    public init(_ inner: BlobStore, timer: StoreTimer = SystemStoreTimer(), log: @escaping @Sendable (String) -> Void) {
        self.inner = inner; self.log = log; self.timer = timer
    }

    public var location: String { inner.location }

    func logged<T>(_ what: String, _ detail: (T) -> String = { _ in "" }, _ body: () throws -> T) throws -> T {
        let start = timer.now()
        func took() -> String { "\(Int(((timer.now() - start) * 1000).rounded())) ms" }
        do {
            let r = try body()
            let d = detail(r)
            log("store: \(what)\(d.isEmpty ? "" : " " + d): ok in \(took())")
            return r
        } catch {
            log("store: \(what): \(StoreErrorClass.of(error).rawValue) error in \(took()): \(error)")
            throw error
        }
    }

    public func save(_ h: Handle, bytes: UnsafeRawBufferPointer) throws {
        try logged("save \(h) \(bytes.count) bytes") { try inner.save(h, bytes: bytes) }
    }
    public func createIfAbsent(_ h: Handle, bytes: UnsafeRawBufferPointer) throws -> Bool {
        try logged("createIfAbsent \(h) \(bytes.count) bytes", { $0 ? "created" : "exists" }) {
            try inner.createIfAbsent(h, bytes: bytes)
        }
    }
    public func load(_ h: Handle) throws -> [UInt8] {
        try logged("load \(h)", { "\($0.count) bytes" }) { try inner.load(h) }
    }
    public func load(_ h: Handle, offset: Int, length: Int) throws -> [UInt8] {
        try logged("load \(h) [\(offset), +\(length)]") { try inner.load(h, offset: offset, length: length) }
    }
    public func loadRun(_ h: Handle, offset: Int, length: Int) throws -> [UInt8] {
        try logged("load run \(h) [\(offset), +\(length)]") { try inner.loadRun(h, offset: offset, length: length) }
    }
    public var concurrentReads: Int { inner.concurrentReads }
    public var readRunSize: Int { inner.readRunSize }
    public func stat(_ h: Handle) throws -> StoredFile {
        try logged("stat \(h)", { "\($0.size) bytes" }) { try inner.stat(h) }
    }
    public func list(_ kind: FileKind, _ body: (StoredFile) throws -> Bool) throws {
        var n = 0
        try logged("list \(kind.rawValue)", { "\(n) files" }) { try inner.list(kind) { n += 1; return try body($0) } }
    }
    public func remove(_ h: Handle) throws { try logged("remove \(h)") { try inner.remove(h) } }
    public func createPending(_ kind: FileKind) throws -> PendingFile {
        let p = try logged("createPending \(kind.rawValue)") { try inner.createPending(kind) }
        return LoggingPendingFile(p, store: self)
    }
    public func createLayout(kinds: [FileKind]) throws {
        try logged("createLayout \(kinds.map(\.rawValue).joined(separator: ","))") { try inner.createLayout(kinds: kinds) }
    }
    public func checkReachable() throws { try logged("checkReachable") { try inner.checkReachable() } }
    public func checkWritable() throws -> Int? {
        try logged("checkWritable", { $0.map { "\($0) bytes free" } ?? "" }) { try inner.checkWritable() }
    }
    public func removeStaleTemporaries(olderThan: Double, now: Double) throws -> Int {
        try logged("removeStaleTemporaries", { "\($0) removed" }) {
            try inner.removeStaleTemporaries(olderThan: olderThan, now: now)
        }
    }
}

/// Logs the commit of a pending file (appends are too many to log one by one).
final class LoggingPendingFile: PendingFile, @unchecked Sendable {
    // @unchecked: used by one writer at a time, like the file it wraps.
    let inner: PendingFile
    let store: LoggingStore
    init(_ inner: PendingFile, store: LoggingStore) { self.inner = inner; self.store = store }
    var size: Int { inner.size }
    func append(_ bytes: UnsafeRawBufferPointer) throws { try inner.append(bytes) }
    func commit(as handle: Handle) throws {
        let n = inner.size
        try store.logged("commit \(handle) \(n) bytes") { try inner.commit(as: handle) }
    }
    func discard() { inner.discard() }
}
