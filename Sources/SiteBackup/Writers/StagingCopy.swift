#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import VaultCore
import VaultFileSystem

/// Copies files and folders into the staging folder while a writer holds the application frozen.
/// The staging copy of a folder is kept between runs and brought up to date (rsync-like): a file
/// whose size and modification time (nanoseconds) match is left alone, changed files are copied
/// again, vanished ones removed, so the freeze lasts as long as the changes take to copy, not the
/// whole folder. Each copied file is cloned (FICLONE: instant on btrfs/XFS) when the file system
/// allows, otherwise copied with copy_file_range. Mode, owner and times are kept; the snapshot
/// records the copy's metadata under the original path (and unchanged staged files keep their
/// inode, so the next backup does not read them again either).
enum StagingCopy {
    static let FICLONE: UInt = 0x4004_9409

    struct Stats { var files = 0; var bytes: UInt64 = 0; var cloned = 0; var unchanged = 0; var removed = 0 }

    /// Copies `source` (absolute) to `stagingRoot + source`. The tree is walked first (folders
    /// and symlinks made on the way), then the files are copied on several threads (creating many
    /// small files is bound by metadata latency, not bandwidth), then the folders get their
    /// metadata, deepest first, so their times are the originals'.
    static func copy(_ source: String, into stagingRoot: String, stats: inout Stats) throws {
        let dest = stagingRoot + source
        // The folders leading to it exist in the staging area only as plain folders.
        var parent = dest
        if let slash = parent.lastIndex(of: "/") { parent = String(parent[..<slash]) }
        try makeFolder(parent)
        var plan = Plan()
        try walk(FilePath(source), FilePath(dest), into: &plan)
        stats.unchanged += plan.unchanged
        stats.removed += plan.removed
        let firstError = Locked<Error?>(nil)
        let total = Locked(Stats())
        let files = plan.files
        let shards = min(4, max(1, files.count))
        DispatchQueue.concurrentPerform(iterations: shards) { shard in
            var mine = Stats()
            defer { total.withLock { $0.files += mine.files; $0.bytes += mine.bytes; $0.cloned += mine.cloned } }
            var i = shard
            while i < files.count {
                let f = files[i]
                do {
                    try copyFile(f.src, f.dst, size: UInt64(f.st.st_size), stats: &mine)
                    applyMetadata(f.dst, f.st)
                } catch {
                    firstError.withLock { if $0 == nil { $0 = error } }
                    return
                }
                i += shards
            }
        }
        if let e = firstError.current { throw e }
        let t = total.current
        stats.files += t.files; stats.bytes += t.bytes; stats.cloned += t.cloned
        for d in plan.dirs.reversed() { applyMetadata(d.dst, d.st) }
    }

    struct Entry { var src: FilePath; var dst: FilePath; var st: stat }
    struct Plan { var files: [Entry] = []; var dirs: [Entry] = []; var unchanged = 0; var removed = 0 }

    /// Byte paths all the way down, so names that are not valid UTF-8 are copied exactly.
    private static func walk(_ src: FilePath, _ dst: FilePath, into plan: inout Plan) throws {
        var st = stat(), old = stat()
        guard src.withCString({ lstat($0, &st) }) == 0 else { throw VaultError.posix("cannot read", path: src.description, errno: errno) }
        let staged = dst.withCString { lstat($0, &old) } == 0
        let type = st.st_mode & S_IFMT
        // Whatever is staged under this name but of another type goes first.
        if staged && old.st_mode & S_IFMT != type { remove(dst); plan.removed += 1 }
        let sameType = staged && old.st_mode & S_IFMT == type
        switch type {
        case S_IFDIR:
            if !sameType && dst.withCString({ mkdir($0, 0o700) }) != 0 && errno != EEXIST {
                throw VaultError.posix("cannot create folder", path: dst.description, errno: errno)
            }
            plan.dirs.append(Entry(src: src, dst: dst, st: st))
            let names = try FileSystem.list(src)
            if sameType {
                let keep = Set(names)
                for gone in (try? FileSystem.list(dst)) ?? [] where !keep.contains(gone) { remove(dst.appending(gone)); plan.removed += 1 }
            }
            for name in names { try walk(src.appending(name), dst.appending(name), into: &plan) }
        case S_IFREG:
            if sameType && old.st_size == st.st_size && old.st_mtim.tv_sec == st.st_mtim.tv_sec && old.st_mtim.tv_nsec == st.st_mtim.tv_nsec {
                plan.unchanged += 1
                if old.st_mode != st.st_mode || old.st_uid != st.st_uid || old.st_gid != st.st_gid { applyMetadata(dst, st) }
            } else {
                plan.files.append(Entry(src: src, dst: dst, st: st))
            }
        case S_IFLNK:
            let target = try FileSystem.readLink(src)
            if sameType, (try? FileSystem.readLink(dst)) == target { plan.unchanged += 1; return }
            if sameType { remove(dst) }
            let r = FilePath(target).withCString { t in dst.withCString { symlink(t, $0) } }
            if r != 0 { throw VaultError.posix("cannot create symlink", path: dst.description, errno: errno) }
            applyMetadata(dst, st)
        default:
            // Sockets, fifos and devices are not copied.
            return
        }
    }

