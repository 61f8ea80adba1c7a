import XCTest
@testable import VaultCore

final class FormatTests: XCTestCase {
    func testIDHexRoundTripAndOrder() {
        let bytes = (0..<32).map { UInt8($0 * 7 & 0xff) }
        let id = ID(bytes: bytes)
        XCTAssertEqual(id.bytes, bytes)
        XCTAssertEqual(ID(hex: id.hex), id)
        XCTAssertNil(ID(hex: "abc"))
        XCTAssertNil(ID(hex: String(repeating: "zz", count: 32)))
        let smaller = ID(bytes: [0] + bytes.dropFirst())
        XCTAssertLessThan(smaller, ID(bytes: [1] + bytes.dropFirst()))
        XCTAssertEqual(id.short.count, 8)
    }

    func testVarintsRoundTripAndTruncationThrows() throws {
        var w = BinaryWriter()
        let values: [UInt64] = [0, 1, 127, 128, 300, 1 << 35, UInt64.max]
        for v in values { w.varint(v) }
        let signed: [Int64] = [0, -1, 1, Int64.min, Int64.max, -123_456_789]
        for v in signed { w.svarint(v) }
        w.data([1, 2, 3])
        w.u32(0xdeadbeef)
        var r = BinaryReader(w.bytes, what: "test")
        for v in values { XCTAssertEqual(try r.varint(), v) }
        for v in signed { XCTAssertEqual(try r.svarint(), v) }
        XCTAssertEqual(try r.data(), [1, 2, 3])
        XCTAssertEqual(try r.u32(), 0xdeadbeef)
        XCTAssertTrue(r.atEnd)
        var short = BinaryReader(Array(w.bytes.prefix(3)), what: "short")
        _ = try short.varint(); _ = try short.varint(); _ = try short.varint()
        XCTAssertThrowsError(try short.varint())
    }

    func sampleTree() -> Tree {
        var a = Node(name: [0x62, 0xff, 0x0a, 0x20], type: .file, mode: 0o4755, uid: 1000, gid: 1000, size: 12345,
                     mtime: -5, atime: 1_700_000_000_123_456_789, ctime: 42, inode: 99, device: 3, links: 2)
        a.content = [ID(bytes: [UInt8](repeating: 1, count: 32)), ID(bytes: [UInt8](repeating: 2, count: 32))]
        a.xattrs = [ExtendedAttribute(name: Array("user.k".utf8), value: [0, 1, 2])]
        var d = Node(name: Array("ünïcødé".utf8), type: .directory, mode: 0o700)
        d.subtree = ID(bytes: [UInt8](repeating: 3, count: 32))
        var l = Node(name: Array("link".utf8), type: .symlink)
        l.linkTarget = Array("../x".utf8)
        return Tree(nodes: [d, a, l])
    }

    func testTreeRoundTripIsExactAndDeterministic() throws {
        let t = sampleTree()
        let bytes = t.encode()
        let back = try Tree.decode(bytes)
        XCTAssertEqual(back, t)
        XCTAssertEqual(back.encode(), bytes)
        // Sorted by name bytes regardless of input order.
        XCTAssertEqual(Tree(nodes: t.nodes.reversed()).encode(), bytes)
        XCTAssertEqual(t.nodes.map(\.name).first, [0x62, 0xff, 0x0a, 0x20])
    }

    func testDamagedTreeIsRejected() {
        let bytes = sampleTree().encode()
        for cut in [3, 10, bytes.count / 2, bytes.count - 1] {
            XCTAssertThrowsError(try Tree.decode(Array(bytes.prefix(cut))), "cut at \(cut)")
        }
        var bad = bytes; bad[0] = 0x58
        XCTAssertThrowsError(try Tree.decode(bad))
    }

    func testSafeNamesAndDisplay() {
        XCTAssertFalse(Node(name: Array("..".utf8), type: .file).hasSafeName)
        XCTAssertFalse(Node(name: Array(".".utf8), type: .file).hasSafeName)
        XCTAssertFalse(Node(name: Array("a/b".utf8), type: .file).hasSafeName)
        XCTAssertFalse(Node(name: [], type: .file).hasSafeName)
        XCTAssertTrue(Node(name: Array("..a".utf8), type: .file).hasSafeName)
        XCTAssertEqual(Node.display([0x61, 0xff, 0x62]), "a\\xffb")
        XCTAssertEqual(Node.display(Array("é".utf8)), "é")
    }

    func testTimestampFormatting() {
        XCTAssertEqual(Timestamp(nanoseconds: 0).iso8601, "1970-01-01T00:00:00Z")
        XCTAssertEqual(Timestamp(seconds: 1_795_000_000).iso8601, "2026-11-18T11:06:40Z")
    }
}
