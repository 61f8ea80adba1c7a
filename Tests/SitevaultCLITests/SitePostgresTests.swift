import Foundation
import VaultTesting
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// PostgreSQL components against a real PostgreSQL server, with pgbench writing during the backup.
final class SitePostgresTests: SiteTestCase {
    var pg: PostgresCluster!
    var created: [String] = []

    override func setUpWithError() throws {
        try super.setUpWithError()
        pg = try PostgresCluster.shared()
    }

    override func tearDown() {
        for db in created { pg?.psql("DROP DATABASE IF EXISTS \(db) WITH (FORCE)") }
        super.tearDown()
    }

    /// A fresh pgbench database.
    func pgbenchDatabase(scale: Int = 2) -> String {
        let db = "shop_" + UUID().uuidString.prefix(8).lowercased()
        created.append(db)
        pg.psql("CREATE DATABASE \(db)")
        let r = PostgresCluster.sh(pg.tool("pgbench", "-i -q -s \(scale) \(db)"))
        XCTAssertEqual(r.status, 0, r.output)
        return db
    }

    /// pgbench writing (without -n it would empty pgbench_history and break the invariant).
    func startLoad(_ db: String, seconds: Int = 60) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/bash")
        p.arguments = ["-c", "exec " + pg.tool("pgbench", "-n -c 2 -T \(seconds) \(db)") + " > /dev/null 2>&1"]
        try p.run()
        extraPids.append(p.processIdentifier)
        usleep(300_000)
        return p
    }

    func addComponent(_ name: String, _ body: String) throws {
        try appendToControlFile(pg.component(name: name, body))
    }

    func restoreFile(_ snapshot: String, _ inner: String) throws -> String {
        let target = tmp.path + "/restore-" + UUID().uuidString.prefix(6)
        let r = try repoRun(["restore", snapshot, "--target", target, "--include", inner])
        XCTAssertEqual(r.status, 0, "\(r)")
        return target + inner
    }

    func testLogicalBackupUnderLoadRestoresWithTheInvariant() throws {
        try makeSite()
        let db = pgbenchDatabase()
        let role = "reporter_" + UUID().uuidString.prefix(6).lowercased()
        pg.psql("CREATE ROLE \(role) LOGIN")
        defer { pg.psql("DROP ROLE IF EXISTS \(role)") }
        try addComponent("pg", "databases = [\"\(db)\"]")
        let load = try startLoad(db)
        let r = try siteRun("backup", "--json")
        load.terminate(); load.waitUntilExit()
        XCTAssertEqual(r.status, 0, "\(r)")
        let comp = (json(r)["components"] as? [[String: Any]] ?? []).first { $0["name"] as? String == "pg" }
        XCTAssertEqual(comp?["result"] as? String, "ok")
        XCTAssertTrue((comp?["version"] as? String ?? "").hasPrefix("PostgreSQL 15"), "\(String(describing: comp))")
        XCTAssertTrue((comp?["check"] as? String ?? "").contains("\(db): pg_restore --list ok"), "\(String(describing: comp))")
        XCTAssertGreaterThan(pg.psql("SELECT count(*) FROM pgbench_history", db: db).count, 0)
        XCTAssertGreaterThan(Int(pg.psql("SELECT count(*) FROM pgbench_history", db: db)) ?? 0, 0, "pgbench wrote during the backup")

        let snapshot = json(r)["snapshot"] as? String ?? ""
        let globals = try String(contentsOfFile: try restoreFile(snapshot, "/pg/globals.sql"), encoding: .utf8)
        XCTAssertTrue(globals.contains("CREATE ROLE \(role)"), "roles are in the globals dump")
        let dump = try restoreFile(snapshot, "/pg/\(db).dump")
        let restored = db + "_restored"
        created.append(restored)
        pg.psql("CREATE DATABASE \(restored)")
        let pr = PostgresCluster.sh(pg.tool("pg_restore", "--no-owner -d \(restored) '\(dump)'"))
        XCTAssertEqual(pr.status, 0, pr.output)
        let inv = pg.invariant(restored)
        XCTAssertTrue(inv.holds, "accounts = branches = tellers = history deltas after restore: \(inv.detail)")
        XCTAssertGreaterThan(Int(inv.detail.split(separator: ",").last ?? "0") ?? 0, 0, "the snapshot holds pgbench's transactions")

        // Straight from the repository into pg_restore, without a file on disk.
        let piped = db + "_piped"
        created.append(piped)
        pg.psql("CREATE DATABASE \(piped)")
        let pipe = PostgresCluster.sh("set -o pipefail; SITEVAULT_REPOSITORY='\(repo)' SITEVAULT_PASSWORD_FILE='\(passwordFile)' '\(CLI.executable)' dump \(snapshot) /pg/\(db).dump | " + pg.tool("pg_restore", "--no-owner -d \(piped)"))
        XCTAssertEqual(pipe.status, 0, pipe.output)
        XCTAssertEqual(pg.invariant(piped).detail, inv.detail, "the piped restore holds the same data")
        let notFile = try repoRun(["dump", snapshot, "/pg"])
        XCTAssertEqual(notFile.status, 1)
        XCTAssertTrue(notFile.stderr.contains("is not a file"), notFile.stderr)
    }

    func testPhysicalBackupRestoresAConsistentCluster() throws {
        try makeSite()
        let db = pgbenchDatabase()
        try addComponent("cluster", "method = \"physical\"")
        let load = try startLoad(db)
        let r = try siteRun("backup", "--json")
        load.terminate(); load.waitUntilExit()
        XCTAssertEqual(r.status, 0, "\(r)")
        let comp = (json(r)["components"] as? [[String: Any]] ?? []).first { $0["name"] as? String == "cluster" }
        XCTAssertTrue((comp?["check"] as? String ?? "").contains("WAL included"), "\(String(describing: comp))")
        // Restore the base backup into a new data folder and start a second server on it.
        let tar = try restoreFile(json(r)["snapshot"] as? String ?? "", "/cluster/base.tar")
        let data = tmp.path + "/pgdata", sock = tmp.path + "/pgsock"
        let port = Int.random(in: 40000...50000)
        let start = PostgresCluster.sh("""
            set -e; mkdir -p '\(data)' '\(sock)'; tar -xf '\(tar)' -C '\(data)'; chown -R postgres '\(data)' '\(sock)'; chmod 700 '\(data)'
            chmod o+x '\(tmp.path)' '\(tmp.path)/..' 2>/dev/null || true
            runuser -u postgres -- '\(pg.bin)/pg_ctl' -D '\(data)' -l '\(sock)/restored.log' -w -t 60 -o "-p \(port) -k \(sock) -c listen_addresses=''" start
            """)
        XCTAssertEqual(start.status, 0, start.output + ((try? String(contentsOfFile: sock + "/restored.log", encoding: .utf8)) ?? ""))
        defer { _ = PostgresCluster.sh("runuser -u postgres -- '\(pg.bin)/pg_ctl' -D '\(data)' -m immediate -w stop") }
        let restored = PostgresCluster(dir: tmp.path, port: port, socket: sock, passwordFile: "", bin: pg.bin)
        let inv = restored.invariant(db)
        XCTAssertTrue(inv.holds, "the restored cluster is consistent: \(inv.detail)")
    }

    func testVerifyByRestoringIntoAScratchDatabase() throws {
        try makeSite()
        let db = pgbenchDatabase(scale: 1)
        let check = "SELECT (SELECT sum(abalance) FROM pgbench_accounts) = (SELECT coalesce(sum(delta),0) FROM pgbench_history)"
        try addComponent("pg", "databases = [\"\(db)\"]\nverify = \"restore\"\nverify_sql = \"\(check)\"")
        let r = try siteRun("backup", "--json")
        XCTAssertEqual(r.status, 0, "\(r)")
        let comp = (json(r)["components"] as? [[String: Any]] ?? []).first { $0["name"] as? String == "pg" }
        XCTAssertTrue((comp?["check"] as? String ?? "").contains("check query true"), "\(String(describing: comp))")
        XCTAssertEqual(pg.psql("SELECT count(*) FROM pg_database WHERE datname LIKE 'sitevault_verify_%'"), "0", "the scratch database is dropped")
        // A check that fails fails the component, precisely.
        try replaceInControlFile(check, "SELECT false")
        let bad = try siteRun("backup", "--json")
        XCTAssertEqual(bad.status, 3, "\(bad)")
        let badComp = (json(bad)["components"] as? [[String: Any]] ?? []).first { $0["name"] as? String == "pg" }
        XCTAssertTrue((badComp?["message"] as? String ?? "").contains("returned \"f\""), "\(String(describing: badComp))")
    }

    func testServerDownWrongPasswordAndMissingDatabaseFailBeforeFreezing() throws {
        try makeSite()
        try appendToControlFile("[[writer]]\nname = \"marker\"\nkind = \"command\"\nfreeze = [\"touch\", \"\(site!)/run/was-frozen\"]\nthaw = [\"true\"]\ncomponents = [\"config\"]")
        // A port nobody listens on.
        let sock = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in(); addr.sin_family = sa_family_t(AF_INET); addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(sock, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(sock, $0, &len) } }
        let closedPort = Int(UInt16(bigEndian: addr.sin_port))
        close(sock)
        try addComponent("pg", "databases = [\"postgres\"]")
        let original = try String(contentsOfFile: controlFile, encoding: .utf8)
        try replaceInControlFile("port = \(pg.port)", "port = \(closedPort)")
        var r = try siteRun("backup", "--json")
        XCTAssertEqual(r.status, 23, "\(r)")
        XCTAssertTrue(r.stderr.contains("pg: cannot reach PostgreSQL at 127.0.0.1:\(closedPort): the server is down"), r.stderr)

        try original.write(toFile: controlFile, atomically: true, encoding: .utf8)
        try writeSecret("wrong\n", to: site + "/pgpass-wrong")
        try replaceInControlFile("password_file = \"\(pg.passwordFile)\"", "password_file = \"\(site!)/pgpass-wrong\"")
        r = try siteRun("backup", "--json")
        XCTAssertEqual(r.status, 23, "\(r)")
        XCTAssertTrue(r.stderr.contains("refused user postgres: wrong or missing password"), r.stderr)
        XCTAssertFalse(r.stderr.contains("wrong\n") || r.stdout.contains("\"wrong\""), "the password is not shown")

        try original.write(toFile: controlFile, atomically: true, encoding: .utf8)
        try replaceInControlFile("databases = [\"postgres\"]", "databases = [\"postgres\", \"nope\"]")
        r = try siteRun("backup", "--json")
        XCTAssertEqual(r.status, 23, "\(r)")
        XCTAssertTrue(r.stderr.contains("has no database \"nope\""), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: site + "/run/was-frozen"), "nothing was frozen by any of these runs")
        XCTAssertEqual(try snapshotCount(), 0)
    }

    func testOneFailingDatabaseOfSeveral() throws {
        try makeSite()
        let good = pgbenchDatabase(scale: 1), bad = pgbenchDatabase(scale: 1)
        let role = "backup_" + UUID().uuidString.prefix(6).lowercased()
        pg.psql("CREATE ROLE \(role) LOGIN PASSWORD 'pw-\(role)'")
        pg.psql("GRANT SELECT ON ALL TABLES IN SCHEMA public TO \(role)", db: good)
        defer { pg.psql("DROP OWNED BY \(role)", db: good); pg.psql("DROP ROLE IF EXISTS \(role)") }
        try writeSecret("pw-\(role)\n", to: site + "/role-password")
        try addComponent("pg", "databases = [\"\(good)\", \"\(bad)\"]\nuser = \"\(role)\"\njobs = 2")
        try replaceInControlFile("password_file = \"\(pg.passwordFile)\"", "password_file = \"\(site!)/role-password\"")
        let r = try siteRun("backup", "--json")
        XCTAssertEqual(r.status, 3, "\(r)")
        let comp = (json(r)["components"] as? [[String: Any]] ?? []).first { $0["name"] as? String == "pg" }
        XCTAssertEqual(comp?["result"] as? String, "failed")
        XCTAssertTrue((comp?["message"] as? String ?? "").contains("database \(bad): pg_dump failed"), "\(String(describing: comp))")
        XCTAssertTrue((comp?["message"] as? String ?? "").contains("permission denied"), "\(String(describing: comp))")
        let ls = try repoRun(["ls", json(r)["snapshot"] as? String ?? ""]).stdout
        XCTAssertTrue(ls.contains("/pg/\(good).dump"), "the good database is kept: \(ls)")
        XCTAssertFalse(ls.contains("/pg/\(bad).dump"))
        XCTAssertNotEqual(appState(), "T")
        // All or nothing when asked.
        try replaceInControlFile("state_dir = \"state\"", "state_dir = \"state\"\natomic = true")
        XCTAssertEqual(try siteRun("backup").status, 23)
        XCTAssertEqual(try snapshotCount(), 1)
    }
}
