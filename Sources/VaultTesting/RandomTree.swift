import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A small deterministic generator (SplitMix64), so failing property tests can be replayed by seed.
public struct SeededRandom: RandomNumberGenerator, Sendable {
    var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E3779B97F4A7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58476D1CE4E5B9
        z = (z ^ (z >> 27)) &* 0x94D049BB133111EB
        return z ^ (z >> 31)
    }
    public mutating func bytes(_ n: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: n)
        out.withUnsafeMutableBytes { raw in
            var i = 0
            while i + 8 <= n { raw.storeBytes(of: next(), toByteOffset: i, as: UInt64.self); i += 8 }
            while i < n { raw[i] = UInt8(truncatingIfNeeded: next()); i += 1 }
        }
        return out
    }
}

/// Builds random trees of files for round-trip tests: empty and large files, compressible and random
/// content, sparse files, empty folders, symlinks, hard links, odd modes, Unicode and invalid UTF-8 names.
public struct RandomTreeBuilder {
    public var rng: SeededRandom
    public var maxFileSize = 3 << 20
    public var filesPerDir = 6
    public var depth = 3
    public init(seed: UInt64) { rng = SeededRandom(seed: seed) }

    static let names: [[UInt8]] = [
        Array("plain.txt".utf8), Array("with space".utf8), Array("new\nline".utf8), Array("ünïcødé-文件".utf8),
        [0x62, 0x61, 0x64, 0xff, 0xfe, 0x2e, 0x62, 0x69, 0x6e], Array("-dash".utf8), Array(".hidden".utf8), Array("emoji-😀".utf8),
        Array("tab\tname".utf8), Array("quote\"'".utf8),
    ]

    mutating func name(_ i: Int) -> [UInt8] {
        var n = RandomTreeBuilder.names[Int(rng.next() % UInt64(RandomTreeBuilder.names.count))]
        n += Array("-\(i)".utf8)
        return n
    }

    /// Creates the tree under `root` (which must exist).
    public mutating func build(at root: String) throws {
        try buildDir(Array(root.utf8), level: 0)
    }

    mutating func buildDir(_ dir: [UInt8], level: Int) throws {
        var firstFile: [UInt8]?
        let count = Int(rng.next() % UInt64(filesPerDir + 1))
        for i in 0..<count {
            let path = dir + [47] + name(i)
            let kind = rng.next() % 10
            switch kind {
            case 0...5:
                let size: Int
                switch rng.next() % 6 {
                case 0: size = 0
                case 1: size = Int(rng.next() % 100)
                case 2: size = Int(rng.next() % UInt64(maxFileSize))
                default: size = Int(rng.next() % 20_000)
                }
                var data = rng.bytes(size)
                if rng.next() % 2 == 0 { for j in 0..<data.count { data[j] = UInt8(65 + (data[j] % 4)) } }
                try writeFile(path, data)
                let modes: [mode_t] = [0o644, 0o600, 0o755, 0o444, 0o640, 0o4755]
                _ = cstr(path) { chmod($0, modes[Int(rng.next() % UInt64(modes.count))]) }
                firstFile = firstFile ?? path
            case 6:
                let target = Array("target-\(rng.next() % 100)".utf8)
                _ = cstr(target) { t in cstr(path) { symlink(t, $0) } }
            case 7:
                if let f = firstFile { _ = cstr(f) { a in cstr(path) { link(a, $0) } } }
            case 8:
                // A sparse file: a hole between two data regions.
                let fd = cstr(path) { open($0, O_WRONLY | O_CREAT | O_TRUNC, 0o644) }
                let head = rng.bytes(1000)
                _ = head.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
                _ = lseek(fd, off_t(4 << 20), SEEK_CUR)
                _ = head.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
                close(fd)
            default:
                if level < depth {
                    _ = cstr(path) { mkdir($0, 0o755) }
                    try buildDir(path, level: level + 1)
                }
            }
        }
        if level < depth && rng.next() % 2 == 0 {
            let sub = dir + [47] + name(99)
            _ = cstr(sub) { mkdir($0, 0o750) }
            try buildDir(sub, level: level + 1)
        }
        if rng.next() % 3 == 0 { _ = cstr(dir + Array("/empty-dir".utf8)) { mkdir($0, 0o700) } }
    }

    func writeFile(_ path: [UInt8], _ data: [UInt8]) throws {
        let fd = cstr(path) { open($0, O_WRONLY | O_CREAT | O_TRUNC, 0o644) }
        guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        defer { close(fd) }
        _ = data.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
    }
}

func cstr<T>(_ b: [UInt8], _ body: (UnsafePointer<CChar>) -> T) -> T {
    var z = b; z.append(0)
    return z.withUnsafeBufferPointer { $0.withMemoryRebound(to: CChar.self) { body($0.baseAddress!) } }
}
