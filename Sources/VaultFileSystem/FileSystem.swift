#if canImport(Glibc)
import Glibc
#endif
import VaultCore

/// Directory listing, symlinks and extended attributes, on raw-byte paths.
public enum FileSystem {
    /// Names in a directory (without "." and ".."), sorted bytewise.
    public static func list(_ dir: FilePath) throws -> [[UInt8]] {
        guard let dp = dir.withCString({ opendir($0) }) else {
            throw VaultError.posix("cannot read folder", path: dir.description, errno: errno)
        }
        defer { closedir(dp) }
        var out: [[UInt8]] = []
        while let ent = readdir(dp) {
            let name: [UInt8] = withUnsafeBytes(of: ent.pointee.d_name) { raw in
                let n = strnlen(raw.baseAddress!.assumingMemoryBound(to: CChar.self), raw.count)
                return Array(raw.prefix(n))
            }
            if name == [46] || name == [46, 46] { continue }
            out.append(name)
        }
        out.sort { $0.lexicographicallyPrecedes($1) }
        return out
    }

    public static func readLink(_ p: FilePath) throws -> [UInt8] {
        var buf = [UInt8](repeating: 0, count: 4096)
        let n = p.withCString { c in buf.withUnsafeMutableBufferPointer { readlink(c, UnsafeMutableRawPointer($0.baseAddress!).assumingMemoryBound(to: CChar.self), 4096) } }
        guard n >= 0 else { throw VaultError.posix("cannot read link", path: p.description, errno: errno) }
        return Array(buf[0..<n])
    }

    /// Extended attributes of a path (not following symlinks). Unsupported file systems give none.
    public static func xattrs(_ p: FilePath) -> [ExtendedAttribute] {
        let size = p.withCString { llistxattr($0, nil, 0) }
        guard size > 0 else { return [] }
        var names = [CChar](repeating: 0, count: size)
        let got = p.withCString { llistxattr($0, &names, size) }
        guard got > 0 else { return [] }
        var out: [ExtendedAttribute] = []
        let raw = names[0..<got].map { UInt8(bitPattern: $0) }
        for nameBytes in raw.split(separator: 0) {
            let name = Array(nameBytes)
            let vsize = p.withCString { c in FilePath(name).withCString { n in lgetxattr(c, n, nil, 0) } }
            guard vsize >= 0 else { continue }
            var value = [UInt8](repeating: 0, count: vsize)
            let vgot = p.withCString { c in FilePath(name).withCString { n in value.withUnsafeMutableBytes { lgetxattr(c, n, $0.baseAddress, vsize) } } }
            guard vgot >= 0 else { continue }
            out.append(ExtendedAttribute(name: name, value: Array(value[0..<vgot])))
        }
        return out.sorted { $0.name.lexicographicallyPrecedes($1.name) }
    }

    /// Sets an extended attribute (not following a symlink); errors name `label` when given.
    public static func setXattr(_ p: FilePath, _ x: ExtendedAttribute, label: String? = nil) throws {
        let r = p.withCString { c in FilePath(x.name).withCString { n in x.value.withUnsafeBytes { lsetxattr(c, n, $0.baseAddress, x.value.count, 0) } } }
        if r != 0 { throw VaultError.posix("cannot set extended attribute \(Node.display(x.name)) on", path: label ?? p.description, errno: errno) }
    }
}

// sys/xattr.h is not part of Glibc's Swift module map.
@_silgen_name("llistxattr") private func llistxattr(_ path: UnsafePointer<CChar>, _ list: UnsafeMutablePointer<CChar>?, _ size: Int) -> Int
@_silgen_name("lgetxattr") private func lgetxattr(_ path: UnsafePointer<CChar>, _ name: UnsafePointer<CChar>, _ value: UnsafeMutableRawPointer?, _ size: Int) -> Int
@_silgen_name("lsetxattr") private func lsetxattr(_ path: UnsafePointer<CChar>, _ name: UnsafePointer<CChar>, _ value: UnsafeRawPointer?, _ size: Int, _ flags: Int32) -> Int32

extension FileSystem {
    /// Sets an extended attribute on an open file or folder.
    public static func setXattr(fd: Int32, _ x: ExtendedAttribute, label: String) throws {
        let r = FilePath(x.name).withCString { n in x.value.withUnsafeBytes { fsetxattr(fd, n, $0.baseAddress, x.value.count, 0) } }
        if r != 0 { throw VaultError.posix("cannot set extended attribute \(Node.display(x.name)) on", path: label, errno: errno) }
    }
}

@_silgen_name("fsetxattr") private func fsetxattr(_ fd: Int32, _ name: UnsafePointer<CChar>, _ value: UnsafeRawPointer?, _ size: Int, _ flags: Int32) -> Int32
