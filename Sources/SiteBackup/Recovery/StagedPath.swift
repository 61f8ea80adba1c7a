#if canImport(Glibc)
import Glibc
#endif
import VaultCore
import VaultFileSystem
import VaultRepository
import VaultRestorer

/// One path being recovered: the snapshot's copy is first restored into a work folder beside the
/// destination (same file system, so the swap is two renames), then swapped in; what was there is
/// moved into a side folder beside it, and removed only once the whole recovery succeeded.
///
/// A destination that is a mount point cannot be renamed: then the work and side folders are made
/// inside it and its entries are moved one by one.
struct StagedPath {
    var destination: String
    var work: String
    var staged: String
    var sideDir: String
    var side: String
    /// The destination is a mount point: move its entries, not itself.
    var inside = false
    var replaced = false

    static func parent(_ p: String) -> String {
        guard let i = p.lastIndex(of: "/"), i != p.startIndex else { return "/" }
        return String(p[..<i])
    }

    static func base(_ p: String) -> String { String(p[p.index(after: p.lastIndex(of: "/") ?? p.index(before: p.startIndex))...]) }

    static func exists(_ p: String) -> Bool {
        var st = stat()
        return lstat(p, &st) == 0
    }

    static func isMountPoint(_ p: String) -> Bool {
        var a = stat(), b = stat()
        guard lstat(p, &a) == 0, a.st_mode & S_IFMT == S_IFDIR, stat(parent(p), &b) == 0 else { return false }
        return a.st_dev != b.st_dev
    }

    /// Creates the destination's parent folders when the machine is new; each folder created gets
    /// the owner and mode `owner` gives for it (the snapshot's), else root's 0755.
    static func makeParents(_ p: String, owner: (String) -> FileOwner? = { _ in nil }) throws {
        var missing: [String] = []
        var dir = parent(p)
        while dir != "/" && !exists(dir) { missing.append(dir); dir = parent(dir) }
        for d in missing.reversed() {
            if mkdir(d, 0o755) != 0 && errno != EEXIST { throw VaultError.posix("cannot create folder", path: d, errno: errno) }
            try owner(d)?.apply(to: d)
        }
    }

    init(destination: String, runID: String) {
        self.destination = destination
        inside = StagedPath.isMountPoint(destination)
        let anchor = inside ? destination : StagedPath.parent(destination)
        let name = StagedPath.base(destination)
        work = anchor + "/.sitevault-recover-" + runID
        staged = inside ? work : work + "/" + name
        sideDir = anchor + "/.sitevault-replaced-" + runID
        side = inside ? sideDir : sideDir + "/" + name
    }

    /// A destination inside another one being recovered (a database in an application's data
    /// folder): its work and side folders live in the outer path's, outside the tree that the
    /// outer swap moves aside, so nothing restored is carried away with it.
    init(destination: String, nestedIn outer: StagedPath, index: Int, runID: String) {
        self.destination = destination
        let workRoot = outer.inside ? outer.work : StagedPath.parent(outer.staged)
        let name = StagedPath.base(destination)
        work = workRoot + "/nested-\(index)"
        staged = work + "/" + name
        sideDir = outer.sideDir + "/nested-\(index)"
        side = sideDir + "/" + name
    }

    /// Whether `path` is `dir` or lies under it.
    static func isInside(_ path: String, _ dir: String) -> Bool {
        dir == "/" || path == dir || path.hasPrefix(dir + "/")
    }

    /// Restores `node` (an entry of the folder tree `folder`) into the work folder.
    /// Several destinations in one folder share its work folder (each restores only its own entry).
    func stage(_ repo: Repository, folder: ID, node: Node) async throws -> RestoreResult {
        StagingCopy.remove(staged)
        var opts: RestoreOptions
        let tree: ID
        if inside {
            guard let sub = node.subtree else { throw VaultError(.invalidArgument, "\(destination) is a mount point but a file in the snapshot") }
            opts = RestoreOptions(target: work); tree = sub
        } else {
            opts = RestoreOptions(target: work); opts.includes = ["/" + node.displayName]; opts.overwrite = true; tree = folder
        }
        let r = try await Restorer(repository: repo, tree: tree, options: opts).run()
        if !r.errors.isEmpty {
            throw VaultError(.io, "restoring \(destination): \(r.errors.count) error(s), first: \(r.errors[0].path): \(r.errors[0].message)")
        }
        return r
    }

    /// Moves the current destination aside and the staged copy into place.
    mutating func swap() throws {
        try makeFolder(sideDir)
        if inside {
            let skip: Set<String> = [StagedPath.base(work), StagedPath.base(sideDir)]
            for e in try FileSystem.list(FilePath(destination)) where !skip.contains(String(decoding: e, as: UTF8.self)) {
                let n = String(decoding: e, as: UTF8.self)
                try StagedPath.rename(destination + "/" + n, side + "/" + n)
            }
            replaced = true
            for e in try FileSystem.list(FilePath(work)) {
                let n = String(decoding: e, as: UTF8.self)
                try StagedPath.rename(work + "/" + n, destination + "/" + n)
            }
        } else {
            if StagedPath.exists(destination) { try StagedPath.rename(destination, side); replaced = true }
            if !StagedPath.exists(StagedPath.parent(destination)) { try StagedPath.makeParents(destination) }
            try StagedPath.rename(staged, destination)
        }
        rmdir(work)
    }

    /// Moves a file beside the destination (e.g. a database's -wal) into the side folder.
    func moveAside(_ path: String) throws {
        guard StagedPath.exists(path) else { return }
        try makeFolder(sideDir)
        try StagedPath.rename(path, sideDir + "/" + StagedPath.base(path))
    }

    /// After success: the side folder goes (unless kept). The work folder always goes.
    func finish(keep: Bool) {
        StagingCopy.remove(work)
        if !keep { StagingCopy.remove(sideDir) }
    }

    static func rename(_ from: String, _ to: String) throws {
        if Glibc.rename(from, to) != 0 { throw VaultError.posix("cannot move \(from) to", path: to, errno: errno) }
    }
}
