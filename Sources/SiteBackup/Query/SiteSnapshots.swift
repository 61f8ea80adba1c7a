import Foundation
import VaultCore
import VaultRepository
import VaultStorage

/// A site snapshot as stored: the repository snapshot and the manifest inside it.
public struct SiteSnapshot: Sendable {
    public var id: ID
    public var snapshot: Snapshot
    public var manifest: RunReport
    public var controlFile: String
}

/// Finds site snapshots in a repository.
public enum SiteSnapshots {
    /// Opens a destination of the control file with its password file (or the password given).
    public static func open(_ d: DestinationConfig, password: [UInt8]? = nil, clock: VaultClock = SystemClock(),
                            storeOptions: StoreOptions = StoreOptions()) throws -> Repository {
        let store = try StoreFactory.open(d.path, options: storeOptions.with(s3CredentialsFile: d.s3CredentialsFile))
        let cfg = try Repository.readConfig(store)
        let repo = try Repository.open(store: store, config: cfg, password: try password ?? readPassword(d.passwordFile), clock: clock)
        try repo.loadIndex()
        return repo
    }

    /// The site's snapshots, oldest first.
    public static func list(_ repo: Repository, site: String) throws -> [(id: ID, snapshot: Snapshot)] {
        try repo.snapshots().filter { $0.snapshot.tags.contains("site=\(site)") }
    }

    /// `ref` is "latest", a snapshot id (or unique prefix), or a run id.
    public static func find(_ repo: Repository, site: String, ref: String) throws -> SiteSnapshot {
        let all = try list(repo, site: site)
        let hit: (id: ID, snapshot: Snapshot)?
        if ref == "latest" { hit = all.last } else {
            let byRun = all.filter { $0.snapshot.tags.contains("run=\(ref)") }
            let byID = all.filter { $0.id.hex.hasPrefix(ref.lowercased()) }
            if byID.count > 1 { throw VaultError(.invalidArgument, "snapshot prefix \(ref) is ambiguous: give more characters") }
            hit = byRun.last ?? byID.first
        }
        guard let hit else {
            throw VaultError(.notFound, ref == "latest" ? "site \(site) has no snapshot in this repository yet" : "no snapshot of site \(site) matches \(ref)")
        }
        return try load(repo, hit.id, hit.snapshot)
    }

    static func load(_ repo: Repository, _ id: ID, _ snap: Snapshot) throws -> SiteSnapshot {
        let root = try repo.loadTree(snap.treeID!)
        guard let meta = root.nodes.first(where: { $0.name == Array(".sitevault".utf8) })?.subtree else {
            throw VaultError(.invalidFormat, "snapshot \(id.hex.prefix(12)) is not a site snapshot (no .sitevault folder)")
        }
        let metaTree = try repo.loadTree(meta)
        func file(_ name: String) throws -> [UInt8] {
            guard let n = metaTree.nodes.first(where: { $0.name == Array(name.utf8) }) else {
                throw VaultError(.invalidFormat, "snapshot \(id.hex.prefix(12)) has no .sitevault/\(name)")
            }
            return try n.content.flatMap { try repo.loadBlob($0) }
        }
        let manifest = try JSONDecoder().decode(RunReport.self, from: Data(try file("manifest.json")))
        return SiteSnapshot(id: id, snapshot: snap, manifest: manifest, controlFile: String(decoding: try file("site.toml"), as: UTF8.self))
    }
}