    static func applyMetadata(_ dst: FilePath, _ st: stat) {
        dst.withCString { d in
            _ = lchown(d, st.st_uid, st.st_gid)
            if st.st_mode & S_IFMT != S_IFLNK { _ = chmod(d, st.st_mode & 0o7777) }
            var times = [st.st_atim, st.st_mtim]
            _ = utimensat(AT_FDCWD, d, &times, AT_SYMLINK_NOFOLLOW)
        }
    }

    private static func copyFile(_ srcPath: FilePath, _ dstPath: FilePath, size: UInt64, stats: inout Stats) throws {
        let src = srcPath.description, dst = dstPath.description
        let i = srcPath.withCString { open($0, O_RDONLY | O_CLOEXEC | O_NOFOLLOW) }
        guard i >= 0 else { throw VaultError.posix("cannot open", path: src, errno: errno) }
        defer { close(i) }
        let o = dstPath.withCString { open($0, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600) }
        guard o >= 0 else { throw VaultError.posix("cannot create", path: dst, errno: errno) }
        defer { close(o) }
        stats.files += 1; stats.bytes += size
        if ioctl(o, FICLONE, i) == 0 { stats.cloned += 1; return }
        var copied: UInt64 = 0
        while true {
            let n = c_copy_file_range(i, nil, o, nil, 8 << 20, 0)
            if n < 0 {
                if errno == EINTR { continue }
                if errno == EXDEV || errno == ENOSYS || errno == EINVAL { break }
                throw VaultError.posix("cannot copy", path: src, errno: errno)
            }
            if n == 0 { return }
            copied += UInt64(n)
        }
        // Fallback: plain read/write.
        var buf = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = read(i, &buf, buf.count)
            if n < 0 { if errno == EINTR { continue }; throw VaultError.posix("cannot read", path: src, errno: errno) }
            if n == 0 { return }
            var off = 0
            while off < n {
                let w = buf.withUnsafeBytes { write(o, $0.baseAddress! + off, n - off) }
                if w < 0 { if errno == EINTR { continue }; throw VaultError.posix("cannot write", path: dst, errno: errno) }
                off += w
            }
        }
    }

    /// Bytes a copy of `path` would take (regular files only), for the space check before freezing.
    static func size(of path: String) -> UInt64 { size(of: FilePath(path)) }

    static func size(of path: FilePath) -> UInt64 {
        var st = stat()
        guard path.withCString({ lstat($0, &st) }) == 0 else { return 0 }
        switch st.st_mode & S_IFMT {
        case S_IFREG: return UInt64(st.st_size)
        case S_IFDIR:
            var total: UInt64 = 0
            for name in (try? FileSystem.list(path)) ?? [] { total += size(of: path.appending(name)) }
            return total
        default: return 0
        }
    }

    /// Removes a folder and everything in it (the staging area after a run).
    static func remove(_ path: String) { remove(FilePath(path)) }

    static func remove(_ path: FilePath) {
        var st = stat()
        guard path.withCString({ lstat($0, &st) }) == 0 else { return }
        if st.st_mode & S_IFMT == S_IFDIR {
            for name in (try? FileSystem.list(path)) ?? [] { remove(path.appending(name)) }
            _ = path.withCString { rmdir($0) }
        } else { _ = path.withCString { unlink($0) } }
    }
}

@_silgen_name("copy_file_range")
private func c_copy_file_range(_ fdIn: Int32, _ offIn: UnsafeMutablePointer<Int64>?, _ fdOut: Int32,
                               _ offOut: UnsafeMutablePointer<Int64>?, _ len: Int, _ flags: UInt32) -> Int

/// Free bytes for an unprivileged writer on the file system holding `path`.
func freeSpace(_ path: String) -> UInt64? {
    var s = statvfs()
    guard statvfs(path, &s) == 0 else { return nil }
    return UInt64(s.f_bavail) * UInt64(s.f_frsize)
}
