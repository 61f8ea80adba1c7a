#if canImport(Glibc)
import Glibc
#endif
import VaultCore
import VaultFileSystem
import VaultRepository

/// Where and what to restore.
public struct RestoreOptions: Sendable {
    public var target: String
    /// Paths inside the snapshot (e.g. "/srv/app/config"); empty means everything.
    public var includes: [String] = []
    /// Allow a target that exists and is not empty (existing files are replaced).
    public var overwrite = false
    /// Packs read at once (each in runs of blobs: one ranged read per run), each by its own thread;
    /// nil takes the store's `concurrentReads` (2 for a local folder, more for a remote store,
    /// whose reads mostly wait for the network).
    public var concurrency: Int?
    /// The most files a batch writes at once (each holds a descriptor until its last blob is
    /// written): the restore streams, memory does not grow with the number of files.
    public var batchFiles = 1024
    /// Called right after each folder is created (or found), before it is opened: tests use it to
    /// change the target at that moment, e.g. swap the folder for a symlink as a hostile local user could.
    public var afterFolderCreated: (@Sendable (FilePath) -> Void)?
    public init(target: String) { self.target = target }
}

public struct RestoreResult: Sendable {
    public var files = 0
    public var dirs = 0
    public var bytes: UInt64 = 0
    public var errors: [(path: String, message: String)] = []
    /// The most files waiting to be written or being written at one time (never more than
    /// `RestoreOptions.batchFiles`).
    public var peakPendingFiles = 0
}

/// Live counters of a restore, for progress displays.
public final class RestoreProgress: @unchecked Sendable {
    // @unchecked: fields guarded by `mutex`.
    private let mutex = Mutex()
    private var _files = 0
    private var _bytes: UInt64 = 0
    public init() {}
    func add(files: Int, bytes: UInt64) { mutex.withLock { _files += files; _bytes += bytes } }
    public var snapshot: (files: Int, bytes: UInt64) { mutex.withLock { (_files, _bytes) } }
}

/// Restores a snapshot's tree under a target directory. Never writes outside the target:
/// unsafe names ("..", "/" inside a name) are refused, symlinks found in the target are replaced,
/// never followed, and everything is created relative to an open descriptor of its folder (opened
/// with `O_NOFOLLOW`), so a folder swapped for a symlink meanwhile cannot redirect a write.
/// The tree is walked once; its files are written in batches, each in pack order (see
/// `Restorer+Batch.swift`). Every blob is authenticated and checked against its id while reading.
public final class Restorer: @unchecked Sendable {
    // @unchecked: `result` and `deferredFolders` are guarded by `mutex`; the walk state
    // (`links`, `firstLink`) is touched only by the task that walks.
    let repository: Repository
    let tree: ID
    let options: RestoreOptions
    public let progress: RestoreProgress
    let mutex = Mutex()
    var result = RestoreResult()
    let isRoot = geteuid() == 0
    let euid = geteuid(), egid = getegid()
    private var links: [LinkJob] = []
    private var firstLink: [String: [[UInt8]]] = [:]
    /// Folders holding hard links (made last), whose metadata waits for them.
    private var foldersWithLinks = Set<[[UInt8]]>()
    private var deferredFolders: [(inner: [[UInt8]], node: Node, path: FilePath)] = []

    struct FileJob { var folder: RestoreFolder; var name: [UInt8]; var node: Node; var path: FilePath }
    struct LinkJob { var folder: [[UInt8]]; var name: [UInt8]; var source: [[UInt8]]; var path: FilePath }

    public init(repository: Repository, tree: ID, options: RestoreOptions, progress: RestoreProgress = RestoreProgress()) {
        self.repository = repository; self.tree = tree; self.options = options; self.progress = progress
    }

