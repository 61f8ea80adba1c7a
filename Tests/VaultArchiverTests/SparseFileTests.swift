import XCTest
import Foundation
import VaultCore
import VaultRepository
import VaultTesting
@testable import VaultArchiver
@testable import VaultRestorer
#if canImport(Glibc)
import Glibc
#endif

/// Holes of sparse files are not read on backup and are holes again after a restore.
final class SparseFileTests: XCTestCase {
    var dir: TemporaryDirectory!
    override func setUpWithError() throws { dir = try TemporaryDirectory() }
    override func tearDown() { dir.remove() }

    static let size: Int64 = 2 << 30
    static let extents: [(offset: Int64, length: Int)] = [(0, 1 << 20), (1 << 30, 300_000), ((2 << 30) - 65536, 65536)]

    /// A 2 GiB file with three data extents; everything else a hole.
    func makeSparse(_ path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        XCTAssertGreaterThanOrEqual(fd, 0)
        defer { close(fd) }
        XCTAssertEqual(ftruncate(fd, off_t(Self.size)), 0)
        for (i, e) in Self.extents.enumerated() {
            let bytes = (0..<e.length).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ i &+ 1) }
            XCTAssertEqual(bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress, e.length, off_t(e.offset)) }, e.length)
        }
    }

    func allocated(_ path: String) -> Int {
        var st = stat()
        XCTAssertEqual(stat(path, &st), 0)
        return Int(st.st_blocks) * 512
    }

    /// Compares two files without reading their holes twice as much: data extents byte by byte, the
    /// rest by reading both in 4 MiB blocks.
    func assertSameContent(_ a: String, _ b: String, file: StaticString = #filePath, line: UInt = #line) {
        let fa = open(a, O_RDONLY), fb = open(b, O_RDONLY)
        defer { close(fa); close(fb) }
        var x = [UInt8](repeating: 0, count: 4 << 20), y = [UInt8](repeating: 0, count: 4 << 20)
        var off: off_t = 0
        while true {
            let n = x.withUnsafeMutableBytes { pread(fa, $0.baseAddress, $0.count, off) }
            let m = y.withUnsafeMutableBytes { pread(fb, $0.baseAddress, $0.count, off) }
            XCTAssertEqual(n, m, "lengths differ at \(off)", file: file, line: line)
            if n <= 0 || n != m { return }
            if memcmp(x, y, n) != 0 { XCTFail("content differs in the block at \(off)", file: file, line: line); return }
            off += off_t(n)
        }
    }

    func testSparseFileHolesAreNotReadAndRestoreSparse() async throws {
        let repo = try TestRepository.create(at: dir.sub("repo"))
        let src = dir.sub("src")
        try FileManager.default.createDirectory(atPath: src, withIntermediateDirectories: true)
        let file = src + "/disk.img"
        try makeSparse(file)
        XCTAssertLessThan(allocated(file), 16 << 20, "the file system keeps the source sparse")

        let progress = BackupProgress()
        let r = try await Archiver(repository: repo, options: BackupOptions(paths: [src], hostname: "h", username: "u"),
                                   progress: progress).run()
        XCTAssertTrue(r.errors.isEmpty && r.changedFiles.isEmpty, "\(r.errors) \(r.changedFiles)")
        let data = Self.extents.reduce(0) { $0 + $1.length }
        XCTAssertLessThan(progress.bytesRead, 16 << 20, "only the data extents are read (\(data) bytes), not the 2 GiB")
        XCTAssertGreaterThanOrEqual(progress.bytesRead, UInt64(data))
        XCTAssertEqual(progress.bytesRead + progress.bytesSkipped, UInt64(Self.size), "holes are handed over as zeros")
        XCTAssertLessThan(r.snapshot.summary!.bytesAdded, 64 << 20, "zero chunks are stored once")
        let node = try XCTUnwrap(SnapshotFile.node(repo, tree: r.snapshot.treeID!, path: src + "/disk.img"))
        XCTAssertEqual(node.size, UInt64(Self.size))

        let out = dir.sub("out")
        let rr = try await Restorer(repository: repo, tree: r.snapshot.treeID!, options: RestoreOptions(target: out)).run()
        XCTAssertTrue(rr.errors.isEmpty, "\(rr.errors)")
        let restored = out + file
        XCTAssertLessThan(allocated(restored), 16 << 20, "the restored file is sparse again")
        var st = stat()
        XCTAssertEqual(stat(restored, &st), 0)
        XCTAssertEqual(Int64(st.st_size), Self.size)
        assertSameContent(file, restored)
    }
}
