import Foundation
import XCTest
import VaultRepository
import VaultTesting
#if canImport(Glibc)
import Glibc
#endif

/// Commands that take a shared lock may run while a backup (also shared) commits a new snapshot.
/// They must not mistake the new snapshot for damage. To hit the window deterministically, the
/// reader is stopped (SIGSTOP) the moment it opens its first index file, a backup runs to the end,
/// and the reader is continued.
final class ConcurrencyTests: CLITestCase {
    /// Starts `args` and stops the process as soon as it opens a file in index/. Nil if it never did.
    func startStoppedAtIndexRead(_ args: [String]) throws -> CLI.Running? {
        let fd = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        defer { close(fd) }
        XCTAssertGreaterThanOrEqual(inotify_add_watch(fd, repo + "/index", UInt32(IN_OPEN)), 0)
        // Low priority for the reader, so the test process (woken by inotify) preempts it at once.
        let run = try CLI.start(args, env: env(), wrapper: ["/usr/bin/nice", "-n", "19"])
        var buf = [UInt8](repeating: 0, count: 4096)
        let deadline = Date().addingTimeInterval(20)
        while run.isRunning && Date() < deadline {
            // Block until an event arrives (lowest latency), waking up now and then to notice the end.
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            _ = Glibc.poll(&pfd, 1, 50)
            let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n > 0 {
                // Any event with a name is a file being opened (the folder's own events have none).
                var off = 0, fileOpened = false
                while off + 16 <= n {
                    let len = buf.withUnsafeBytes { Int($0.loadUnaligned(fromByteOffset: off + 12, as: UInt32.self)) }
                    if len > 0 && buf[off + 16] != 46 { fileOpened = true }
                    off += 16 + len
                }
                if fileOpened {
                    _ = kill(run.pid, SIGSTOP)
                    return run
                }
            }
        }
        _ = run.wait()
        return nil
    }

    /// Four snapshots of tree `a`; `args` is paused at its first index read while a backup of tree `b`
    /// (or of `a` again, with `concurrentOfA`) commits. Returns the paused command's result and both trees.
    func scenario(_ args: [String], concurrentOfA: Bool = false, file: StaticString = #filePath, line: UInt = #line) throws -> (CLI.Result, String, String)? {
        try initRepo()
        let a = try flatTree("a", seed: 61, dirs: 4, files: 40, maxSize: 20_000)
        for i in 0..<4 { try write(a + "/gen", "\(i)"); try backup([a]) }
        // Large index files (20,000 small blobs written through the library), so that loading the index
        // takes long enough for the reader to be stopped before it looks at the snapshots, however
        // late the test process gets scheduled.
        let r = try TestRepository.open(at: repo)
        var rng = SeededRandom(seed: 63)
        for _ in 0..<4 {
            let w = BlobWriter(repository: r)
            for _ in 0..<5000 { _ = try w.save(.data, rng.bytes(16)) }
            try w.flush()
        }
        let b = try flatTree("b", seed: 62, dirs: 2, files: 10, maxSize: 20_000)
        let argsResolved = args.map { $0 == "$A" ? a : $0 }
        guard let run = try startStoppedAtIndexRead(argsResolved) else {
            XCTFail("\(args): never opened an index file", file: file, line: line); return nil
        }
        // A backup commits a new snapshot while the reader is paused (shared locks are compatible).
        if concurrentOfA { try write(a + "/d0/changed-meanwhile", "new") }
        let concurrent = try sv(["backup", "--json", concurrentOfA ? a : b])
        _ = kill(run.pid, SIGCONT)
        XCTAssertEqual(concurrent.status, 0, "the concurrent backup: \(concurrent)", file: file, line: line)
        let res = run.wait()
        return (res, a, b)
    }

    func testCheckDuringConcurrentBackupReportsNoDamage() throws {
        guard let (res, _, _) = try scenario(["check", "--json"]) else { return }
        let report = res.json as? [String: Any]
        XCTAssertEqual(res.status, 0, "check reports damage because a backup committed while it ran: \(res)")
        XCTAssertEqual((report?["problems"] as? [Any])?.count ?? -1, 0, "\(res.stdout)")
        // The repository really is fine.
        let again = try check(readData: true)
        XCTAssertEqual(again.status, 0, "\(again.result)")
    }

    func testRestoreLatestDuringConcurrentBackup() throws {
        let target = dir.sub("target")
        guard let (res, a, b) = try scenario(["restore", "latest", "--target", target]) else { return }
        XCTAssertEqual(res.status, 0, "restore latest fails because a backup committed while it started: \(res)")
        // Either the old latest or the new one, but complete.
        let gotA = FileManager.default.fileExists(atPath: target + normalized(a))
        let gotB = FileManager.default.fileExists(atPath: target + normalized(b))
        XCTAssertTrue(gotA != gotB, "exactly one snapshot restored: a=\(gotA) b=\(gotB)")
        if gotA { XCTAssertEqual(TreeComparison.differences(TreeComparison.describe(a), TreeComparison.describe(target + normalized(a))), []) }
        if gotB { XCTAssertEqual(TreeComparison.differences(TreeComparison.describe(b), TreeComparison.describe(target + normalized(b))), []) }
    }

    /// Two overlapping backups of the same paths (e.g. a slow cron run and a manual one): the second
    /// to start finds the first one's new snapshot as its parent.
    func testOverlappingBackupsOfTheSamePaths() throws {
        guard let (res, a, _) = try scenario(["backup", "--json", "$A"], concurrentOfA: true) else { return }
        XCTAssertEqual(res.status, 0, "a backup fails because another backup of the same paths committed while it started: \(res)")
        XCTAssertEqual(try snapshotIDs().count, 6)
        let c = try check(readData: true)
        XCTAssertEqual(c.status, 0, "\(c.result)")
        _ = a
    }

    func testLsAndStatsDuringConcurrentBackup() throws {
        guard let (ls, _, _) = try scenario(["ls", "latest"]) else { return }
        XCTAssertEqual(ls.status, 0, "ls latest fails because a backup committed while it started: \(ls)")
        tearDown(); try setUpWithError()
        guard let (stats, _, _) = try scenario(["stats", "--json"]) else { return }
        XCTAssertEqual(stats.status, 0, "stats fails because a backup committed while it ran: \(stats)")
    }
}
