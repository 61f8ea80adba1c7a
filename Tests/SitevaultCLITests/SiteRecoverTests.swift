import Foundation
import VaultTesting
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Shared helpers of the recovery and drill tests (SiteRecoverTests, SiteDrillTests,
/// SiteRecoverPostgresTests): disasters on the sample site, the application restarted, SQLite
/// contents summarised, side folders found.
class RecoveryTestCase: SiteTestCase {
    var confPath: String { site + "/etc/sampleapp.conf" }
    var dbPath: String { site + "/srv/shop.db" }
    var dataPath: String { site + "/srv/data" }
    var mediaScript: String { site + "/opt/sampleapp/sampleapp.py" }
    static let brokenConfig = "this is not a sampleapp configuration\nwrites_per_second = many\n"

    override func tearDown() {
        // The pid file of an application this test killed must not make tearDown signal a
        // process that reused the pid.
        if let pid = appPid, !isSampleApp(pid) { unlink(site + "/run/sampleapp.pid") }
        super.tearDown()
    }

    func isSampleApp(_ pid: Int32) -> Bool {
        guard let d = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
        return String(decoding: d, as: UTF8.self).contains("sampleapp.py") && procState(pid) != "Z"
    }

    func procState(_ pid: Int32) -> Character? {
        guard let s = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = s.lastIndex(of: ")") else { return nil }
        return s[s.index(after: close)...].first { $0 != " " }
    }

    /// A disaster: the application dies at once (SIGKILL), its pid file left behind.
    func killAppHard(file: StaticString = #filePath, line: UInt = #line) {
        guard let pid = appPid else { XCTFail("the application is not running", file: file, line: line); return }
        kill(pid, SIGCONT)
        kill(pid, SIGKILL)
        let end = Date().addingTimeInterval(3)
        while Date() < end && procState(pid) != nil { usleep(10_000) }
        // A zombie nobody reaps would look alive to the signal writer: then the pid file goes too.
        if procState(pid) != nil { unlink(site + "/run/sampleapp.pid") }
    }

    /// The application stops cleanly (SIGTERM: its database is checkpointed, its pid file removed).
    func stopAppCleanly(file: StaticString = #filePath, line: UInt = #line) {
        guard let pid = appPid else { XCTFail("the application is not running", file: file, line: line); return }
        kill(pid, SIGCONT)
        kill(pid, SIGTERM)
        let end = Date().addingTimeInterval(10)
        while Date() < end && procState(pid) != nil && procState(pid) != "Z" { usleep(10_000) }
        XCTAssertTrue(procState(pid) == nil || procState(pid) == "Z", "the application stopped", file: file, line: line)
        unlink(site + "/run/sampleapp.pid")
    }

    /// Starts the application the way make-site.sh does; returns once it has written.
    @discardableResult
    func startApp(file: StaticString = #filePath, line: UInt = #line) -> Int32? {
        unlink(site + "/run/sampleapp.pid")
        unlink(site + "/run/stats.json")
        let started = shell("cd / && setsid python3 '\(mediaScript)' --config '\(confPath)' > '\(site!)/run/app.log' 2>&1 < /dev/null &")
        XCTAssertEqual(started, 0, file: file, line: line)
        XCTAssertTrue(waitForAppWrites(beyond: 0, timeout: 15),
                      "the restarted application writes: \((try? String(contentsOfFile: site + "/run/app.log", encoding: .utf8)) ?? "")", file: file, line: line)
        return appPid
    }

    /// The recovery itself started the application again (the writer's start command) and the
    /// health probe passed; returns its pid.
    func appStartedByRecovery(_ report: [String: Any], file: StaticString = #filePath, line: UInt = #line) -> Int32? {
        XCTAssertEqual(report["started"] as? [String], ["app"], "the writer's start command ran: \(report)", file: file, line: line)
        let probe = report["probe"] as? [String: Any]
        XCTAssertEqual(probe?["result"] as? String, "passed", "the health probe passed: \(String(describing: probe))", file: file, line: line)
        XCTAssertTrue(waitForAppWrites(beyond: 0, timeout: 15), "the restarted application writes", file: file, line: line)
        guard let pid = appPid, isSampleApp(pid) else { XCTFail("no running application after the recovery", file: file, line: line); return nil }
        return pid
    }

    /// Runs a short program to the end (no daemon: a pipe is safe) and returns its status and output.
    func runTool(_ argv: [String]) -> (status: Int32, out: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = argv
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        p.standardInput = FileHandle(forReadingAtPath: "/dev/null")
        do { try p.run() } catch { return (127, "\(error)") }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    static let summaryScript = """
    import hashlib, sqlite3, sys
    db = sqlite3.connect(sys.argv[1])
    upto = int(sys.argv[2]) if len(sys.argv) > 2 else 1 << 62
    h = hashlib.sha256()
    for r in db.execute("SELECT id, customer, total, created FROM orders WHERE id <= ? ORDER BY id", (upto,)): h.update(repr(r).encode())
    for r in db.execute("SELECT order_id, item, amount FROM lines WHERE order_id <= ? ORDER BY order_id, item, amount", (upto,)): h.update(repr(r).encode())
    o = db.execute("SELECT count(*) FROM orders WHERE id <= ?", (upto,)).fetchone()[0]
    l = db.execute("SELECT count(*) FROM lines WHERE order_id <= ?", (upto,)).fetchone()[0]
    print("orders=%d lines=%d sha256=%s" % (o, l, h.hexdigest()))
    """

    /// Row counts and a checksum of the orders and lines tables (only orders up to `upTo`: a
    /// restarted application adds orders after the recovered ones).
    func dbSummary(_ path: String, upTo: Int? = nil, file: StaticString = #filePath, line: UInt = #line) -> String {
        let r = runTool(["python3", "-c", RecoveryTestCase.summaryScript, path] + (upTo.map { ["\($0)"] } ?? []))
        XCTAssertEqual(r.status, 0, "summary of \(path): \(r.out)", file: file, line: line)
        return r.out.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func orderCount(_ summary: String) -> Int {
        Int(summary.split(separator: " ").first?.dropFirst("orders=".count) ?? "") ?? -1
    }

    /// `sampleapp.py --check CONF`: the application's own verdict on a database.
    func appCheck(config: String, file: StaticString = #filePath, line: UInt = #line) -> [String: Any] {
        let r = runTool(["python3", mediaScript, "--check", config])
        let o = (try? JSONSerialization.jsonObject(with: Data(r.out.utf8))) as? [String: Any] ?? [:]
        XCTAssertEqual(r.status, 0, "sampleapp --check \(config): \(r.out)", file: file, line: line)
        return o
    }

    /// The snapshot's own copy of the SQLite database, fetched with `sitevault dump`.
    func snapshotDatabase(_ snapshot: String, file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let r = try repoRun(["dump", snapshot, "/database/shop.db"])
        XCTAssertEqual(r.status, 0, "\(r)", file: file, line: line)
        XCTAssertGreaterThan(r.stdoutData.count, 0, file: file, line: line)
        let path = tmp.path + "/snapshot-db-" + UUID().uuidString.prefix(8) + ".db"
        try r.stdoutData.write(to: URL(fileURLWithPath: path))
        return path
    }

    /// A component's files as the snapshot holds them (plain `sitevault restore`), for comparison.
    func snapshotTree(_ snapshot: String, component: String, path: String, file: StaticString = #filePath, line: UInt = #line) throws -> [TreeComparison.Entry] {
        let target = tmp.path + "/reference-" + UUID().uuidString.prefix(8)
        let r = try repoRun(["restore", snapshot, "--target", target, "--include", "/" + component])
        XCTAssertEqual(r.status, 0, "\(r)", file: file, line: line)
        let tree = TreeComparison.describe(target + "/" + component + "/files" + path)
        XCTAssertFalse(tree.isEmpty, "the snapshot holds \(path)", file: file, line: line)
        return tree
    }

    /// Work and side folders of recoveries (.sitevault-recover-*, .sitevault-replaced-*) anywhere
    /// in the site but its repository.
    func recoveryLeftovers(under root: String? = nil) -> [String] {
        let base = root ?? site!
        var out: [String] = []
        guard let e = FileManager.default.enumerator(atPath: base) else { return [] }
        for case let rel as String in e {
            if rel == "backup" { e.skipDescendants(); continue }
            let name = (rel as NSString).lastPathComponent
            if name.hasPrefix(".sitevault-recover-") || name.hasPrefix(".sitevault-replaced-") { out.append(base + "/" + rel); e.skipDescendants() }
        }
        return out.sorted()
    }

    func text(_ path: String) -> String? { try? String(contentsOfFile: path, encoding: .utf8) }

    func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }

    /// A backup of the site (expected to succeed); returns its report.
    func backupSite(expect status: Int32 = 0, file: StaticString = #filePath, line: UInt = #line) throws -> [String: Any] {
        let r = try siteRun("backup", "--json")
        XCTAssertEqual(r.status, status, "\(r)", file: file, line: line)
        let o = json(r, file: file, line: line)
        XCTAssertNotNil(o["snapshot"] as? String, "\(r)", file: file, line: line)
        return o
    }

    /// Deletes an SQLite database with its -wal and -shm.
    func deleteDatabase() {
        for s in ["", "-wal", "-shm", "-journal"] { unlink(dbPath + s) }
    }

    /// After a whole recovery: configuration, data folder, database and install media as in the
    /// snapshot, and nothing of the recovery left behind.
    func assertSiteAsInSnapshot(config: String, data: [TreeComparison.Entry], database: String, media: Data?,
                                file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(text(confPath), config, file: file, line: line)
        XCTAssertEqual(TreeComparison.differences(data, TreeComparison.describe(dataPath)), [], file: file, line: line)
        XCTAssertEqual(dbSummary(dbPath), database, file: file, line: line)
        XCTAssertEqual(FileManager.default.contents(atPath: mediaScript), media, file: file, line: line)
        XCTAssertEqual(recoveryLeftovers(), [], file: file, line: line)
    }

    /// The whole disaster: the application dies at once, its data folder and database are lost,
    /// its configuration is garbage.
    func destroySite(file: StaticString = #filePath, line: UInt = #line) throws {
        killAppHard(file: file, line: line)
        try FileManager.default.removeItem(atPath: dataPath)
        deleteDatabase()
        try write(confPath, RecoveryTestCase.brokenConfig)
    }

    func component(_ report: [String: Any], _ name: String) -> [String: Any]? {
        (report["components"] as? [[String: Any]] ?? []).first { $0["name"] as? String == name }
    }

    func write(_ path: String, _ s: String) throws { try s.write(toFile: path, atomically: false, encoding: .utf8) }

    /// The message IDs of the run of a report.
    func runMessageIDs(_ report: [String: Any]) throws -> [Int] {
        try messageIDs(run: report["runID"] as? String)
    }
}

/// `sitevault site recover` on the sample site: disasters, partial and relocated recoveries, the
/// refusal to replace a running application, and recovery from the repository alone.
final class SiteRecoverTests: RecoveryTestCase {
    /// Backs up the sample site with a few files of our own in its data folder.
    func prepare(writes: Int = 100) throws -> (snapshot: String, config: String) {
        try makeSite(writesPerSecond: writes)
        try FileManager.default.createDirectory(atPath: dataPath + "/notes/deeper", withIntermediateDirectories: true)
        try write(dataPath + "/notes/keep.txt", "notes kept by the application\n")
        try write(dataPath + "/notes/deeper/blob.bin", String(repeating: "0123456789abcdef", count: 5000))
        chmod(dataPath + "/notes/keep.txt", 0o640)
        XCTAssertTrue(waitForAppWrites(beyond: 60), "the application writes")
        let original = try XCTUnwrap(text(confPath))
        let report = try backupSite()
        return (try XCTUnwrap(report["snapshot"] as? String), original)
    }

    func testRecoversTheSiteAfterADisasterAndTheApplicationRunsAgain() throws {
        let (snapshot, original) = try prepare()
        let expectedData = try snapshotTree(snapshot, component: "data", path: dataPath)
        let snapDB = try snapshotDatabase(snapshot)
        let expectedDB = dbSummary(snapDB)
        XCTAssertGreaterThan(orderCount(expectedDB), 0, "the snapshot's database holds orders: \(expectedDB)")
        XCTAssertEqual(appCheck(config: confPath)["integrity"] as? String, "ok")

        // The disaster: the application dies, its data folder and database are lost, its configuration is garbage.
        try destroySite()

        let r = try siteRun("recover", "--json", "--no-start")
        XCTAssertEqual(r.status, 0, "\(r)")
        let report = json(r)
        XCTAssertEqual(report["result"] as? String, "recovered")
        XCTAssertEqual(report["snapshot"] as? String, snapshot)
        XCTAssertEqual((report["components"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }, ["database", "config", "data", "media"])
        for c in report["components"] as? [[String: Any]] ?? [] {
            XCTAssertEqual(c["result"] as? String, "ok", "\(c)")
            XCTAssertEqual(c["action"] as? String, "restored", "\(c)")
        }
        XCTAssertEqual(component(report, "media")?["version"] as? String, "sampleapp 1.4.2", "the install media's version is reported")
        XCTAssertTrue(r.stderr.contains("sampleapp 1.4.2"), "the version is printed for the operator: \(r.stderr)")

        // Everything is as the snapshot holds it.
        XCTAssertEqual(text(confPath), original, "the configuration file is back, byte for byte")
        XCTAssertEqual(TreeComparison.differences(expectedData, TreeComparison.describe(dataPath)), [], "the data folder equals the snapshot's")
        XCTAssertEqual(text(dataPath + "/notes/keep.txt"), "notes kept by the application\n")
        XCTAssertEqual(dbSummary(dbPath), expectedDB, "the database holds the snapshot's rows")
        XCTAssertFalse(exists(dbPath + "-wal"), "no -wal of the lost database is left beside the restored one")
        XCTAssertEqual(text(site + "/state/recovered-settings/config/version"), "sampleapp 1.4.2\n", "captured settings written for the operator")
        XCTAssertEqual(recoveryLeftovers(), [], "no work or side folder left after a successful recovery")
        let ids = try runMessageIDs(report)
        for id in [1030, 1031, 1032, 1910] { XCTAssertTrue(ids.contains(id), "message \(id) recorded: \(ids)") }
        XCTAssertFalse(ids.contains(2910), "\(ids)")

        // The application starts on the recovered site, answers and keeps writing.
        XCTAssertEqual(report["started"] as? [String], [], "--no-start: the application stays stopped")
        let pid = try XCTUnwrap(startApp())
        let verdict = appCheck(config: confPath)
        XCTAssertEqual(verdict["integrity"] as? String, "ok", "\(verdict)")
        XCTAssertEqual(verdict["inconsistent"] as? Int, 0, "\(verdict)")
        XCTAssertGreaterThanOrEqual(verdict["orders"] as? Int ?? 0, orderCount(expectedDB), "\(verdict)")
        let w = appWrites()
        XCTAssertTrue(waitForAppWrites(beyond: w + 20), "the application keeps writing")
        XCTAssertGreaterThan(orderCount(dbSummary(dbPath)), orderCount(expectedDB), "new orders go into the recovered database")
        XCTAssertEqual(appPid, pid)
        XCTAssertTrue(isSampleApp(pid))
    }

    /// The sample site destroyed: `site recover` alone brings it back running (the writer's start
    /// command), the health probe passes, and the snapshot's orders are all there.
    func testRecoveryStartsTheDestroyedApplicationAndProbesIt() throws {
        let (snapshot, original) = try prepare()
        let expectedDB = dbSummary(try snapshotDatabase(snapshot))
        killAppHard()
        try FileManager.default.removeItem(atPath: dataPath)
        deleteDatabase()
        try FileManager.default.removeItem(atPath: site + "/run")
        try write(confPath, RecoveryTestCase.brokenConfig)

        let r = try siteRun("recover", "--json")
        XCTAssertEqual(r.status, 0, "\(r)")
        let report = json(r)
        XCTAssertEqual(report["result"] as? String, "recovered", "\(report)")
        let pid = try XCTUnwrap(appStartedByRecovery(report))
        XCTAssertEqual(text(confPath), original)
        XCTAssertEqual(dbSummary(dbPath, upTo: orderCount(expectedDB)), expectedDB, "every order of the snapshot is back")
        let w = appWrites()
        XCTAssertTrue(waitForAppWrites(beyond: w + 10), "the application keeps writing")
        XCTAssertGreaterThan(orderCount(dbSummary(dbPath)), orderCount(expectedDB), "new orders go into the recovered database")
        XCTAssertTrue(isSampleApp(pid))
        XCTAssertEqual(recoveryLeftovers(), [])
    }

    func testRefusesToReplaceARunningApplicationUnlessForced() throws {
        let (_, original) = try prepare()
        let pid = try XCTUnwrap(appPid)
        try write(confPath, RecoveryTestCase.brokenConfig)
        try write(dataPath + "/notes/added-after.txt", "added after the backup\n")

        let r = try siteRun("recover", "--json")
        XCTAssertEqual(r.status, 27, "\(r)")
        let report = json(r)
        XCTAssertEqual(report["result"] as? String, "refused")
        XCTAssertTrue((report["message"] as? String ?? "").contains("in use"), "\(report["message"] ?? "")")
        XCTAssertTrue((report["busy"] as? [String] ?? []).contains { $0.contains("process \(pid)") && $0.contains(dbPath) }, "the process holding the database is named: \(report["busy"] ?? "")")
        XCTAssertTrue(r.stderr.contains("--force"), "the way out is named: \(r.stderr)")
        // Nothing was replaced, nothing left behind, and the application runs on.
        XCTAssertEqual(text(confPath), RecoveryTestCase.brokenConfig)
        XCTAssertTrue(exists(dataPath + "/notes/added-after.txt"))
        XCTAssertEqual(recoveryLeftovers(), [])
        XCTAssertEqual(appPid, pid)
        XCTAssertTrue(isSampleApp(pid), "the application still runs")
        XCTAssertNotEqual(appState(), "T", "the application was started again (not left stopped)")
        let w = appWrites()
        XCTAssertTrue(waitForAppWrites(beyond: w + 5), "the application keeps writing")
        XCTAssertTrue(try runMessageIDs(report).contains(2090), "the refusal is recorded")

        let forced = try siteRun("recover", "--force", "--json")
        XCTAssertEqual(forced.status, 0, "\(forced)")
        XCTAssertEqual(json(forced)["result"] as? String, "recovered")
        XCTAssertEqual(text(confPath), original)
        XCTAssertFalse(exists(dataPath + "/notes/added-after.txt"), "the data folder is the snapshot's again")
        XCTAssertEqual(recoveryLeftovers(), [])
        XCTAssertEqual(json(forced)["writers"] as? [String], ["app"], "the writer stopped and started the application")
        XCTAssertTrue(isSampleApp(pid))
        XCTAssertNotEqual(appState(), "T", "the application is not left stopped")
        let w2 = appWrites()
        XCTAssertTrue(waitForAppWrites(beyond: w2), "the application runs on after a forced recovery")
    }

    func testRecoverUnderATargetFolderLeavesTheSiteAlone() throws {
        let (snapshot, original) = try prepare()
        let pid = try XCTUnwrap(appPid)
        let expectedData = try snapshotTree(snapshot, component: "data", path: dataPath)
        let expectedDB = dbSummary(try snapshotDatabase(snapshot))
        try write(confPath, RecoveryTestCase.brokenConfig)
        try write(dataPath + "/notes/added-after.txt", "added after the backup\n")
        let mediaBefore = FileManager.default.contents(atPath: mediaScript)
        let target = tmp.path + "/elsewhere"
        try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)

        let r = try siteRun("recover", "--target", target, "--json")
        XCTAssertEqual(r.status, 0, "\(r)")
        let report = json(r)
        XCTAssertEqual(report["result"] as? String, "recovered")
        XCTAssertEqual(report["writers"] as? [String], [], "nothing in production is stopped for a relocated recovery")
        // The same layout, relocated.
        XCTAssertEqual(text(target + confPath), original)
        XCTAssertEqual(TreeComparison.differences(expectedData, TreeComparison.describe(target + dataPath)), [])
        XCTAssertEqual(dbSummary(target + dbPath), expectedDB)
        XCTAssertEqual(FileManager.default.contents(atPath: target + mediaScript), mediaBefore)
        XCTAssertEqual(text(target + "/.sitevault/settings/config/version"), "sampleapp 1.4.2\n")
        XCTAssertEqual(Set(try FileManager.default.contentsOfDirectory(atPath: target)), [".sitevault", String(site.split(separator: "/").first!)],
                       "only the relocated tree and the settings under the target")
        // The originals are untouched and the application was left alone.
        XCTAssertEqual(text(confPath), RecoveryTestCase.brokenConfig)
        XCTAssertTrue(exists(dataPath + "/notes/added-after.txt"))
        XCTAssertEqual(recoveryLeftovers(), [])
        XCTAssertEqual(recoveryLeftovers(under: target), [])
        XCTAssertEqual(appPid, pid)
        XCTAssertNotEqual(appState(), "T")
        let w = appWrites()
        XCTAssertTrue(waitForAppWrites(beyond: w))
    }

    func testDryRunShowsTheDiffAndChangesNothing() throws {
        let (_, original) = try prepare()
        let pid = try XCTUnwrap(appPid)
        try write(confPath, RecoveryTestCase.brokenConfig)
        try FileManager.default.removeItem(atPath: dataPath + "/notes/keep.txt")
        try write(dataPath + "/notes/added-after.txt", "added after the backup\n")
        let originalLine = "data_dir = \(dataPath)"
        XCTAssertTrue(original.contains(originalLine + "\n"))

        let r = try siteRun("recover", "--dry-run")
        XCTAssertEqual(r.status, 0, "\(r)")
        XCTAssertTrue(r.stdout.contains("+" + originalLine), "the diff shows the original line coming back: \(r.stdout)")
        XCTAssertTrue(r.stdout.contains("-this is not a sampleapp configuration"), "the diff shows the line going: \(r.stdout)")
        XCTAssertTrue(r.stdout.contains("missing: \(dataPath)/notes/keep.txt"), "the data folder's missing file is named: \(r.stdout)")
        XCTAssertTrue(r.stdout.contains("on disk only: \(dataPath)/notes/added-after.txt"), "a file only on disk is named: \(r.stdout)")

        let j = try siteRun("recover", "--dry-run", "--json")
        XCTAssertEqual(j.status, 0, "\(j)")
        let report = json(j)
        XCTAssertEqual(report["result"] as? String, "dry-run")
        XCTAssertEqual(report["dryRun"] as? Bool, true)
        XCTAssertTrue((component(report, "config")?["diff"] as? String ?? "").contains("+" + originalLine), "\(String(describing: component(report, "config")))")
        XCTAssertEqual(report["writers"] as? [String], [], "a dry run stops nothing")
        // Nothing changed on disk.
        XCTAssertEqual(text(confPath), RecoveryTestCase.brokenConfig)
        XCTAssertFalse(exists(dataPath + "/notes/keep.txt"))
        XCTAssertTrue(exists(dataPath + "/notes/added-after.txt"))
        XCTAssertEqual(recoveryLeftovers(), [])
        XCTAssertFalse(exists(site + "/state/recovered-settings"), "no captured settings written by a dry run")
        XCTAssertEqual(appPid, pid)
        XCTAssertNotEqual(appState(), "T")
        XCTAssertTrue(try runMessageIDs(report).contains(1910))
    }

    func testDatabaseSkipAndUseExisting() throws {
        let (snapshot, original) = try prepare()
        let snapDB = dbSummary(try snapshotDatabase(snapshot))
        killAppHard()
        // The database was recovered by other means: it differs from the snapshot's copy.
        let marker = runTool(["python3", "-c", "import sqlite3,sys; db=sqlite3.connect(sys.argv[1]); db.execute(\"INSERT INTO orders(customer,total,created) VALUES('recovered-by-hand',0,0)\"); db.commit(); db.close()", dbPath])
        XCTAssertEqual(marker.status, 0, marker.out)
        let before = dbSummary(dbPath)
        XCTAssertNotEqual(before, snapDB)
        let bytesBefore = FileManager.default.contents(atPath: dbPath)
        try write(confPath, RecoveryTestCase.brokenConfig)
        try FileManager.default.removeItem(atPath: dataPath + "/notes")

        // skip: everything but the database.
        let skip = try siteRun("recover", "--no-start", "--database", "skip", "--json")
        XCTAssertEqual(skip.status, 0, "\(skip)")
        XCTAssertEqual(component(json(skip), "database")?["result"] as? String, "skipped")
        XCTAssertEqual(FileManager.default.contents(atPath: dbPath), bytesBefore, "the database file is untouched")
        XCTAssertEqual(dbSummary(dbPath), before)
        XCTAssertEqual(text(confPath), original, "the other components are restored")
        XCTAssertEqual(text(dataPath + "/notes/keep.txt"), "notes kept by the application\n")
        XCTAssertEqual(recoveryLeftovers(), [])

        // use-existing: the database there answers, and is kept.
        try write(confPath, RecoveryTestCase.brokenConfig)
        let use = try siteRun("recover", "--no-start", "--database", "use-existing", "--json")
        XCTAssertEqual(use.status, 0, "\(use)")
        let db = component(json(use), "database")
        XCTAssertEqual(db?["action"] as? String, "use-existing", "\(String(describing: db))")
        XCTAssertEqual(db?["result"] as? String, "ok", "\(String(describing: db))")
        XCTAssertTrue((db?["detail"] as? String ?? "").contains("answers"), "\(String(describing: db))")
        XCTAssertTrue((db?["version"] as? String ?? "").hasPrefix("SQLite "), "its version is recorded: \(String(describing: db))")
        XCTAssertEqual(dbSummary(dbPath), before, "the existing database is kept")
        XCTAssertEqual(text(confPath), original)

        // use-existing with no database there: that component fails, naming it, nothing is created;
        // the others are recovered (partial, exit 3) and what they replaced is kept.
        deleteDatabase()
        let missing = try siteRun("recover", "--no-start", "--database", "use-existing", "--json")
        XCTAssertEqual(missing.status, 3, "\(missing)")
        XCTAssertEqual(json(missing)["result"] as? String, "partial")
        XCTAssertEqual(component(json(missing), "database")?["result"] as? String, "failed")
        XCTAssertEqual(component(json(missing), "config")?["result"] as? String, "ok")
        XCTAssertTrue((json(missing)["message"] as? String ?? "").contains(dbPath), "\(json(missing)["message"] ?? "")")
        XCTAssertTrue(((json(missing)["problems"] as? [String]) ?? []).contains { $0.hasPrefix("database: ") && $0.contains(dbPath) }, "\(json(missing))")
        XCTAssertTrue(missing.stderr.contains(dbPath), missing.stderr)
        XCTAssertFalse(exists(dbPath), "use-existing does not create a database")
        XCTAssertEqual(recoveryLeftovers(), ((json(missing)["kept"] as? [String]) ?? []).sorted(), "a partial recovery keeps what it replaced")

        // use-existing with a file that is no database.
        try write(dbPath, String(repeating: "not a database. ", count: 1000))
        let corrupt = try siteRun("recover", "--no-start", "--database", "use-existing", "--json")
        XCTAssertEqual(corrupt.status, 3, "\(corrupt)")
        XCTAssertTrue((json(corrupt)["message"] as? String ?? "").contains(dbPath), "\(json(corrupt)["message"] ?? "")")
        XCTAssertEqual(text(confPath), original)
    }

    func testOnlyTheChosenComponents() throws {
        let (snapshot, original) = try prepare()
        let expectedData = try snapshotTree(snapshot, component: "data", path: dataPath)
        try destroySite()

        let r = try siteRun("recover", "--components", "data", "--json")
        XCTAssertEqual(r.status, 0, "\(r)")
        XCTAssertEqual((json(r)["components"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }, ["data"])
        XCTAssertEqual(TreeComparison.differences(expectedData, TreeComparison.describe(dataPath)), [])
        XCTAssertEqual(text(confPath), RecoveryTestCase.brokenConfig, "the config component is not restored")
        XCTAssertFalse(exists(dbPath), "the database component is not restored")

        let unknown = try siteRun("recover", "--components", "data,nope", "--json")
        XCTAssertEqual(unknown.status, 27, "\(unknown)")
        XCTAssertTrue((json(unknown)["message"] as? String ?? "").contains("nope"), "\(unknown)")

        let two = try siteRun("recover", "--components", "config", "--components", "database", "--json")
        XCTAssertEqual(two.status, 0, "\(two)")
        XCTAssertEqual(text(confPath), original)
        XCTAssertTrue(exists(dbPath))
    }

    func testKeepReplacedKeepsTheSideFolder() throws {
        let (_, original) = try prepare()
        killAppHard()
        try write(dataPath + "/notes/added-after.txt", "added after the backup\n")
        try write(confPath, RecoveryTestCase.brokenConfig)

        let kept = try siteRun("recover", "--no-start", "--keep-replaced", "--json")
        XCTAssertEqual(kept.status, 0, "\(kept)")
        let report = json(kept)
        let runID = try XCTUnwrap(report["runID"] as? String)
        let side = site + "/srv/.sitevault-replaced-" + runID
        XCTAssertEqual(text(side + "/data/notes/added-after.txt"), "added after the backup\n", "the replaced data folder is kept, whole")
        XCTAssertEqual(text(site + "/etc/.sitevault-replaced-\(runID)/sampleapp.conf"), RecoveryTestCase.brokenConfig, "the replaced config is kept")
        XCTAssertTrue(exists(side + "/shop.db"), "the replaced database is kept")
        XCTAssertTrue((report["kept"] as? [String] ?? []).contains(side), "the report names the side folders: \(report["kept"] ?? "")")
        XCTAssertFalse(exists(dataPath + "/notes/added-after.txt"))
        XCTAssertEqual(text(confPath), original)
        XCTAssertTrue(recoveryLeftovers().allSatisfy { $0.hasSuffix(runID) }, "\(recoveryLeftovers())")
        for p in recoveryLeftovers() { try FileManager.default.removeItem(atPath: p) }

        // Without --keep-replaced, nothing remains once the recovery succeeded.
        try write(dataPath + "/notes/added-after.txt", "added after the backup\n")
        try write(confPath, RecoveryTestCase.brokenConfig)
        let plain = try siteRun("recover", "--no-start", "--json")
        XCTAssertEqual(plain.status, 0, "\(plain)")
        XCTAssertEqual(json(plain)["kept"] as? [String], [])
        XCTAssertEqual(recoveryLeftovers(), [])
        XCTAssertEqual(text(confPath), original)
    }

    /// The machine is gone: only the repository and its password are left.
    func testRecoversFromTheRepositoryAlone() throws {
        let (snapshot, original) = try prepare()
        let expectedData = try snapshotTree(snapshot, component: "data", path: dataPath)
        let expectedDB = dbSummary(try snapshotDatabase(snapshot))
        let media = FileManager.default.contents(atPath: mediaScript)
        killAppHard()
        // Only the repository and its password survive, somewhere else.
        let vault = tmp.path + "/vault"
        try FileManager.default.createDirectory(atPath: vault, withIntermediateDirectories: true)
        XCTAssertEqual(shell("cp -a '\(repo)' '\(vault)/repo' && cp '\(passwordFile)' '\(vault)/password'"), 0)

        // 1. Onto a new machine: everything under a new folder, at the original paths.
        let fresh = tmp.path + "/new-machine"
        var r = try CLI.run(["site", "recover", "--repo", vault + "/repo", "--site-from-snapshot", "--password-file", vault + "/password",
                             "--target", fresh, "--json"])
        XCTAssertEqual(r.status, 0, "\(r)")
        if r.status == 0 {
            XCTAssertEqual(json(r)["result"] as? String, "recovered", "\(r)")
            XCTAssertEqual(json(r)["snapshot"] as? String, snapshot)
        }
        XCTAssertEqual(text(fresh + confPath), original, "the config file is under the new folder, at its original path")
        XCTAssertEqual(TreeComparison.differences(expectedData, TreeComparison.describe(fresh + dataPath)), [])
        if exists(fresh + dbPath) { XCTAssertEqual(dbSummary(fresh + dbPath), expectedDB) } else { XCTFail("no database under \(fresh)") }
        XCTAssertEqual(FileManager.default.contents(atPath: fresh + mediaScript), media)

        // 2. The site folder is lost (control file included) but for its repository: it comes back in place.
        for entry in try FileManager.default.contentsOfDirectory(atPath: site) where entry != "backup" {
            try FileManager.default.removeItem(atPath: site + "/" + entry)
        }
        r = try CLI.run(["site", "recover", "--repo", repo, "--site-from-snapshot", "--password-file", passwordFile, "--json", "--no-start"])
        XCTAssertEqual(r.status, 0, "\(r)")
        guard r.status == 0 else { return }
        XCTAssertEqual(json(r)["result"] as? String, "recovered", "\(r)")
        assertSiteAsInSnapshot(config: original, data: expectedData, database: expectedDB, media: media)
        // The site runs again.
        try FileManager.default.createDirectory(atPath: site + "/run", withIntermediateDirectories: true)
        XCTAssertNotNil(startApp())
        XCTAssertEqual(appCheck(config: confPath)["integrity"] as? String, "ok")
    }
}
