import Foundation
import VaultTesting
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// `[[copy]]` targets of a site: every good run copied (with another password), a failed copy that
/// leaves the backup alone and is caught up, `site status` per target, and a site recovered and
/// drilled from its copy once the main repository is gone.
final class SiteCopyTests: RecoveryTestCase {
    var offsite: String { site + "/offsite/repo" }
    var offsitePassword: String { site + "/offsite/password" }

    /// The sample site with an off-site repository (its own password) as copy target.
    func makeSiteWithCopy(writes: Int = 100) throws {
        try makeSite(writesPerSecond: writes)
        try FileManager.default.createDirectory(atPath: site + "/offsite", withIntermediateDirectories: true)
        try writeSecret("the off-site password\n", to: offsitePassword)
        let r = try CLI.run(["init", "--repo", offsite, "--password-file", offsitePassword])
        XCTAssertEqual(r.status, 0, "\(r)")
        try appendToControlFile("""
        [repositories.offsite]
        path = "offsite/repo"
        password_file = "offsite/password"

        [[copy]]
        repository = "offsite"
        keep_last = 10
        """)
    }

    func offsiteSnapshots() throws -> [[String: Any]] {
        let r = try CLI.run(["snapshots", "--json"], env: ["SITEVAULT_REPOSITORY": offsite, "SITEVAULT_PASSWORD_FILE": offsitePassword])
        XCTAssertEqual(r.status, 0, "\(r)")
        return r.json as? [[String: Any]] ?? []
    }

    func copies(_ report: [String: Any]) -> [[String: Any]] { report["copies"] as? [[String: Any]] ?? [] }

    func testEveryGoodRunIsCopiedAndAFailedCopyIsCaughtUp() throws {
        try makeSiteWithCopy()
        let first = try backupSite()
        XCTAssertEqual(copies(first).map { $0["result"] as? String }, ["ok"], "\(first)")
        XCTAssertEqual(copies(first).first?["copied"] as? Int, 1)
        var ids = try runMessageIDs(first)
        XCTAssertTrue(ids.contains(1310) && ids.contains(1311), "\(ids)")
        let copied = try offsiteSnapshots()
        XCTAssertEqual(copied.count, 1)
        XCTAssertEqual(copied.first?["original"] as? String, first["snapshot"] as? String)
        XCTAssertEqual((copied.first?["tags"] as? [String])?.contains("site=sample"), true)

        // The off-site password is wrong for one run: the backup still succeeds (exit 0), the copy fails.
        try writeSecret("not the off-site password\n", to: offsitePassword)
        let second = try backupSite()
        XCTAssertEqual(second["result"] as? String, "succeeded")
        XCTAssertEqual(copies(second).map { $0["result"] as? String }, ["failed"])
        ids = try runMessageIDs(second)
        XCTAssertTrue(ids.contains(2041), "\(ids)")
        XCTAssertTrue(ids.contains(1900), "the run itself succeeded: \(ids)")
        let status = try siteRun("status", "--json")
        XCTAssertEqual(status.status, 1, "a failed copy is a warning: \(status)")
        let log = try newestRunLog()
        XCTAssertTrue(log.contains("copy offsite: failed"), log)

        // Next run: everything missing is copied (the run that failed and this one).
        try writeSecret("the off-site password\n", to: offsitePassword)
        let third = try backupSite()
        XCTAssertEqual(copies(third).first?["result"] as? String, "ok")
        XCTAssertEqual(copies(third).first?["copied"] as? Int, 2)
        XCTAssertEqual(copies(third).first?["present"] as? Int, 1)
        let originals = Set(try offsiteSnapshots().compactMap { $0["original"] as? String })
        XCTAssertEqual(originals, Set([first, second, third].compactMap { $0["snapshot"] as? String }))
        XCTAssertTrue(try newestRunLog().contains("copy offsite: ok, 2 copied, 1 already there"))
        let s = try siteRun("status", "--json")
        let target = (json(s)["copies"] as? [[String: Any]])?.first
        XCTAssertEqual(target?["target"] as? String, "offsite")
        XCTAssertNotNil(target?["newest"] as? String, "\(s)")
        XCTAssertNotNil(target?["ageSeconds"] as? Double, "\(s)")
        XCTAssertEqual(target?["lastCopy"] as? String, "ok")
        XCTAssertTrue(try siteRun("status").stdout.contains("copy offsite"), "the human status names the copy target")
        let check = try CLI.run(["check", "--read-data"], env: ["SITEVAULT_REPOSITORY": offsite, "SITEVAULT_PASSWORD_FILE": offsitePassword])
        XCTAssertEqual(check.status, 0, "\(check)")

        // The copy target's own retention keys apply there (`site forget`).
        try replaceInControlFile("keep_last = 10", "keep_last = 1")
        let forget = try siteRun("forget", "--json", "--prune")
        XCTAssertEqual(forget.status, 0, "\(forget)")
        let decisions = (json(forget)["decisions"] as? [[String: Any]] ?? []).filter { $0["repository"] as? String == "offsite" }
        XCTAssertEqual(decisions.count, 3)
        XCTAssertEqual(decisions.filter { $0["keep"] as? Bool == true }.count, 1)
        XCTAssertEqual(try offsiteSnapshots().count, 1)
        let after = try CLI.run(["check"], env: ["SITEVAULT_REPOSITORY": offsite, "SITEVAULT_PASSWORD_FILE": offsitePassword])
        XCTAssertEqual(after.status, 0, "\(after)")
    }

