import Foundation
import VaultTesting
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Database components are cut into small chunks (ChunkerParameters.database), so a second backup
/// after a change to 1 % of the rows stores little more than the changed region. The change is a
/// contiguous id range plus new rows — how applications usually change data (recent orders, a
/// batch job). Updates scattered over every page of the table would touch every chunk of any size
/// and could not be deduplicated by any chunker.
final class SiteDedupTests: SiteTestCase {
    func component(_ r: CLI.Result, _ name: String) -> [String: Any] {
        (json(r)["components"] as? [[String: Any]] ?? []).first { $0["name"] as? String == name } ?? [:]
    }

    func number(_ v: Any?) -> UInt64 { (v as? NSNumber)?.uint64Value ?? 0 }

    /// Backs up twice with `change` in between; returns (bytes of the component, bytes added by the
    /// first backup, bytes added by the second).
    func twoBackups(_ name: String, change: () throws -> Void) throws -> (bytes: UInt64, first: UInt64, second: UInt64) {
        let one = try siteRun("backup", "--json")
        XCTAssertEqual(one.status, 0, "\(one)")
        XCTAssertEqual(component(one, name)["result"] as? String, "ok", "\(component(one, name))")
        try change()
        let two = try siteRun("backup", "--json")
        XCTAssertEqual(two.status, 0, "\(two)")
        XCTAssertEqual(component(two, name)["result"] as? String, "ok", "\(component(two, name))")
        let a = component(one, name), b = component(two, name)
        print("dedup \(name): \(number(b["bytes"])) bytes, first backup added \(number(a["bytesAdded"])) in \(a["durationSeconds"] ?? 0) s, second added \(number(b["bytesAdded"]))")
        return (number(b["bytes"]), number(a["bytesAdded"]), number(b["bytesAdded"]))
    }

    func testPostgresDumpAfterOnePercentChangeAddsLittle() throws {
        let pg = try PostgresCluster.shared()
        try makeSite()
        let db = "dedup_" + UUID().uuidString.prefix(8).lowercased()
        pg.psql("CREATE DATABASE \(db)")
        defer { pg.psql("DROP DATABASE IF EXISTS \(db) WITH (FORCE)") }
        // pgbench scale 5: 500,000 accounts, a dump of about 50 MB.
        let r = PostgresCluster.sh(pg.tool("pgbench", "-i -q -s 5 \(db)"))
        XCTAssertEqual(r.status, 0, r.output)
        try appendToControlFile(pg.component(name: "pg", "databases = [\"\(db)\"]"))
        let sizes = try twoBackups("pg") {
            // 1 % of the rows: 5,000 accounts in one id range updated, 1,000 new ones.
            pg.psql("UPDATE pgbench_accounts SET abalance = abalance + 7 WHERE aid BETWEEN 250001 AND 255000", db: db)
            pg.psql("INSERT INTO pgbench_accounts (aid, bid, abalance, filler) SELECT g, 1, 0, 'new' FROM generate_series(500001, 501000) g", db: db)
        }
        XCTAssertGreaterThan(sizes.bytes, 40_000_000, "the dump is about 50 MB")
        XCTAssertGreaterThan(sizes.first, sizes.bytes / 2, "the first backup stores the dump")
        XCTAssertLessThanOrEqual(sizes.second, sizes.bytes / 10, "the second backup adds at most 10 % of the dump")
    }

    func testSQLiteCopyAfterOnePercentChangeAddsLittle() throws {
        try makeSite()
        let path = site + "/srv/ledger.db"
        // 400,000 rows of about 100 bytes: a file of about 50 MB.
        XCTAssertEqual(shell("""
        sqlite3 \(path) "PRAGMA page_size=4096; CREATE TABLE entries (id INTEGER PRIMARY KEY, account INTEGER, amount INTEGER, memo TEXT); \
        WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 400000) \
        INSERT INTO entries SELECT i, i % 977, i * 3, printf('%-90s', 'entry ' || i) FROM n;"
        """), 0)
        try appendToControlFile("""

        [[component]]
        name = "ledger"
        kind = "database"
        engine = "sqlite"
        path = "srv/ledger.db"

        """)
        let sizes = try twoBackups("ledger") {
            XCTAssertEqual(shell("""
            sqlite3 \(path) "UPDATE entries SET amount = amount + 1 WHERE id BETWEEN 200001 AND 204000; \
            WITH RECURSIVE n(i) AS (SELECT 400001 UNION ALL SELECT i + 1 FROM n WHERE i < 400500) \
            INSERT INTO entries SELECT i, i % 977, 0, printf('%-90s', 'new ' || i) FROM n;"
            """), 0)
        }
        XCTAssertGreaterThan(sizes.bytes, 40_000_000, "the database is about 50 MB")
        XCTAssertGreaterThan(sizes.first, sizes.bytes / 2, "the first backup stores the copy")
        XCTAssertLessThanOrEqual(sizes.second, sizes.bytes / 10, "the second backup adds at most 10 % of the copy")
    }
}
