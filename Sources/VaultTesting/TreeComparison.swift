import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Describes a directory tree — names, types, modes, sizes, mtimes, link targets, hard-link groups
/// and SHA-256-free content fingerprints — so two trees can be compared exactly in tests.
public enum TreeComparison {
    public struct Entry: Hashable, CustomStringConvertible {
        public var path: [UInt8]
        public var type: String
        public var mode: UInt32
        public var size: Int64
        public var mtime: Int64
        public var content: [UInt8]
        public var linkGroup: Int
        public var description: String {
            "\(String(decoding: path, as: UTF8.self)) \(type) \(String(mode, radix: 8)) size=\(size) mtime=\(mtime) links=\(linkGroup)"
        }
    }

    /// Lists every entry under `root` (relative paths), with file contents.
    /// `withDirTimes: false` ignores directory mtimes (a restore target's top folders are new).
    public static func describe(_ root: String, withDirTimes: Bool = true) -> [Entry] {
        var out: [Entry] = []
        var inodeGroups: [UInt64: Int] = [:]
        func walk(_ rel: [UInt8]) {
            let full = Array(root.utf8) + rel
            var names: [[UInt8]] = []
            guard let dp = cstr(full, { opendir($0) }) else { return }
            while let ent = readdir(dp) {
                let n: [UInt8] = withUnsafeBytes(of: ent.pointee.d_name) { raw in Array(raw.prefix(strnlen(raw.baseAddress!.assumingMemoryBound(to: CChar.self), raw.count))) }
                if n != [46] && n != [46, 46] { names.append(n) }
            }
            closedir(dp)
            for n in names.sorted(by: { $0.lexicographicallyPrecedes($1) }) {
                let r = rel + [47] + n
                let p = Array(root.utf8) + r
                var st = stat()
                guard cstr(p, { lstat($0, &st) }) == 0 else { continue }
                let fmt = st.st_mode & S_IFMT
                var e = Entry(path: r, type: "other", mode: UInt32(st.st_mode & 0o7777), size: Int64(st.st_size),
                              mtime: Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec), content: [], linkGroup: 0)
                if fmt == S_IFREG {
                    e.type = "file"
                    e.content = (try? Data(contentsOf: URL(fileURLWithPath: String(decoding: p, as: UTF8.self)))).map { Array($0) } ?? readBytes(p)
                    if st.st_nlink > 1 {
                        if inodeGroups[UInt64(st.st_ino)] == nil { inodeGroups[UInt64(st.st_ino)] = inodeGroups.count + 1 }
                        e.linkGroup = inodeGroups[UInt64(st.st_ino)]!
                    }
                } else if fmt == S_IFDIR {
                    e.type = "dir"; e.size = 0
                    if !withDirTimes { e.mtime = 0 }
                    out.append(e)
                    walk(r)
                    continue
                } else if fmt == S_IFLNK {
                    e.type = "symlink"; e.mode = 0
                    var buf = [CChar](repeating: 0, count: 4096)
                    let len = cstr(p) { readlink($0, &buf, 4096) }
                    e.content = buf.prefix(max(0, len)).map { UInt8(bitPattern: $0) }
                }
                out.append(e)
            }
        }
        walk([])
        return out
    }

    static func readBytes(_ p: [UInt8]) -> [UInt8] {
        let fd = cstr(p) { open($0, O_RDONLY) }
        guard fd >= 0 else { return [] }
        defer { close(fd) }
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            out += buf[0..<n]
        }
        return out
    }

    /// Human-readable differences (empty when identical).
    public static func differences(_ a: [Entry], _ b: [Entry]) -> [String] {
        var out: [String] = []
        let mb = Dictionary(b.map { ($0.path, $0) }, uniquingKeysWith: { x, _ in x })
        let ma = Dictionary(a.map { ($0.path, $0) }, uniquingKeysWith: { x, _ in x })
        for e in a {
            guard let o = mb[e.path] else { out.append("missing: \(e)"); continue }
            if o != e {
                var what: [String] = []
                if o.type != e.type { what.append("type \(e.type)→\(o.type)") }
                if o.mode != e.mode { what.append("mode \(String(e.mode, radix: 8))→\(String(o.mode, radix: 8))") }
                if o.size != e.size { what.append("size \(e.size)→\(o.size)") }
                if o.mtime != e.mtime { what.append("mtime \(e.mtime)→\(o.mtime)") }
                if o.content != e.content { what.append("content") }
                if o.linkGroup != e.linkGroup { what.append("hard links") }
                out.append("differs: \(String(decoding: e.path, as: UTF8.self)): \(what.joined(separator: ", "))")
            }
        }
        for e in b where ma[e.path] == nil { out.append("extra: \(e)") }
        return out
    }
}
