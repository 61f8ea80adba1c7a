#if canImport(Glibc)
import Glibc
#endif
import VaultCore
import VaultFileSystem
import VaultRepository

/// What to back up and how to label it.
public struct BackupOptions: Sendable {
    public var paths: [String]
    public var excludes: [String] = []
    public var tags: [String] = []
    public var hostname: String
    public var username: String
    /// Explicit parent snapshot; nil means "latest snapshot of the same host and paths".
    public var parent: ID?
    /// Files read at once.
    public var concurrency = 2
    /// The lock this backup runs under; confirmed just before the index and snapshot are written.
    public var lock: RepositoryLock?
    /// Called at the start of the commit, before the lock is confirmed (tests use it to change the
    /// repository at that moment, e.g. remove the lock file as a concurrent prune would).
    public var beforeCommit: (@Sendable () throws -> Void)?
    /// Called after each reading pass over a regular file, with its path and the pass number (1 or 2),
    /// before the file is checked for changes (tests use it to change the file while it is read).
    public var afterReadPass: (@Sendable (String, Int) -> Void)?
    public init(paths: [String], hostname: String, username: String) {
        self.paths = paths; self.hostname = hostname; self.username = username
    }
}

/// A failure to read the source (reported, the backup goes on), as opposed to a failure of the
/// repository (full disk, I/O error), which ends the backup before anything is committed.
struct SourceError: Error {
    var underlying: Error
}

/// The result of a backup: the snapshot saved, any file that could not be read, and any file that
/// changed while it was read (stored, but maybe inconsistent).
public struct BackupResult: Sendable {
    public var id: ID
    public var snapshot: Snapshot
    public var errors: [(path: String, message: String)]
    public var changedFiles: [String] { snapshot.changedFiles ?? [] }
}

/// Walks the file system and saves a snapshot. Unchanged files (same inode, size, mtime and ctime
/// as in the parent snapshot) are not read again; unreadable files are reported and skipped.
public final class Archiver: @unchecked Sendable {
    // @unchecked: mutable counters live in `progress` and `summary` (guarded by `mutex`).
    public let repository: Repository
    public let options: BackupOptions
    public let progress: BackupProgress
    let writer: BlobWriter
    let filter: PathFilter
    let semaphore: AsyncSemaphore
    private let mutex = Mutex()
    private var summary = BackupSummary()

    public init(repository: Repository, options: BackupOptions, progress: BackupProgress = BackupProgress()) {
        self.repository = repository
        self.options = options
        self.progress = progress
        self.writer = BlobWriter(repository: repository)
        self.filter = PathFilter(excludes: options.excludes)
        self.semaphore = AsyncSemaphore(max(1, options.concurrency))
    }

    /// Runs the backup and saves the snapshot. Throws before writing anything when a path is missing.
    public func run() async throws -> BackupResult {
        let start = monotonicSeconds()
        let roots = try options.paths.map { p -> FilePath in
            let fp = FilePath(p).absolute()
            _ = try FileInfo.lstat(fp)
            return fp
        }
        guard !roots.isEmpty else { throw VaultError(.invalidArgument, "nothing to back up: give at least one path") }
        let pathStrings = roots.map(\.description).sorted()
        var parentID = options.parent
        if parentID == nil {
            parentID = try repository.snapshots().last { $0.snapshot.hostname == options.hostname && $0.snapshot.paths == pathStrings }?.id
        }
        let parentTree = try parentID.flatMap { try repository.loadSnapshot($0).treeID }.map { try repository.loadTree($0) }

        let rootTree = try await saveVirtual(roots: roots, depth: 0, parent: parentTree, source: nil, filter: filter)
        return try commit(tree: rootTree, paths: pathStrings, parent: parentID, started: start)
    }

    /// Confirms the lock, writes the last pack and the index, confirms the lock again, then writes
    /// the snapshot. A lock lost meanwhile (removed as stale by another host's prune, which may have
    /// deleted this backup's packs) throws `.locked` and nothing refers to the new data.
    public func commit(tree rootTree: ID, paths: [String], parent parentID: ID?, started: Double, partial: Bool = false) throws -> BackupResult {
        try options.beforeCommit?()
        try options.lock?.ensureHeld()
        try writer.flush()
        try options.lock?.ensureHeld()
        var s = currentSummary
        let errors = progress.errors
        let changed = progress.changedFiles
        s.durationSeconds = monotonicSeconds() - started
        var snap = Snapshot(time: repository.clock.now(), tree: rootTree, paths: paths, hostname: options.hostname,
                            username: options.username, tags: options.tags, parent: parentID, excludes: options.excludes,
                            summary: s, partial: partial || !errors.isEmpty || !changed.isEmpty)
        snap.changedFiles = changed.isEmpty ? nil : changed
        let id = try repository.saveSnapshot(snap)
        return BackupResult(id: id, snapshot: snap, errors: errors)
    }