    public func run() async throws -> RestoreResult {
        let target = FilePath(options.target).absolute()
        try prepareTarget(target)
        let rootFD = target.withCString { open($0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
        guard rootFD >= 0 else { throw VaultError.posix("cannot open restore target", path: target.description, errno: errno) }
        defer { close(rootFD) }
        let root = RestoreFolder(fd: dup(rootFD), path: target, inner: [], node: nil, parent: nil, finish: { _ in })
        let includes = options.includes.map { FilePath($0).absolute().components }
        var batch: [FileJob] = []
        let limit = Self.batchLimit(options.batchFiles)
        do {
            try await walk(tree, in: root, includes: includes, batch: &batch, limit: limit)
            try writeBatch(batch)
        } catch {
            // A full disk (or a failed walk): the jobs not written still hold their folders.
            for job in batch { job.folder.release() }
            throw error
        }
        root.release()
        makeLinks(rootFD)
        // Folders that received hard links last get their metadata now, deepest first.
        for f in mutex.withLock({ deferredFolders }).sorted(by: { $0.inner.count > $1.inner.count }) {
            let fd = Beneath.openDirectory(rootFD, f.inner)
            guard fd >= 0 else { noteError(f.path, VaultError.posix("cannot reopen folder", path: f.path.description, errno: errno)); continue }
            applyMetadata(.fd(fd), f.node, shown: f.path, fresh: false)
            close(fd)
        }
        return mutex.withLock { result }
    }

    func prepareTarget(_ target: FilePath) throws {
        var st = stat()
        if target.withCString({ lstat($0, &st) }) == 0 {
            guard st.st_mode & S_IFMT == S_IFDIR else {
                throw VaultError(.targetNotEmpty, "restore target \(target) exists and is not a folder")
            }
            let entries = try FileSystem.list(target)
            if !entries.isEmpty && !options.overwrite {
                throw VaultError(.targetNotEmpty, "restore target \(target) is not empty; choose an empty folder or pass --overwrite to replace files in it")
            }
        } else {
            let parts = target.components
            var p = FilePath([])
            for c in parts {
                p = p.appending(c)
                if p.withCString({ mkdir($0, 0o700) }) != 0 && errno != EEXIST {
                    throw VaultError.posix("cannot create restore target", path: p.description, errno: errno)
                }
            }
        }
    }

    func noteError(_ path: FilePath, _ e: Error) {
        let msg = (e as? VaultError)?.message ?? "\(e)"
        mutex.withLock { result.errors.append((path.description, msg)) }
    }

    func count(files: Int = 0, dirs: Int = 0, bytes: UInt64 = 0) {
        mutex.withLock { result.files += files; result.dirs += dirs; result.bytes += bytes }
    }

    /// Is this path (components inside the snapshot) wanted, and should we descend into it?
    func selected(_ inner: [[UInt8]], _ includes: [[[UInt8]]]) -> (want: Bool, descend: Bool) {
        if includes.isEmpty { return (true, true) }
        for inc in includes {
            if inner.count >= inc.count && Array(inner.prefix(inc.count)) == inc { return (true, true) }
            if inner.count < inc.count && Array(inc.prefix(inner.count)) == inner { return (false, true) }
        }
        return (false, false)
    }

    /// Restores the entries of one tree into `folder`: sub-folders at once (depth first), files
    /// gathered into `batch`, which is written each time it holds `limit` files.
    func walk(_ treeID: ID, in folder: RestoreFolder, includes: [[[UInt8]]],
              batch: inout [FileJob], limit: Int) async throws {
        let tree = try repository.loadTree(treeID)
        var seen = Set<[UInt8]>()
        for node in tree.nodes {
            let path = folder.path.appending(node.name)
            guard node.hasSafeName, seen.insert(node.name).inserted else {
                noteError(path, VaultError(.unsafePath, "refusing unsafe or duplicate name \(node.displayName) in snapshot"))
                continue
            }
            let inner = folder.inner + [node.name]
            let sel = selected(inner, includes)
            guard sel.want || (sel.descend && node.type == .directory) else { continue }
            switch node.type {
            case .directory:
                guard let sub = try openFolder(node, in: folder, path: path, inner: inner) else { continue }
                count(dirs: 1)
                if let subtree = node.subtree {
                    try await walk(subtree, in: sub, includes: includes, batch: &batch, limit: limit)
                }
                sub.release()
            case .file:
                if node.links > 1 {
                    let key = "\(node.device):\(node.inode)"
                    if let first = firstLink[key] {
                        links.append(LinkJob(folder: folder.inner, name: node.name, source: first, path: path))
                        mutex.withLock { _ = foldersWithLinks.insert(folder.inner) }
                        continue
                    }
                    firstLink[key] = inner
                }
                folder.retain()
                batch.append(FileJob(folder: folder, name: node.name, node: node, path: path))
                if batch.count >= limit {
                    let jobs = batch
                    batch = []
                    try writeBatch(jobs)
                }
            case .symlink:
                restoreSymlink(node, in: folder.fd, path: path)
            case .fifo, .charDevice, .blockDevice, .socket:
                restoreSpecial(node, in: folder.fd, path: path)
            }
        }
    }

    /// Creates (or finds) a folder and opens it without following a symlink. A folder that turns out
    /// to be a symlink or a file by the time it is opened is reported and skipped with all it holds.
    func openFolder(_ node: Node, in parent: RestoreFolder, path: FilePath, inner: [[UInt8]]) throws -> RestoreFolder? {
        var st = stat()
        let isFolder = FilePath(node.name).withCString { fstatat(parent.fd, $0, &st, AT_SYMLINK_NOFOLLOW) } == 0
            && st.st_mode & S_IFMT == S_IFDIR
        if !isFolder {
            removeExisting(parent.fd, node.name)
            if FilePath(node.name).withCString({ mkdirat(parent.fd, $0, 0o700) }) != 0 && errno != EEXIST {
                throw VaultError.posix("cannot create folder", path: path.description, errno: errno)
            }
        }
        options.afterFolderCreated?(path)
        let fd = FilePath(node.name).withCString { openat(parent.fd, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
        guard fd >= 0 else {
            if errno == ELOOP || errno == ENOTDIR {
                noteError(path, VaultError(.unsafePath, "\(path) was replaced by a symlink or a file while it was being restored; "
                    + "nothing was restored into it or through it. Something else is writing in the target: stop it "
                    + "(or restore into an empty folder only you can write to) and restore again"))
            } else {
                noteError(path, VaultError.posix("cannot open folder", path: path.description, errno: errno))
            }
            return nil
        }
        return RestoreFolder(fd: fd, path: path, inner: inner, node: node, parent: parent) { [self] f in folderDone(f) }
    }

    /// Everything inside a folder is written: set its metadata (or wait for its hard links).
    func folderDone(_ folder: RestoreFolder) {
        guard let node = folder.node else { return }
        let deferred = mutex.withLock { () -> Bool in
            guard foldersWithLinks.contains(folder.inner) else { return false }
            deferredFolders.append((folder.inner, node, folder.path))
            return true
        }
        if !deferred { applyMetadata(.fd(folder.fd), node, shown: folder.path, fresh: false) }
    }

    /// Hard links, once every file is written: both folders reopened below the target, no symlink followed.
    func makeLinks(_ rootFD: Int32) {
        for l in links {
            let dst = Beneath.openDirectory(rootFD, l.folder)
            let src = Beneath.openDirectory(rootFD, Array(l.source.dropLast()))
            defer { if dst >= 0 { close(dst) }; if src >= 0 { close(src) } }
            guard dst >= 0, src >= 0 else {
                noteError(l.path, VaultError.posix("cannot reopen the folder of hard link", path: l.path.description, errno: errno)); continue
            }
            removeExisting(dst, l.name)
            let r = FilePath(l.source.last!).withCString { s in FilePath(l.name).withCString { linkat(src, s, dst, $0, 0) } }
            if r != 0 { noteError(l.path, VaultError.posix("cannot create hard link", path: l.path.description, errno: errno)) }
            else { count(files: 1) }
        }
    }

    func restoreSymlink(_ node: Node, in dir: Int32, path: FilePath) {
        removeExisting(dir, node.name)
        let r = FilePath(node.linkTarget).withCString { t in FilePath(node.name).withCString { symlinkat(t, dir, $0) } }
        if r != 0 { noteError(path, VaultError.posix("cannot create symlink", path: path.description, errno: errno)); return }
        applyMetadata(.at(dir, node.name), node, shown: path, fresh: false)
        count(files: 1)
    }

    func restoreSpecial(_ node: Node, in dir: Int32, path: FilePath) {
        removeExisting(dir, node.name)
        let kind: mode_t = node.type == .fifo ? S_IFIFO : node.type == .charDevice ? S_IFCHR : node.type == .blockDevice ? S_IFBLK : S_IFSOCK
        let r = FilePath(node.name).withCString { mknodat(dir, $0, kind | mode_t(node.mode), dev_t(node.rdev)) }
        if r != 0 { noteError(path, VaultError.posix("cannot create special file", path: path.description, errno: errno)); return }
        applyMetadata(.at(dir, node.name), node, shown: path, fresh: false)
        count(files: 1)
    }

    /// Removes what is at `name` in `dir` (a folder only when empty); never follows a symlink.
    func removeExisting(_ dir: Int32, _ name: [UInt8]) {
        var st = stat()
        FilePath(name).withCString { n in
            guard fstatat(dir, n, &st, AT_SYMLINK_NOFOLLOW) == 0 else { return }
            _ = unlinkat(dir, n, st.st_mode & S_IFMT == S_IFDIR ? AT_REMOVEDIR : 0)
        }
    }
}
