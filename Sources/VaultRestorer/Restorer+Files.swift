#if canImport(Glibc)
import Glibc
#endif
import VaultCore
import VaultFileSystem
import VaultRepository

/// Where metadata is applied: an open descriptor, or a name in an open folder (symlinks and special
/// files, never followed).
enum MetadataTarget {
    case fd(Int32)
    case at(Int32, [UInt8])
}

extension Restorer {
    /// Writes a file under a temporary name in its (open) folder and renames it into place once
    /// complete, so a restore that fails mid-file never leaves a truncated file under the real name
    /// (with --overwrite the old file stays as it was); the error names the real file. All-zero
    /// blocks are not written: the file is sized with ftruncate, so holes stay holes.
    func restoreFile(_ job: FileJob) throws {
        let path = job.path, dir = job.folder.fd
        let temp = temporaryName()
        // Always a new inode under a fresh name: nothing in the way is ever opened or followed.
        let fd = FilePath(temp).withCString { openat(dir, $0, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600) }
        guard fd >= 0 else { noteError(path, VaultError.posix("cannot create", path: path.description, errno: errno)); return }
        var complete = false
        defer {
            close(fd)
            if !complete { _ = FilePath(temp).withCString { unlinkat(dir, $0, 0) } }
        }
        var offset: off_t = 0
        var writtenEnd: off_t = 0
        var last: (id: ID, plain: [UInt8])?   // a run of equal chunks (zeros of a sparse file) is loaded once
        for id in job.node.content {
            let plain: [UInt8]
            if let last, last.id == id { plain = last.plain } else {
                do { plain = try repository.loadBlob(id) } catch { noteError(path, error); return }
                last = (id, plain)
            }
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
        if writtenEnd != offset && ftruncate(fd, offset) != 0 {
            noteError(path, VaultError.posix("cannot set size of", path: path.description, errno: errno)); return
        }
        applyMetadata(.fd(fd), job.node, shown: path, fresh: true)
        // renameat replaces a file or symlink in the way (never following it); a folder must go first.
        func rename() -> Int32 { FilePath(temp).withCString { t in FilePath(job.name).withCString { renameat(dir, t, dir, $0) } } }
        var r = rename()
        if r != 0 && (errno == EISDIR || errno == ENOTEMPTY || errno == EEXIST) {
            removeExisting(dir, job.name)
            r = rename()
        }
        guard r == 0 else { noteError(path, VaultError.posix("cannot rename into place", path: path.description, errno: errno)); return }
        complete = true
        progress.add(files: 1, bytes: 0)
        count(files: 1, bytes: UInt64(offset))
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

    /// True for a block of at least 4 KiB that is all zeros (memcmp: fast in any build).
    func isAllZero(_ b: UnsafeRawBufferPointer) -> Bool {
        guard b.count >= 4096, b.count <= Self.zeroBlock.count else { return false }
        return memcmp(b.baseAddress!, Self.zeroBlock.baseAddress!, b.count) == 0
    }

    /// 64 KiB of zeros, never written.
    nonisolated(unsafe) static let zeroBlock: UnsafeRawBufferPointer = {
        let b = UnsafeMutableRawBufferPointer.allocate(byteCount: 65536, alignment: 16)
        b.initializeMemory(as: UInt8.self, repeating: 0)
        return UnsafeRawBufferPointer(b)
    }()

    /// `.sitevault-restore-<16 hex>`, a fresh name in the file's folder.
    func temporaryName() -> [UInt8] {
        let hex = String(UInt64.random(in: .min ... .max), radix: 16)
        return Array((".sitevault-restore-" + String(repeating: "0", count: 16 - hex.count) + hex).utf8)
    }

    /// Owner (when root), permissions, extended attributes and times, through the descriptor or
    /// relative to the open folder without following a symlink. `fresh`: a file just created by us
    /// (it already has our owner). Errors name `shown`.
    func applyMetadata(_ target: MetadataTarget, _ node: Node, shown: FilePath, fresh: Bool) {
        func at(_ dir: Int32, _ name: [UInt8], _ body: (UnsafePointer<CChar>) -> Int32) -> Int32 {
            FilePath(name).withCString { body($0) }
        }
        if isRoot && (node.uid != euid || node.gid != egid || !fresh || options.overwrite) {
            let r: Int32
            switch target {
            case .fd(let fd): r = fchown(fd, node.uid, node.gid)
            case .at(let dir, let name): r = at(dir, name) { fchownat(dir, $0, node.uid, node.gid, AT_SYMLINK_NOFOLLOW) }
            }
            if r != 0 { noteError(shown, VaultError.posix("cannot set owner of", path: shown.description, errno: errno)) }
        }
        if node.type != .symlink {
            let r: Int32
            switch target {
            case .fd(let fd): r = fchmod(fd, mode_t(node.mode))
            case .at(let dir, let name): r = at(dir, name) { fchmodat(dir, $0, mode_t(node.mode), AT_SYMLINK_NOFOLLOW) }
            }
            if r != 0 { noteError(shown, VaultError.posix("cannot set mode of", path: shown.description, errno: errno)) }
        }
        for x in node.xattrs {
            do {
                switch target {
                case .fd(let fd): try FileSystem.setXattr(fd: fd, x, label: shown.description)
                case .at(let dir, let name): try FileSystem.setXattr(Beneath.procPath(dir, name), x, label: shown.description)
                }
            } catch { noteError(shown, error) }
        }
        let atime = node.type == .directory || node.atime == 0 ? node.mtime : node.atime
        var times = [timespec(tv_sec: Int(atime / 1_000_000_000), tv_nsec: Int(atime % 1_000_000_000)),
                     timespec(tv_sec: Int(node.mtime / 1_000_000_000), tv_nsec: Int(node.mtime % 1_000_000_000))]
        let r: Int32
        switch target {
        case .fd(let fd): r = futimens(fd, &times)
        case .at(let dir, let name): r = at(dir, name) { utimensat(dir, $0, &times, AT_SYMLINK_NOFOLLOW) }
        }
        if r != 0 { noteError(shown, VaultError.posix("cannot set times of", path: shown.description, errno: errno)) }
    }
}
