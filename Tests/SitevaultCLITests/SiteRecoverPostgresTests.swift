import Foundation
import VaultTesting
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Recovery and drills of a PostgreSQL component against a real server (the one scripts/test.sh
/// started, see PostgresCluster): a dropped database comes back with the pgbench invariant, under
/// another name, created empty, or checked in place; a drill restores into scratch databases and
/// removes them.
final class SiteRecoverPostgresTests: RecoveryTestCase {
    var pg: PostgresCluster!
    var created: [String] = []

    override func setUpWithError() throws {
        try super.setUpWithError()
        pg = try PostgresCluster.shared()
    }

    override func tearDown() {
        if let pg {
            for db in created {
                // The database, its copies under other names and the ones renamed aside by a recovery.
                let names = pg.psql("SELECT datname FROM pg_database WHERE datname = '\(db)' OR datname LIKE '\(db)\\_%'")
                for n in names.split(separator: "\n") where !n.isEmpty { pg.psql("DROP DATABASE IF EXISTS \"\(n)\" WITH (FORCE)") }
            }
        }
        super.tearDown()
    }

    /// A fresh pgbench database.
    func pgbenchDatabase(scale: Int = 1) -> String {
        let db = "rshop_" + UUID().uuidString.prefix(8).lowercased()
        created.append(db)
        pg.psql("CREATE DATABASE \(db)")
        let r = PostgresCluster.sh(pg.tool("pgbench", "-i -q -s \(scale) \(db)"))
        XCTAssertEqual(r.status, 0, r.output)
        return db
    }

    /// pgbench transactions (-n: pgbench_history is kept, so the invariant holds).
    func pgbench(_ db: String, transactions: Int = 300, file: StaticString = #filePath, line: UInt = #line) {
        let r = PostgresCluster.sh(pg.tool("pgbench", "-n -c 2 -t \(transactions / 2) \(db)"))
        XCTAssertEqual(r.status, 0, r.output, file: file, line: line)
    }

    func addComponent(_ name: String, _ body: String) throws {
        try appendToControlFile(pg.component(name: name, body))
    }

    func exists(database db: String) -> Bool { pg.psql("SELECT count(*) FROM pg_database WHERE datname = '\(db)'") == "1" }

    /// Sums and counts of the pgbench tables: equal strings mean the same data.
    func counts(_ db: String, file: StaticString = #filePath, line: UInt = #line) -> String {
        pg.psql("SELECT (SELECT count(*) FROM pgbench_accounts) || ',' || (SELECT count(*) FROM pgbench_history) || ',' || (SELECT coalesce(sum(abalance),0) FROM pgbench_accounts) || ',' || (SELECT coalesce(sum(tbalance),0) FROM pgbench_tellers) || ',' || (SELECT coalesce(sum(bbalance),0) FROM pgbench_branches)",
                db: db, file: file, line: line)
    }

    /// Creates the site and a pgbench database with transactions, backs both up and returns the
    /// snapshot and the database's state at that time; then pgbench goes on (the live database differs).
    func prepare(verify: String = "") throws -> (db: String, snapshot: String, atSnapshot: String) {
        try makeSite(writesPerSecond: 20)
        let db = pgbenchDatabase()
        pgbench(db)
        try addComponent("pg", "databases = [\"\(db)\"]\n" + verify)
        let atSnapshot = counts(db)
        let inv = pg.invariant(db)
        XCTAssertTrue(inv.holds, inv.detail)
        XCTAssertGreaterThan(Int(atSnapshot.split(separator: ",")[1]) ?? 0, 0, "pgbench wrote history: \(atSnapshot)")
        let report = try backupSite()
        XCTAssertEqual(component(report, "pg")?["result"] as? String, "ok", "\(String(describing: component(report, "pg")))")
        pgbench(db, transactions: 100)
        XCTAssertNotEqual(counts(db), atSnapshot, "the live database moved on after the backup")
        return (db, try XCTUnwrap(report["snapshot"] as? String), atSnapshot)
    }

    func testDisasterRecoveryBringsTheDatabaseBackWithTheInvariant() throws {
        let (db, snapshot, atSnapshot) = try prepare()
        let original = try XCTUnwrap(text(confPath))
        let expectedDB = dbSummary(try snapshotDatabase(snapshot))
        // The disaster: the application dies, its data folder is lost, the database dropped, the config garbage.
        killAppHard()
        try FileManager.default.removeItem(atPath: dataPath)
        pg.psql("DROP DATABASE \(db) WITH (FORCE)")
        try write(confPath, RecoveryTestCase.brokenConfig)

        let r = try siteRun("recover", "--json")
        XCTAssertEqual(r.status, 0, "\(r)")
        let report = json(r)
        XCTAssertEqual(report["result"] as? String, "recovered")
        let comp = component(report, "pg")
        XCTAssertEqual(comp?["action"] as? String, "restored", "\(String(describing: comp))")
        XCTAssertEqual(comp?["result"] as? String, "ok", "\(String(describing: comp))")
        XCTAssertTrue((comp?["version"] as? String ?? "").hasPrefix("PostgreSQL "), "\(String(describing: comp))")
        XCTAssertTrue((comp?["detail"] as? String ?? "").contains("\(db) restored as \(db)"), "\(String(describing: comp))")
        XCTAssertTrue(exists(database: db))
        let inv = pg.invariant(db)
        XCTAssertTrue(inv.holds, "the pgbench invariant holds after the recovery: \(inv.detail)")
        XCTAssertEqual(counts(db), atSnapshot, "the database holds what it held at the snapshot")
        XCTAssertEqual(text(confPath), original)
        XCTAssertTrue(exists(dataPath))
        // The recovery restarted the application, which adds orders after the snapshot's.
        XCTAssertEqual(dbSummary(dbPath, upTo: orderCount(expectedDB)), expectedDB)
        XCTAssertEqual(pg.psql("SELECT count(*) FROM pg_database WHERE datname LIKE '\(db)\\_replaced\\_%'"), "0")
        // The application answers again: the recovery started it.
        XCTAssertNotNil(appStartedByRecovery(report))
        XCTAssertEqual(appCheck(config: confPath)["integrity"] as? String, "ok")
    }

    /// The database server is down: a dry run still plans every other component and names the
    /// problem of the one it cannot reach (exit 3); a real recovery restores what it can (partial).
    func testServerDownDryRunReportsEveryComponent() throws {
        let (db, _, _) = try prepare()
        // Point the component at a port where nothing listens.
        let dead = PostgresCluster.sh("python3 -c 'import socket; s=socket.socket(); s.bind((\"127.0.0.1\", 0)); print(s.getsockname()[1])'").output
            .trimmingCharacters(in: .whitespacesAndNewlines)
        try replaceInControlFile("port = \(pg.port)", "port = \(dead)")
        let r = try siteRun("recover", "--dry-run", "--json")
        XCTAssertEqual(r.status, 3, "\(r)")
        let report = json(r)
        XCTAssertEqual(report["result"] as? String, "dry-run")
        let comps = report["components"] as? [[String: Any]] ?? []
        XCTAssertEqual(Set(comps.compactMap { $0["name"] as? String }), ["database", "config", "data", "media", "pg"], "every component is planned")
        for c in comps where c["name"] as? String != "pg" {
            XCTAssertEqual(c["result"] as? String, "ok", "\(c)")
            XCTAssertTrue((c["action"] as? String ?? "").hasPrefix("would"), "\(c)")
        }
        let pgc = component(report, "pg")
        XCTAssertEqual(pgc?["result"] as? String, "failed", "\(String(describing: pgc))")
        XCTAssertTrue((pgc?["detail"] as? String ?? "").contains(dead), "the problem names the server: \(String(describing: pgc))")
        XCTAssertEqual((report["problems"] as? [String])?.count, 1, "\(report)")
        XCTAssertFalse(r.stdout.contains("--database skip") || r.stderr.contains("--database skip"), "skip is only mentioned when the operator said so")
        XCTAssertTrue(exists(database: db), "a dry run changes nothing")
    }

    func testRestoreOverTheLiveDatabaseAndUnderAnotherName() throws {
        let (db, _, atSnapshot) = try prepare()
        let live = counts(db)
        // Under another name: the original stays as it is.
        let copy = db + "_copy"
        var r = try siteRun("recover", "--components", "pg", "--database-name", "\(db)=\(copy)", "--json")
        XCTAssertEqual(r.status, 0, "\(r)")
        XCTAssertTrue(exists(database: copy))
        XCTAssertEqual(counts(copy), atSnapshot)
        XCTAssertTrue(pg.invariant(copy).holds)
        XCTAssertEqual(counts(db), live, "the original database is left alone")

        // Over the live database, keeping it aside.
        r = try siteRun("recover", "--components", "pg", "--keep-replaced", "--json")
        XCTAssertEqual(r.status, 0, "\(r)")
        XCTAssertEqual(counts(db), atSnapshot)
        let side = try XCTUnwrap(component(json(r), "pg")?["replaced"] as? [String]).first ?? ""
        XCTAssertTrue(side.hasPrefix(db + "_replaced_"), side)
        XCTAssertTrue(exists(database: side))
        XCTAssertEqual(counts(side), live, "the replaced database is kept under its side name")
        pg.psql("DROP DATABASE \"\(side)\" WITH (FORCE)")

        // Without --keep-replaced the replaced database is dropped once the recovery succeeded.
        pgbench(db, transactions: 50)
        r = try siteRun("recover", "--components", "pg", "--json")
        XCTAssertEqual(r.status, 0, "\(r)")
        XCTAssertEqual(counts(db), atSnapshot)
        XCTAssertEqual(pg.psql("SELECT count(*) FROM pg_database WHERE datname LIKE '\(db)\\_replaced\\_%'"), "0")
    }

    func testUseExistingAndNew() throws {
        let (db, _, _) = try prepare()
        let live = counts(db)
        var r = try siteRun("recover", "--components", "pg", "--database", "use-existing", "--json")
        XCTAssertEqual(r.status, 0, "\(r)")
        let comp = component(json(r), "pg")
        XCTAssertEqual(comp?["result"] as? String, "ok")
        XCTAssertTrue((comp?["detail"] as? String ?? "").contains("\(db) answers"), "\(String(describing: comp))")
        XCTAssertTrue((comp?["detail"] as? String ?? "").contains("4 tables"), "\(String(describing: comp))")
        XCTAssertTrue((comp?["version"] as? String ?? "").hasPrefix("PostgreSQL "), "its version is recorded")
        XCTAssertEqual(counts(db), live, "use-existing changes nothing")

        // --database new refuses to replace a database that exists.
        r = try siteRun("recover", "--components", "pg", "--database", "new", "--json")
        XCTAssertEqual(r.status, 1, "\(r)")
        XCTAssertTrue((json(r)["message"] as? String ?? "").contains("already exists"), "\(r)")
        XCTAssertEqual(counts(db), live)

        pg.psql("DROP DATABASE \(db) WITH (FORCE)")
        r = try siteRun("recover", "--components", "pg", "--database", "use-existing", "--json")
        XCTAssertEqual(r.status, 1, "\(r)")
        XCTAssertTrue((json(r)["message"] as? String ?? "").contains("database \(db) does not exist"), "\(r)")
        XCTAssertFalse(exists(database: db), "use-existing creates nothing")

        // new: an empty database with the snapshot's schema.
        r = try siteRun("recover", "--components", "pg", "--database", "new", "--json")
        XCTAssertEqual(r.status, 0, "\(r)")
        XCTAssertEqual(component(json(r), "pg")?["action"] as? String, "created")
        XCTAssertEqual(pg.psql("SELECT string_agg(tablename, ',' ORDER BY tablename) FROM pg_tables WHERE schemaname = 'public'", db: db),
                       "pgbench_accounts,pgbench_branches,pgbench_history,pgbench_tellers")
        XCTAssertEqual(pg.psql("SELECT (SELECT count(*) FROM pgbench_accounts) + (SELECT count(*) FROM pgbench_history) + (SELECT count(*) FROM pgbench_tellers) + (SELECT count(*) FROM pgbench_branches)", db: db), "0")
    }

    func testDrillRestoresIntoScratchDatabasesAndRunsTheCheck() throws {
        let check = "SELECT (SELECT sum(abalance) FROM pgbench_accounts) = (SELECT coalesce(sum(delta),0) FROM pgbench_history)"
        let (db, snapshot, _) = try prepare(verify: "verify_sql = \"\(check)\"")
        let out = tmp.path + "/drill-env"
        try appendToControlFile("[drill]\ncommand = [\"sh\", \"-c\", \"env | grep -E '^(PG|SITEVAULT_DRILL)' | sort > \(out)\"]")
        let live = counts(db)

        let r = try siteRun("drill", "--json")
        XCTAssertEqual(r.status, 0, "\(r)")
        let report = json(r)
        XCTAssertEqual(report["result"] as? String, "passed")
        XCTAssertEqual(report["snapshot"] as? String, snapshot)
        let steps = report["steps"] as? [[String: Any]] ?? []
        // The drill recovers the way site recover does: the dump restored into a scratch database.
        let restore = steps.first { $0["name"] as? String == "recover" && $0["component"] as? String == "pg" }
        XCTAssertEqual(restore?["result"] as? String, "ok", "\(String(describing: restore))")
        XCTAssertTrue((restore?["detail"] as? String ?? "").contains("4 tables"), "\(String(describing: restore))")
        let checked = steps.first { $0["name"] as? String == "check \(db)" }
        XCTAssertEqual(checked?["result"] as? String, "ok", "\(String(describing: checked))")
        XCTAssertTrue((checked?["detail"] as? String ?? "").contains("check query true"), "the configured check ran: \(String(describing: checked))")
        XCTAssertGreaterThan(report["recoverySeconds"] as? Double ?? 0, 0)
        // The command saw the scratch database; it is gone now, and production was not touched.
        let env = text(out) ?? ""
        let scratch = env.split(separator: "\n").first { $0.hasPrefix("PGDATABASE=") }.map { String($0.dropFirst("PGDATABASE=".count)) } ?? ""
        XCTAssertTrue(scratch.hasPrefix("sitevault_drill_"), env)
        XCTAssertTrue(env.contains("SITEVAULT_DRILL_DB_\(db.uppercased())=\(scratch)\n"), env)
        XCTAssertFalse(exists(database: scratch), "the scratch database is dropped")
        XCTAssertEqual(pg.psql("SELECT count(*) FROM pg_database WHERE datname LIKE 'sitevault\\_drill\\_%'"), "0", "no scratch database is left")
        XCTAssertEqual(counts(db), live, "the live database is untouched")
        XCTAssertFalse(exists(report["sandbox"] as? String ?? "/"))

        // A check that does not hold on the restored copy fails the drill at that step.
        try replaceInControlFile(check, "SELECT count(*) = -1 FROM pgbench_accounts")
        let bad = try siteRun("drill", "--json")
        XCTAssertEqual(bad.status, 1, "\(bad)")
        let failed = (json(bad)["steps"] as? [[String: Any]] ?? []).filter { $0["result"] as? String == "failed" }
        XCTAssertEqual(failed.map { "\($0["component"] as? String ?? "-")/\($0["name"] as? String ?? "")" }, ["pg/check \(db)"])
        XCTAssertTrue((failed.first?["detail"] as? String ?? "").contains("returned \"f\""), "\(failed)")
        XCTAssertTrue((json(bad)["failure"] as? String ?? "").contains("pg: check \(db)"), "\(json(bad)["failure"] ?? "")")
        XCTAssertEqual(pg.psql("SELECT count(*) FROM pg_database WHERE datname LIKE 'sitevault\\_drill\\_%'"), "0", "scratch databases are dropped after a failed drill too")
        XCTAssertTrue(try runMessageIDs(json(bad)).contains(2911))
    }

    func testPhysicalDrillStartsATemporaryCluster() throws {
        try makeSite(writesPerSecond: 20)
        let db = pgbenchDatabase()
        pgbench(db, transactions: 100)
        let check = "SELECT (SELECT sum(abalance) FROM pgbench_accounts) = (SELECT coalesce(sum(delta),0) FROM pgbench_history)"
        try addComponent("cluster", "method = \"physical\"\nverify_sql = \"\(check)\"\nverify_database = \"\(db)\"")
        let before = Set((try? FileManager.default.contentsOfDirectory(atPath: "/var/tmp")) ?? []).filter { $0.hasPrefix("sitevault-drill-pg-") }
        let backup = try siteRun("backup", "--json")
        XCTAssertEqual(backup.status, 0, "\(backup)")

        let r = try siteRun("drill", "--json", timeout: 600)
        XCTAssertEqual(r.status, 0, "\(r)")
        let report = json(r)
        XCTAssertEqual(report["result"] as? String, "passed", "\(report["failure"] ?? "")")
        let steps = (report["steps"] as? [[String: Any]] ?? []).filter { $0["component"] as? String == "cluster" }
        XCTAssertEqual(steps.compactMap { $0["name"] as? String }, ["recover", "check"], "\(steps)")
        XCTAssertTrue(steps.allSatisfy { $0["result"] as? String == "ok" }, "\(steps)")
        XCTAssertTrue((steps.last?["detail"] as? String ?? "").contains("check query true in \(db)"), "the check ran in the temporary cluster: \(steps)")
        // The temporary cluster is stopped and its folders removed.
        let sandbox = report["sandbox"] as? String ?? "/nonexistent"
        XCTAssertFalse(exists(sandbox))
        let started = steps.first { $0["name"] as? String == "recover" }?["detail"] as? String ?? ""
        let socketDir = started.components(separatedBy: "(socket in ").dropFirst().first?.components(separatedBy: ")").first ?? ""
        XCTAssertTrue(socketDir.hasPrefix("/"), "the step names the cluster's socket folder: \(started)")
        let base = socketDir.hasSuffix("/socket") ? String(socketDir.dropLast("/socket".count)) : socketDir
        XCTAssertFalse(base.isEmpty || exists(base), "the temporary cluster's folder \(base) is removed")
        let after = Set((try? FileManager.default.contentsOfDirectory(atPath: "/var/tmp")) ?? []).filter { $0.hasPrefix("sitevault-drill-pg-") }
        XCTAssertFalse(after.subtracting(before).contains((base as NSString).lastPathComponent))
        var left: [String] = []
        for p in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] where Int(p) != nil {
            let cmd = String(decoding: FileManager.default.contents(atPath: "/proc/\(p)/cmdline") ?? Data(), as: UTF8.self)
            if cmd.contains(sandbox) || (!base.isEmpty && cmd.contains(base)) { left.append("\(p): \(cmd)") }
        }
        XCTAssertEqual(left, [], "no server of the drill is left running")
        XCTAssertTrue(pg.invariant(db).holds, "the live server is untouched")
    }
}
