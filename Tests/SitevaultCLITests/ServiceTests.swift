import Foundation
import VaultTesting
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// `sitevault service` for a few seconds with a one-second schedule, against the running sample site.
final class ServiceTests: SiteTestCase {
    func startService() throws -> CLI.Running {
        try CLI.start(["service", "--site", controlFile])
    }

    func testRunsOnScheduleAppliesRetentionAndStopsCleanly() throws {
        try makeSite()
        try replaceInControlFile("calendar = \"daily 02:00\"", "calendar = \"every 1s\"")
        try replaceInControlFile("keep_daily = 7\nkeep_weekly = 4", "keep_last = 2")
        let service = try startService()
        let end = Date().addingTimeInterval(60)
        while Date() < end, (try? messageIDs().filter { $0 == 1800 }.count) ?? 0 < 3 { usleep(200_000) }
        kill(service.pid, SIGTERM)
        let r = service.wait(timeout: 60)
        XCTAssertEqual(r.status, 0, "\(r)")
        let ids = try messageIDs()
        XCTAssertGreaterThanOrEqual(ids.filter { $0 == 1900 }.count, 3, "several scheduled runs: \(ids)")
        XCTAssertGreaterThanOrEqual(ids.filter { $0 == 1800 }.count, 3, "retention after each good run")
        XCTAssertTrue(ids.contains(1700) && ids.contains(1702))
        XCTAssertLessThanOrEqual(try snapshotCount(), 3, "keep_last = 2 (plus at most one run committed after the last retention)")
        XCTAssertNotEqual(appState(), "T")
        XCTAssertEqual(try repoRun(["check", "--read-data"]).status, 0)
    }

    func testSigtermDuringARunThawsAndSighupWithABrokenFileKeepsTheOldOne() throws {
        try makeSite()
        try replaceInControlFile("calendar = \"daily 02:00\"", "calendar = \"every 1s\"")
        let service = try startService()
        let end = Date().addingTimeInterval(60)
        while Date() < end, (try? messageIDs().contains(1900)) != true { usleep(200_000) }
        // A broken control file on SIGHUP: rejected, the service goes on with the old one.
        let good = try String(contentsOfFile: controlFile, encoding: .utf8)
        messagesControl = site + "/copy-of-site.toml"
        try good.write(toFile: messagesControl!, atomically: true, encoding: .utf8)
        try (good + "\nbroken = = 1\n").write(toFile: controlFile, atomically: true, encoding: .utf8)
        kill(service.pid, SIGHUP)
        while Date() < end, (try? messageIDs().contains(2081)) != true { usleep(100_000) }
        let runsBefore = try messageIDs().filter { $0 == 1900 }.count
        while Date() < end, (try? messageIDs().filter { $0 == 1900 }.count) ?? 0 <= runsBefore { usleep(100_000) }
        XCTAssertGreaterThan(try messageIDs().filter { $0 == 1900 }.count, runsBefore, "the old schedule stays in force")
        try good.write(toFile: controlFile, atomically: true, encoding: .utf8)
        // Make the next run hold the application frozen for a while, then stop the service during it.
        try appendDumpComponent("slow", script: "touch \(site!)/run/frozen; exec sleep 30", frozenBy: "app-stop")
        kill(service.pid, SIGHUP)
        XCTAssertTrue(waitForFile(site + "/run/frozen", timeout: 60))
        XCTAssertEqual(appState(), "T")
        kill(service.pid, SIGTERM)
        let r = service.wait(timeout: 60)
        XCTAssertEqual(r.status, 0, "\(r)")
        XCTAssertNotEqual(appState(), "T", "the service thawed the application on its way out")
        XCTAssertFalse(FileManager.default.fileExists(atPath: site + "/state/freeze.json"))
        XCTAssertTrue(try messageIDs().contains(2050), "the interrupted run is recorded")
        XCTAssertEqual(try repoRun(["check", "--read-data"]).status, 0)
    }