    /// The totals so far (callers that archive several parts diff two readings).
    public var currentSummary: BackupSummary {
        var s = mutex.withLock { summary }
        let ws = writer.stats
        s.bytesAdded = ws.bytesAdded; s.bytesStored = ws.bytesStored; s.blobsAdded = ws.blobsAdded; s.packsWritten = ws.packsWritten
        s.errors = progress.errors.count
        let changed = progress.changedFiles.count
        s.filesChangedWhileRead = changed == 0 ? nil : changed
        return s
    }

    /// Saves `roots` (absolute paths) as a tree that mirrors their absolute paths, and returns its id.
    /// With `source`, each root's content is read from `source + root` (a staging copy) while the
    /// folders leading to it keep the metadata of the original ones.
    public func saveFiles(_ roots: [FilePath], readingFrom source: FilePath? = nil, parent: Tree?, filter: PathFilter) async throws -> ID {
        var f = filter
        if let source { f.stripPrefix = source.bytes.count }
        return try await saveVirtual(roots: roots.map { $0.absolute() }, depth: 0, parent: parent, source: source, filter: f)
    }

    /// Saves a tree made of the given nodes (a folder that exists only in the snapshot).
    public func saveTree(nodes: [Node]) throws -> ID {
        try saveTree(Tree(nodes: nodes.sorted { $0.name.lexicographicallyPrecedes($1.name) }))
    }

    /// Saves bytes as a regular file node (captured command output, a manifest).
    public func saveBytes(name: [UInt8], bytes: [UInt8], mode: UInt32 = 0o600, time: Timestamp) throws -> Node {
        var n = Node(name: name, type: .file, mode: mode)
        n.size = UInt64(bytes.count); n.mtime = time.nanoseconds; n.ctime = time.nanoseconds; n.atime = time.nanoseconds
        n.uid = UInt32(getuid()); n.gid = UInt32(getgid())
        var ids: [ID] = []
        var start = 0
        try bytes.withUnsafeBytes { raw in
            while start < raw.count {
                let rest = UnsafeRawBufferPointer(rebasing: raw[start...])
                let cut = repository.chunker.cut(rest)
                ids.append(try writer.save(.data, UnsafeRawBufferPointer(rebasing: rest[0..<cut])).id)
                start += cut
            }
        }
        n.content = ids
        mutex.withLock { summary.filesNew += 1; summary.bytesProcessed += UInt64(bytes.count) }
        return n
    }

    /// Saves everything read from `fd` until end of file (a dump command's stdout) as a regular
    /// file node, without holding more than two chunks in memory.
    /// `tap`, when given, sees every byte as it is read (e.g. to feed a verifier). `chunking`
    /// picks the chunk sizes (`.database` for dumps and database copies).
    public func saveStream(name: [UInt8], fd: Int32, label: String, mode: UInt32 = 0o600, time: Timestamp,
                           chunking: Chunking = .files, tap: ((UnsafeRawBufferPointer) -> Void)? = nil) throws -> Node {
        var n = Node(name: name, type: .file, mode: mode)
        var size: UInt64 = 0
        n.content = try FileReader.chunks(fd: fd, sizeHint: nil, label: label, chunker: repository.chunker(for: chunking),
                                          writer: writer, progress: progress,
                                          tap: { bytes in
                                              size += UInt64(bytes.count)
                                              tap?(bytes)
                                          }, workers: max(2, options.concurrency))
        n.size = size
        n.mtime = time.nanoseconds; n.ctime = time.nanoseconds; n.atime = time.nanoseconds
        n.uid = UInt32(getuid()); n.gid = UInt32(getgid())
        mutex.withLock { summary.filesNew += 1; summary.bytesProcessed += n.size }
        return n
    }

    /// Builds the directories leading to each root (e.g. "srv" → "app"), with their real metadata.
    func saveVirtual(roots: [FilePath], depth: Int, parent: Tree?, source: FilePath?, filter: PathFilter) async throws -> ID {
        var groups: [[UInt8]: [FilePath]] = [:]
        for r in roots where r.components.count > depth { groups[r.components[depth], default: []].append(r) }
        var nodes: [Node] = []
        if roots.contains(where: { $0.components.isEmpty }) {
            // Backing up "/" itself.
            return try await saveDirectory(source ?? FilePath("/"), parent: parent, filter: filter)
        }
        for (name, members) in groups.sorted(by: { $0.key.lexicographicallyPrecedes($1.key) }) {
            let prefix = FilePath([47] + members[0].components.prefix(depth + 1).joined(separator: [47]))
            let isRoot = members.contains(where: { $0.components.count == depth + 1 })
            // A folder on the way to a root is recorded as the folder it leads to, even when it is
            // a symlink (e.g. /srv/current -> releases/42): the snapshot must hold a directory there.
            let info = isRoot ? try FileInfo.lstat(prefix) : try FileInfo.following(prefix)
            let oldNode = parent?.nodes.first { $0.name == name }
            let oldTree = try oldNode?.subtree.map { try repository.loadTree($0) }
            if isRoot {
                if let source {
                    let physical = FilePath(source.bytes + prefix.bytes)
                    nodes.append(try await saveEntry(physical, name: name, info: try FileInfo.lstat(physical), old: oldNode, filter: filter))
                } else {
                    nodes.append(try await saveEntry(prefix, name: name, info: info, old: oldNode, filter: filter))
                }
            } else {
                var n = info.node(name: name)
                n.subtree = try await saveVirtual(roots: members, depth: depth + 1, parent: oldTree, source: source, filter: filter)
                nodes.append(n)
            }
        }
        return try saveTree(Tree(nodes: nodes))
    }

