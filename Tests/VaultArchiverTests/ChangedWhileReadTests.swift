import XCTest
import Foundation
import VaultCore
import VaultRepository
import VaultFileSystem
import VaultTesting
@testable import VaultArchiver
@testable import VaultRestorer
#if canImport(Glibc)
import Glibc
#endif

/// A file that changes while it is read is read again; when it changes again it is stored as read
/// the second time, reported, and the snapshot marked. Its stored size always equals its content.
final class ChangedWhileReadTests: XCTestCase {
    var dir: TemporaryDirectory!
    override func setUpWithError() throws { dir = try TemporaryDirectory() }
    override func tearDown() { dir.remove() }

    func bytes(_ n: Int, seed: UInt8) -> [UInt8] { (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(seed)) } }

    func append(_ path: String, _ b: [UInt8]) {
        let h = FileHandle(forWritingAtPath: path)!
        h.seekToEndOfFile(); h.write(Data(b)); h.closeFile()
    }

    /// Backs up `src` with `afterPass` as the test hook; returns the result and the node of `src/name`.
    func backup(_ repo: Repository, _ src: String, _ name: String,
                afterPass: @escaping @Sendable (String, Int) -> Void) async throws -> (BackupResult, Node) {
        var o = BackupOptions(paths: [src], hostname: "h", username: "u")
        o.afterReadPass = afterPass
        let r = try await Archiver(repository: repo, options: o).run()
        let node = try SnapshotFile.node(repo, tree: r.snapshot.treeID!, path: src + "/" + name)
        return (r, try XCTUnwrap(node))
    }

    /// The sum of the stored chunks' lengths.
    func storedLength(_ repo: Repository, _ node: Node) throws -> UInt64 {
        try node.content.reduce(0) { $0 + UInt64(try XCTUnwrap(repo.lookup($1)).entry.rawLength) }
    }

    func testFileGrowingDuringBothReadsIsStoredAsReadAndReported() async throws {
        let repo = try TestRepository.create(at: dir.sub("repo"))
        let src = dir.sub("src"); try FileManager.default.createDirectory(atPath: src, withIntermediateDirectories: true)
        let log = src + "/app.log"
        try Data(bytes(300_000, seed: 1)).write(to: URL(fileURLWithPath: log))
        try Data("calm".utf8).write(to: URL(fileURLWithPath: src + "/calm.txt"))
        let (r, node) = try await backup(repo, src, "app.log") { path, pass in
            if path.hasSuffix("/app.log") { self.append(log, self.bytes(50_000, seed: UInt8(pass))) }
        }
        let shown = FilePath(log).absolute().description
        XCTAssertEqual(r.changedFiles, [shown], "the log is named as changed")
        XCTAssertEqual(r.snapshot.changedFiles, [shown])
        XCTAssertTrue(r.snapshot.partial, "a snapshot holding a file that changed while read is marked partial")
        XCTAssertEqual(r.snapshot.summary?.filesChangedWhileRead, 1)
        XCTAssertTrue(r.errors.isEmpty, "\(r.errors)")
        // The second pass read the file as it was after the first append (350,000 bytes).
        XCTAssertEqual(node.size, 350_000)
        XCTAssertEqual(try storedLength(repo, node), node.size, "the stored size equals the stored content")
        // And it restores to exactly that.
        let out = dir.sub("out")
        let rr = try await Restorer(repository: repo, tree: r.snapshot.treeID!, options: RestoreOptions(target: out)).run()
        XCTAssertTrue(rr.errors.isEmpty, "\(rr.errors)")
        let restored = try Data(contentsOf: URL(fileURLWithPath: out + log))
        XCTAssertEqual(Array(restored), bytes(300_000, seed: 1) + bytes(50_000, seed: 1))
    }

    func testFileChangedOnlyDuringTheFirstReadIsReadAgainAndNotReported() async throws {
        let repo = try TestRepository.create(at: dir.sub("repo"))
        let src = dir.sub("src"); try FileManager.default.createDirectory(atPath: src, withIntermediateDirectories: true)
        let file = src + "/data.bin"
        try Data(bytes(200_000, seed: 7)).write(to: URL(fileURLWithPath: file))
        let passes = Counter()
        let (r, node) = try await backup(repo, src, "data.bin") { path, pass in
            passes.add()
            if pass == 1 { self.append(file, self.bytes(10_000, seed: 9)) }
        }
        XCTAssertEqual(passes.value, 2, "the file was read a second time")
        XCTAssertEqual(r.changedFiles, [])
        XCTAssertFalse(r.snapshot.partial)
        XCTAssertNil(r.snapshot.summary?.filesChangedWhileRead)
        XCTAssertEqual(node.size, 210_000, "the second, consistent reading is stored")
        XCTAssertEqual(try storedLength(repo, node), 210_000)
        var st = stat()
        XCTAssertEqual(lstat(file, &st), 0)
        XCTAssertEqual(node.mtime, Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec),
                       "the metadata is that of the reading kept")
    }

    func testFileRewrittenInPlaceWithTheSameSizeIsReported() async throws {
        let repo = try TestRepository.create(at: dir.sub("repo"))
        let src = dir.sub("src"); try FileManager.default.createDirectory(atPath: src, withIntermediateDirectories: true)
        let file = src + "/db.img"
        try Data(bytes(100_000, seed: 3)).write(to: URL(fileURLWithPath: file))
        let (r, node) = try await backup(repo, src, "db.img") { _, pass in
            // Rewritten in place (same size), with a new mtime as any writer leaves.
            let h = FileHandle(forWritingAtPath: file)!
            h.write(Data(self.bytes(100_000, seed: UInt8(10 + pass)))); h.closeFile()
            var times = [timespec(tv_sec: 1_600_000_000 + pass, tv_nsec: 0), timespec(tv_sec: 1_600_000_000 + pass, tv_nsec: 0)]
            XCTAssertEqual(utimensat(AT_FDCWD, file, &times, 0), 0)
        }
        XCTAssertEqual(r.changedFiles, [FilePath(file).absolute().description])
        XCTAssertTrue(r.snapshot.partial)
        XCTAssertEqual(node.size, 100_000)
        XCTAssertEqual(try storedLength(repo, node), 100_000)
        XCTAssertEqual(node.ctime, 0, "a changed file is recorded so that the next backup reads it again")
    }

    func testFileThatReportsNoSizeIsReadToItsEnd() async throws {
        let repo = try TestRepository.create(at: dir.sub("repo"))
        let expected = try Data(contentsOf: URL(fileURLWithPath: "/proc/version"))
        XCTAssertFalse(expected.isEmpty)
        let r = try await Archiver(repository: repo, options: BackupOptions(paths: ["/proc/version"], hostname: "h", username: "u")).run()
        XCTAssertEqual(r.changedFiles, [], "a file whose size is 0 but which has content is not 'changed'")
        let node = try XCTUnwrap(SnapshotFile.node(repo, tree: r.snapshot.treeID!, path: "/proc/version"))
        XCTAssertEqual(node.size, UInt64(expected.count))
        XCTAssertEqual(try storedLength(repo, node), node.size)
    }
}

/// A thread-safe counter for test hooks.
final class Counter: @unchecked Sendable {
    // @unchecked: `n` is guarded by `lock`.
    private let lock = NSLock()
    private var n = 0
    func add() { lock.lock(); n += 1; lock.unlock() }
    var value: Int { lock.lock(); defer { lock.unlock() }; return n }
}
