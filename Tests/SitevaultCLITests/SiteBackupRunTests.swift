import Foundation
import VaultTesting
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// `sitevault site backup` on the running sample site: every component stored consistently,
/// the application kept running, and status, log, snapshot and messages agreeing.
final class SiteBackupRunTests: SiteTestCase {
    func testBacksUpTheRunningSiteConsistently() throws {
        try makeSite(writesPerSecond: 200)
        XCTAssertTrue(waitForAppWrites(beyond: 50), "the application writes")
        let pid = appPid
        let r = try siteRun("backup", "--json")
        XCTAssertEqual(r.status, 0, "\(r)")
        let report = json(r)
        XCTAssertEqual(report["result"] as? String, "succeeded")
        let comps = report["components"] as? [[String: Any]] ?? []
        XCTAssertEqual(comps.map { $0["name"] as? String }, ["database", "config", "data", "media"])
        XCTAssertEqual(comps.map { $0["result"] as? String }, ["ok", "ok", "ok", "ok"])
        XCTAssertEqual(comps[0]["check"] as? String, "ok", "the integrity check of the copy is recorded")
        XCTAssertEqual(comps[3]["version"] as? String, "sampleapp 1.4.2", "install media version recorded")
        let freezes = report["freezes"] as? [[String: Any]] ?? []
        XCTAssertEqual(freezes.count, 1)
        XCTAssertEqual(freezes.first?["writer"] as? String, "app")
        XCTAssertGreaterThan(freezes.first?["seconds"] as? Double ?? 0, 0, "the freeze window is measured")
        // The application was paused, not stopped: same process, running, still writing.
        XCTAssertEqual(appPid, pid)
        XCTAssertNotEqual(appState(), "T")
        let after = appWrites()
        XCTAssertTrue(waitForAppWrites(beyond: after), "the application keeps writing after the backup")

        // The database copy restores to a consistent database (every order equals its lines).
        let snapshot = try XCTUnwrap(report["snapshot"] as? String)
        let target = tmp.path + "/restored"
        let rr = try repoRun(["restore", snapshot, "--target", target])
        XCTAssertEqual(rr.status, 0, "\(rr)")
        let restoredDB = target + "/database/shop.db"
        XCTAssertTrue(FileManager.default.fileExists(atPath: restoredDB))
        try "database = \(restoredDB)\n".write(toFile: tmp.path + "/check.conf", atomically: true, encoding: .utf8)
        let check = Process()
        check.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        check.arguments = ["python3", SiteTestCase.examples + "/sampleapp.py", "--check", tmp.path + "/check.conf"]
        let out = Pipe(); check.standardOutput = out
        try check.run(); check.waitUntilExit()
        let verdict = try JSONSerialization.jsonObject(with: out.fileHandleForReading.readDataToEndOfFile()) as? [String: Any]
        XCTAssertEqual(check.terminationStatus, 0, "\(String(describing: verdict))")
        XCTAssertEqual(verdict?["inconsistent"] as? Int, 0)
        XCTAssertEqual(verdict?["integrity"] as? String, "ok")
        XCTAssertGreaterThan(verdict?["orders"] as? Int ?? 0, 0)
        // Config, captured settings and install media come back byte for byte, under their original paths.
        XCTAssertEqual(FileManager.default.contents(atPath: target + "/config/files" + site + "/etc/sampleapp.conf"),
                       FileManager.default.contents(atPath: site + "/etc/sampleapp.conf"))
        XCTAssertEqual(try String(contentsOfFile: target + "/config/settings/version", encoding: .utf8), "sampleapp 1.4.2\n")
        XCTAssertEqual(FileManager.default.contents(atPath: target + "/media/files" + site + "/opt/sampleapp/sampleapp.py"),
                       FileManager.default.contents(atPath: site + "/opt/sampleapp/sampleapp.py"))
        XCTAssertEqual(try String(contentsOfFile: target + "/.sitevault/site.toml", encoding: .utf8),
                       try String(contentsOfFile: controlFile, encoding: .utf8), "the control file is kept in the snapshot")
        XCTAssertGreaterThan(try FileManager.default.contentsOfDirectory(atPath: target + "/data/files" + site + "/srv/data").count, 0)

        // Status messages: in order, with stable IDs.
        let runID = try XCTUnwrap(report["runID"] as? String)
        let ids = try messageIDs(run: runID)
        for (a, b) in [(1000, 1001), (1001, 1200), (1200, 1201), (1201, 1300), (1300, 1900), (1900, 1301)] {
            XCTAssertLessThan(ids.firstIndex(of: a) ?? 99, ids.firstIndex(of: b) ?? -1, "message \(a) comes before \(b): \(ids)")
        }
        XCTAssertEqual(ids.filter { $0 == 1101 }.count, 4, "one success message per component")

        // Snapshot time, status message, run log and status agree.
        let snaps = try repoRun(["snapshots", "--json"]).json as? [[String: Any]] ?? []
        let snapTime = try XCTUnwrap(snaps.first?["time_utc"] as? String)
        let committed = try messages(run: runID).first { $0["id"] as? Int == 1300 }
        XCTAssertEqual(committed?["time"] as? String, snapTime, "the commit message carries the snapshot's time")
        let logs = try FileManager.default.contentsOfDirectory(atPath: repo + "/logs")
        XCTAssertEqual(logs.count, 1)
        XCTAssertTrue(logs[0].contains(runID))
        let log = try String(contentsOfFile: repo + "/logs/" + logs[0], encoding: .utf8)
        XCTAssertTrue(log.contains("snapshot:  \(snapshot)"), log)
        XCTAssertTrue(log.contains(snapTime + "  1300"), "the log line of the commit has the snapshot's time: \(log)")
        var st = stat()
        XCTAssertEqual(stat(repo + "/logs/" + logs[0], &st), 0)
        XCTAssertEqual(st.st_mode & 0o077, 0, "the run log is not readable by others")
        let status = try siteRun("status", "--json")
        XCTAssertEqual(status.status, 0, "\(status)")
        let s = json(status)
        XCTAssertEqual(s["health"] as? String, "healthy")
        XCTAssertEqual(s["lastSuccessSnapshot"] as? String, snapshot)
        XCTAssertEqual((s["components"] as? [Any])?.count, 4)
        let show = json(try siteRun("show", "--json"))
        XCTAssertEqual(show["id"] as? String, snapshot)
        XCTAssertEqual(show["time"] as? String, snapTime)
        XCTAssertEqual(((show["manifest"] as? [String: Any])?["components"] as? [Any])?.count, 4)
        // The whole repository checks clean.
        XCTAssertEqual(try repoRun(["check", "--read-data"]).status, 0)
    }

