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
    public var concurrency = 2
    public init(target: String) { self.target = target }
}

public struct RestoreResult: Sendable {
    public var files = 0
    public var dirs = 0
    public var bytes: UInt64 = 0
    public var errors: [(path: String, message: String)] = []
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
/// unsafe names ("..", "/" inside a name) are refused and symlinks found in the target are replaced,
/// never followed. Every blob is authenticated and checked against its id while reading.
public final class Restorer: @unchecked Sendable {
    // @unchecked: mutable result is guarded by `mutex`.
    let repository: Repository
    let tree: ID
    let options: RestoreOptions
    public let progress: RestoreProgress
    private let mutex = Mutex()
    private var result = RestoreResult()
    private let isRoot = geteuid() == 0
    private let euid = geteuid(), egid = getegid()

    struct FileJob { var path: FilePath; var node: Node }

    public init(repository: Repository, tree: ID, options: RestoreOptions, progress: RestoreProgress = RestoreProgress()) {
        self.repository = repository; self.tree = tree; self.options = options; self.progress = progress
    }

    public func run() async throws -> RestoreResult {
        let target = FilePath(options.target).absolute()
        try prepareTarget(target)
        var files: [FileJob] = []
        var dirs: [(FilePath, Node)] = []
        var links: [(FilePath, FilePath)] = []
        var firstLink: [String: FilePath] = [:]
        let includes = options.includes.map { FilePath($0).absolute().components }
        try walk(tree, at: target, inner: [], includes: includes, files: &files, dirs: &dirs, links: &links, firstLink: &firstLink)

        try await withThrowingTaskGroup(of: Void.self) { group in
            var next = 0
            func add() {
                guard next < files.count else { return }
                let job = files[next]; next += 1
                group.addTask { try self.restoreFile(job) }
            }
            for _ in 0..<max(1, options.concurrency) { add() }
            while try await group.next() != nil { add() }
        }
        for (link, source) in links {
            _ = link.withCString { unlink($0) }
            let r = source.withCString { s in link.withCString { Glibc.link(s, $0) } }
            if r != 0 { noteError(link, VaultError.posix("cannot create hard link", path: link.description, errno: errno)) }
            else { mutex.withLock { result.files += 1 } }
        }
        // Directory metadata last, deepest first, so writing into them does not change their times.
        for (path, node) in dirs.reversed() { applyMetadata(path, node, fd: nil) }
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

    /// Is this path (components inside the snapshot) wanted, and should we descend into it?
    func selected(_ inner: [[UInt8]], _ includes: [[[UInt8]]]) -> (want: Bool, descend: Bool) {
        if includes.isEmpty { return (true, true) }
        for inc in includes {
            if inner.count >= inc.count && Array(inner.prefix(inc.count)) == inc { return (true, true) }
            if inner.count < inc.count && Array(inc.prefix(inner.count)) == inner { return (false, true) }
        }
        return (false, false)
    }

    func walk(_ treeID: ID, at dir: FilePath, inner: [[UInt8]], includes: [[[UInt8]]], files: inout [FileJob], dirs: inout [(FilePath, Node)],
              links: inout [(FilePath, FilePath)], firstLink: inout [String: FilePath]) throws {
        let tree = try repository.loadTree(treeID)
        var seen = Set<[UInt8]>()
        for node in tree.nodes {
            guard node.hasSafeName, seen.insert(node.name).inserted else {
                noteError(dir.appending(node.name), VaultError(.unsafePath, "refusing unsafe or duplicate name \(node.displayName) in snapshot"))
                continue
            }
            let innerPath = inner + [node.name]
            let sel = selected(innerPath, includes)
            guard sel.want || (sel.descend && node.type == .directory) else { continue }
            let path = dir.appending(node.name)
            switch node.type {
            case .directory:
                try makeDirectory(path)
                dirs.append((path, node))
                mutex.withLock { result.dirs += 1 }
                if let sub = node.subtree {
                    try walk(sub, at: path, inner: innerPath, includes: includes, files: &files, dirs: &dirs, links: &links, firstLink: &firstLink)
                }
            case .file:
                if node.links > 1 {
                    let key = "\(node.device):\(node.inode)"
                    if let first = firstLink[key] { links.append((path, first)); continue }
                    firstLink[key] = path
                }
                files.append(FileJob(path: path, node: node))
            case .symlink:
                removeExisting(path)
                let r = FilePath(node.linkTarget).withCString { t in path.withCString { symlink(t, $0) } }
                if r != 0 { noteError(path, VaultError.posix("cannot create symlink", path: path.description, errno: errno)); continue }
                applyMetadata(path, node, fd: nil)
                mutex.withLock { result.files += 1 }
            case .fifo, .charDevice, .blockDevice, .socket:
                removeExisting(path)
                let kind: mode_t = node.type == .fifo ? S_IFIFO : node.type == .charDevice ? S_IFCHR : node.type == .blockDevice ? S_IFBLK : S_IFSOCK
                let r = path.withCString { mknod($0, kind | mode_t(node.mode), dev_t(node.rdev)) }
                if r != 0 { noteError(path, VaultError.posix("cannot create special file", path: path.description, errno: errno)); continue }
                applyMetadata(path, node, fd: nil)
                mutex.withLock { result.files += 1 }
            }
        }
    }

    /// Creates a directory, replacing a non-directory (a symlink is never followed).
    func makeDirectory(_ path: FilePath) throws {
        var st = stat()
        if path.withCString({ lstat($0, &st) }) == 0 {
            if st.st_mode & S_IFMT == S_IFDIR { return }
            removeExisting(path)
        }
        if path.withCString({ mkdir($0, 0o700) }) != 0 && errno != EEXIST {
            throw VaultError.posix("cannot create folder", path: path.description, errno: errno)
        }
    }

    func removeExisting(_ path: FilePath) {
        var st = stat()
        guard path.withCString({ lstat($0, &st) }) == 0 else { return }
        if st.st_mode & S_IFMT == S_IFDIR { _ = path.withCString { rmdir($0) } } else { _ = path.withCString { unlink($0) } }
    }

    /// Writes a file under a temporary name in its folder and renames it into place once complete,
    /// so a restore that fails mid-file never leaves a truncated file under the real name (with
    /// --overwrite the old file stays as it was); the error names the real file.
    func restoreFile(_ job: FileJob) throws {
        let path = job.path
        let temp = temporaryPath(for: path)
        // Always a new inode under a fresh name: nothing in the way is ever opened or followed.
        let fd = temp.withCString { open($0, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600) }
        guard fd >= 0 else { noteError(path, VaultError.posix("cannot create", path: path.description, errno: errno)); return }
        var complete = false
        defer {
            close(fd)
            if !complete { _ = temp.withCString { unlink($0) } }
        }
        var offset: off_t = 0
        var writtenEnd: off_t = 0
        for id in job.node.content {
            let plain: [UInt8]
            do { plain = try repository.loadBlob(id) } catch { noteError(path, error); return }
            let ok = plain.withUnsafeBytes { buf -> Bool in
                // Write only the non-zero 64 KiB blocks: zero runs become holes (sparse files stay sparse).
                var start = 0
                while start < buf.count {
                    let end = min(start + 65536, buf.count)
                    let block = UnsafeRawBufferPointer(rebasing: buf[start..<end])
                    if !isAllZero(block) {
                        if !writeAll(fd, block, at: offset + off_t(start)) { return false }
                        writtenEnd = offset + off_t(end)
                    }
                    start = end
                }
                return true
            }
            if !ok {
                let err = VaultError.posix("cannot write", path: path.description, errno: errno)
                if err.code == .noSpace { throw err }
                noteError(path, err); return
            }
            offset += off_t(plain.count)
            progress.add(files: 0, bytes: UInt64(plain.count))
        }
        // Zero chunks were skipped: set the length so they read back as zeros (a sparse hole).
        if writtenEnd != offset && ftruncate(fd, offset) != 0 { noteError(path, VaultError.posix("cannot set size of", path: path.description, errno: errno)); return }
        applyMetadata(temp, job.node, fd: fd, reportAs: path)
        // rename replaces a file or symlink in the way (never following it); a folder must go first.
        var r = temp.withCString { t in path.withCString { rename(t, $0) } }
        if r != 0 && (errno == EISDIR || errno == ENOTEMPTY || errno == EEXIST) {
            removeExisting(path)
            r = temp.withCString { t in path.withCString { rename(t, $0) } }
        }
        guard r == 0 else { noteError(path, VaultError.posix("cannot rename into place", path: path.description, errno: errno)); return }
        complete = true
        progress.add(files: 1, bytes: 0)
        mutex.withLock { result.files += 1; result.bytes += UInt64(offset) }
    }

    func writeAll(_ fd: Int32, _ buf: UnsafeRawBufferPointer, at offset: off_t) -> Bool {
        var done = 0
        while done < buf.count {
            let n = pwrite(fd, buf.baseAddress! + done, buf.count - done, offset + off_t(done))
            if n < 0 { if errno == EINTR { continue }; return false }
            done += n
        }
        return true
    }

    func isAllZero(_ b: UnsafeRawBufferPointer) -> Bool {
        guard b.count >= 4096 else { return false }
        let words = b.count / 8
        let p = b.baseAddress!
        for i in 0..<words where p.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self) != 0 { return false }
        for i in (words * 8)..<b.count where b[i] != 0 { return false }
        return true
    }

