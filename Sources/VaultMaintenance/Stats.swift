import VaultCore
import VaultRepository
import VaultStorage

/// Sizes of a repository: what the snapshots hold, what is stored, and the dedup/compression gain.
public struct RepositoryStats: Codable, Sendable {
    public var snapshots = 0
    public var packs = 0
    public var blobs = 0
    public var treeBlobs = 0
    /// Sum of file sizes over every snapshot (what a restore of each would write).
    public var restoreSize: UInt64 = 0
    /// Plaintext size of the distinct blobs.
    public var uniqueSize: UInt64 = 0
    /// Bytes on disk in pack files.
    public var storedSize: UInt64 = 0
    public var compressionRatio: Double { storedSize == 0 ? 0 : Double(uniqueSize) / Double(storedSize) }
    public var dedupRatio: Double { uniqueSize == 0 ? 0 : Double(restoreSize) / Double(uniqueSize) }

    public static func compute(_ repository: Repository) throws -> RepositoryStats {
        var s = RepositoryStats()
        let index = repository.index
        s.packs = index.packs.count
        index.forEachBlob { _, loc in
            s.blobs += 1
            s.uniqueSize += UInt64(loc.entry.rawLength)
            if loc.entry.type == .tree { s.treeBlobs += 1 }
        }
        s.storedSize = try repository.store.list(.data).reduce(0) { $0 + UInt64($1.size) }
        var treeSizes: [ID: UInt64] = [:]
        func size(_ t: ID) throws -> UInt64 {
            if let v = treeSizes[t] { return v }
            var total: UInt64 = 0
            for n in try repository.loadTree(t).nodes {
                if n.type == .file { total += n.size }
                if let sub = n.subtree { total += try size(sub) }
            }
            treeSizes[t] = total
            return total
        }
        for snap in try repository.snapshots() {
            s.snapshots += 1
            if let t = snap.snapshot.treeID { s.restoreSize += try size(t) }
        }
        return s
    }
}
