#if canImport(Glibc)
import Glibc
#endif
import VaultCore
import VaultRepository
import VaultRestorer

/// A site snapshot opened for reading back: the main repository's snapshot (manifest and control
/// file), and the snapshot of the same run in each other repository of the split layout.
public final class SiteArchive: @unchecked Sendable {
    // @unchecked: immutable after init; repositories are thread-safe.
    public let snapshot: SiteSnapshot
    public let main: Repository
    let repositories: [String: Repository]
    let roots: [String: ID]
    /// Shared locks: a prune cannot remove what is being read.
    private let locks: [RepositoryLock]
    /// Set for each repository read without a lock because the lock could not be written
    /// (a read-only or full repository); empty with `noLock`.
    public let lockWarnings: [String]

    /// Opens the destinations of `config` and finds `ref` ("latest", a snapshot id prefix or a run id).
    /// With `noLock` no lock is taken; otherwise a lock that cannot be written on a read-only or
    /// full repository is skipped and named in `lockWarnings`. `onIndexWarning` receives, once each,
    /// the repositories' index warnings (a damaged index file, packs read through their headers).
    public init(config: SiteConfig, ref: String, password: [UInt8]? = nil, operation: String, hostname: String,
                clock: VaultClock = SystemClock(), noLock: Bool = false,
                onIndexWarning: (@Sendable (String) -> Void)? = nil) throws {
        func watch(_ r: Repository) -> Repository {
            guard let onIndexWarning else { return r }
            r.setWarningHandler(onIndexWarning)
            for d in r.damagedIndexFiles { r.warn(d.warning) }
            return r
        }
        main = watch(try SiteSnapshots.open(config.mainDestination, password: password, clock: clock))
        let user = getpwuid(geteuid()).map { String(cString: $0.pointee.pw_name) } ?? "\(geteuid())"
        var warnings: [String] = []
        func lock(_ r: Repository) throws -> RepositoryLock? {
            let access = try RepositoryLock.acquireForReading(r, operation: operation, hostname: hostname, username: user, wait: 60,
                                                              noLock: noLock)
            if let w = access.warning { warnings.append(w) }
            return access.lock
        }
        var locks = [try lock(main)].compactMap { $0 }
        // The index may have changed while we waited for the lock.
        _ = try main.refreshIndex()
        snapshot = try SiteSnapshots.find(main, site: config.site, ref: ref)
        var repos = ["main": main]
        var roots = ["main": snapshot.snapshot.treeID!]
        // Parts copied into this repository (a copy target holds the copies of every part, each
        // recording the id the manifest names as its `original`) are read from it.
        // (The manifest names the other parts only: the main snapshot's id is not known before its commit.)
        let copiedParts = snapshot.manifest.snapshots.keys.contains { $0 != "main" } ? (try? main.snapshots()) ?? [] : []
        for (name, id) in snapshot.manifest.snapshots where name != "main" {
            if let part = copiedParts.first(where: { $0.snapshot.original == id }), let tree = part.snapshot.treeID {
                repos[name] = main; roots[name] = tree
                continue
            }
            guard let d = config.destinations[name] else { continue }
            do {
                let r = watch(try SiteSnapshots.open(d, clock: clock))
                let l = try lock(r)
                guard let sid = ID(hex: id), let tree = try r.loadSnapshot(sid).treeID else { l?.release(); continue }
                repos[name] = r; roots[name] = tree
                if let l { locks.append(l) }
            } catch {
                // Components in that repository fail on their own, naming it; the others go on.
                continue
            }
        }
        repositories = repos
        self.roots = roots
        self.locks = locks
        lockWarnings = warnings
    }

    deinit { release() }

    public func release() { for l in locks { l.release() } }

    public var manifest: RunReport { snapshot.manifest }

    /// The component's report in the manifest.
    public func report(_ name: String) -> ComponentReport? { manifest.components.first { $0.name == name } }

    /// The repository holding a component and the tree of its folder.
    public func component(_ name: String) throws -> (repo: Repository, tree: ID) {
        guard let r = report(name) else { throw VaultError(.notFound, "snapshot \(snapshot.id.short) has no component \(name)") }
        guard let repo = repositories[r.repository], let root = roots[r.repository] else {
            throw VaultError(.notFound, "component \(name) is stored in repository '\(r.repository)', which cannot be opened (is it mounted? is its password file readable?)")
        }
        guard let node = try repo.loadTree(root).nodes.first(where: { $0.name == Array(name.utf8) }), let tree = node.subtree else {
            throw VaultError(.notFound, "component \(name) was not stored in snapshot \(snapshot.id.short) (its backup \(r.result)\(r.message.map { ": \($0)" } ?? ""))")
        }
        return (repo, tree)
    }
}

extension SiteSnapshot {
    /// The control file kept inside the snapshot, parsed as if it were still where it was when
    /// the snapshot was made (relative paths resolve the same way). Paths are not checked.
    public func storedConfig() throws -> SiteConfig {
        let file = manifest.controlFilePath ?? "/\(manifest.site).toml"
        return try ControlFile.parse(text: controlFile, file: file, checkPaths: false)
    }
}
