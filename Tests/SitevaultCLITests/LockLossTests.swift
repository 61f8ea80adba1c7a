import Foundation
import XCTest
import VaultCore
import VaultRepository
import VaultStorage
import VaultTesting
#if canImport(Glibc)
import Glibc
#endif

/// A backup whose lock is removed (by another host's prune judging it stale) fails before it
/// commits; locks of hosts whose clocks are out of step behave as documented; `unlock`.
final class LockLossTests: CLITestCase {
    /// Writes a lock file as another process would (the file name is a content hash: any 64 hex do).
    @discardableResult
    func writeLock(host: String, pid: Int32, exclusive: Bool, secondsFromNow: Double) throws -> String {
        let r = try TestRepository.open(at: repo)
        let time = SystemClock().now().adding(seconds: secondsFromNow)
        let json = "{\"exclusive\":\(exclusive),\"operation\":\"prune\",\"hostname\":\"\(host)\",\"username\":\"someone\"," +
            "\"pid\":\(pid),\"time\":\(time.nanoseconds)}"
        return try r.saveSealed(.locks, Array(json.utf8)).hex
    }

    func waitFor(_ path: String) -> Bool {
        for _ in 0..<3000 { if FileManager.default.fileExists(atPath: path) { return true }; usleep(20_000) }
        return false
    }

    func testBackupWhoseLockWasRemovedFailsBeforeCommitting() throws {
        try initRepo()
        let src = try flatTree("src", seed: 41, dirs: 2, files: 10, maxSize: 200_000)
        let first = try backup([src])
        let firstDesc = TreeComparison.describe(src)
        let packsBefore = Set(packs().keys)
        try mutate(src, seed: 42, every: 2, maxSize: 200_000)

        let gate = dir.sub("gate")
        let run = try CLI.start(["backup", src], env: env().merging(["SITEVAULT_TEST_COMMIT_GATE": gate]) { $1 })
        defer { try? write(gate, "go"); run.kill9() }   // never leave the backup waiting
        XCTAssertTrue(waitFor(gate + ".waiting"), "the backup reached its commit")
        let locks = repoFiles("locks")
        XCTAssertEqual(locks.count, 1, "the backup holds one lock")
        // Another host judged the lock stale: it removed it and pruned, deleting this backup's new packs.
        try FileManager.default.removeItem(atPath: repo + "/locks/" + locks[0])
        let prune = try sv(["prune", "--json"])
        XCTAssertEqual(prune.status, 0, "\(prune)")
        try write(gate, "go")
        let res = run.wait()
        XCTAssertEqual(res.status, 11, "the backup must fail with 'locked', not commit: \(res)")
        XCTAssertTrue(res.stderr.contains("was removed") && res.stderr.contains("nothing was committed"), res.stderr)
        XCTAssertEqual(try snapshotIDs(), [first], "no snapshot points at the pruned packs")
        XCTAssertEqual(repoFiles("locks"), [], "the lost lock was not written again")
        XCTAssertTrue(packsBefore.isSubset(of: Set(packs().keys)))
        let c = try check(readData: true)
        XCTAssertEqual(c.status, 0, "\(c.result)")
        try assertRestores(first, source: src, expected: firstDesc)
    }

    func testLockFromAHostWithAFastClockBlocksUntilUnlockRemoveAll() throws {
        try initRepo()
        let src = dir.sub("src"); mkdir(src)
        try write(src + "/f", "data")
        let name = try writeLock(host: "fast-clock-host", pid: 999, exclusive: true, secondsFromNow: 2 * 3600)
        let blocked = try sv(["backup", src])
        XCTAssertEqual(blocked.status, 11, "\(blocked)")
        XCTAssertTrue(blocked.stderr.contains("ahead of this host's clock"), blocked.stderr)
        XCTAssertTrue(blocked.stderr.contains("sitevault unlock --remove-all"), blocked.stderr)
        // It is not stale: plain unlock keeps it and says so.
        let unlock = try expect(0, ["unlock"])
        XCTAssertTrue(unlock.stdout.contains("kept locks/\(name)"), "\(unlock)")
        XCTAssertEqual(repoFiles("locks"), [name])
        let all = try expect(0, ["unlock", "--remove-all"])
        XCTAssertTrue(all.stderr.contains("removes live locks too"), "--remove-all warns: \(all)")
        XCTAssertEqual(repoFiles("locks"), [])
        try backup([src])
    }

    func testLockFromAHostWithASlowClockIsStaleAndTakenOver() throws {
        try initRepo()
        let src = dir.sub("src"); mkdir(src)
        try write(src + "/f", "data")
        // A clock 2 hours behind (or a lock abandoned 2 hours ago): stale, removed by the next operation.
        try writeLock(host: "slow-clock-host", pid: 999, exclusive: true, secondsFromNow: -2 * 3600)
        try backup([src])
        XCTAssertEqual(repoFiles("locks"), [])
        // And `unlock` removes such a lock on request, naming why.
        let name = try writeLock(host: "slow-clock-host", pid: 999, exclusive: false, secondsFromNow: -2 * 3600)
        let res = try expect(0, ["unlock", "--json"])
        let removed = (res.json as? [String: Any])?["removed"] as? [[String: Any]]
        XCTAssertEqual(removed?.first?["file"] as? String, "locks/" + name, "\(res)")
        XCTAssertEqual(repoFiles("locks"), [])
    }

    func testLockOfAReusedPidOnThisHostIsNamedWithTheWayOut() throws {
        try initRepo()
        // pid 1 is alive but is not sitevault: the lock looks live until it is 30 minutes old.
        let name = try writeLock(host: hostname(), pid: 1, exclusive: true, secondsFromNow: 0)
        let blocked = try sv(["check"])
        XCTAssertEqual(blocked.status, 11, "\(blocked)")
        XCTAssertTrue(blocked.stderr.contains("pid 1") && blocked.stderr.contains("sitevault unlock"), blocked.stderr)
        try expect(0, ["unlock"])
        XCTAssertEqual(repoFiles("locks"), [name], "a live-looking lock is kept by plain unlock")
        try expect(0, ["unlock", "--remove-all"])
        try expect(0, ["check"])
    }
}
