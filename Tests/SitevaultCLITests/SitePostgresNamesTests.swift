import Foundation
import VaultTesting
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// A database whose name libpq's programs would read as connection settings (`host=… dbname=…`),
/// created by anyone allowed to create databases, on a real server: with databases = "all" it is
/// refused by name, the rest is backed up, and nothing connects to the host it names.
final class SitePostgresNamesTests: SiteTestCase {
    var pg: PostgresCluster!
    let hostile = "host=127.0.0.2 dbname=x"

    override func setUpWithError() throws {
        try super.setUpWithError()
        pg = try PostgresCluster.shared()
    }

    override func tearDown() {
        pg?.psql("DROP DATABASE IF EXISTS \"\(hostile)\" WITH (FORCE)")
        super.tearDown()
    }

    /// A TCP listener on 127.0.0.2 at the server's port: where the password would go if the name were
    /// read as settings. The kernel completes connections into the backlog without accept().
    func listenWhereTheNamePoints() throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        XCTAssertGreaterThanOrEqual(fd, 0)
        var sa = sockaddr_in()
        sa.sin_family = sa_family_t(AF_INET)
        sa.sin_port = in_port_t(UInt16(pg.port).bigEndian)
        inet_pton(AF_INET, "127.0.0.2", &sa.sin_addr)
        let bound = withUnsafePointer(to: &sa) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard bound == 0, listen(fd, 16) == 0 else { close(fd); throw XCTSkip("cannot listen on 127.0.0.2:\(pg.port)") }
        return fd
    }

    func connectionsArrived(_ fd: Int32) -> Bool {
        _ = fcntl(fd, F_SETFL, O_NONBLOCK)
        let c = accept(fd, nil, nil)
        if c >= 0 { close(c); return true }
        return false
    }

    func testDatabaseNamedLikeConnectionSettingsIsRefusedAndNeverConnected() throws {
        try makeSite()
        pg.psql("CREATE DATABASE \"\(hostile)\"")
        let listener = try listenWhereTheNamePoints()
        defer { close(listener) }
        try appendToControlFile(pg.component(name: "pg", "databases = \"all\""))
        let r = try siteRun("backup", "--json")
        XCTAssertEqual(r.status, 3, "the other databases are stored, the snapshot is partial: \(r)")
        let comp = (json(r)["components"] as? [[String: Any]] ?? []).first { $0["name"] as? String == "pg" }
        let message = comp?["message"] as? String ?? ""
        XCTAssertEqual(comp?["result"] as? String, "failed")
        XCTAssertTrue(message.contains("database \"\(hostile)\" has a name PostgreSQL's programs read as connection settings"), message)
        XCTAssertTrue(message.contains("rename it (ALTER DATABASE"), message)
        XCTAssertFalse(connectionsArrived(listener), "a client connected to 127.0.0.2: the name was read as settings")
        let snapshot = json(r)["snapshot"] as? String ?? "?"
        let ls = try repoRun(["ls", snapshot, "/pg"])
        XCTAssertTrue(ls.stdout.contains("/pg/postgres.dump"), "the other databases are stored: \(ls.stdout)")
        XCTAssertFalse(ls.stdout.contains("127.0.0.2"), ls.stdout)
    }
}