    /// `.sitevault-restore-<16 hex>` in the folder of `path`.
    func temporaryPath(for path: FilePath) -> FilePath {
        let hex = String(UInt64.random(in: .min ... .max), radix: 16)
        let name = ".sitevault-restore-" + String(repeating: "0", count: 16 - hex.count) + hex
        return FilePath(Array(path.bytes.dropLast(path.lastComponent.count)) + Array(name.utf8))
    }

    /// Owner (when root), permissions, extended attributes and times. Errors name `reportAs` when
    /// given (the real name of a file still written under a temporary one).
    func applyMetadata(_ path: FilePath, _ node: Node, fd: Int32?, reportAs: FilePath? = nil) {
        let shown = reportAs ?? path
        // A file we just created in a folder we created already has our uid/gid; skip the syscall then.
        if isRoot && (node.uid != euid || node.gid != egid || fd == nil || options.overwrite) {
            let r = fd.map { fchown($0, node.uid, node.gid) } ?? path.withCString { lchown($0, node.uid, node.gid) }
            if r != 0 { noteError(shown, VaultError.posix("cannot set owner of", path: shown.description, errno: errno)) }
        }
        if node.type != .symlink {
            let r = fd.map { fchmod($0, mode_t(node.mode)) } ?? path.withCString { chmod($0, mode_t(node.mode)) }
            if r != 0 { noteError(shown, VaultError.posix("cannot set mode of", path: shown.description, errno: errno)) }
        }
        for x in node.xattrs {
            do { try FileSystem.setXattr(path, x) } catch { noteError(shown, error) }
        }
        let atime = node.type == .directory || node.atime == 0 ? node.mtime : node.atime
        var times = [timespec(tv_sec: Int(atime / 1_000_000_000), tv_nsec: Int(atime % 1_000_000_000)),
                     timespec(tv_sec: Int(node.mtime / 1_000_000_000), tv_nsec: Int(node.mtime % 1_000_000_000))]
        let r = fd.map { futimens($0, &times) } ?? path.withCString { utimensat(AT_FDCWD, $0, &times, AT_SYMLINK_NOFOLLOW) }
        if r != 0 { noteError(shown, VaultError.posix("cannot set times of", path: shown.description, errno: errno)) }
    }
}
