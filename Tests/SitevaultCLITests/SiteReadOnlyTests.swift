import Foundation
import XCTest
import VaultTesting
#if canImport(Glibc)
import Glibc
#endif

/// `site drill` and `site recover` read a repository that cannot be written (read-only mount):
/// the lock is skipped with a warning (status message 1033), or not taken at all with --no-lock.
final class SiteReadOnlyTests: SiteTestCase {
    var mounted: String?

    override func tearDown() {
        if let m = mounted { _ = shell("umount \(m)") }
        super.tearDown()
    }

    func testDrillAndRecoverReadAReadOnlyRepository() throws {
        try makeSite(writesPerSecond: 20)
        XCTAssertTrue(waitForAppWrites(beyond: 10))
        let b = try siteRun("backup", "--json")
        XCTAssertEqual(b.status, 0, "\(b)")
        guard shell("mount --bind \(repo) \(repo) >/dev/null 2>&1") == 0 else { throw XCTSkip("bind mounts are not available here") }
        mounted = repo
        XCTAssertEqual(shell("mount -o remount,ro,bind \(repo)"), 0)
        XCTAssertNotEqual(shell("touch \(repo)/locks/probe 2>/dev/null"), 0, "the repository is really read-only")

        let drill = try siteRun("drill", "--json")
        XCTAssertEqual(drill.status, 0, "\(drill)")
        XCTAssertEqual(json(drill)["result"] as? String, "passed")
        XCTAssertTrue(drill.stderr.contains("reading without a lock"), drill.stderr)
        XCTAssertTrue(try messageIDs().contains(1033), "the warning is recorded as status message 1033")

        let target = tmp.path + "/elsewhere"
        try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
        let recover = try siteRun("recover", "--target", target, "--no-lock", "--json")
        XCTAssertEqual(recover.status, 0, "\(recover)")
        XCTAssertEqual(json(recover)["result"] as? String, "recovered")
        XCTAssertFalse(recover.stderr.contains("reading without a lock"), "--no-lock: no lock, no warning: \(recover.stderr)")
    }
}
