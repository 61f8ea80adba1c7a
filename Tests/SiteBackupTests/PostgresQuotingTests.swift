import Foundation
@testable import SiteBackup
import VaultTesting
import XCTest

/// Database names reach PostgreSQL's programs as quoted connection strings, the password only
/// the configured server, and names that libpq would read as settings are refused.
final class PostgresQuotingTests: XCTestCase {
    func testConninfoQuotesTheName() {
        XCTAssertEqual(PostgresClient.conninfo(database: "shop"), "dbname='shop'")
        XCTAssertEqual(PostgresClient.conninfo(database: "host=127.0.0.2 dbname=x"), "dbname='host=127.0.0.2 dbname=x'")
        XCTAssertEqual(PostgresClient.conninfo(database: "o'brien\\x"), "dbname='o\\'brien\\\\x'")
    }

    func testPgpassNamesTheServerAndUser() {
        XCTAssertEqual(PostgresClient.pgpassLines(host: "db.example", port: 5433, user: "backup", password: "s3cret"),
                       "db.example:5433:*:backup:s3cret\n")
        XCTAssertEqual(PostgresClient.pgpassLines(host: "::1", port: 5432, user: "a:b\\c", password: "p:w\\"),
                       "\\:\\:1:5432:*:a\\:b\\\\c:p\\:w\\\\\n")
        XCTAssertEqual(PostgresClient.pgpassLines(host: "/run/postgresql", port: 5432, user: "postgres", password: "pw"),
                       "/run/postgresql:5432:*:postgres:pw\nlocalhost:5432:*:postgres:pw\n")
        XCTAssertEqual(PostgresClient.pgpassLines(host: "db1,db2", port: 5432, user: "u", password: "p"),
                       "db1:5432:*:u:p\ndb2:5432:*:u:p\n")
        XCTAssertFalse(PostgresClient.pgpassLines(host: "h", port: 1, user: "u", password: "p").contains("*:*:*"))
    }

    func testNamesReadAsConnectionSettingsAreRefused() {
        for bad in ["host=127.0.0.2 dbname=x", "a=b", "postgresql://evil/x", "postgres://evil/x"] {
            let why = PostgresClient.refusal(ofDatabase: bad)
            XCTAssertNotNil(why, bad)
            XCTAssertTrue(why?.contains("\"\(bad)\"") == true && why?.contains("rename it") == true, why ?? "")
        }
        for good in ["shop", "shop-2026", "o'brien", "café", "postgresql"] { XCTAssertNil(PostgresClient.refusal(ofDatabase: good), good) }
        let (usable, refused) = PostgresClient.split(["shop", "a=b", "postgres"])
        XCTAssertEqual(usable, ["shop", "postgres"])
        XCTAssertEqual(refused.count, 1)
    }

    func testControlFileRefusesSuchANameAtItsPosition() throws {
        let text = """
            site = "s"
            time_zone = "UTC"
            [repository]
            path = "/r"
            password_file = "/pw"
            [[component]]
            name = "pg"
            kind = "database"
            engine = "postgresql"
            databases = ["shop", "host=127.0.0.2 dbname=x"]
            """
        XCTAssertThrowsError(try ControlFile.parse(text: text, file: "/s.toml", checkPaths: false)) { e in
            let p = (e as? ControlFileError)?.problems ?? []
            XCTAssertTrue(p.contains { $0.line == 10 && $0.column == 22 && $0.message.contains("\"host=127.0.0.2 dbname=x\" holds '='") }, "\(p)")
        }
    }
}
