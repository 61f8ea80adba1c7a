import VaultCore
import VaultRepository

/// How much each group of snapshots (all snapshots with the tag `PREFIX VALUE`, e.g. `site=shop`)
/// holds, and how much of it is stored once for several groups (`stats`: deduplication across sites).
public struct GroupStats: Encodable, Sendable {
    public struct Group: Encodable, Sendable {
        /// The tag's value (the site's name).
        public var name: String
        public var snapshots = 0
        /// Plaintext size of the distinct data blobs the group's snapshots use.
        public var referencedSize: UInt64 = 0
        /// The part of `referencedSize` no other group uses.
        public var exclusiveSize: UInt64 = 0
        /// The part of `referencedSize` another group uses too (stored once for both).
        public var sharedSize: UInt64 { referencedSize - exclusiveSize }
        enum CodingKeys: String, CodingKey { case name, snapshots, referencedSize, exclusiveSize, sharedSize }
        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(name, forKey: .name); try c.encode(snapshots, forKey: .snapshots)
            try c.encode(referencedSize, forKey: .referencedSize); try c.encode(exclusiveSize, forKey: .exclusiveSize)
            try c.encode(sharedSize, forKey: .sharedSize)
        }
    }
    public var groups: [Group] = []
    /// Plaintext size of the data blobs used by two groups or more (each stored once).
    public var sharedSize: UInt64 = 0
    /// Bytes saved by storing shared blobs once: Σ referenced − distinct.
    public var savedSize: UInt64 = 0

    /// Walks every snapshot tagged `prefix…` (each tree once) and sums the data blobs per group.
    public static func compute(_ repository: Repository, tagPrefix: String = "site=") throws -> GroupStats {
        var users: [ID: Set<String>] = [:]
        var counts: [String: Int] = [:]
        var treeBlobs: [ID: Set<ID>] = [:]
        func blobs(_ tree: ID) throws -> Set<ID> {
            if let done = treeBlobs[tree] { return done }
            var out = Set<ID>()
            for n in try repository.loadTree(tree).nodes {
                out.formUnion(n.content)
                if let sub = n.subtree { out.formUnion(try blobs(sub)) }
            }
            treeBlobs[tree] = out
            return out
        }
        for s in try repository.snapshots() {
            for tag in s.snapshot.tags where tag.hasPrefix(tagPrefix) {
                let name = String(tag.dropFirst(tagPrefix.count))
                counts[name, default: 0] += 1
                guard let root = s.snapshot.treeID else { continue }
                for b in try blobs(root) { users[b, default: []].insert(name) }
            }
        }
        var groups = Dictionary(uniqueKeysWithValues: counts.map { ($0.key, Group(name: $0.key, snapshots: $0.value)) })
        var stats = GroupStats()
        for (blob, names) in users {
            let size = UInt64(repository.lookup(blob)?.entry.rawLength ?? 0)
            for n in names {
                groups[n]!.referencedSize += size
                if names.count == 1 { groups[n]!.exclusiveSize += size }
            }
            if names.count > 1 { stats.sharedSize += size; stats.savedSize += size * UInt64(names.count - 1) }
        }
        stats.groups = groups.values.sorted { $0.name < $1.name }
        return stats
    }
}
