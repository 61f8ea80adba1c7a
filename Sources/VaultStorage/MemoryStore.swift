import VaultCore

/// A store that keeps every file in memory: for tests, and the reference implementation of the
/// `BlobStore` contract (every operation is atomic under one lock).
public final class MemoryStore: BlobStore, @unchecked Sendable {
    private let lock = Mutex()
    private var files: [Handle: [UInt8]] = [:]
    public let location: String
    /// Page size of `list`: small, so that paging is exercised by the tests.
    public let pageSize: Int

    public init(location: String = "memory:", pageSize: Int = 7) {
        self.location = location
        self.pageSize = max(1, pageSize)
    }

    private func notFound(_ h: Handle) -> VaultError {
        VaultError(.notFound, "\(location)/\(h) does not exist", context: ["path": "\(h)"])
    }

    public func save(_ h: Handle, bytes: UnsafeRawBufferPointer) throws {
        let copy = [UInt8](bytes)
        lock.withLock { files[h] = copy }
    }

    public func createIfAbsent(_ h: Handle, bytes: UnsafeRawBufferPointer) throws -> Bool {
        let copy = [UInt8](bytes)
        return lock.withLock {
            if files[h] != nil { return false }
            files[h] = copy
            return true
        }
    }

    public func load(_ h: Handle) throws -> [UInt8] {
        guard let b = lock.withLock({ files[h] }) else { throw notFound(h) }
        return b
    }

    public func load(_ h: Handle, offset: Int, length: Int) throws -> [UInt8] {
        let b = try load(h)
        guard offset >= 0, length >= 0, offset + length <= b.count else {
            throw VaultError(.corrupt, "\(location)/\(h) is truncated: wanted \(length) bytes at offset \(offset), found "
                + "\(max(0, b.count - max(0, offset)))", context: ["path": "\(h)"])
        }
        return Array(b[offset..<(offset + length)])
    }

    public func stat(_ h: Handle) throws -> StoredFile {
        guard let n = lock.withLock({ files[h]?.count }) else { throw notFound(h) }
        return StoredFile(name: h.kind == .config ? "config" : h.name, size: n)
    }

    /// Lists a snapshot taken one page at a time under the lock, as a paginated remote listing would.
    public func list(_ kind: FileKind, _ body: (StoredFile) throws -> Bool) throws {
        var after: String? = nil
        while true {
            let page: [StoredFile] = lock.withLock {
                let names = files.keys.filter { $0.kind == kind && (after == nil || $0.name > after!) }
                return names.sorted { $0.name < $1.name }.prefix(pageSize).map {
                    StoredFile(name: kind == .config ? "config" : $0.name, size: files[$0]!.count)
                }
            }
            for f in page where try !body(f) { return }
            guard page.count == pageSize, let last = page.last else { return }
            after = kind == .config ? "\u{10FFFF}" : last.name
        }
    }

    public func remove(_ h: Handle) throws { lock.withLock { files[h] = nil } }

    public func createPending(_ kind: FileKind) throws -> PendingFile { MemoryPendingFile(store: self) }

    public func createLayout(kinds: [FileKind]) throws {
        try lock.withLock {
            if files[Handle(.config, "")] != nil {
                throw VaultError(.repositoryExists, "a repository already exists at \(location)")
            }
        }
    }

    public func checkReachable() throws {}

    public func checkWritable() throws -> Int? { nil }

    public func removeStaleTemporaries(olderThan: Double, now: Double) throws -> Int { 0 }

    /// Every stored handle (for tests that inspect the store).
    public var handles: [Handle] { lock.withLock { Array(files.keys) } }
}

/// A pending file buffered in memory, stored under its name on commit.
final class MemoryPendingFile: PendingFile, @unchecked Sendable {
    // @unchecked: used by one writer at a time, like every pending file.
    private let store: MemoryStore
    private var buffer: [UInt8] = []
    private var done = false
    var size: Int { buffer.count }

    init(store: MemoryStore) { self.store = store }

    func append(_ bytes: UnsafeRawBufferPointer) throws {
        guard !done else { throw VaultError(.io, "pending file was already closed") }
        buffer.append(contentsOf: bytes)
    }

    func commit(as handle: Handle) throws {
        guard !done else { throw VaultError(.io, "pending file was already closed") }
        try store.save(handle, bytes: buffer)
        done = true
        buffer = []
    }

    func discard() { done = true; buffer = [] }
}
