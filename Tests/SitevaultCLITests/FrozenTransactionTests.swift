import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// A writer that stops the application while it is inside an SQLite write transaction: the
/// stopped process keeps the database locked, so the copy cannot be taken while it is frozen.
/// The run must neither hang nor leave the application stopped: it thaws, lets the transaction
/// finish, freezes again; an application that is (almost) always inside a transaction fails the
/// run clearly after a few attempts, thawed.
final class FrozenTransactionTests: SiteTestCase {
    var db: String { site + "/app/app.db" }
    var pidFile: String { site + "/run/app.pid" }

    /// A writer in rollback-journal mode: `inside` seconds in each transaction, `outside` between.
    /// Its tiny page cache spills to the file inside each transaction, so it holds the exclusive
    /// lock (readers get SQLITE_BUSY) the way a busy application does while it commits.
    func startWriter(inside: Double, outside: Double) -> Int32 {
        let script = """
        import os, sqlite3, sys, time
        db = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
        db.execute("PRAGMA journal_mode=DELETE"); db.execute("PRAGMA cache_size=1")
        db.execute("CREATE TABLE IF NOT EXISTS t(b BLOB)")
        open(sys.argv[2], "w").write(str(os.getpid()))
        i = 0
        while True:
            db.execute("BEGIN IMMEDIATE")
            for _ in range(4): db.execute("INSERT INTO t VALUES (randomblob(100000))")
            i += 1
            time.sleep(\(inside)); db.execute("COMMIT"); time.sleep(\(outside))
        """
        let path = site + "/app/writer.py"
        try? Data(script.utf8).write(to: URL(fileURLWithPath: path))
        XCTAssertEqual(PostgresCluster.sh("setsid python3 '\(path)' '\(db)' '\(pidFile)' > /dev/null 2>&1 < /dev/null &").status, 0)
        XCTAssertTrue(waitForFile(pidFile, timeout: 10))
        usleep(300_000)
        let pid = Int32((try? String(contentsOfFile: pidFile, encoding: .utf8)) ?? "") ?? 0
        extraPids.append(pid)
        return pid
    }

    func makeSite(consistency: String) throws {
        try FileManager.default.createDirectory(atPath: site + "/app", withIntermediateDirectories: true)
        try makeBareSite("frozen", body: """
        consistency = "\(consistency)"

        [[component]]
        name = "db"
        kind = "database"
        engine = "sqlite"
        path = "app/app.db"

        [[writer]]
        name = "app"
        kind = "signal"
        pid_file = "run/app.pid"
        components = ["db"]

        """)
        // consistency is a top-level key: it must come before the first table.
        let text = try String(contentsOfFile: controlFile, encoding: .utf8)
        let moved = "consistency = \"\(consistency)\"\n" + text.replacingOccurrences(of: "consistency = \"\(consistency)\"\n", with: "")
        try moved.write(toFile: controlFile, atomically: true, encoding: .utf8)
    }

    func state(_ pid: Int32) -> Character? {
        guard let s = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = s.lastIndex(of: ")") else { return nil }
        return s[s.index(after: close)...].first { $0 != " " }
    }

    /// Mostly between transactions: a freeze that catches one is retried and the copy is taken.
    func testAFreezeInsideATransactionIsRetried() throws {
        for mode in ["component", "site"] {
            try? FileManager.default.removeItem(atPath: site)
            try makeSite(consistency: mode)
            let pid = startWriter(inside: 0.05, outside: 0.4)
            let r = try siteRun("backup", "--json", timeout: 120)
            XCTAssertEqual(r.status, 0, "\(mode): \(r)")
            XCTAssertNotEqual(state(pid), "T", "\(mode): the application runs again")
            kill(pid, SIGKILL)
        }
    }

    /// Always inside a transaction: the run fails clearly (before freezing, when the database
    /// cannot even be opened, or after its freeze attempts), never hangs, and the application is
    /// thawed.
    func testAnApplicationAlwaysInsideATransactionFailsTheRunThawed() throws {
        try makeSite(consistency: "site")
        let pid = startWriter(inside: 30, outside: 0.01)
        let r = try siteRun("backup", "--json", timeout: 120)
        XCTAssertNotEqual(r.status, 0, "\(r)")
        XCTAssertTrue(r.stderr.contains("locked"), "the failure says why: \(r)")
        XCTAssertNotEqual(state(pid), "T", "the application is thawed")
        XCTAssertEqual(kill(pid, 0), 0, "and still running")
    }
}
