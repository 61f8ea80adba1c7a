import Foundation
import VaultTesting
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Thaw is guaranteed: after SIGTERM, after kill -9 (the next run or `site thaw` thaws first),
/// and two runs of one site never overlap.
final class SiteFreezeTests: SiteTestCase {
    /// A component stored while the application is stopped (SIGSTOP) and whose dump waits on the
    /// first run, so the test can act while the site is frozen.
    func addSlowFrozenComponent() throws {
        try appendDumpComponent("slow", script: "if [ -e \(site!)/run/frozen ]; then echo dump; else echo $$ > \(site!)/run/dumper; touch \(site!)/run/frozen; exec sleep 60; fi",
                                frozenBy: "app-stop")
    }

    func dumperPid() -> Int32? {
        (try? String(contentsOfFile: site + "/run/dumper", encoding: .utf8)).flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }

    func testKillDuringFreezeThenNextRunThawsFirst() throws {
        try makeSite()
        try addSlowFrozenComponent()
        let run = try startSite("backup")
        XCTAssertTrue(waitForFile(site + "/run/frozen"), "the run reaches the frozen phase")
        XCTAssertEqual(appState(), "T", "the application is stopped while frozen")
        run.kill9()
        _ = run.wait()
        if let d = dumperPid() { extraPids.append(d) }
        XCTAssertEqual(appState(), "T", "a killed run leaves the application frozen")
        XCTAssertTrue(FileManager.default.fileExists(atPath: site + "/state/freeze.json"), "the freeze is recorded durably")
        let status = try siteRun("status", "--json")
        XCTAssertEqual(status.status, 2, "a site left frozen is unhealthy: \(status)")
        XCTAssertEqual(json(status)["frozenWriters"] as? [String], ["app-stop"])

        let next = try siteRun("backup", "--json")
        XCTAssertEqual(next.status, 0, "\(next)")
        XCTAssertNotEqual(appState(), "T", "the next run thawed the application")
        let runID = json(next)["runID"] as? String
        let ids = try messageIDs(run: runID)
        XCTAssertEqual(ids.first, 1000)
        let stale = try XCTUnwrap(ids.firstIndex(of: 1002), "stale freeze message: \(ids)")
        XCTAssertLessThan(stale, ids.firstIndex(of: 1200) ?? -1, "the stale freeze is thawed before anything is frozen again")
        XCTAssertFalse(FileManager.default.fileExists(atPath: site + "/state/freeze.json"))
        XCTAssertEqual(try snapshotCount(), 1, "the killed run committed nothing; the next one did")
        let before = appWrites()
        XCTAssertTrue(waitForAppWrites(beyond: before), "the application works again")
    }

    func testSiteThawCommand() throws {
        try makeSite()
        try addSlowFrozenComponent()
        let run = try startSite("backup")
        XCTAssertTrue(waitForFile(site + "/run/frozen"))
        run.kill9(); _ = run.wait()
        if let d = dumperPid() { extraPids.append(d) }
        XCTAssertEqual(appState(), "T")
        let t = try siteRun("thaw", "--json")
        XCTAssertEqual(t.status, 0, "\(t)")
        XCTAssertEqual(json(t)["thawed"] as? [String], ["app-stop"])
        XCTAssertNotEqual(appState(), "T")
        XCTAssertTrue(try messageIDs().contains(1002))
        let again = try siteRun("thaw")
        XCTAssertEqual(again.status, 0)
        XCTAssertTrue(again.stdout.contains("nothing was frozen"), again.stdout)
    }

    func testSigtermWhileFrozenThawsAndCommitsNothing() throws {
        try makeSite()
        try addSlowFrozenComponent()
        let run = try startSite("backup", "--json")
        XCTAssertTrue(waitForFile(site + "/run/frozen"))
        XCTAssertEqual(appState(), "T")
        kill(run.pid, SIGTERM)
        let r = run.wait(timeout: 30)
        XCTAssertEqual(r.status, 130, "\(r)")
        XCTAssertNotEqual(appState(), "T", "SIGTERM thawed the application")
        XCTAssertEqual(json(r)["result"] as? String, "aborted")
        XCTAssertEqual(try snapshotCount(), 0, "nothing committed")
        XCTAssertFalse(FileManager.default.fileExists(atPath: site + "/state/freeze.json"))
        let ids = try messageIDs(run: json(r)["runID"] as? String)
        XCTAssertTrue(ids.contains(1201) && ids.contains(2050) && ids.contains(2900), "\(ids)")
        // The dump command was ended with the run.
        if let d = dumperPid() {
            var gone = false
            for _ in 0..<200 { if kill(d, 0) != 0 { gone = true; break }; usleep(20_000) }
            XCTAssertTrue(gone, "the dump command does not outlive the interrupted run")
        }
        XCTAssertEqual(try repoRun(["check"]).status, 0)
    }

    func testTwoRunsOfOneSiteNeverOverlap() throws {
        try makeSite()
        try addSlowFrozenComponent()
        let first = try startSite("backup")
        XCTAssertTrue(waitForFile(site + "/run/frozen"))
        let second = try siteRun("backup", "--json")
        XCTAssertEqual(second.status, 24, "\(second)")
        XCTAssertEqual(json(second)["failure"] as? String, "already-running")
        XCTAssertEqual(appState(), "T", "the second run did not thaw under the first")
        kill(first.pid, SIGTERM)
        XCTAssertEqual(first.wait(timeout: 30).status, 130)
        XCTAssertNotEqual(appState(), "T")
    }
}
