import Foundation
import XCTest
import VaultCore
import VaultRepository
import VaultStorage
import VaultTesting
#if canImport(Glibc)
import Glibc
#endif

/// Repository locks as seen from the executable: stale locks are taken over, live ones refuse with exit 11
/// naming the holder, and --retry-lock waits.
final class LockTests: CLITestCase {
    /// Starts a backup of `path` and kills it with SIGKILL as soon as its lock file exists.
    /// Returns the lock file names left behind (empty if the backup finished first every time).
    func killBackupHoldingLock(_ path: String, attempts: Int = 10) throws -> [String] {
        for _ in 0..<attempts {
            let before = Set(repoFiles("locks"))
            let run = try CLI.start(["backup", "--host", "killed", path], env: env())
            var lockSeen = false
            let deadline = Date().addingTimeInterval(20)
            while run.isRunning && Date() < deadline {
                if !Set(repoFiles("locks")).subtracting(before).isEmpty { lockSeen = true; break }
                usleep(200)
            }
            run.kill9()
            let res = run.wait()
            if lockSeen && res.signaled {
                let left = repoFiles("locks")
                if !left.isEmpty { return left }
            }
        }
        return []
    }

    func testStaleLockOfKilledBackupIsTakenOver() throws {
        try initRepo()
        let big = try flatTree("big", seed: 3, dirs: 30, files: 60, maxSize: 30_000)
        let small = dir.sub("small"); mkdir(small)
        try write(small + "/f", "small")
        let expected = TreeComparison.describe(small)

        // A killed backup leaves its (shared) lock; the next backup removes it and succeeds.
        var left = try killBackupHoldingLock(big)
        XCTAssertFalse(left.isEmpty, "could not kill a backup while it held its lock")
        let id = try backup([small])
        XCTAssertEqual(repoFiles("locks"), [], "the stale lock was removed")
        try assertRestores(id, source: small, expected: expected)

        // A killed backup's lock does not block prune (exclusive) either: it is stale, not live.
        left = try killBackupHoldingLock(big)
        XCTAssertFalse(left.isEmpty)
        let prune = try sv(["prune"])
        XCTAssertEqual(prune.status, 0, "prune must take over the stale lock: \(prune)")
        XCTAssertEqual(repoFiles("locks"), [])
        let c = try check(readData: true)
        XCTAssertEqual(c.status, 0, "\(c.result)")
        XCTAssertEqual(items(c.report, "warnings").count, 0, "\(c.report)")
        try assertRestores(id, source: small, expected: expected)
    }

    /// The test process takes locks through the library on a repository created with the library.
    func openLibraryRepository() throws -> Repository {
        _ = try TestRepository.create(at: repo)
        return try TestRepository.open(at: repo)
    }

    func testSharedLockBlocksPruneButNotBackup() throws {
        let r = try openLibraryRepository()
        let src = dir.sub("src"); mkdir(src)
        try write(src + "/f", "content")
        let lock = try RepositoryLock.acquire(r, exclusive: false, operation: "test-holder-shared", hostname: hostname(), username: "tester")
        defer { lock.release() }
        let prune = try sv(["prune"])
        XCTAssertEqual(prune.status, 11, "\(prune)")
        XCTAssertTrue(prune.stderr.contains("test-holder-shared"), "holder's operation named: \(prune.stderr)")
        XCTAssertTrue(prune.stderr.contains("pid \(getpid())"), "holder's pid named: \(prune.stderr)")
        XCTAssertTrue(prune.stderr.contains(hostname()), "holder's host named: \(prune.stderr)")
        // forget --prune needs the exclusive lock too; nothing is removed when it cannot get it.
        try backup([src])
        let forget = try sv(["forget", "--keep-last", "1", "--prune"])
        XCTAssertEqual(forget.status, 11, "\(forget)")
        // Shared with shared is fine.
        try backup([src])
        try expect(0, ["check"])
        XCTAssertEqual(try snapshotIDs().count, 2)
        XCTAssertEqual(repoFiles("locks"), [lock.name], "only the test's lock remains")
        lock.release()
        try expect(0, ["prune"])
    }

    func testExclusiveLockBlocksBackupAndRetryLockWaits() throws {
        let r = try openLibraryRepository()
        let src = dir.sub("src"); mkdir(src)
        try write(src + "/f", "content")
        let expected = TreeComparison.describe(src)
        let lock = try RepositoryLock.acquire(r, exclusive: true, operation: "test-holder-exclusive", hostname: hostname(), username: "tester")
        defer { lock.release() }
        for args in [["backup", src], ["check"], ["restore", "latest", "--target", dir.sub("t")]] {
            let res = try sv(args)
            XCTAssertEqual(res.status, 11, "\(args): \(res)")
            XCTAssertTrue(res.stderr.contains("test-holder-exclusive"), res.stderr)
        }
        XCTAssertEqual(repoFiles("snapshots"), [])
        XCTAssertEqual(repoFiles("locks"), [lock.name], "refused runs leave no lock behind")

        // --retry-lock 5: the backup waits, and succeeds once the lock goes (after ~1 s).
        let t0 = Date()
        let run = try CLI.start(["backup", "--json", "--retry-lock", "5", src], env: env())
        usleep(1_000_000)
        XCTAssertTrue(run.isRunning, "backup should still be waiting for the lock")
        lock.release()
        let res = run.wait(timeout: 30)
        let elapsed = Date().timeIntervalSince(t0)
        XCTAssertEqual(res.status, 0, "\(res)")
        XCTAssertGreaterThanOrEqual(elapsed, 0.9)
        XCTAssertLessThan(elapsed, 5, "it should not wait for the whole retry period")
        let id = (res.json as? [String: Any])?["snapshot"] as? String
        XCTAssertNotNil(id)
        try assertRestores(id ?? "latest", source: src, expected: expected)

        // --retry-lock gives up after its time when the lock stays.
        let lock2 = try RepositoryLock.acquire(r, exclusive: true, operation: "test-holder-2", hostname: hostname(), username: "tester")
        defer { lock2.release() }
        let t1 = Date()
        let late = try sv(["backup", "--retry-lock", "1", src])
        XCTAssertEqual(late.status, 11, "\(late)")
        XCTAssertGreaterThanOrEqual(Date().timeIntervalSince(t1), 0.9)
    }
}
