import VaultCore
import VaultCrypto
import VaultRepository
import VaultStorage

/// One snapshot that `repair snapshots` rewrote (or would rewrite).
public struct RepairedSnapshot: Codable, Sendable {
    public var original: String
    /// The new snapshot (nil with `dryRun`, or when nothing of the snapshot could be read).
    public var replacement: String?
    public var removed: [RemovedPath]
    /// Whether the original was removed (`forget`).
    public var originalForgotten = false
    /// Set when the snapshot cannot be repaired (its root folder listing is missing): it is kept.
    public var error: String?
}

/// What `repair snapshots` did.
public struct SnapshotRepairReport: Codable, Sendable {
    public var snapshotsChecked = 0
    public var repaired: [RepairedSnapshot] = []
    /// Snapshot files that cannot be read at all (left as they are; `forget` removes them).
    public var unreadableSnapshots: [String] = []
    public var dryRun = false
}

/// Rewrites snapshots that reference missing or damaged blobs into new snapshots without the
/// damaged parts, like restic's `repair snapshots`: a file whose content has a missing or damaged
/// blob is **dropped** (never truncated), a folder whose listing is missing becomes an empty folder.
/// The new snapshot keeps the original's time, host, paths and tags, adds the tag `repaired` and
/// records the original's id and every path left out (`Snapshot.repair`). The original is kept
/// unless `forget`. A blob is damaged when it is in no index and no pack header, when its pack is
/// missing or its header does not list it, or, with `readData`, when it does not authenticate.
public final class SnapshotRepairer: @unchecked Sendable {
    // @unchecked: used by one thread at a time (the caches are plain dictionaries).
    let repository: Repository
    let lock: RepositoryLock?
    public var readData = false
    private var packState: [ID: Set<ID>?] = [:]
    private var packSizes: [String: Int] = [:]
    private var blobOK: [ID: Bool] = [:]
    private var intact = Set<ID>()

    public init(repository: Repository, lock: RepositoryLock? = nil) {
        self.repository = repository; self.lock = lock
    }

    /// Repairs `only` (snapshot ids) or every snapshot. Throws `.locked` when the lock was lost
    /// before a commit, or on a storage failure (what was committed before stays valid).
    public func run(only: [ID]? = nil, dryRun: Bool, forget: Bool) throws -> SnapshotRepairReport {
        var report = SnapshotRepairReport()
        report.dryRun = dryRun
        try repository.loadIndex()
        try repository.scanUnindexedPacks()
        packSizes = Dictionary(try repository.store.list(.data).map { ($0.name, $0.size) }, uniquingKeysWith: { a, _ in a })
        let all = try repository.listSnapshots()
        report.unreadableSnapshots = all.damaged.map { "snapshots/\($0.name)" }
        let wanted = only.map(Set.init)
        let writer = BlobWriter(repository: repository)
        for (id, snap) in all.good where wanted?.contains(id) ?? true {
            report.snapshotsChecked += 1
            var removed: [RemovedPath] = []
            guard let root = snap.treeID, let newRoot = try rewrite(root, path: "", removed: &removed, writer: dryRun ? nil : writer) else {
                report.repaired.append(RepairedSnapshot(original: id.hex, removed: [], error:
                    "the snapshot's root folder listing is missing or damaged: nothing of it can be read; it is kept (forget removes it)"))
                continue
            }
            guard newRoot != root else { continue }
            var entry = RepairedSnapshot(original: id.hex, removed: removed)
            if !dryRun {
                try lock?.ensureHeld()
                try writer.flush()
                var fixed = snap
                fixed.tree = newRoot.hex
                if !fixed.tags.contains("repaired") { fixed.tags.append("repaired") }
                fixed.repair = SnapshotRepair(original: id.hex, time: repository.clock.now(), removed: removed)
                entry.replacement = try repository.saveSnapshot(fixed).hex
                if forget {
                    try repository.removeSnapshot(id)
                    entry.originalForgotten = true
                }
            }
            report.repaired.append(entry)
        }
        return report
    }

    /// The id of `tree` without its damaged parts (the same id when nothing is damaged), or nil
    /// when the tree itself cannot be read. With no writer, new trees are only computed.
    func rewrite(_ tree: ID, path: String, removed: inout [RemovedPath], writer: BlobWriter?) throws -> ID? {
        if intact.contains(tree) { return tree }
        guard blobUsable(tree), let t = try? repository.loadTree(tree) else { return nil }
        var nodes: [Node] = []
        var changed = false
        for var n in t.nodes {
            let p = path + "/" + n.displayName
            let bad = n.content.filter { !blobUsable($0) }.count
            if bad > 0 {
                removed.append(RemovedPath(path: p, reason: "file dropped: \(bad) of \(n.content.count) content blob(s) missing or damaged"))
                changed = true
                continue
            }
            if let sub = n.subtree {
                if let fixed = try rewrite(sub, path: p, removed: &removed, writer: writer) {
                    if fixed != sub { n.subtree = fixed; changed = true }
                } else {
                    removed.append(RemovedPath(path: p, reason: "folder listing missing or damaged: kept as an empty folder"))
                    n.subtree = try save(Tree(nodes: []), writer)
                    changed = true
                }
            }
            nodes.append(n)
        }
        let result = changed ? try save(Tree(nodes: nodes), writer) : tree
        if !changed { intact.insert(tree) }
        return result
    }

    func save(_ tree: Tree, _ writer: BlobWriter?) throws -> ID {
        let bytes = tree.encode()
        guard let writer else { return repository.key.blobID(bytes) }
        return try writer.save(.tree, bytes).id
    }

    /// Present in the index (or an unindexed pack header), its pack present with a header listing
    /// it, and with `readData` authenticating against its id.
    func blobUsable(_ id: ID) -> Bool {
        if let known = blobOK[id] { return known }
        var ok = false
        if let loc = repository.lookup(id), packBlobs(loc.pack)?.contains(id) == true {
            ok = !readData || (try? repository.loadBlob(id)) != nil
        }
        blobOK[id] = ok
        return ok
    }

    /// The blobs a pack's header lists, or nil when the pack is missing or its header unreadable.
    func packBlobs(_ pack: ID) -> Set<ID>? {
        if let known = packState[pack] { return known }
        var blobs: Set<ID>?
        if let size = packSizes[pack.hex], let header = try? repository.readPackHeader(pack, size: size) {
            blobs = Set(header.map(\.id))
        }
        packState[pack] = blobs
        return blobs
    }
}
