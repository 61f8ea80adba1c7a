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
