import Foundation
import VaultCore
import VaultRepository

/// Copies snapshots from one repository into another (`sitevault copy`), never changing the source.
///
/// When both repositories share their chunker parameters (same chunker seed and blob-id key, see
/// `init --copy-chunker-params`), only the blobs the target lacks are moved, without compressing
/// again: each is opened with the source key, its id is recomputed from the plaintext, and its stored
/// form is sealed under the target key (`BlobCopier`). Otherwise every file is chunked again through
/// the target's chunker and the trees are rewritten (`Rechunker`).
///
/// Idempotent: a snapshot whose original (`Snapshot.original`, else its own id) is already the
/// original of a target snapshot is not copied again. Crash-safe like a backup: per snapshot, packs,
/// then the index, then the snapshot; an interrupted copy leaves only unreferenced packs or blobs.
/// The caller holds a shared lock on both repositories; `targetLock` is confirmed before each commit.
public struct Copier: Sendable {
    let source: Repository
    let target: Repository
    let targetLock: RepositoryLock?
    let progress: (@Sendable (CopyProgress) -> Void)?

    public init(source: Repository, target: Repository, targetLock: RepositoryLock? = nil,
                progress: (@Sendable (CopyProgress) -> Void)? = nil) {
        self.source = source; self.target = target; self.targetLock = targetLock; self.progress = progress
    }

    /// True when blobs can be copied as they are.
    public var sameChunkerParameters: Bool { source.key.sharesChunkerParameters(with: target.key) }

    /// Copies `snapshots` (of the source) that the target does not hold yet, oldest first.
    /// Throws `.invalidArgument` when both are the same repository, `.damaged`/`.corrupt` when a
    /// source blob is missing or damaged (nothing of that snapshot is committed), `.locked` when the
    /// target lock was lost.
    public func run(_ snapshots: [(id: ID, snapshot: Snapshot)], dryRun: Bool) throws -> CopyReport {
        guard source.config.id != target.config.id else {
            throw VaultError(.invalidArgument, "source and target are the same repository (\(target.store.location)): " +
                             "give --repo another repository than --from-repo")
        }
        var report = CopyReport()
        report.dryRun = dryRun
        report.rechunked = !sameChunkerParameters
        try source.loadIndex()
        try target.loadIndex()
        var present: [String: ID] = [:]
        for s in try target.snapshots() { present[s.snapshot.original ?? s.id.hex] = s.id }
        let todo = snapshots.sorted { ($0.snapshot.time, $0.id) < ($1.snapshot.time, $1.id) }
        var pending: [(ID, Snapshot)] = []
        for (id, snap) in todo {
            let original = snap.original ?? id.hex
            if let there = present[original] {
                report.snapshots.append(.init(source: id.hex, target: there.hex, result: "present", time: snap.time, tags: snap.tags))
            } else if dryRun {
                report.snapshots.append(.init(source: id.hex, target: nil, result: "would-copy", time: snap.time, tags: snap.tags))
                present[original] = id
            } else {
                pending.append((id, snap))
                present[original] = id
            }
        }
        for (n, (id, snap)) in pending.enumerated() {
            var p = CopyProgress(); p.snapshot = n + 1; p.snapshots = pending.count
            let newID = try copyOne(id, snap, progress: p, report: &report)
            report.snapshots.append(.init(source: id.hex, target: newID.hex, result: "copied", time: snap.time, tags: snap.tags))
        }
        report.snapshots.sort { ($0.time, $0.source) < ($1.time, $1.source) }
        return report
    }

    private func copyOne(_ id: ID, _ snap: Snapshot, progress p: CopyProgress, report: inout CopyReport) throws -> ID {
        guard let root = snap.treeID else {
            throw VaultError(.corrupt, "snapshot \(id.short) names no valid tree", context: ["snapshot": id.hex])
        }
        let writer = BlobWriter(repository: target)
        let newRoot: ID
        if sameChunkerParameters {
            try BlobCopier(source: source, writer: writer, progress: progress, base: p).copy(root: root)
            newRoot = root
        } else {
            newRoot = try Rechunker(source: source, writer: writer, progress: progress, base: p).copy(root: root)
        }
        try targetLock?.ensureHeld()
        try writer.flush()
        report.blobsCopied += writer.stats.blobsAdded
        report.bytesCopied += writer.stats.bytesAdded
        report.bytesStored += writer.stats.bytesStored
        report.packsWritten += writer.stats.packsWritten
        var copy = snap
        copy.tree = newRoot.hex
        copy.parent = nil   // the parent is a source id; the target's next backup finds its own
        copy.original = snap.original ?? id.hex
        copy.copiedFrom = SnapshotOrigin(repository: source.config.id, snapshot: id.hex, time: target.clock.now())
        try targetLock?.ensureHeld()
        return try target.saveSnapshot(copy)
    }
}
