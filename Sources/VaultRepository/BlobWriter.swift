import Foundation
import Dispatch
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
    /// Packs being filled, per blob type: a saver takes one out, appends outside the lock and puts
    /// it back, so concurrent savers write into different packs at once instead of queueing on one.
    private var open: [BlobType: [OpenPack]] = [:]
    private var pending: Set<ID> = []
    private var written: [(ID, [PackEntry])] = []
    /// Set by the first storage failure: every later save and flush rethrows it, so blobs that were
    /// acknowledged but lost with a discarded pack can never end up referenced by a snapshot.
    private var failure: Error?
    public private(set) var stats = Stats()

    public struct Stats: Sendable {
        public var blobsAdded = 0
        public var bytesAdded: UInt64 = 0
        public var bytesStored: UInt64 = 0
        public var packsWritten = 0
    }

    /// A pack being written straight to a pending file: no pack is ever held in memory.
    final class OpenPack: @unchecked Sendable {
        // @unchecked: owned by one thread at a time: the saver that fills it, then the commit queue.
        let file: PendingFile
        var entries: [PackEntry] = []
        init(file: PendingFile) { self.file = file }
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
        if let failure = mutex.withLock({ failure }) { throw failure }
        let id = knownID ?? repository.key.blobID(plaintext)
        if !force && repository.hasBlob(id) { return (id, false) }
        let claimed: Bool = mutex.withLock { pending.insert(id).inserted }
        if !claimed { return (id, false) }
        let compressed = repository.compressor.compress(plaintext)
        let sealed = try compressed.map { c in try c.withUnsafeBytes { try repository.key.sealData($0) } } ?? repository.key.sealData(plaintext)
        try append(type, id: id, sealed: sealed, rawLength: plaintext.count, compressed: compressed != nil)
        return (id, true)
    }

    /// Saves a blob given as stored (the zstd frame when `compressed`, else the plaintext), as read
    /// from a repository whose blob ids agree with this one's: it is sealed under this repository's
    /// key without compressing again. The caller must have checked `id` against the plaintext.
    /// Returns false when the blob is already stored or being stored.
    @discardableResult
    public func saveStored(_ type: BlobType, id: ID, stored: UnsafeRawBufferPointer, rawLength: Int, compressed: Bool) throws -> Bool {
        if let failure = mutex.withLock({ failure }) { throw failure }
        if repository.hasBlob(id) { return false }
        guard mutex.withLock({ pending.insert(id).inserted }) else { return false }
        try append(type, id: id, sealed: try repository.key.sealData(stored), rawLength: rawLength, compressed: compressed)
        return true
    }

    /// Appends a sealed blob to an open pack of its type (taken out of the pool, so the write
    /// happens outside the lock), handing a full pack to the finishing queue.
    private func append(_ type: BlobType, id: ID, sealed: Data, rawLength: Int, compressed: Bool) throws {
        let taken: OpenPack? = try mutex.withLock {
            if let failure { throw failure }
            return open[type]?.popLast()
        }
        let pack = try taken ?? OpenPack(file: try repository.store.createPending(.data))
        let offset = pack.file.size
        do { try sealed.withUnsafeBytes { try pack.file.append($0) } } catch {
            pack.file.discard()
            mutex.withLock { if failure == nil { failure = error } }
            throw error
        }
        pack.entries.append(PackEntry(type: type, id: id, offset: UInt32(offset), length: UInt32(sealed.count),
                                      rawLength: UInt32(rawLength), compressed: compressed))
        let full = pack.file.size >= packTargetSize
        mutex.withLock {
            stats.blobsAdded += 1
            stats.bytesAdded += UInt64(rawLength)
            stats.bytesStored += UInt64(sealed.count)
            if !full { open[type, default: []].append(pack) }
        }
        if full { try commitInBackground(pack) }
    }

    /// Saves a blob even if the index already has it (prune moves blobs out of packs it deletes).
    public func saveRepacked(_ type: BlobType, _ plaintext: UnsafeRawBufferPointer, id: ID) throws -> (id: ID, new: Bool) {
        try save(type, plaintext, id: id, force: true)
    }

    public func save(_ type: BlobType, _ plaintext: [UInt8]) throws -> (id: ID, new: Bool) {
        try plaintext.withUnsafeBytes { try save(type, $0) }
    }

    /// Full packs are finished (header, fsync, rename or upload) on a concurrent queue, so the few
    /// threads that compress and encrypt never wait for the store; at most `commitSlots` packs are
    /// finished at once (several uploads in flight to a remote store).
    private let commitQueue = DispatchQueue(label: "sitevault.pack-commit", attributes: .concurrent)
    private let commitGroup = DispatchGroup()
    private let commitSlots = DispatchSemaphore(value: 3)

    private func commitInBackground(_ pack: OpenPack) throws {
        commitSlots.wait()
        commitQueue.async(group: commitGroup) { [self] in
            defer { commitSlots.signal() }
            try? writePack(pack)   // a failure is recorded in `failure` and rethrown by the next save or flush
        }
        if let failure = mutex.withLock({ failure }) { throw failure }
    }

    private func writePack(_ pack: OpenPack) throws {
        do {
            let header = try repository.key.seal(PackFormat.encodeHeader(pack.entries))
            var len = BinaryWriter(capacity: 4); len.u32(UInt32(header.count))
            try header.withUnsafeBytes { try pack.file.append($0) }
            try len.bytes.withUnsafeBytes { try pack.file.append($0) }
            // The pack is named by the SHA-256 of its sealed header, which lists every blob's id and
            // length; the blobs themselves are authenticated one by one, so hashing the whole pack again
            // would add nothing but a pass over every byte.
            let packID = sha256ID(header)
            try pack.file.commit(as: Handle(.data, packID.hex))
            repository.addToIndex(pack: packID, entries: pack.entries)
            mutex.withLock {
                written.append((packID, pack.entries))
                stats.packsWritten += 1
                for e in pack.entries { pending.remove(e.id) }
            }
        } catch {
            pack.file.discard()
            mutex.withLock { if failure == nil { failure = error } }
            throw error
        }
    }

    /// Writes the open packs and the index file for this session. After it returns, every blob
    /// saved so far is durable and indexed.
    public func flush() throws { _ = try flushReturningFiles() }

    /// Like `flush`, returning the names of the index files written.
    public func flushReturningFiles() throws -> [String] {
        commitGroup.wait()   // wait for packs still being finished in the background
        let packs: [OpenPack] = mutex.withLock { let b = open.values.flatMap { $0 }; open = [:]; return b }
        if let failure = mutex.withLock({ failure }) {
            for p in packs { p.file.discard() }
            throw failure
        }
        for p in packs { if p.entries.isEmpty { p.file.discard() } else { try writePack(p) } }
        let done: [(ID, [PackEntry])] = mutex.withLock { let w = written; written = []; return w }
        guard !done.isEmpty else { return [] }
        var files: [String] = []
        // Keep index files bounded: at most ~50,000 blobs each.
        var batch: [(ID, [PackEntry])] = []
        var count = 0
        for p in done {
            batch.append(p); count += p.1.count
            if count >= 50_000 { files.append(try repository.saveSealed(.index, IndexFormat.encode(batch)).hex); batch = []; count = 0 }
        }
        if !batch.isEmpty { files.append(try repository.saveSealed(.index, IndexFormat.encode(batch)).hex) }
        return files
    }
}