    /// A SIGHUP during a run: when the run ends, the next one is scheduled from the reloaded file,
    /// not from the schedule the run started with.
    func testReloadDuringARunSchedulesTheNextRunFromTheNewFile() throws {
        try makeSite()
        try replaceInControlFile("calendar = \"daily 02:00\"", "calendar = \"every 1s\"")
        try appendDumpComponent("slow", script: "touch \(site!)/run/slow-started; sleep 3; echo dump")
        let service = try startService()
        defer { kill(service.pid, SIGTERM); _ = service.wait(timeout: 60) }
        XCTAssertTrue(waitForFile(site + "/run/slow-started", timeout: 60))
        // A schedule that comes round only in many hours (unless it is that time of day now).
        let hour = (Calendar.current.component(.hour, from: Date()) + 12) % 24
        try replaceInControlFile("calendar = \"every 1s\"", String(format: "calendar = \"daily %02d:00\"", hour))
        kill(service.pid, SIGHUP)
        let end = Date().addingTimeInterval(60)
        while Date() < end, (try? messageIDs().contains(1900)) != true { usleep(100_000) }
        XCTAssertTrue(try messageIDs().contains(1900), "the first run succeeded")
        XCTAssertTrue(try messageIDs().contains(1701), "the control file was reloaded")
        sleep(4)
        XCTAssertEqual(try messageIDs().filter { $0 == 1000 }.count, 1, "no run started after the reload moved the schedule away")
    }

    func testRefusesAControlFileWritableByEveryone() throws {
        try makeSite()
        chmod(controlFile, 0o666)
        let r = try CLI.run(["service", "--site", controlFile], timeout: 30)
        XCTAssertEqual(r.status, 1, "\(r)")
        XCTAssertTrue(r.stderr.contains("writable by others"), r.stderr)
    }

    /// install-service writes units that systemd accepts (systemd-analyze verify), identical to packaging/systemd
    /// apart from the filled-in paths.
    func testInstallServiceWritesVerifiedUnits() throws {
        try makeSite()
        let dest = tmp.path + "/units"
        let r = try CLI.run(["install-service", "--site", controlFile, "--site-dir", site, "--dest", dest, "--no-reload", "--json"])
        XCTAssertEqual(r.status, 0, "\(r)")
        let service = try String(contentsOfFile: dest + "/sitevault.service", encoding: .utf8)
        XCTAssertTrue(service.contains("ExecStart=\(CLI.executable) service --site \(controlFile)"), service)
        let packaging = URL(fileURLWithPath: SiteTestCase.examples).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("packaging/systemd")
        for name in ["sitevault.service", "sitevault-backup@.service", "sitevault-backup@.timer"] {
            let shipped = try String(contentsOf: packaging.appendingPathComponent(name), encoding: .utf8)
            let installed = try String(contentsOfFile: dest + "/" + name, encoding: .utf8)
            let filled = shipped.replacingOccurrences(of: "@SITEVAULT@", with: CLI.executable)
                .replacingOccurrences(of: "@SITES@", with: "--site \(controlFile)").replacingOccurrences(of: "@SITEDIR@", with: site)
            XCTAssertEqual(installed, filled, "\(name) is the shipped unit")
        }
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/systemd-analyze") else { throw XCTSkip("systemd-analyze is not installed") }
        try FileManager.default.copyItem(atPath: dest + "/sitevault-backup@.service", toPath: dest + "/sitevault-backup@sample.service")
        try FileManager.default.copyItem(atPath: dest + "/sitevault-backup@.timer", toPath: dest + "/sitevault-backup@sample.timer")
        let v = shell("cd '\(dest)' && systemd-analyze verify ./sitevault.service ./sitevault-backup@sample.service ./sitevault-backup@sample.timer > verify.log 2>&1")
        XCTAssertEqual(v, 0, (try? String(contentsOfFile: dest + "/verify.log", encoding: .utf8)) ?? "")
        // An invalid control file: nothing is written.
        try "site = \"x\"\n".write(toFile: site + "/bad.toml", atomically: true, encoding: .utf8)
        let bad = try CLI.run(["install-service", "--site", site + "/bad.toml", "--dest", tmp.path + "/units2", "--no-reload"])
        XCTAssertEqual(bad.status, 78)
        XCTAssertFalse(FileManager.default.fileExists(atPath: tmp.path + "/units2"))
    }

