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
