import Foundation
import VaultTesting
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// `sitevault site forget`: the control file's retention policy, never the newest good snapshot,
/// and prune never overlapping a running backup.
final class SiteRetentionTests: SiteTestCase {
    func testKeepsTheNewestGoodSnapshotAndPrunesSafely() throws {
        try makeSite()
        try replaceInControlFile("keep_daily = 7\nkeep_weekly = 4", "keep_last = 1")
        var good: [String] = []
        for _ in 0..<3 { good.append(json(try siteRun("backup", "--json"))["snapshot"] as? String ?? "") }
        // A partial run after them: the newest snapshot is not a good one.
        try appendDumpComponent("broken", script: "false")
        let partial = json(try siteRun("backup", "--json"))
        XCTAssertEqual(partial["result"] as? String, "partial")
        let dry = try siteRun("forget", "--dry-run", "--json")
        XCTAssertEqual(dry.status, 0, "\(dry)")
        XCTAssertEqual(try snapshotCount(), 4, "a dry run removes nothing")
        let r = try siteRun("forget", "--prune", "--json")
        XCTAssertEqual(r.status, 0, "\(r)")
        let kept = Set((json(r)["decisions"] as? [[String: Any]] ?? []).filter { $0["keep"] as? Bool == true }.compactMap { $0["id"] as? String })
        XCTAssertEqual(kept, [partial["snapshot"] as? String ?? "", good[2]], "the newest and the newest good are kept")
        XCTAssertEqual(try snapshotCount(), 2)
        XCTAssertGreaterThan((json(r)["prune"] as? [String: [String: Any]])?["main"]?["bytesRemoved"] as? Int ?? 0, 0, "space reclaimed is reported")
        XCTAssertEqual(try repoRun(["check", "--read-data"]).status, 0)
        XCTAssertEqual(try repoRun(["restore", good[2], "--target", tmp.path + "/r"]).status, 0)
    }

    func testPruneNeverRunsUnderARunningBackup() throws {
        try makeSite()
        try replaceInControlFile("keep_daily = 7\nkeep_weekly = 4", "keep_last = 1")
        XCTAssertEqual(try siteRun("backup").status, 0)
        XCTAssertEqual(try siteRun("backup").status, 0)
        try appendDumpComponent("slow", script: "touch \(site!)/run/dumping; sleep 5; echo done")
        let running = try startSite("backup")
        XCTAssertTrue(waitForFile(site + "/run/dumping"))
        let r = try siteRun("forget", "--prune")
        XCTAssertEqual(r.status, 11, "prune waits for no backup: \(r)")
        XCTAssertEqual(running.wait(timeout: 60).status, 0)
        XCTAssertEqual(try snapshotCount(), 3, "nothing was removed while the backup ran")
        let again = try siteRun("forget", "--prune", "--retry-lock", "30")
        XCTAssertEqual(again.status, 0, "\(again)")
        XCTAssertEqual(try snapshotCount(), 1)
        XCTAssertEqual(try repoRun(["check", "--read-data"]).status, 0)
    }
}
