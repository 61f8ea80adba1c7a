import VaultCore
import VaultRepository
import VaultStorage

/// What prune did (or would do with `dryRun`).
public struct PruneReport: Codable, Sendable {
    public var packsKept = 0
    public var packsRemoved = 0
    public var packsRepacked = 0
    public var unreferencedPacksRemoved = 0
    public var blobsRemoved = 0
    public var bytesRemoved: UInt64 = 0
    public var bytesRepacked: UInt64 = 0
    public var indexFilesReplaced = 0
    public var dryRun = false
}

/// Removes data no snapshot references. Crash-safe by ordering: repacked packs and the new index
/// are written first, then old index files are deleted, then unused packs. A crash at any point
/// leaves a repository that checks clean (at worst with unreferenced packs that the next prune removes).
/// The caller must hold an exclusive lock.
public struct Pruner: Sendable {
    let repository: Repository
    /// A pack whose unused part exceeds this fraction is rewritten.
    public var repackThreshold = 0.2
    public init(repository: Repository) { self.repository = repository }

    public func run(dryRun: Bool) throws -> PruneReport {
        var report = PruneReport()
        report.dryRun = dryRun
        try repository.loadIndex()
        let index = repository.index
        let used = try usedBlobs()
        let byPack = index.entriesByPack()
        var keep: [(ID, [PackEntry])] = []
        var remove: [ID] = []
        var repack: [(ID, [PackEntry])] = []
        for (pack, entries) in byPack {
            let usedEntries = entries.filter { used.contains($0.id) }
            let total = entries.reduce(0) { $0 + Int($1.length) }
            let unused = total - usedEntries.reduce(0) { $0 + Int($1.length) }
            if usedEntries.isEmpty {
                remove.append(pack); report.blobsRemoved += entries.count; report.bytesRemoved += UInt64(total)
            } else if usedEntries.count == entries.count || Double(unused) <= repackThreshold * Double(total) {
                keep.append((pack, entries))
            } else {
                repack.append((pack, usedEntries)); report.blobsRemoved += entries.count - usedEntries.count
                report.bytesRemoved += UInt64(unused); report.bytesRepacked += UInt64(total - unused)
            }
        }
        let stored = try repository.store.list(.data).map(\.name)
        let unreferenced = stored.filter { name in ID(hex: name).map { byPack[$0] == nil } ?? false }
        report.packsKept = keep.count; report.packsRemoved = remove.count; report.packsRepacked = repack.count
        report.unreferencedPacksRemoved = unreferenced.count
        report.indexFilesReplaced = index.files.count
        if dryRun { return report }

        // 1. Copy the used blobs of sparse packs into new packs (verified while copying).
        let writer = BlobWriter(repository: repository)
        var moved: Set<ID> = []
        for (pack, entries) in repack {
            for e in entries where !moved.contains(e.id) {
                let plain = try repository.decodeBlob(try repository.store.load(Handle(.data, pack.hex), offset: Int(e.offset), length: Int(e.length)),
                                                      entry: e, pack: pack)
                moved.insert(e.id)
                try plain.withUnsafeBytes { _ = try writer.saveRepacked(e.type, $0, id: e.id) }
            }
        }
        let newFiles = try writer.flushReturningFiles()
        // 2. One new index for the packs kept as they are.
        var written = Set(newFiles)
        var batch: [(ID, [PackEntry])] = []
        var count = 0
        for k in keep.sorted(by: { $0.0 < $1.0 }) {
            batch.append(k); count += k.1.count
            if count >= 50_000 { written.insert(try repository.saveSealed(.index, IndexFormat.encode(batch)).hex); batch = []; count = 0 }
        }
        if !batch.isEmpty { written.insert(try repository.saveSealed(.index, IndexFormat.encode(batch)).hex) }
        // 3. Old index files go only now that the new ones are durable.
        for name in index.files where !written.contains(name) { try repository.store.remove(Handle(.index, name)) }
        // 4. Then the packs nothing points to any more.
        for pack in remove + repack.map(\.0) { try repository.store.remove(Handle(.data, pack.hex)) }
        for name in unreferenced { try repository.store.remove(Handle(.data, name)) }
        if let local = repository.store as? LocalStore { _ = try local.removeStaleTemporaries(now: repository.clock.now().seconds) }
        try repository.loadIndex()
        return report
    }

    /// Every blob reachable from any snapshot.
    func usedBlobs() throws -> Set<ID> {
        var used = Set<ID>()
        var stack: [ID] = []
        // Strict: data used only by a damaged snapshot file must not be deleted.
        for s in try repository.snapshots(strict: true) { if let t = s.snapshot.treeID { stack.append(t) } }
        while let t = stack.popLast() {
            guard used.insert(t).inserted else { continue }
            let tree = try repository.loadTree(t)
            for n in tree.nodes {
                for c in n.content { used.insert(c) }
                if let s = n.subtree { stack.append(s) }
            }
        }
        return used
    }
}
