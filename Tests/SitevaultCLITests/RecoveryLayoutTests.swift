import Foundation
import VaultTesting
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Recovery of the layouts real applications have, on a small site built here (no sample app):
/// the SQLite database inside the application's data folder (the folder component excludes it,
/// the database is its own component, declared first), files owned by an unprivileged user, a
/// configuration with secrets, an application that only its writer's start command brings back,
/// and a health probe.
final class RecoveryLayoutTests: SiteTestCase {
    var app: String { site + "/app" }
    var dataDir: String { app + "/data" }
    var dbFile: String { dataDir + "/app.sqlite" }
    var conf: String { app + "/etc/app.ini" }
    var pidFile: String { site + "/run/app.pid" }
    static let user = "nobody", group = "nogroup"

    static let secretConfig = """
    [app]
    name = demo
    db_password = hunter2-secret
    secret_key: s3cr3t-signing-value
    API_TOKEN=tok-123456789
    url = postgresql://app:pgpass-999@localhost/app

    """

    /// The site: data folder with uploads and the database, owned by nobody (folder 0750, database
    /// 0640); a config file; a repository. `extra` is appended to the control file.
    func makeNestedSite(extra: String = "") throws {
        for d in [dataDir + "/uploads/2026", app + "/etc"] {
            try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        }
        var rng = SeededRandom(seed: 7)
        for i in 0..<12 { try write(dataDir + "/uploads/2026/file-\(i).bin", (0..<(1000 + i * 3000)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }) }
        try write(dataDir + "/notes.txt", "notes of the application\n")
        try write(conf, RecoveryLayoutTests.secretConfig)
        XCTAssertEqual(sql("CREATE TABLE items(id INTEGER PRIMARY KEY, body TEXT); PRAGMA journal_mode=WAL; WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 500) INSERT INTO items(body) SELECT 'item ' || i || ' ' || hex(randomblob(20)) FROM n;").status, 0)
        XCTAssertEqual(shell("chown -R \(Self.user):\(Self.group) '\(dataDir)' && chmod 750 '\(dataDir)' && chmod 640 '\(dbFile)'"), 0)
        try makeBareSite("nested", body: """
        [[component]]
        name = "db"
        kind = "database"
        engine = "sqlite"
        path = "app/data/app.sqlite"

        [[component]]
        name = "data"
        kind = "folders"
        paths = ["app/data"]
        exclude = ["*.sqlite", "*.sqlite-wal", "*.sqlite-shm"]

        [[component]]
        name = "config"
        kind = "config"
        paths = ["app/etc/app.ini"]

        """ + extra)
    }

    @discardableResult
    func sql(_ statement: String, db: String? = nil) -> (status: Int32, out: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
        p.arguments = [db ?? dbFile, statement]
        let pipe = Pipe()
        p.standardOutput = pipe; p.standardError = pipe
        try? p.run()
        let d = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: d, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// Row count and a checksum of the items table.
    func items(_ db: String? = nil) -> String { sql("SELECT count(*) || ':' || sum(length(body)) || ':' || max(id) FROM items", db: db).out }

    func owner(_ path: String) -> String {
        var st = stat()
        guard lstat(path, &st) == 0 else { return "missing" }
        let u = getpwuid(st.st_uid).map { String(cString: $0.pointee.pw_name) } ?? "\(st.st_uid)"
        let g = getgrgid(st.st_gid).map { String(cString: $0.pointee.gr_name) } ?? "\(st.st_gid)"
        return "\(u):\(g) \(String(st.st_mode & 0o7777, radix: 8))"
    }

    func backup() throws -> String {
        let r = try siteRun("backup", "--json")
        XCTAssertEqual(r.status, 0, "\(r)")
        return try XCTUnwrap(json(r)["snapshot"] as? String)
    }

    func leftovers() -> [String] {
        var out: [String] = []
        guard let e = FileManager.default.enumerator(atPath: site) else { return [] }
        for case let rel as String in e {
            if rel == "backup" { e.skipDescendants(); continue }
            let name = (rel as NSString).lastPathComponent
            if name.hasPrefix(".sitevault-recover-") || name.hasPrefix(".sitevault-replaced-") { out.append(rel); e.skipDescendants() }
        }
        return out
    }

    func write(_ p: String, _ s: String) throws { try Data(s.utf8).write(to: URL(fileURLWithPath: p)) }
    func write(_ p: String, _ b: [UInt8]) throws { try Data(b).write(to: URL(fileURLWithPath: p)) }
    func text(_ path: String) -> String? { try? String(contentsOfFile: path, encoding: .utf8) }
    func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }

