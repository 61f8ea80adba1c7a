import VaultCore
import VaultCrypto
import VaultStorage

/// A writer session: deduplicates, compresses, seals and packs blobs, and on `flush()` writes the
/// remaining packs and one index file for everything this session wrote. Nothing becomes
/// referenced until the caller saves a snapshot after `flush()` returned: packs without an index
/// are harmless and are removed by prune.
/// Thread-safe: many tasks may call `save` at once.
public final class BlobWriter: @unchecked Sendable {
    // @unchecked: mutable state (packs, pending, written) is guarded by `mutex`.
    public let repository: Repository
    public let packTargetSize: Int
    private let mutex = Mutex()
    private var open: [BlobType: PackBuffer] = [:]
    private var pending: Set<ID> = []
    private var written: [(ID, [PackEntry])] = []
    public private(set) var stats = Stats()
    private let storeMutex = Mutex()

    public struct Stats: Sendable {
        public var blobsAdded = 0
        public var bytesAdded: UInt64 = 0
        public var bytesStored: UInt64 = 0
        public var packsWritten = 0
    }

    final class PackBuffer {
        var bytes: [UInt8] = []
        var entries: [PackEntry] = []
        init(capacity: Int) { bytes.reserveCapacity(capacity) }
    }

    public init(repository: Repository, packTargetSize: Int = 16 << 20) {
        self.repository = repository
        self.packTargetSize = packTargetSize
    }

    /// True when the blob is already stored or being stored by this session.
    public func isKnown(_ id: ID) -> Bool {
        if repository.hasBlob(id) { return true }
        return mutex.withLock { pending.contains(id) }
    }

    /// Saves a blob unless an identical one exists. Returns its id and whether it was new.
    @discardableResult
    public func save(_ type: BlobType, _ plaintext: UnsafeRawBufferPointer, id knownID: ID? = nil, force: Bool = false) throws -> (id: ID, new: Bool) {
        let id = knownID ?? repository.key.blobID(plaintext)
        if !force && repository.hasBlob(id) { return (id, false) }
        let claimed: Bool = mutex.withLock { pending.insert(id).inserted }
        if !claimed { return (id, false) }
        let compressed = repository.compressor.compress(plaintext)
        let sealed = try compressed.map { try repository.key.seal($0) } ?? repository.key.seal(plaintext)
        let full: PackBuffer? = mutex.withLock {
            let buf = open[type] ?? PackBuffer(capacity: type == .data ? packTargetSize + (1 << 20) : 1 << 20)
            open[type] = buf
            buf.entries.append(PackEntry(type: type, id: id, offset: UInt32(buf.bytes.count), length: UInt32(sealed.count),
                                         rawLength: UInt32(plaintext.count), compressed: compressed != nil))
            buf.bytes.append(contentsOf: sealed)
            stats.blobsAdded += 1
            stats.bytesAdded += UInt64(plaintext.count)
            stats.bytesStored += UInt64(sealed.count)
            if buf.bytes.count >= packTargetSize { open[type] = nil; return buf }
            return nil
        }
        if let full { try writePack(full) }
        return (id, true)
    }

    /// Saves a blob even if the index already has it (prune moves blobs out of packs it deletes).
    public func saveRepacked(_ type: BlobType, _ plaintext: UnsafeRawBufferPointer, id: ID) throws -> (id: ID, new: Bool) {
        try save(type, plaintext, id: id, force: true)
    }

    public func save(_ type: BlobType, _ plaintext: [UInt8]) throws -> (id: ID, new: Bool) {
        try plaintext.withUnsafeBytes { try save(type, $0) }
    }

    private func writePack(_ buf: PackBuffer) throws {
        let header = try repository.key.seal(PackFormat.encodeHeader(buf.entries))
        buf.bytes.append(contentsOf: header)
        var len = BinaryWriter(capacity: 4); len.u32(UInt32(header.count))
        buf.bytes.append(contentsOf: len.bytes)
        // The pack is named by the SHA-256 of its sealed header, which lists every blob's id and
        // length; the blobs themselves are authenticated one by one, so hashing the whole pack again
        // would add nothing but a pass over every byte.
        let packID = sha256ID(header)
        try repository.store.save(Handle(.data, packID.hex), bytes: buf.bytes)
        repository.addToIndex(pack: packID, entries: buf.entries)
        mutex.withLock {
            written.append((packID, buf.entries))
            stats.packsWritten += 1
            for e in buf.entries { pending.remove(e.id) }
        }
    }

    /// Writes the open packs and the index file for this session. After it returns, every blob
    /// saved so far is durable and indexed.
    public func flush() throws { _ = try flushReturningFiles() }

    /// Like `flush`, returning the names of the index files written.
    public func flushReturningFiles() throws -> [String] {
        let bufs: [PackBuffer] = mutex.withLock { let b = Array(open.values); open = [:]; return b }
        for b in bufs where !b.entries.isEmpty { try writePack(b) }
        let packs: [(ID, [PackEntry])] = mutex.withLock { let w = written; written = []; return w }
        guard !packs.isEmpty else { return [] }
        var files: [String] = []
        // Keep index files bounded: at most ~50,000 blobs each.
        var batch: [(ID, [PackEntry])] = []
        var count = 0
        for p in packs {
            batch.append(p); count += p.1.count
            if count >= 50_000 { files.append(try repository.saveSealed(.index, IndexFormat.encode(batch)).hex); batch = []; count = 0 }
        }
        if !batch.isEmpty { files.append(try repository.saveSealed(.index, IndexFormat.encode(batch)).hex) }
        return files
    }
}
