import VaultCore

/// Content-defined chunking (FastCDC with normalized chunking over a gear hash).
/// The gear table is derived from the repository's secret chunker seed, so chunk boundaries
/// do not reveal content to someone who knows the algorithm but not the key.
public struct ChunkerParameters: Sendable {
    public var minSize: Int
    public var averageSize: Int
    public var maxSize: Int
    /// File data: 512 KiB – 1 MiB average – 4 MiB.
    public static let data = ChunkerParameters(minSize: 512 << 10, averageSize: 1 << 20, maxSize: 4 << 20)
    /// Database dumps and copies: 64 KiB – 128 KiB average – 1 MiB. A dump changes in small
    /// regions (a range of rows, a few pages); only chunks much smaller than the file let two dumps
    /// share most of their chunks.
    public static let database = ChunkerParameters(minSize: 64 << 10, averageSize: 128 << 10, maxSize: 1 << 20)
    public init(minSize: Int, averageSize: Int, maxSize: Int) { self.minSize = minSize; self.averageSize = averageSize; self.maxSize = maxSize }
}

/// Which chunk sizes a stream is cut with. A write-time choice only: a file's content is a list of
/// blob ids, whatever sizes they have, so readers never need to know it.
public enum Chunking: Sendable {
    /// `ChunkerParameters.data`: files.
    case files
    /// `ChunkerParameters.database`: database dumps and SQLite copies.
    case database
}

public struct Chunker: Sendable {
    public let params: ChunkerParameters
    let gear: [UInt64]
    let maskS: UInt64
    let maskL: UInt64

    public init(seed: [UInt8], params: ChunkerParameters = .data) {
        self.params = params
        // splitmix64 seeded from the secret seed.
        var state: UInt64 = 0
        for (i, b) in seed.enumerated() { state ^= UInt64(b) << UInt64((i % 8) * 8); state = state &* 0x9E3779B97F4A7C15 &+ UInt64(i) }
        var g = [UInt64](repeating: 0, count: 256)
        for i in 0..<256 {
            state &+= 0x9E3779B97F4A7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58476D1CE4E5B9
            z = (z ^ (z >> 27)) &* 0x94D049BB133111EB
            g[i] = z ^ (z >> 31)
        }
        gear = g
        let bits = Int(log2(Double(params.averageSize)).rounded())
        maskS = ((1 << UInt64(bits + 2)) - 1) << UInt64(64 - bits - 2)
        maskL = ((1 << UInt64(bits - 2)) - 1) << UInt64(64 - bits + 2)
    }

    /// Returns the length of the next chunk at the start of `p`. When `p` is shorter than the
    /// maximum chunk size, the caller must pass `atEnd: true` only at the end of the stream.
    public func cut(_ p: UnsafeRawBufferPointer) -> Int {
        let n = p.count
        if n <= params.minSize { return n }
        let end = min(n, params.maxSize)
        let normal = min(params.averageSize, end)
        var h: UInt64 = 0
        var i = params.minSize
        return gear.withUnsafeBufferPointer { g -> Int in
            let bytes = p.bindMemory(to: UInt8.self)
            while i < normal {
                h = (h << 1) &+ g[Int(bytes[i])]
                if h & maskS == 0 { return i + 1 }
                i += 1
            }
            while i < end {
                h = (h << 1) &+ g[Int(bytes[i])]
                if h & maskL == 0 { return i + 1 }
                i += 1
            }
            return end
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
