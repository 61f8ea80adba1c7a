import Foundation
import VaultTesting
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// A `command` database: its dump is streamed from stdout into the repository; a failing dump
/// fails its component precisely (partial snapshot, or nothing with atomic = true).
final class SiteDumpTests: SiteTestCase {
    func testLargeDumpIsStreamedAndRestoresExactly() throws {
        try makeSite()
        // 64 MiB of incompressible bytes, never written to disk by the dump side.
        try appendDumpComponent("bigdb", script: "openssl enc -aes-128-ctr -pass pass:seed -nosalt -pbkdf2 < /dev/zero 2>/dev/null | head -c 67108864",
                                extra: "file_name = \"bigdb.dump\"")
        let r = try siteRun("backup", "--json")
        XCTAssertEqual(r.status, 0, "\(r)")
        let comp = (json(r)["components"] as? [[String: Any]] ?? []).first { $0["name"] as? String == "bigdb" }
        XCTAssertEqual(comp?["bytes"] as? Int, 64 << 20)
        XCTAssertFalse(FileManager.default.fileExists(atPath: site + "/state/staging/bigdb"), "no temporary copy of the dump")
        XCTAssertEqual(shell("find '\(site!)/state' -size +1M | grep -q ."), 1, "nothing of 64 MiB was written to the state folder")
        let target = tmp.path + "/r"
        XCTAssertEqual(try repoRun(["restore", json(r)["snapshot"] as? String ?? "", "--target", target, "--include", "/bigdb"]).status, 0)
        XCTAssertEqual(shell("test \"$(sha256sum < \(target)/bigdb/bigdb.dump)\" = \"$(openssl enc -aes-128-ctr -pass pass:seed -nosalt -pbkdf2 < /dev/zero 2>/dev/null | head -c 67108864 | sha256sum)\""), 0)
    }

    func testFailingDumpMakesAPartialSnapshot() throws {
        try makeSite()
        XCTAssertEqual(try siteRun("backup").status, 0, "a good run first")
        try appendDumpComponent("reporting", script: "echo partial output; echo 'FATAL: database reporting does not exist' >&2; exit 3")
        let r = try siteRun("backup", "--json")
        XCTAssertEqual(r.status, 3, "\(r)")
        let report = json(r)
        XCTAssertEqual(report["result"] as? String, "partial")
        let comp = (report["components"] as? [[String: Any]] ?? []).first { $0["name"] as? String == "reporting" }
        XCTAssertEqual(comp?["result"] as? String, "failed")
        XCTAssertTrue((comp?["message"] as? String ?? "").contains("database reporting does not exist"), "stderr is captured: \(String(describing: comp))")
        XCTAssertTrue((comp?["message"] as? String ?? "").contains("status 3"), "\(String(describing: comp))")
        let snaps = try repoRun(["snapshots", "--json"]).json as? [[String: Any]] ?? []
        XCTAssertEqual(snaps.count, 2)
        XCTAssertEqual(snaps.last?["partial"] as? Bool, true)
        let ls = try repoRun(["ls", report["snapshot"] as? String ?? ""]).stdout
        XCTAssertFalse(ls.contains("/reporting/"), "the failed dump is not in the snapshot: \(ls)")
        XCTAssertTrue(try messageIDs().contains(2021))
        XCTAssertEqual(try siteRun("status").status, 1, "a partial snapshot after a good one is a warning")
    }

    func testAtomicSiteCommitsNothingWhenAComponentFails() throws {
        try makeSite()
        try replaceInControlFile("state_dir = \"state\"", "state_dir = \"state\"\natomic = true")
        try appendDumpComponent("reporting", script: "false")
        let r = try siteRun("backup", "--json")
        XCTAssertEqual(r.status, 23, "\(r)")
        XCTAssertEqual(try snapshotCount(), 0)
        XCTAssertNotEqual(appState(), "T")
        XCTAssertEqual(try repoRun(["check"]).status, 0)
    }
}
