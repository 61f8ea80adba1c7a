#if canImport(Glibc)
import Glibc
#endif
import XCTest
import VaultCore
import VaultRepository
import VaultTesting
@testable import VaultArchiver

/// saveStream cuts database streams with the database chunker; the node reads back whole through
/// its blob ids alone (nothing records which chunker made it).
final class StreamChunkingTests: XCTestCase {
    var dir: TemporaryDirectory!
    override func setUpWithError() throws { dir = try TemporaryDirectory() }
    override func tearDown() { dir.remove() }

    func save(_ archiver: Archiver, _ path: String, _ chunking: Chunking) throws -> Node {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        XCTAssertGreaterThanOrEqual(fd, 0)
        defer { close(fd) }
        return try archiver.saveStream(name: Array("dump".utf8), fd: fd, label: path, time: Timestamp(nanoseconds: 0), chunking: chunking)
    }

    func testDatabaseChunkingCutsSmallerAndReadsBack() throws {
        let repo = try TestRepository.create(at: dir.sub("repo"))
        var rng = SeededRandom(seed: 21)
        let data = rng.bytes(6 << 20)
        let path = dir.sub("dump.bin")
        try Data(data).write(to: URL(fileURLWithPath: path))
        let archiver = Archiver(repository: repo, options: BackupOptions(paths: [], hostname: "h", username: "u"))
        let small = try save(archiver, path, .database)
        let big = try save(archiver, path, .files)
        XCTAssertEqual(small.size, UInt64(data.count))
        XCTAssertGreaterThan(small.content.count, 3 * big.content.count, "database chunks: \(small.content.count), file chunks: \(big.content.count)")
        _ = try archiver.commit(tree: archiver.saveTree(nodes: [small]), paths: ["/dump"], parent: nil, started: 0)
        let reopened = try TestRepository.open(at: dir.sub("repo"))
        try reopened.loadIndex()
        var back: [UInt8] = []
        for id in small.content {
            let blob = try reopened.loadBlob(id)
            XCTAssertLessThanOrEqual(blob.count, 1 << 20, "no database chunk above 1 MiB")
            back += blob
        }
        XCTAssertEqual(back, data, "the stream reads back through its blob ids")
    }
}
