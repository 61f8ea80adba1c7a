import Foundation
@testable import SiteBackup
import VaultCore
import VaultTesting
import XCTest

/// SQLite's online backup in one step, against a database another connection keeps writing to,
/// in WAL and in rollback-journal mode: every copy passes integrity_check and holds whole transactions.
final class SQLiteBackupTests: XCTestCase {
    func copyUnderWrites(journal: String) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.path + "/app.db"
        let setup = try SQLiteDatabase(path: path, create: true)
        try setup.execute("PRAGMA journal_mode=\(journal); CREATE TABLE t(id INTEGER PRIMARY KEY, a INTEGER, b INTEGER);")
        let state = Locked((stopped: false, written: 0))
        let writer = Thread {
            guard let db = try? SQLiteDatabase(path: path) else { return }
            var i = 0
            while !state.withLock({ $0.stopped }) {
                // Each transaction keeps a + b = 0: a torn copy would show it.
                try? db.execute("BEGIN IMMEDIATE; INSERT INTO t(a, b) VALUES(\(i), -\(i)); INSERT INTO t(a, b) VALUES(\(i + 1), -\(i + 1)); COMMIT;")
                i += 2
                state.withLock { $0.written = i }
            }
        }
        writer.start()
        defer { state.withLock { $0.stopped = true } }
        while state.withLock({ $0.written }) < 200 { usleep(1000) }
        for n in 0..<5 {
            let copy = dir.path + "/copy-\(n).db"
            let pages = try SQLiteDatabase(path: path, readOnly: true).backup(to: copy)
            XCTAssertGreaterThan(pages, 0)
            let c = try SQLiteDatabase(path: copy, readOnly: true)
            XCTAssertEqual(try c.integrityCheck(), "ok")
            let rows = try c.query("SELECT count(*), coalesce(sum(a + b), 0) FROM t")
            XCTAssertGreaterThan(rows[0][0].integer ?? 0, 0)
            XCTAssertEqual(rows[0][0].integer.map { $0 % 2 }, 0, "whole transactions only")
            XCTAssertEqual(rows[0][1].integer, 0)
            XCTAssertEqual(try c.query("PRAGMA journal_mode")[0][0].text, "delete", "the copy is one self-contained file")
        }
    }

    func testWALDatabaseUnderWrites() throws { try copyUnderWrites(journal: "WAL") }
    func testRollbackJournalDatabaseUnderWrites() throws { try copyUnderWrites(journal: "DELETE") }
}

final class PostgresControlFileTests: XCTestCase {
    func testPostgresKeys() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try Data("x".utf8).write(to: URL(fileURLWithPath: dir.path + "/pw"))
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: dir.path + "/pw")
        try FileManager.default.createDirectory(atPath: dir.path + "/repo", withIntermediateDirectories: true)
        func parse(_ extra: String) throws -> SiteConfig {
            let text = "site = \"s\"\ntime_zone = \"UTC\"\n[repository]\npath = \"repo\"\npassword_file = \"pw\"\n[[component]]\nname = \"pg\"\nkind = \"database\"\nengine = \"postgresql\"\n" + extra
            try text.write(toFile: dir.path + "/site.toml", atomically: true, encoding: .utf8)
            return try ControlFile.load(path: dir.path + "/site.toml")
        }
        let c = try parse("host = \"127.0.0.1\"\nport = 5433\ndatabases = [\"a\", \"b\"]\nverify = \"restore\"\nverify_sql = \"select true\"")
        XCTAssertEqual(c.components[0].postgres?.databases, ["a", "b"])
        XCTAssertEqual(c.components[0].postgres?.port, 5433)
        XCTAssertNil(try parse("databases = \"all\"").components[0].postgres?.databases)
        XCTAssertEqual(try parse("method = \"physical\"").components[0].postgres?.method, .physical)
        func rejected(_ extra: String, _ reason: String, line: Int, file: StaticString = #filePath, l: UInt = #line) {
            XCTAssertThrowsError(try parse(extra), file: file, line: l) { e in
                let p = (e as? ControlFileError)?.problems ?? []
                XCTAssertTrue(p.contains { $0.line == line && $0.message.contains(reason) }, "\(p)", file: file, line: l)
            }
        }
        rejected("", "missing key 'databases'", line: 6)
        // verify_sql without verify = "restore" is used by recovery drills.
        XCTAssertEqual(try parse("databases = [\"a\"]\nverify_sql = \"select 1\"").components.last?.postgres?.verifySQL, "select 1")
        rejected("method = \"physical\"\ndatabases = [\"a\"]", "set databases = \"all\"", line: 11)
        rejected("databases = [\"a\", \"a\"]", "listed twice", line: 10)
        rejected("databases = \"all\"\nport = 70000", "between 1 and 65535", line: 11)
        rejected("databases = \"all\"\npath = \"x.db\"", "does not apply to a postgresql database", line: 11)
    }
}
