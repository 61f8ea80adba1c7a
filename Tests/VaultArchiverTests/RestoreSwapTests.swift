import XCTest
import Foundation
import VaultCore
import VaultFileSystem
import VaultRepository
import VaultTesting
@testable import VaultArchiver
@testable import VaultRestorer
#if canImport(Glibc)
import Glibc
#endif

/// Restore writes relative to open folder descriptors: a folder swapped for a symlink while the
/// restore runs (a local user who can write in the target) never redirects a write outside it.
/// And it streams: it never holds more file jobs than its concurrency.
final class RestoreSwapTests: XCTestCase {
    var dir: TemporaryDirectory!
    override func setUpWithError() throws { dir = try TemporaryDirectory() }
    override func tearDown() { dir.remove() }

    func write(_ p: String, _ s: String) throws { try Data(s.utf8).write(to: URL(fileURLWithPath: p)) }
    func mkdirs(_ p: String) throws { try FileManager.default.createDirectory(atPath: p, withIntermediateDirectories: true) }

    func backup(_ repo: Repository, _ src: String) async throws -> BackupResult {
        try await Archiver(repository: repo, options: BackupOptions(paths: [src], hostname: "h", username: "u")).run()
    }

    func testFolderSwappedForSymlinkAfterCreationIsNotWrittenThrough() async throws {
        let repo = try TestRepository.create(at: dir.sub("repo"))
        let src = dir.sub("src")
        try mkdirs(src + "/site/uploads/deep")
        try write(src + "/site/uploads/a.txt", "upload")
        try write(src + "/site/uploads/deep/b.txt", "deep upload")
        try write(src + "/site/index.html", "index")
        let r = try await backup(repo, src)
        let outside = dir.sub("outside"); try mkdirs(outside)
        XCTAssertEqual(chmod(outside, 0o711), 0)
        var old = [timespec(tv_sec: 1_000_000_000, tv_nsec: 0), timespec(tv_sec: 1_000_000_000, tv_nsec: 0)]
        XCTAssertEqual(utimensat(AT_FDCWD, outside, &old, 0), 0)
        let target = dir.sub("target")
        let swapped = Counter()
        var o = RestoreOptions(target: target)
        o.afterFolderCreated = { path in
            // The attacker moves the new folder away and leaves a symlink to a folder outside the target.
            guard path.lastComponent == Array("uploads".utf8) else { return }
            let p = path.description
            XCTAssertEqual(rename(p, p + ".moved"), 0)
            XCTAssertEqual(symlink(outside, p), 0)
            swapped.add()
        }
        let rr = try await Restorer(repository: repo, tree: r.snapshot.treeID!, options: o).run()
        XCTAssertEqual(swapped.value, 1, "the hook swapped the folder")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: outside), [], "nothing was written outside the target")
        let uploads = FilePath(target + src + "/site/uploads").absolute().description
        XCTAssertTrue(rr.errors.contains { $0.path == uploads && $0.message.contains("replaced by a symlink") }, "\(rr.errors)")
        XCTAssertEqual(rr.errors.count, 1, "\(rr.errors)")
        // The rest of the site is restored, and the symlink was not followed to set metadata either.
        XCTAssertEqual(try String(contentsOfFile: target + src + "/site/index.html", encoding: .utf8), "index")
        var st = stat()
        XCTAssertEqual(stat(outside, &st), 0)
        XCTAssertEqual(st.st_mode & 0o7777, 0o711, "the outside folder's mode is untouched")
        XCTAssertEqual(st.st_mtim.tv_sec, 1_000_000_000, "the outside folder's times are untouched")
    }

    func testFolderSwappedForAFileIsReportedAndSkipped() async throws {
        let repo = try TestRepository.create(at: dir.sub("repo"))
        let src = dir.sub("src")
        try mkdirs(src + "/a/b")
        try write(src + "/a/b/f", "x")
        let r = try await backup(repo, src)
        let target = dir.sub("target")
        var o = RestoreOptions(target: target)
        o.afterFolderCreated = { path in
            guard path.lastComponent == [98] else { return }   // "b"
            let p = path.description
            XCTAssertEqual(rmdir(p), 0)
            XCTAssertTrue(FileManager.default.createFile(atPath: p, contents: Data("planted".utf8)))
        }
        let rr = try await Restorer(repository: repo, tree: r.snapshot.treeID!, options: o).run()
        XCTAssertEqual(rr.errors.count, 1, "\(rr.errors)")
        XCTAssertTrue(rr.errors[0].message.contains("restore again"), rr.errors[0].message)
        XCTAssertEqual(try String(contentsOfFile: target + src + "/a/b", encoding: .utf8), "planted")
    }

    func testBeneathRefusesSymlinksAndEscapes() throws {
        let root = dir.sub("root"); try mkdirs(root + "/x/y")
        let outside = dir.sub("out"); try mkdirs(outside)
        XCTAssertEqual(symlink(outside, root + "/x/link"), 0)
        let fd = open(root, O_RDONLY | O_DIRECTORY)
        defer { close(fd) }
        for withOpenat2 in [true, false] {
            let how = withOpenat2 ? "openat2" : "per-component walk"
            let ok = Beneath.openDirectory(fd, [Array("x".utf8), Array("y".utf8)], openat2: withOpenat2)
            XCTAssertGreaterThanOrEqual(ok, 0, how); close(ok)
            XCTAssertLessThan(Beneath.openDirectory(fd, [Array("x".utf8), Array("link".utf8)], openat2: withOpenat2), 0,
                              "\(how): a symlink is never followed")
            XCTAssertTrue(errno == ELOOP || errno == ENOTDIR, "\(how): errno \(errno)")
            XCTAssertLessThan(Beneath.openDirectory(fd, [Array("..".utf8)], openat2: withOpenat2), 0, "\(how): '..' is refused")
            XCTAssertLessThan(Beneath.openDirectory(fd, [Array("x/../..".utf8)], openat2: withOpenat2), 0,
                              "\(how): a name holding '/' is refused")
        }
    }

    func testRestoreHoldsAtMostABatchOfPendingFiles() async throws {
        let repo = try TestRepository.create(at: dir.sub("repo"))
        let src = dir.sub("src")
        for d in 0..<10 {
            try mkdirs(src + "/d\(d)")
            for f in 0..<60 { try write(src + "/d\(d)/f\(f)", "file \(d)/\(f)") }
        }
        let r = try await backup(repo, src)
        var o = RestoreOptions(target: dir.sub("target"))
        o.concurrency = 3
        o.batchFiles = 25
        let rr = try await Restorer(repository: repo, tree: r.snapshot.treeID!, options: o).run()
        XCTAssertTrue(rr.errors.isEmpty, "\(rr.errors)")
        XCTAssertEqual(rr.files, 600)
        XCTAssertGreaterThan(rr.peakPendingFiles, 0)
        XCTAssertLessThanOrEqual(rr.peakPendingFiles, 25, "the restore streams: never more files pending than a batch")
        XCTAssertEqual(TreeComparison.differences(TreeComparison.describe(src), TreeComparison.describe(dir.sub("target") + src)), [])
    }
}
