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
    /// Packs that were in no index but hold blobs snapshots use: indexed again, never removed.
    public var packsReindexed = 0
    /// Packs in no index whose header cannot be read: kept (their content cannot be proven unused).
    public var unreadablePacksKept: [String] = []
    public var dryRun = false
}

/// Removes data no snapshot references. Crash-safe by ordering: repacked packs and the new index
/// are written first, then old index files are deleted, then unused packs. A crash at any point
/// leaves a repository that checks clean (at worst with unreferenced packs that the next prune removes).
/// No pack is deleted before its blobs are known: packs in no index have their header read, and one
/// holding a blob a snapshot uses is indexed again; one whose header cannot be read is kept.
/// The caller must hold an exclusive lock; given as `lock`, it is confirmed before each deleting phase.
public struct Pruner: Sendable {
    let repository: Repository
    /// A pack whose unused part exceeds this fraction is rewritten.
    public var repackThreshold = 0.2
    let lock: RepositoryLock?
    public init(repository: Repository, lock: RepositoryLock? = nil) { self.repository = repository; self.lock = lock }

    /// Throws `.damaged` when an index file is damaged (run `repair index` first), `.locked` when the
    /// lock was lost before a deleting phase.
    public func run(dryRun: Bool) throws -> PruneReport {
        var report = PruneReport()
        report.dryRun = dryRun
        try repository.loadIndex()
        if let bad = repository.damagedIndexFiles.first {
            throw VaultError(.damaged, "index/\(bad.name) is damaged (\(bad.message)); prune removes nothing until the index is rebuilt: " +
                             "run `sitevault repair index`, then prune again", context: ["file": "index/\(bad.name)"])
        }
        let loadedFiles = repository.index.files
        // Packs in no index file: their headers tell what they hold; they join the in-memory index
        // (after every indexed copy, which stays the one used) and are classified like the others.
        let scan = try repository.scanUnindexedPacks()
        report.unreadablePacksKept = scan.unreadable.map(\.pack.hex).sorted()
        let unindexed = Set(scan.packs.map(\.pack))
        let index = repository.index
        let used = try usedBlobs()
        let byPack = index.entriesByPack()
        report.packsReindexed = byPack.filter { unindexed.contains($0.key) && $0.value.contains { used.contains($0.id) } }.count
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
        let storedSizes = try repository.store.list(.data)
        let stored = storedSizes.map(\.name)
        let storedSet = Set(stored)
        // Unreferenced: no blob of the pack is located there (it is in no index, or every blob the
        // index lists there has its copy used from another pack). It is deleted only when its header
        // was read and every blob it lists is unused or has an indexed copy in another existing pack;
        // a pack whose header cannot be read is kept.
        let headers = Dictionary(scan.readable, uniquingKeysWith: { a, _ in a })
        var unreferenced: [String] = []
        for (name, size) in storedSizes {
            guard let pack = ID(hex: name), pack.hex == name, byPack[pack] == nil else { continue }
            guard let entries = headers[pack] ?? (unindexed.contains(pack) ? nil : try? repository.readPackHeader(pack, size: size)) else {
                if !report.unreadablePacksKept.contains(name) { report.unreadablePacksKept.append(name) }
                continue
            }
            let provenUnused = entries.allSatisfy { e in
                !used.contains(e.id) || index.lookup(e.id).map { $0.pack != pack && storedSet.contains($0.pack.hex) } == true
            }
            if provenUnused { unreferenced.append(name) }
        }
        report.unreadablePacksKept.sort()
        report.packsKept = keep.count; report.packsRemoved = remove.count; report.packsRepacked = repack.count
        report.unreferencedPacksRemoved = unreferenced.count
        report.indexFilesReplaced = loadedFiles.count
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
        // 3. Old index files go only now that the new ones are durable (and while the lock is ours).
        try lock?.ensureHeld()
        for name in loadedFiles where !written.contains(name) { try repository.store.remove(Handle(.index, name)) }
        // 4. Then the packs nothing points to any more.
        try lock?.ensureHeld()
        for pack in remove + repack.map(\.0) { try repository.store.remove(Handle(.data, pack.hex)) }
        for name in unreferenced { try repository.store.remove(Handle(.data, name)) }
        _ = try repository.store.removeStaleTemporaries(now: repository.clock.now().seconds)
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
