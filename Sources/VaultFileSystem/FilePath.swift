#if canImport(Glibc)
import Glibc
#endif
import VaultCore

/// A file-system path as raw bytes (no NUL), so any name — invalid UTF-8 included — is handled exactly.
public struct FilePath: Hashable, Sendable, CustomStringConvertible {
    public var bytes: [UInt8]
    public init(_ bytes: [UInt8]) { self.bytes = bytes }
    public init(_ s: String) { self.bytes = Array(s.utf8) }

    public func appending(_ name: [UInt8]) -> FilePath {
        var b = bytes
        if b.last != 47 { b.append(47) }
        b.append(contentsOf: name)
        return FilePath(b)
    }

    public var description: String { Node.display(bytes) }

    /// Calls `body` with a NUL-terminated C string of the path.
    @inline(__always)
    public func withCString<T>(_ body: (UnsafePointer<CChar>) throws -> T) rethrows -> T {
        var z = bytes; z.append(0)
        return try z.withUnsafeBufferPointer { try $0.withMemoryRebound(to: CChar.self) { try body($0.baseAddress!) } }
    }

    /// The path made absolute against the current directory and with "." / ".." / "//" removed.
    public func absolute() -> FilePath {
        var comps: [[UInt8]] = []
        var base = bytes
        if base.first != 47 {
            var buf = [CChar](repeating: 0, count: 4096)
            if getcwd(&buf, buf.count) != nil {
                let cwd = Array(buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) })
                base = cwd + [47] + base
            }
        }
        for c in base.split(separator: 47, omittingEmptySubsequences: true) {
            if c.elementsEqual([46]) { continue }
            if c.elementsEqual([46, 46]) { _ = comps.popLast(); continue }
            comps.append(Array(c))
        }
        var out: [UInt8] = []
        for c in comps { out.append(47); out.append(contentsOf: c) }
        return FilePath(out.isEmpty ? [47] : out)
    }

    public var components: [[UInt8]] { bytes.split(separator: 47, omittingEmptySubsequences: true).map(Array.init) }
    public var lastComponent: [UInt8] { components.last ?? [] }
}

/// What lstat reports, as the metadata of a tree node (the name is filled in by the caller).
public struct FileInfo: Sendable {
    public var meta: Node

    public var type: NodeType { meta.type }
    public var size: UInt64 { meta.size }

    public init(_ st: stat) {
        let type: NodeType
        switch st.st_mode & S_IFMT {
        case S_IFDIR: type = .directory
        case S_IFLNK: type = .symlink
        case S_IFCHR: type = .charDevice
        case S_IFBLK: type = .blockDevice
        case S_IFIFO: type = .fifo
        case S_IFSOCK: type = .socket
        default: type = .file
        }
        func ns(_ t: timespec) -> Int64 { Int64(t.tv_sec) * 1_000_000_000 + Int64(t.tv_nsec) }
        // Folders record no access time: reading them for the backup changes it.
        meta = Node(name: [], type: type, mode: UInt32(st.st_mode & 0o7777), uid: st.st_uid, gid: st.st_gid,
                    size: type == .file ? UInt64(st.st_size) : 0, mtime: ns(st.st_mtim), atime: type == .directory ? 0 : ns(st.st_atim),
                    ctime: ns(st.st_ctim), inode: UInt64(st.st_ino), device: UInt64(st.st_dev), links: UInt64(st.st_nlink),
                    rdev: UInt64(st.st_rdev))
    }

    public static func lstat(_ p: FilePath) throws -> FileInfo {
        var st = stat()
        let r = p.withCString { Glibc.lstat($0, &st) }
        guard r == 0 else { throw VaultError.posix("cannot stat", path: p.description, errno: errno) }
        return FileInfo(st)
    }

    /// Like `lstat` but follows symlinks.
    public static func following(_ p: FilePath) throws -> FileInfo {
        var st = stat()
        let r = p.withCString { stat($0, &st) }
        guard r == 0 else { throw VaultError.posix("cannot stat", path: p.description, errno: errno) }
        return FileInfo(st)
    }

    /// A node for a tree, without content.
    public func node(name: [UInt8]) -> Node {
        var n = meta
        n.name = name
        return n
    }

}