    func component(_ report: [String: Any], _ name: String) -> [String: Any]? {
        (report["components"] as? [[String: Any]])?.first { $0["name"] as? String == name }
    }

    // MARK: nested components

    /// The lost site comes back whole: the data folder with the database inside it, each with
    /// the owner and mode it had (the database was declared before the folder that holds it).
    func testDatabaseInsideTheDataFolderComesBackWithItsOwner() throws {
        try makeNestedSite()
        let rows = items()
        let uploads = TreeComparison.describe(dataDir + "/uploads")
        _ = try backup()
        XCTAssertEqual(shell("rm -rf '\(app)'"), 0)

        let r = try siteRun("recover", "--json")
        XCTAssertEqual(r.status, 0, "\(r)")
        let report = json(r)
        XCTAssertEqual(report["result"] as? String, "recovered", "\(report)")
        XCTAssertEqual(items(), rows, "the database inside the data folder is back with its rows")
        XCTAssertEqual(sql("PRAGMA integrity_check").out, "ok")
        XCTAssertEqual(TreeComparison.differences(uploads, TreeComparison.describe(dataDir + "/uploads")), [])
        XCTAssertEqual(text(dataDir + "/notes.txt"), "notes of the application\n")
        XCTAssertEqual(owner(dbFile), "\(Self.user):\(Self.group) 640", "the database keeps its owner and mode")
        XCTAssertEqual(owner(dataDir), "\(Self.user):\(Self.group) 750", "the data folder keeps its owner and mode")
        XCTAssertTrue(owner(dataDir + "/notes.txt").hasPrefix(Self.user + ":"), owner(dataDir + "/notes.txt"))
        XCTAssertEqual(leftovers(), [], "no work or side folder left")
    }

    /// In place over a live site: the database and the folder both come back as the snapshot
    /// holds them, and nothing restored is moved aside with the folder.
    func testInPlaceOverTheLiveSiteRestoresBoth() throws {
        try makeNestedSite()
        let rows = items()
        _ = try backup()
        sql("INSERT INTO items(body) VALUES ('after the backup'); DELETE FROM items WHERE id < 10;")
        try write(dataDir + "/uploads/2026/added-later.bin", "later\n")
        XCTAssertNotEqual(items(), rows)

        let r = try siteRun("recover", "--json")
        XCTAssertEqual(r.status, 0, "\(r)")
        XCTAssertEqual(json(r)["result"] as? String, "recovered", "\(r)")
        XCTAssertEqual(items(), rows, "the restored database is in place (not moved aside with the folder)")
        XCTAssertFalse(exists(dataDir + "/uploads/2026/added-later.bin"), "the folder is the snapshot's")
        XCTAssertEqual(owner(dbFile), "\(Self.user):\(Self.group) 640")
        XCTAssertEqual(leftovers(), [])
    }