    func saveTree(_ tree: Tree) throws -> ID {
        try writer.save(.tree, tree.encode()).id
    }

    func recordError(_ path: FilePath, _ error: Error) {
        let msg = (error as? VaultError)?.message ?? "\(error)"
        progress.error(path: path.description, message: msg)
    }

    /// Saves one directory's tree (children processed concurrently) and returns its id.
    func saveDirectory(_ dir: FilePath, parent: Tree?, filter: PathFilter) async throws -> ID {
        let names: [[UInt8]]
        do { names = try FileSystem.list(dir) } catch {
            recordError(dir, error)
            names = []
        }
        mutex.withLock { summary.dirs += 1 }
        var oldByName: [[UInt8]: Node] = [:]
        if let parent { for n in parent.nodes { oldByName[n.name] = n } }
        // At most `width` entries of a folder are in flight at once, so memory stays bounded
        // however many files a folder (or the whole tree) has.
        let width = max(2, options.concurrency * 2)
        let entries = names.filter { !filter.skips(path: dir.appending($0), name: $0) }
        let nodes = try await withThrowingTaskGroup(of: Node?.self) { group -> [Node] in
            var out: [Node] = []
            out.reserveCapacity(entries.count)
            for (i, name) in entries.enumerated() {
                if i >= width, let n = try await group.next(), let n { out.append(n) }
                let path = dir.appending(name)
                let old = oldByName[name]
                group.addTask { try await self.saveChild(path, name: name, old: old, filter: filter) }
            }
            for try await n in group { if let n { out.append(n) } }
            return out
        }
        return try saveTree(Tree(nodes: nodes))
    }

    /// Saves one entry of a folder. A source that cannot be read is reported and skipped (nil);
    /// a repository error (full disk, I/O error on the destination) ends the backup.
    func saveChild(_ path: FilePath, name: [UInt8], old: Node?, filter: PathFilter) async throws -> Node? {
        let info: FileInfo
        do { info = try FileInfo.lstat(path) } catch { recordError(path, error); return nil }
        guard filter.keeps(path: path, name: name, type: info.type) else { return nil }
        do { return try await saveEntry(path, name: name, info: info, old: old, filter: filter) } catch let e as SourceError {
            recordError(path, e.underlying); return nil
        }
    }

    /// Saves one entry of any type and returns its node.
    func saveEntry(_ path: FilePath, name: [UInt8], info: FileInfo, old: Node?, filter: PathFilter) async throws -> Node {
        switch info.type {
        case .directory:
            var n = info.node(name: name)
            n.xattrs = FileSystem.xattrs(path)
            let oldTree: Tree?
            if let sub = old?.subtree, old?.type == .directory { oldTree = try? repository.loadTree(sub) } else { oldTree = nil }
            n.subtree = try await saveDirectory(path, parent: oldTree, filter: filter)
            return n
        case .file:
            if let old, old.type == .file, old.inode == info.meta.inode, old.size == info.size, old.mtime == info.meta.mtime,
               old.ctime == info.meta.ctime, old.content.allSatisfy({ writer.isKnown($0) }) {
                var n = old
                n.name = name
                mutex.withLock { summary.filesUnmodified += 1; summary.bytesProcessed += info.size }
                progress.file(done: info.size, path: path.description)
                return n
            }
            await semaphore.acquire()
            let read = Result {
                try FileReader.read(path, chunker: repository.chunker, writer: writer, progress: progress, afterPass: options.afterReadPass)
            }
            await semaphore.release()
            let content = try read.get()
            // The metadata seen by the pass kept, and the size of what was stored (never the size
            // lstat saw before: a growing file would not match its content).
            var n = content.info.node(name: name)
            n.size = content.size
            n.xattrs = FileSystem.xattrs(path)
            n.content = content.ids
            if content.changed {
                progress.changed(path: path.description)
                // Keep the next backup from trusting this node's times: it must read the file again.
                n.ctime = 0
            }
            mutex.withLock {
                if old == nil { summary.filesNew += 1 } else { summary.filesChanged += 1 }
                summary.bytesProcessed += content.size
            }
            progress.file(done: 0, path: path.description)
            return n
        case .symlink:
            var n = info.node(name: name)
            do { n.linkTarget = try FileSystem.readLink(path) } catch { throw SourceError(underlying: error) }
            n.xattrs = FileSystem.xattrs(path)
            return n
        default:
            var n = info.node(name: name)
            n.xattrs = FileSystem.xattrs(path)
            return n
        }
    }
}