    func testSecondRunReusesUnchangedFilesAndKeepsTheFirstSnapshot() throws {
        try makeSite()
        let first = json(try siteRun("backup", "--json"))
        let second = json(try siteRun("backup", "--json"))
        XCTAssertEqual(second["result"] as? String, "succeeded")
        // The staging copy of the frozen data folder is kept and only brought up to date.
        let started = try messages(run: second["runID"] as? String).first { $0["id"] as? Int == 1100 && $0["component"] as? String == "data" }
        let text = started?["text"] as? String ?? ""
        XCTAssertTrue(text.contains("copied while frozen"), text)
        let unchanged = Int(text.components(separatedBy: " unchanged").first?.components(separatedBy: ", ").last ?? "") ?? 0
        XCTAssertGreaterThan(unchanged, 0, "files already staged are not copied again: \(text)")
        XCTAssertNotEqual(first["snapshot"] as? String, second["snapshot"] as? String)
        XCTAssertEqual(try snapshotCount(), 2, "the earlier snapshot is kept")
        let media = (second["components"] as? [[String: Any]] ?? []).first { $0["name"] as? String == "media" }
        XCTAssertLessThan(media?["bytesAdded"] as? Int ?? .max, 1024, "unchanged install media adds only folder metadata")
        XCTAssertGreaterThan(media?["bytes"] as? Int ?? 0, 4000)
        let show = try siteRun("show", String((first["snapshot"] as? String ?? "").prefix(10)), "--json")
        XCTAssertEqual(show.status, 0, "\(show)")
        let byRun = try siteRun("show", first["runID"] as? String ?? "", "--json")
        XCTAssertEqual(json(byRun)["id"] as? String, first["snapshot"] as? String, "a run id finds its snapshot")
    }