    /// Only the folder is recovered: the live database inside it (with its -wal) is carried over
    /// into the restored folder, never moved aside and deleted.
    func testRecoveringOnlyTheFolderKeepsTheLiveDatabase() throws {
        try makeNestedSite()
        _ = try backup()
        sql("INSERT INTO items(body) VALUES ('written after the backup')")
        let live = items()
        try write(dataDir + "/notes.txt", "changed\n")

        for args in [["--components", "data"], ["--database", "skip"]] {
            let r = try CLI.run(["site", "recover", "--json", "--site", controlFile] + args)
            XCTAssertEqual(r.status, 0, "\(args): \(r)")
            XCTAssertEqual(text(dataDir + "/notes.txt"), "notes of the application\n", "\(args): the folder is the snapshot's")
            XCTAssertEqual(items(), live, "\(args): the live database is still there, with the rows written after the backup")
            XCTAssertEqual(sql("PRAGMA integrity_check").out, "ok")
            XCTAssertEqual(leftovers(), [], "\(args)")
            try write(dataDir + "/notes.txt", "changed\n")
        }
    }

    /// A recovery that would leave a path unlike the snapshot says so (partial): here the
    /// snapshot's database copy is damaged in the repository after the backup.
    func testAFailedComponentDoesNotStopTheOthers() throws {
        try makeNestedSite()
        _ = try backup()
        XCTAssertEqual(shell("rm -rf '\(app)'"), 0)
        // use-existing finds no database there: that component fails, the rest comes back.
        let r = try siteRun("recover", "--json", "--database", "use-existing")
        XCTAssertEqual(r.status, 3, "\(r)")
        let report = json(r)
        XCTAssertEqual(report["result"] as? String, "partial")
        XCTAssertEqual(component(report, "db")?["result"] as? String, "failed")
        XCTAssertEqual(component(report, "data")?["result"] as? String, "ok")
        XCTAssertEqual(component(report, "config")?["result"] as? String, "ok")
        XCTAssertEqual(text(conf), RecoveryLayoutTests.secretConfig)
        XCTAssertTrue(((report["problems"] as? [String]) ?? []).contains { $0.hasPrefix("db: ") }, "\(report)")
    }

