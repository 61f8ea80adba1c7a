import XCTest
import VaultTesting
@testable import VaultRepository

final class ChunkerTests: XCTestCase {
    func cuts(_ data: [UInt8], _ c: Chunker) -> [Int] {
        var out: [Int] = []
        data.withUnsafeBytes { raw in
            var start = 0
            while start < raw.count {
                let n = c.cut(UnsafeRawBufferPointer(rebasing: raw[start...]))
                out.append(n); start += n
            }
        }
        return out
    }

    func testChunkSizesRespectBoundsAndAverage() {
        var rng = SeededRandom(seed: 7)
        let data = rng.bytes(64 << 20)
        let c = Chunker(seed: Array(repeating: 9, count: 32))
        let sizes = cuts(data, c)
        XCTAssertEqual(sizes.reduce(0, +), data.count)
        for s in sizes.dropLast() {
            XCTAssertGreaterThanOrEqual(s, c.params.minSize)
            XCTAssertLessThanOrEqual(s, c.params.maxSize)
        }
        let avg = Double(data.count) / Double(sizes.count)
        XCTAssertGreaterThan(avg, 0.6 * Double(1 << 20), "average \(avg)")
        XCTAssertLessThan(avg, 2.0 * Double(1 << 20), "average \(avg)")
    }

    func testBoundariesResynchroniseAfterAnInsertion() {
        var rng = SeededRandom(seed: 8)
        let data = rng.bytes(24 << 20)
        let c = Chunker(seed: Array(repeating: 1, count: 32))
        let a = cuts(data, c)
        let b = cuts([1, 2, 3, 4, 5] + data, c)
        // After the first few chunks the boundaries are the same (shifted by 5 bytes).
        let endsA = Set(a.reduce(into: [Int]()) { $0.append(($0.last ?? 0) + $1) })
        let endsB = b.reduce(into: [Int]()) { $0.append(($0.last ?? 0) + $1) }.map { $0 - 5 }
        let shared = endsB.filter { endsA.contains($0) }.count
        XCTAssertGreaterThanOrEqual(shared, a.count - 3, "only \(shared) of \(a.count) boundaries survived an insertion")
    }

    /// The database set: its own bounds and a 128 KiB average, from the same gear table.
    func testDatabaseChunkSizesRespectBoundsAndAverage() {
        var rng = SeededRandom(seed: 10)
        let data = rng.bytes(16 << 20)
        let c = Chunker(seed: Array(repeating: 9, count: 32), params: .database)
        XCTAssertEqual(c.gear, Chunker(seed: Array(repeating: 9, count: 32)).gear, "same secret gear table as files")
        let sizes = cuts(data, c)
        XCTAssertEqual(sizes.reduce(0, +), data.count)
        for s in sizes.dropLast() {
            XCTAssertGreaterThanOrEqual(s, 64 << 10)
            XCTAssertLessThanOrEqual(s, 1 << 20)
        }
        let avg = Double(data.count) / Double(sizes.count)
        XCTAssertGreaterThan(avg, 0.6 * Double(128 << 10), "average \(avg)")
        XCTAssertLessThan(avg, 2.0 * Double(128 << 10), "average \(avg)")
    }

    /// Eight 32 KiB regions rewritten in a 24 MiB "dump" (a few rows changed in several tables):
    /// the database chunks no longer shared add up to far less than the file chunks do.
    func testDatabaseChunksConfineChangedRegions() {
        var rng = SeededRandom(seed: 11)
        let a = rng.bytes(24 << 20)
        var b = a
        for i in 0..<8 {
            let at = i * (3 << 20) + (1 << 20)
            b.replaceSubrange(at..<(at + (32 << 10)), with: rng.bytes(32 << 10))
        }
        func unshared(_ c: Chunker) -> Int {
            func chunks(_ d: [UInt8]) -> [[UInt8]] {
                var start = 0
                return cuts(d, c).map { n in defer { start += n }; return Array(d[start..<(start + n)]) }
            }
            let old = Set(chunks(a))
            return chunks(b).filter { !old.contains($0) }.reduce(0) { $0 + $1.count }
        }
        let seed = Array(repeating: 3 as UInt8, count: 32)
        let small = unshared(Chunker(seed: seed, params: .database)), big = unshared(Chunker(seed: seed))
        XCTAssertLessThan(small, 6 << 20, "database chunks: \(small) bytes new for 256 KiB changed")
        XCTAssertLessThan(small * 2, big, "database chunks: \(small) bytes new, file chunks: \(big)")
    }

    func testSeedChangesBoundaries() {
        var rng = SeededRandom(seed: 9)
        let data = rng.bytes(16 << 20)
        XCTAssertNotEqual(cuts(data, Chunker(seed: Array(repeating: 1, count: 32))), cuts(data, Chunker(seed: Array(repeating: 2, count: 32))))
    }

    func testCompressorRoundTripAndSkipsIncompressible() throws {
        let z = Compressor()
        let text = Array(String(repeating: "sitevault backs up sites. ", count: 4000).utf8)
        let packed = try XCTUnwrap(text.withUnsafeBytes { z.compress($0) })
        XCTAssertLessThan(packed.count, text.count / 10)
        XCTAssertEqual(try packed.withUnsafeBytes { try z.decompress($0, rawLength: text.count, what: "t") }, text)
        var rng = SeededRandom(seed: 1)
        let random = rng.bytes(100_000)
        XCTAssertNil(random.withUnsafeBytes { z.compress($0) })
        XCTAssertThrowsError(try [1, 2, 3].withUnsafeBytes { try z.decompress($0, rawLength: 10, what: "t") })
    }
}