    /// The staleness alarm is raised once while no good run lands within the window, and cleared by a good run.
    func testStalenessAlarmRaisedOnceAndCleared() throws {
        try makeSite()
        try replaceInControlFile("calendar = \"daily 02:00\"\nretention_window = \"5d\"", "calendar = \"every 1s\"\nretention_window = \"3s\"")
        try appendToControlFile("[alerts]\ncommand = [\"sh\", \"-c\", \"echo $SITEVAULT_MESSAGE_ID >> \(site!)/run/alerts\"]")
        XCTAssertEqual(try siteRun("backup").status, 0, "one good snapshot to grow old")
        // Break the destination: every scheduled run fails from now on.
        try FileManager.default.moveItem(atPath: repo, toPath: repo + ".away")
        let service = try startService()
        let end = Date().addingTimeInterval(60)
        while Date() < end, (try? messageIDs().contains(2080)) != true { usleep(200_000) }
        usleep(2_500_000)
        let alerts = ((try? String(contentsOfFile: site + "/run/alerts", encoding: .utf8)) ?? "").split(separator: "\n")
        XCTAssertEqual(try messageIDs().filter { $0 == 2080 }.count, 1, "raised once, not at every check")
        XCTAssertEqual(alerts.filter { $0 == "2080" }.count, 1, "one staleness alert: \(alerts)")
        XCTAssertEqual(try siteRun("status").status, 2)
        // Repair: the next good run clears it.
        try FileManager.default.moveItem(atPath: repo + ".away", toPath: repo)
        while Date() < end, (try? messageIDs().contains(1600)) != true { usleep(200_000) }
        XCTAssertTrue(try messageIDs().contains(1600), "cleared by a good run")
        kill(service.pid, SIGTERM)
        XCTAssertEqual(service.wait(timeout: 60).status, 0)
    }

    /// Backups and prunes of one repository started together, many times: prune waits for the
    /// backup's lock, nothing a backup needs is deleted, every snapshot restores.
    func testPruneAndBackupTogetherManyTimes() throws {
        try makeSite()
        try replaceInControlFile("keep_daily = 7\nkeep_weekly = 4", "keep_last = 2")
        XCTAssertEqual(try siteRun("backup").status, 0)
        for round in 0..<5 {
            // Whichever takes its lock first, the other waits for it (--retry-lock), never fails.
            let backup = try startSite("backup", "--retry-lock", "60")
            let prune = try CLI.start(["site", "forget", "--prune", "--retry-lock", "60", "--site", controlFile])
            let b = backup.wait(timeout: 120)
            XCTAssertEqual(b.status, 0, "round \(round): \(b)")
            XCTAssertEqual(prune.wait(timeout: 120).status, 0, "round \(round)")
        }
        XCTAssertEqual(try repoRun(["check", "--read-data"]).status, 0)
        let snaps = try repoRun(["snapshots", "--json"]).json as? [[String: Any]] ?? []
        XCTAssertGreaterThanOrEqual(snaps.count, 2)
        for (i, s) in snaps.enumerated() {
            XCTAssertEqual(try repoRun(["restore", s["id"] as? String ?? "", "--target", tmp.path + "/r\(i)"]).status, 0)
        }
    }

    /// A run missed while the service was down runs once at start-up, not once per missed slot.
    func testCatchUpRunsOnce() throws {
        try makeSite()
        XCTAssertEqual(try siteRun("backup").status, 0)
        // The last run was three days ago (the machine was off): three daily slots missed.
        XCTAssertEqual(shell("sqlite3 '\(site!)/state/status.db' 'UPDATE runs SET started = started - 259200000000000, report = json_set(report, \"$.started\", json_extract(report, \"$.started\") - 259200000000000)'"), 0)
        var now = time(nil), tmv = tm()
        gmtime_r(&now, &tmv)
        let slot = String(format: "%02d:%02d", (tmv.tm_hour + 2) % 24, tmv.tm_min)
        try replaceInControlFile("calendar = \"daily 02:00\"", "calendar = \"daily \(slot)\"")
        let service = try startService()
        let end = Date().addingTimeInterval(30)
        while Date() < end, (try? messageIDs().filter { $0 == 1900 }.count) ?? 0 < 2 { usleep(200_000) }
        usleep(3_000_000)
        XCTAssertEqual(try messageIDs().filter { $0 == 1900 }.count, 2, "exactly one catch-up run")
        kill(service.pid, SIGTERM)
        XCTAssertEqual(service.wait(timeout: 60).status, 0)
        let started = try messages().first { $0["id"] as? Int == 1700 }?["text"] as? String ?? ""
        XCTAssertTrue(started.contains("next run"), started)
    }
}