    func testUnicodePathsEverywhere() throws {
        try makeSite(at: URL(fileURLWithPath: tmp.path).resolvingSymlinksInPath().path + "/sité à sauvegarder")
        let odd = site + "/srv/data/données été/日本語 ファイル"
        try FileManager.default.createDirectory(atPath: odd, withIntermediateDirectories: true)
        try Data("contenu\n".utf8).write(to: URL(fileURLWithPath: odd + "/über.txt"))
        try appendToControlFile("""
        [[component]]
        name = "documents-été"
        kind = "folders"
        paths = ["srv/data/données été"]
        """)
        let r = try siteRun("backup", "--json")
        XCTAssertEqual(r.status, 0, "\(r)")
        let snapshot = try XCTUnwrap(json(r)["snapshot"] as? String)
        let target = tmp.path + "/é-restored"
        XCTAssertEqual(try repoRun(["restore", snapshot, "--target", target]).status, 0)
        XCTAssertEqual(try String(contentsOfFile: target + "/documents-été/files" + odd + "/über.txt", encoding: .utf8), "contenu\n")
        XCTAssertEqual(try siteRun("status").status, 0)
    }

    /// The split layout: the database goes to a repository of its own, the rest to the main one;
    /// one run id ties both snapshots and the main manifest names them.
    func testSplitDestinations() throws {
        try makeSite()
        let dbRepo = site + "/near-db/repo"
        XCTAssertEqual(try CLI.run(["init", "--repo", dbRepo, "--quiet"], env: ["SITEVAULT_PASSWORD_FILE": passwordFile]).status, 0)
        try replaceInControlFile("engine = \"sqlite\"", "engine = \"sqlite\"\nrepository = \"near-db\"")
        try appendToControlFile("[repositories.near-db]\npath = \"near-db/repo\"\npassword_file = \"backup/password\"")
        let r = try siteRun("backup", "--json")
        XCTAssertEqual(r.status, 0, "\(r)")
        let report = json(r)
        let parts = report["snapshots"] as? [String: String] ?? [:]
        XCTAssertEqual(Set(parts.keys), ["main", "near-db"])
        XCTAssertEqual(parts["main"], report["snapshot"] as? String)
        let dbSnaps = try repoRun(["snapshots", "--json"], repo: dbRepo).json as? [[String: Any]] ?? []
        let mainSnaps = try repoRun(["snapshots", "--json"]).json as? [[String: Any]] ?? []
        XCTAssertEqual(dbSnaps.count, 1); XCTAssertEqual(mainSnaps.count, 1)
        let runTag = "run=\(report["runID"] as? String ?? "")"
        XCTAssertTrue((dbSnaps[0]["tags"] as? [String] ?? []).contains(runTag))
        XCTAssertTrue((mainSnaps[0]["tags"] as? [String] ?? []).contains(runTag))
        // The database is only in its own repository.
        let inDB = try repoRun(["ls", parts["near-db"]!], repo: dbRepo).stdout
        let inMain = try repoRun(["ls", parts["main"]!]).stdout
        XCTAssertTrue(inDB.contains("shop.db"), inDB)
        XCTAssertFalse(inMain.contains("shop.db"), inMain)
        XCTAssertTrue(FileManager.default.fileExists(atPath: dbRepo + "/logs"), "each destination gets the run log")
        let shown = try siteRun("show")
        XCTAssertTrue(shown.stdout.contains("repository near-db: \(parts["near-db"]!.prefix(12))"), shown.stdout)
    }
}
