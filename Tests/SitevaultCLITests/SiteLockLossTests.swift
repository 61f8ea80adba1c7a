import Foundation
import XCTest
import VaultTesting
#if canImport(Glibc)
import Glibc
#endif

/// A site backup whose repository lock is removed before its commit (another host's prune judged it
/// stale) fails with commit-failed and commits nothing; earlier snapshots stay as they were.
final class SiteLockLossTests: SiteTestCase {
    func testSiteBackupWhoseLockWasRemovedCommitsNothing() throws {
        try makeSite(writesPerSecond: 20)
        XCTAssertTrue(waitForAppWrites(beyond: 10))
        let first = try siteRun("backup", "--json")
        XCTAssertEqual(first.status, 0, "\(first)")
        let before = try snapshotCount()
        XCTAssertGreaterThan(before, 0)

        let gate = tmp.path + "/gate"
        let run = try CLI.start(["site", "backup", "--json", "--site", controlFile], env: ["SITEVAULT_TEST_COMMIT_GATE": gate])
        defer { FileManager.default.createFile(atPath: gate, contents: nil); run.kill9() }
        XCTAssertTrue(waitForFile(gate + ".waiting"), "the site backup reached its commit")
        let locks = try FileManager.default.contentsOfDirectory(atPath: repo + "/locks").filter { !$0.hasPrefix(".") }
        XCTAssertEqual(locks.count, 1, "\(locks)")
        for l in locks { try FileManager.default.removeItem(atPath: repo + "/locks/" + l) }
        FileManager.default.createFile(atPath: gate, contents: nil)
        let res = run.wait()
        XCTAssertEqual(res.status, 26, "commit-failed: \(res)")
        let report = json(res)
        XCTAssertEqual(report["failure"] as? String, "commit-failed", "\(report)")
        XCTAssertTrue((report["failureMessage"] as? String ?? "").contains("was removed"), "\(report)")
        XCTAssertEqual(try snapshotCount(), before, "nothing was committed")
        XCTAssertTrue(try messageIDs().contains(2040))
        let check = try repoRun(["check", "--read-data"])
        XCTAssertEqual(check.status, 0, "\(check)")
    }
}