    /// What the backup excludes has no copy in the snapshot: an in-place recovery keeps it (an
    /// excluded cache folder, excluded files by name) instead of deleting it with the old folder.
    func testExcludedEntriesAreKeptInPlace() throws {
        try makeNestedSite()
        try replaceInControlFile(#"exclude = ["*.sqlite", "*.sqlite-wal", "*.sqlite-shm"]"#,
                                 #"exclude = ["*.sqlite", "*.sqlite-wal", "*.sqlite-shm", "*.log", "\#(dataDir)/cache"]"#)
        try FileManager.default.createDirectory(atPath: dataDir + "/cache/pages", withIntermediateDirectories: true)
        try write(dataDir + "/cache/pages/index.html", "cached page\n")
        try write(dataDir + "/debug.log", "log line\n")
        _ = try backup()
        try write(dataDir + "/cache/pages/new.html", "cached after the backup\n")
        try write(dataDir + "/notes.txt", "changed\n")

        let r = try siteRun("recover", "--json")
        XCTAssertEqual(r.status, 0, "\(r)")
        XCTAssertEqual(text(dataDir + "/notes.txt"), "notes of the application\n", "the folder is the snapshot's")
        XCTAssertEqual(text(dataDir + "/cache/pages/new.html"), "cached after the backup\n", "the excluded cache folder is kept")
        XCTAssertEqual(text(dataDir + "/cache/pages/index.html"), "cached page\n")
        XCTAssertEqual(text(dataDir + "/debug.log"), "log line\n", "an excluded file is kept")
        XCTAssertEqual(leftovers(), [])
    }

    /// The writer's programs belong to the site and were destroyed with it: there is nothing to
    /// stop, the recovery brings the programs back and the writer's start runs them.
    func testWriterWhoseProgramsWereDestroyedWithTheSite() throws {
        let bin = app + "/bin"
        try makeNestedSite(extra: """

        [[component]]
        name = "programs"
        kind = "install-media"
        paths = ["app/bin"]
        version = "1.0"

        [[writer]]
        name = "app"
        kind = "command"
        freeze = ["\(bin)/ctl", "stop"]
        thaw = ["\(bin)/ctl", "start"]
        start = ["\(bin)/ctl", "start"]
        components = ["data"]

        """)
        try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
        try write(bin + "/ctl", "#!/bin/sh\necho \"$1\" >> '\(site!)/run/ctl.log'\n")
        chmod(bin + "/ctl", 0o755)
        _ = try backup()
        XCTAssertEqual(shell("rm -rf '\(app)' '\(site!)/run/ctl.log'"), 0)

        let r = try siteRun("recover", "--json")
        XCTAssertEqual(r.status, 0, "\(r)")
        XCTAssertEqual(json(r)["started"] as? [String], ["app"], "\(r)")
        XCTAssertEqual(text(site + "/run/ctl.log"), "start\n", "nothing could be stopped; the restored program started the application")
        XCTAssertEqual(text(dataDir + "/notes.txt"), "notes of the application\n")
    }

    /// Split layout: the configuration is kept in a second repository; the main snapshot's
    /// manifest names it, and one recovery brings back every component from both repositories.
    func testSplitLayoutRecoversComponentsOfEveryRepository() throws {
        let near = site + "/backup/near"
        try makeNestedSite(extra: """

        [repositories.near]
        path = "backup/near"
        password_file = "backup/password"

        """)
        try replaceInControlFile("name = \"config\"\nkind = \"config\"", "name = \"config\"\nkind = \"config\"\nrepository = \"near\"")
        XCTAssertEqual(try CLI.run(["init", "--quiet"], env: ["SITEVAULT_REPOSITORY": near, "SITEVAULT_PASSWORD_FILE": passwordFile]).status, 0)
        let rows = items()
        _ = try backup()
        XCTAssertEqual(shell("rm -rf '\(app)'"), 0)
        let r = try siteRun("recover", "--json")
        XCTAssertEqual(r.status, 0, "\(r)")
        XCTAssertEqual(Set(((json(r)["components"] as? [[String: Any]]) ?? []).compactMap { $0["name"] as? String }), ["db", "data", "config"])
        XCTAssertEqual(text(conf), RecoveryLayoutTests.secretConfig, "the component of the second repository is back")
        XCTAssertEqual(items(), rows)
    }

    // MARK: dry run

    /// A dry run shows configuration diffs with secret values redacted (unless --show-secrets),
    /// and the secrets reach neither the status store nor the run log.
    func testDryRunRedactsSecrets() throws {
        try makeNestedSite()
        _ = try backup()
        try write(conf, RecoveryLayoutTests.secretConfig.replacingOccurrences(of: "hunter2-secret", with: "new-password-77")
            .replacingOccurrences(of: "tok-123456789", with: "tok-987654321").replacingOccurrences(of: "name = demo", with: "name = demo2"))

        let r = try siteRun("recover", "--dry-run", "--json")
        XCTAssertEqual(r.status, 0, "\(r)")
        let diff = component(json(r), "config")?["diff"] as? String ?? ""
        XCTAssertTrue(diff.contains("name = demo2"), "ordinary settings are shown: \(diff)")
        XCTAssertTrue(diff.contains("db_password = <redacted>"), diff)
        XCTAssertTrue(diff.contains("API_TOKEN=<redacted>"), diff)
        for secret in ["hunter2-secret", "new-password-77", "tok-123456789", "tok-987654321", "s3cr3t-signing-value", "pgpass-999"] {
            XCTAssertFalse(r.stdout.contains(secret), "\(secret) is not printed")
            XCTAssertFalse(r.stderr.contains(secret), "\(secret) is not printed")
        }
        let human = try siteRun("recover", "--dry-run")
        XCTAssertFalse(human.stdout.contains("hunter2"), human.stdout)
        XCTAssertTrue(human.stdout.contains("<redacted>"), human.stdout)
        // Nothing secret in the status store or the run logs.
        let messages = try CLI.run(["site", "messages", "--json", "--limit", "1000", "--site", controlFile])
        XCTAssertFalse(messages.stdout.contains("hunter2"), messages.stdout)
        for log in (try? FileManager.default.contentsOfDirectory(atPath: site + "/state/logs")) ?? [] {
            XCTAssertFalse((text(site + "/state/logs/" + log) ?? "").contains("hunter2"), log)
        }
        let shown = try siteRun("recover", "--dry-run", "--show-secrets", "--json")
        XCTAssertTrue((component(json(shown), "config")?["diff"] as? String ?? "").contains("hunter2-secret"), "--show-secrets shows them")
        XCTAssertEqual(text(conf)?.contains("new-password-77"), true, "a dry run changes nothing")
    }

    // MARK: start and probe

    static let daemon = "echo $$ > $1; exec sleep 300"

    func startDaemon() -> Int32 {
        // Through SiteSystem's runner: no descriptor of the test process leaks into the daemon.
        XCTAssertEqual(PostgresCluster.sh("setsid sh -c '\(Self.daemon)' daemon '\(pidFile)' > /dev/null 2>&1 < /dev/null &").status, 0)
        XCTAssertTrue(waitForFile(pidFile, timeout: 10))
        usleep(100_000)
        let pid = Int32((text(pidFile) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        extraPids.append(pid)
        return pid
    }

    func writerAndProbe(probe: String, timeout: String = "20s") -> String {
        """

        [[writer]]
        name = "app"
        kind = "signal"
        pid_file = "run/app.pid"
        components = ["data"]
        start = ["sh", "-c", "setsid sh -c '\(Self.daemon)' daemon '\(pidFile)' > /dev/null 2>&1 < /dev/null &"]

        [recovery]
        probe = \(probe)
        probe_timeout = "\(timeout)"

        """
    }

    /// The application died with the site: the writer's start command brings it back and the
    /// probe proves it answers; a probe that never passes makes the recovery probe-failed (28)
    /// with what was replaced kept.
    func testStartCommandAndHealthProbe() throws {
        try makeNestedSite(extra: writerAndProbe(probe: "[\"sh\", \"-c\", \"test -s '\(dbFile)' && kill -0 $(cat '\(pidFile)')\"]"))
        let first = startDaemon()
        _ = try backup()
        kill(first, SIGKILL)
        usleep(100_000)
        XCTAssertEqual(shell("rm -rf '\(app)'"), 0)

        let r = try siteRun("recover", "--json")
        XCTAssertEqual(r.status, 0, "\(r)")
        let report = json(r)
        XCTAssertEqual(report["result"] as? String, "recovered", "\(report)")
        XCTAssertEqual(report["started"] as? [String], ["app"])
        XCTAssertEqual((report["probe"] as? [String: Any])?["result"] as? String, "passed", "\(report)")
        let pid = Int32((text(pidFile) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        extraPids.append(pid)
        XCTAssertTrue(pid > 1 && pid != first && kill(pid, 0) == 0, "the application runs again (pid \(pid))")

        // A probe that fails: everything is restored, the result says the site does not answer.
        try write(controlFile, (text(controlFile) ?? "").replacingOccurrences(of: "probe_timeout = \"20s\"", with: "probe_timeout = \"2s\"")
            .replacingOccurrences(of: "test -s", with: "test -e /nonexistent-\(UUID().uuidString) && test -s"))
        let bad = try siteRun("recover", "--json")
        XCTAssertEqual(bad.status, 28, "\(bad)")
        let b = json(bad)
        XCTAssertEqual(b["result"] as? String, "probe-failed")
        XCTAssertGreaterThan((b["probe"] as? [String: Any])?["attempts"] as? Int ?? 0, 1, "the probe is retried until its timeout")
        XCTAssertFalse(((b["kept"] as? [String]) ?? []).isEmpty, "what was replaced is kept when the site does not answer")
        XCTAssertEqual(items(), items(dbFile), "the files are in place")
        XCTAssertEqual(try siteRun("recover", "--json", "--no-probe").status, 0, "--no-probe skips it")
    }
}

