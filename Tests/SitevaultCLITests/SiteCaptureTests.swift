import Foundation
import VaultTesting
import XCTest

/// Captured settings are streamed into the repository: an output of any size is stored whole,
/// never cut at the in-memory capture limit (1 MiB).
final class SiteCaptureTests: SiteTestCase {
    func testSettingLongerThanTheCaptureLimitIsStoredWhole() throws {
        try makeSite()
        let size = 3 << 20
        try replaceInControlFile("settings = { version = [",
                                 "settings = { big = [\"sh\", \"-c\", \"head -c \(size) /dev/zero | tr '\\\\0' a; echo end\"], version = [")
        let r = try siteRun("backup", "--json")
        XCTAssertEqual(r.status, 0, "\(r)")
        let config = (json(r)["components"] as? [[String: Any]] ?? []).first { $0["name"] as? String == "config" }
        XCTAssertEqual((config?["settings"] as? [String: Int])?["big"], size + 4, "\(String(describing: config))")
        let dump = try repoRun(["dump", json(r)["snapshot"] as? String ?? "?", "/config/settings/big"])
        XCTAssertEqual(dump.status, 0, "\(dump.stderr)")
        XCTAssertEqual(dump.stdoutData.count, size + 4)
        XCTAssertTrue(dump.stdout.hasSuffix("aaaaend\n"), String(dump.stdout.suffix(20)))
        XCTAssertEqual(dump.stdoutData.filter { $0 == UInt8(ascii: "a") }.count, size)
    }

    /// pg_dumpall --globals-only is streamed too: a role comment of 2 MiB makes globals.sql longer than the limit.
    func testPostgresGlobalsLongerThanTheCaptureLimitAreStoredWhole() throws {
        let pg = try PostgresCluster.shared()
        try makeSite()
        let role = "big_" + UUID().uuidString.prefix(8).lowercased()
        let sql = tmp.path + "/comment.sql"
        try "CREATE ROLE \(role);\nDO $x$ BEGIN EXECUTE format('COMMENT ON ROLE %I IS %L', '\(role)', repeat('x', 2097152) || 'END'); END $x$;\n"
            .write(toFile: sql, atomically: true, encoding: .utf8)
        let made = PostgresCluster.sh(pg.tool("psql", "-X -q -v ON_ERROR_STOP=1 -d postgres -f '\(sql)'"))
        XCTAssertEqual(made.status, 0, made.output)
        defer { pg.psql("DROP ROLE IF EXISTS \(role)") }
        try appendToControlFile(pg.component(name: "pg", """
        databases = ["postgres"]
        verify = "none"
        """))
        let r = try siteRun("backup", "--json")
        XCTAssertEqual(r.status, 0, "\(r)")
        let globals = try repoRun(["dump", json(r)["snapshot"] as? String ?? "?", "/pg/globals.sql"])
        XCTAssertEqual(globals.status, 0, globals.stderr)
        XCTAssertGreaterThan(globals.stdoutData.count, 2 << 20)
        XCTAssertTrue(globals.stdout.contains("xxxxEND'"), "the comment is stored to its end")
        XCTAssertTrue(globals.stdout.contains("CREATE ROLE \(role)"), "the role is in globals.sql")
    }
}
