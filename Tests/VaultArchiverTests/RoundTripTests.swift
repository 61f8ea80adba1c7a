import XCTest
import VaultCore
import VaultRepository
import VaultTesting
@testable import VaultArchiver
@testable import VaultRestorer

final class RoundTripTests: XCTestCase {
    var dir: TemporaryDirectory!
    override func setUpWithError() throws { dir = try TemporaryDirectory() }
    override func tearDown() { dir.remove() }

    func backup(_ repo: Repository, _ paths: [String], excludes: [String] = []) async throws -> BackupResult {
        var o = BackupOptions(paths: paths, hostname: "testhost", username: "tester")
        o.excludes = excludes
        return try await Archiver(repository: repo, options: o).run()
    }

    func restore(_ repo: Repository, _ r: BackupResult, to target: String, includes: [String] = []) async throws -> RestoreResult {
        var o = RestoreOptions(target: target)
        o.includes = includes
        return try await Restorer(repository: repo, tree: r.snapshot.treeID!, options: o).run()
    }

    /// Random trees of many shapes back up and restore byte- and metadata-identical.
    func testRandomTreesRoundTrip() async throws {
        let repo = try TestRepository.create(at: dir.sub("repo"))
        for seed in UInt64(1)...6 {
            let src = dir.sub("src\(seed)")
            try FileManager.default.createDirectory(atPath: src, withIntermediateDirectories: false)
            var b = RandomTreeBuilder(seed: seed)
            b.maxFileSize = seed == 3 ? 12 << 20 : 2 << 20
            try b.build(at: src)
            let before = TreeComparison.describe(src)
            let result = try await backup(repo, [src])
            XCTAssertTrue(result.errors.isEmpty, "\(result.errors)")
            let target = dir.sub("out\(seed)")
            let r = try await restore(repo, result, to: target)
            XCTAssertTrue(r.errors.isEmpty, "seed \(seed): \(r.errors)")
            let after = TreeComparison.describe(target + src)
            XCTAssertEqual(TreeComparison.differences(before, after), [], "seed \(seed)")
            XCTAssertGreaterThan(before.count, 0)
        }
    }

    func testSparseFileStaysSparseAndEqual() async throws {
        let repo = try TestRepository.create(at: dir.sub("repo"))
        let src = dir.sub("src")
        try FileManager.default.createDirectory(atPath: src, withIntermediateDirectories: false)
        let fd = open(src + "/sparse", O_WRONLY | O_CREAT, 0o644)
        _ = "head".withCString { write(fd, $0, 4) }
        _ = lseek(fd, 64 << 20, SEEK_SET)
        _ = "tail".withCString { write(fd, $0, 4) }
        close(fd)
        let result = try await backup(repo, [src])
        _ = try await restore(repo, result, to: dir.sub("out"))
        var st = stat()
        XCTAssertEqual(stat(dir.sub("out") + src + "/sparse", &st), 0)
        XCTAssertEqual(st.st_size, (64 << 20) + 4)
        XCTAssertLessThan(Int(st.st_blocks) * 512, 1 << 20, "restored sparse file should not allocate the hole")
        XCTAssertEqual(TreeComparison.differences(TreeComparison.describe(src), TreeComparison.describe(dir.sub("out") + src)), [])
    }

    /// Times of the folders above `path`: a snapshot records them, so another program writing into
    /// /tmp between two backups makes the second one's tree differ for a reason of its own.
    func ancestorStamp(_ path: String) -> [Int] {
        var out: [Int] = []
        var p = (path as NSString).deletingLastPathComponent
        while true {
            var st = stat()
            if stat(p, &st) == 0 { out += [st.st_mtim.tv_sec, st.st_mtim.tv_nsec, st.st_ctim.tv_sec, st.st_ctim.tv_nsec] }
            if p == "/" || p.isEmpty { break }
            p = (p as NSString).deletingLastPathComponent
        }
        return out
    }

    func testUnchangedBackupReadsNothingAndWritesNoPack() async throws {
        let src = dir.sub("src")
        try FileManager.default.createDirectory(atPath: src, withIntermediateDirectories: false)
        var b = RandomTreeBuilder(seed: 11)
        try b.build(at: src)
        // Two backups with nothing changed between them, the folders above included (retried, on
        // a fresh repository, when another program touched /tmp meanwhile).
        var attempt = 0
        var repo: Repository, first: BackupResult, second: BackupResult, progress: BackupProgress
        repeat {
            attempt += 1
            let stamp = ancestorStamp(src)
            repo = try TestRepository.create(at: dir.sub("repo\(attempt)"))
            first = try await backup(repo, [src])
            progress = BackupProgress()
            second = try await Archiver(repository: repo, options: BackupOptions(paths: [src], hostname: "testhost", username: "tester"), progress: progress).run()
            if ancestorStamp(src) == stamp || attempt == 5 { break }
        } while true
        XCTAssertGreaterThan(first.snapshot.summary!.filesNew, 0)
        let s = second.snapshot.summary!
        XCTAssertEqual(s.filesNew + s.filesChanged, 0)
        XCTAssertEqual(s.filesUnmodified, first.snapshot.summary!.filesNew)
        XCTAssertEqual(s.packsWritten, 0, "an unchanged tree must not write a pack")
        XCTAssertEqual(progress.bytesRead, 0, "an unchanged tree must not be read")
        XCTAssertGreaterThan(progress.snapshot.bytes, 0, "processed bytes still count unchanged files")
        XCTAssertEqual(second.snapshot.tree, first.snapshot.tree)
        XCTAssertEqual(second.snapshot.parent, first.id.hex)
        // Touch one file: only that one is read again.
        let files = TreeComparison.describe(src).filter { $0.type == "file" && $0.linkGroup == 0 && $0.size > 0 }
        let victim = src + String(decoding: files[0].path, as: UTF8.self)
        let h = open(victim, O_WRONLY | O_APPEND); _ = "more".withCString { write(h, $0, 4) }; close(h)
        let third = try await backup(repo, [src])
        XCTAssertEqual(third.snapshot.summary!.filesChanged, 1)
        XCTAssertNotEqual(third.snapshot.tree, first.snapshot.tree)
    }