    /// Back up, copy to a repository with another password, destroy the first repository and the
    /// site: the site comes back from the copy, and a drill on the copy passes.
    func testRecoverAndDrillFromTheCopyWhenTheMainRepositoryIsGone() throws {
        try makeSiteWithCopy()
        try FileManager.default.createDirectory(atPath: dataPath + "/notes", withIntermediateDirectories: true)
        try write(dataPath + "/notes/keep.txt", "notes kept by the application\n")
        XCTAssertTrue(waitForAppWrites(beyond: 60))
        let original = try XCTUnwrap(text(confPath))
        let report = try backupSite()
        let snapshot = try XCTUnwrap(report["snapshot"] as? String)
        XCTAssertEqual(copies(report).first?["result"] as? String, "ok", "\(report)")
        let expectedData = try snapshotTree(snapshot, component: "data", path: dataPath)
        let expectedDB = dbSummary(try snapshotDatabase(snapshot))
        let media = FileManager.default.contents(atPath: mediaScript)

        // The disaster: the main repository is destroyed, with the application and its data.
        try FileManager.default.removeItem(atPath: repo)
        try destroySite()

        let unknown = try siteRun("recover", "--from", "nowhere", "--no-start")
        XCTAssertEqual(unknown.status, 1, "\(unknown)")
        XCTAssertTrue(unknown.stderr.contains("offsite"), "the error names the copy targets: \(unknown.stderr)")
        let r = try siteRun("recover", "--json", "--no-start", "--from", "offsite")
        XCTAssertEqual(r.status, 0, "\(r)")
        XCTAssertEqual(json(r)["result"] as? String, "recovered", "\(r)")
        assertSiteAsInSnapshot(config: original, data: expectedData, database: expectedDB, media: media)

        let drill = try siteRun("drill", "--json", "--from", "offsite")
        XCTAssertEqual(drill.status, 0, "\(drill)")
        XCTAssertEqual(json(drill)["result"] as? String, "passed")

        // The copy alone, with the control file it keeps: onto a new machine.
        let fresh = tmp.path + "/new-machine"
        let alone = try CLI.run(["site", "recover", "--repo", offsite, "--site-from-snapshot", "--site-name", "sample",
                                 "--password-file", offsitePassword, "--target", fresh, "--json"])
        XCTAssertEqual(alone.status, 0, "\(alone)")
        XCTAssertEqual(text(fresh + confPath), original)
        XCTAssertEqual(TreeComparison.differences(expectedData, TreeComparison.describe(fresh + dataPath)), [])
        XCTAssertEqual(dbSummary(fresh + dbPath), expectedDB)
    }

    /// Split layout: the database goes to its own repository; both parts are copied to the target,
    /// each recording the id the main snapshot's manifest names, and with every original repository
    /// gone the site's main part comes back from the copy.
    /// (The main manifest lists only the main repository's components, so `site recover` restores
    /// those only — with or without a copy; see the report of issue 14.)
    func testSplitLayoutIsCopiedWholeAndRecoversFromItsCopy() throws {
        try makeSiteWithCopy()
        let dbRepo = site + "/backup/dbrepo"
        let r0 = try CLI.run(["init", "--repo", dbRepo, "--password-file", passwordFile])
        XCTAssertEqual(r0.status, 0, "\(r0)")
        try replaceInControlFile("path = \"srv/shop.db\"", "path = \"srv/shop.db\"\nrepository = \"db\"")
        try appendToControlFile("[repositories.db]\npath = \"backup/dbrepo\"\npassword_file = \"backup/password\"")
        let report = try backupSite()
        let parts = try XCTUnwrap(report["snapshots"] as? [String: String])
        XCTAssertEqual(parts.keys.sorted(), ["db", "main"])
        XCTAssertEqual(copies(report).first?["copied"] as? Int, 2, "both parts are copied: \(report)")
        XCTAssertEqual(Set(try offsiteSnapshots().compactMap { $0["original"] as? String }), Set(parts.values))
        let expectedData = try snapshotTree(try XCTUnwrap(report["snapshot"] as? String), component: "data", path: dataPath)
        let original = try XCTUnwrap(text(confPath))

        try FileManager.default.removeItem(atPath: repo)
        try FileManager.default.removeItem(atPath: dbRepo)
        killAppHard()
        try FileManager.default.removeItem(atPath: dataPath)
        try write(confPath, RecoveryTestCase.brokenConfig)
        let r = try siteRun("recover", "--json", "--no-start", "--no-probe", "--from", "offsite")
        XCTAssertEqual(r.status, 0, "\(r)")
        XCTAssertEqual(json(r)["result"] as? String, "recovered", "\(r)")
        XCTAssertEqual(component(json(r), "database")?["result"] as? String, "ok", "the part of the other repository is recovered too: \(r)")
        XCTAssertEqual(TreeComparison.differences(expectedData, TreeComparison.describe(dataPath)), [])
        XCTAssertEqual(text(confPath), original)
    }

    func newestRunLog() throws -> String {
        let folder = site + "/state/logs"
        let names = try FileManager.default.contentsOfDirectory(atPath: folder).filter { !$0.contains("-drill-") }
        func modified(_ n: String) -> Date {
            ((try? FileManager.default.attributesOfItem(atPath: folder + "/" + n))?[.modificationDate] as? Date) ?? .distantPast
        }
        return text(folder + "/" + (names.max { modified($0) < modified($1) } ?? "")) ?? ""
    }
}