    func testDeduplicationAcrossPathsAndExcludes() async throws {
        let repo = try TestRepository.create(at: dir.sub("repo"))
        var rng = SeededRandom(seed: 5)
        let data = rng.bytes(3 << 20)
        for name in ["a", "b"] {
            try FileManager.default.createDirectory(atPath: dir.sub(name), withIntermediateDirectories: false)
            try Data(data).write(to: URL(fileURLWithPath: dir.sub(name) + "/copy.bin"))
            try Data("skip".utf8).write(to: URL(fileURLWithPath: dir.sub(name) + "/cache.tmp"))
        }
        let ra = try await backup(repo, [dir.sub("a")], excludes: ["*.tmp"])
        let rb = try await backup(repo, [dir.sub("b")], excludes: ["*.tmp"])
        XCTAssertGreaterThan(ra.snapshot.summary!.bytesAdded, UInt64(data.count) - 1)
        XCTAssertLessThan(rb.snapshot.summary!.bytesAdded, 10_000, "identical content in another folder must be deduplicated")
        _ = try await restore(repo, rb, to: dir.sub("out"))
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir.sub("out") + dir.sub("b") + "/copy.bin"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.sub("out") + dir.sub("b") + "/cache.tmp"), "excluded file was stored")
    }

    func testMissingPathFailsBeforeWriting() async throws {
        let repo = try TestRepository.create(at: dir.sub("repo"))
        do {
            _ = try await backup(repo, [dir.sub("does-not-exist")])
            XCTFail("expected an error")
        } catch let e as VaultError {
            XCTAssertTrue(e.message.contains("does-not-exist"), e.message)
        }
        XCTAssertEqual(try repo.snapshots().count, 0)
        XCTAssertEqual(try repo.store.list(.data).count, 0)
    }

    func testRestoreIncludeAndTargetRules() async throws {
        let repo = try TestRepository.create(at: dir.sub("repo"))
        let src = dir.sub("src")
        try FileManager.default.createDirectory(atPath: src + "/keep/deep", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: src + "/other", withIntermediateDirectories: true)
        try Data("k".utf8).write(to: URL(fileURLWithPath: src + "/keep/deep/k.txt"))
        try Data("o".utf8).write(to: URL(fileURLWithPath: src + "/other/o.txt"))
        let r = try await backup(repo, [src])
        _ = try await restore(repo, r, to: dir.sub("out"), includes: [src + "/keep"])
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir.sub("out") + src + "/keep/deep/k.txt"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.sub("out") + src + "/other/o.txt"))
        do {
            _ = try await restore(repo, r, to: dir.sub("out"))
            XCTFail("a non-empty target must be refused")
        } catch let e as VaultError {
            XCTAssertEqual(e.code, .targetNotEmpty)
        }
        var o = RestoreOptions(target: dir.sub("out")); o.overwrite = true
        _ = try await Restorer(repository: repo, tree: r.snapshot.treeID!, options: o).run()
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir.sub("out") + src + "/other/o.txt"))
    }

    func testUnsafeNamesAreNeverWrittenOutsideTarget() async throws {
        let repo = try TestRepository.create(at: dir.sub("repo"))
        let w = BlobWriter(repository: repo)
        let content = try w.save(.data, Array("evil".utf8)).id
        let bad = ["..", "a/b", "/abs", "."].map { name -> Node in
            var n = Node(name: Array(name.utf8), type: .file, size: 4); n.content = [content]; return n
        }
        var good = Node(name: Array("fine".utf8), type: .file, size: 4); good.content = [content]
        var t = Tree(nodes: [])
        t.nodes = bad + [good]   // bypass sorting on purpose
        let tree = try w.save(.tree, t.encode()).id
        try w.flush()
        let target = dir.sub("jail/inner")
        let r = try await Restorer(repository: repo, tree: tree, options: RestoreOptions(target: target)).run()
        XCTAssertEqual(r.errors.count, 4, "\(r.errors)")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.sub("jail")), ["inner"])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: target), ["fine"])
    }

    func testExistingSymlinkInTargetIsReplacedNotFollowed() async throws {
        let repo = try TestRepository.create(at: dir.sub("repo"))
        let src = dir.sub("src")
        try FileManager.default.createDirectory(atPath: src + "/d", withIntermediateDirectories: true)
        try Data("x".utf8).write(to: URL(fileURLWithPath: src + "/d/f"))
        try Data("y".utf8).write(to: URL(fileURLWithPath: src + "/g"))
        let r = try await backup(repo, [src])
        let outside = dir.sub("outside")
        try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)
        let target = dir.sub("out")
        try FileManager.default.createDirectory(atPath: target + src, withIntermediateDirectories: true)
        XCTAssertEqual(symlink(outside, target + src + "/d"), 0)
        XCTAssertEqual(symlink(outside + "/g", target + src + "/g"), 0)
        var o = RestoreOptions(target: target); o.overwrite = true
        _ = try await Restorer(repository: repo, tree: r.snapshot.treeID!, options: o).run()
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: outside), [], "restore wrote through a symlink")
        XCTAssertEqual(try String(contentsOfFile: target + src + "/d/f", encoding: .utf8), "x")
    }
}
