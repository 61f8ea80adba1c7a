import Foundation
import VaultTesting
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// A physical PostgreSQL cluster (its own, started here as the postgres user with
/// scripts/pg-cluster.sh) backed up with pg_basebackup and recovered *in place* by
/// `site recover` alone: after its data directory was destroyed, and over the running cluster.
final class RecoveryClusterTests: SiteTestCase {
    var clusterDir: String!
    var port = 0
    var bin = ""

    override func setUpWithError() throws {
        try super.setUpWithError()
        // Not under the test's private folder: the postgres user must reach it.
        clusterDir = "/tmp/sv-phys-" + UUID().uuidString.prefix(8).lowercased()
        let r = PostgresCluster.sh("'\(PostgresCluster.scripts)/pg-cluster.sh' start '\(clusterDir!)'")
        guard r.status == 0 else { throw XCTSkip("no PostgreSQL cluster could be started: \(r.output)") }
        port = Int((try String(contentsOfFile: clusterDir + "/port", encoding: .utf8)).trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        bin = r.output.split(separator: "\n").first { $0.hasPrefix("BIN=") }.map { String($0.dropFirst(4)) } ?? ""
    }

    override func tearDown() {
        if let clusterDir {
            _ = PostgresCluster.sh("'\(PostgresCluster.scripts)/pg-cluster.sh' stop '\(clusterDir)'; rm -rf '\(clusterDir)'")
        }
        super.tearDown()
    }

    @discardableResult
    func psql(_ sql: String, file: StaticString = #filePath, line: UInt = #line) -> String {
        let r = PostgresCluster.sh("'\(bin)/psql' -X -A -t -q -v ON_ERROR_STOP=1 -h '\(clusterDir!)/socket' -p \(port) -U postgres -d postgres -c \"\(sql)\"")
        XCTAssertEqual(r.status, 0, "psql \(sql): \(r.output)", file: file, line: line)
        return r.output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func owner(_ path: String) -> String {
        var st = stat()
        guard stat(path, &st) == 0 else { return "missing" }
        return (getpwuid(st.st_uid).map { String(cString: $0.pointee.pw_name) } ?? "\(st.st_uid)") + " " + String(st.st_mode & 0o777, radix: 8)
    }

    func makeClusterSite() throws {
        try makeBareSite("cluster", body: """
        [[component]]
        name = "pg"
        kind = "database"
        engine = "postgresql"
        method = "physical"
        host = "127.0.0.1"
        port = \(port)
        user = "postgres"
        password_file = "\(clusterDir!)/password"
        databases = "all"

        """)
    }

    func testPhysicalClusterComesBackInPlaceAndStarts() throws {
        try makeClusterSite()
        psql("CREATE TABLE orders(id serial PRIMARY KEY, note text); INSERT INTO orders(note) SELECT 'order ' || g FROM generate_series(1, 1000) g")
        let backup = try siteRun("backup", "--json")
        XCTAssertEqual(backup.status, 0, "\(backup)")
        let show = try siteRun("show", "latest", "--json")
        let manifest = json(show)["manifest"] as? [String: Any] ?? [:]
        let pgReport = ((manifest["components"] as? [[String: Any]]) ?? []).first { $0["name"] as? String == "pg" }
        let cluster = pgReport?["cluster"] as? [String: Any]
        XCTAssertEqual(cluster?["dataDirectory"] as? String, clusterDir + "/data", "the data directory is recorded: \(String(describing: pgReport))")
        XCTAssertTrue((cluster?["options"] as? String ?? "").contains("\(port)"), "the server's options are recorded: \(String(describing: cluster))")
        psql("INSERT INTO orders(note) SELECT 'after ' || g FROM generate_series(1, 500) g")

        // The disaster: the server dies and its data directory is lost.
        _ = PostgresCluster.sh("'\(PostgresCluster.scripts)/pg-cluster.sh' stop '\(clusterDir!)'; rm -rf '\(clusterDir!)/data'")
        XCTAssertFalse(FileManager.default.fileExists(atPath: clusterDir + "/data"))

        let r = try siteRun("recover", "--json")
        XCTAssertEqual(r.status, 0, "\(r)")
        let report = json(r)
        XCTAssertEqual(report["result"] as? String, "recovered", "\(report)")
        XCTAssertEqual(owner(clusterDir + "/data"), "postgres 700", "the data directory belongs to the cluster's user")
        XCTAssertEqual(psql("SELECT count(*) FROM orders"), "1000", "the cluster runs again on its port with the snapshot's rows")
        XCTAssertFalse(FileManager.default.fileExists(atPath: clusterDir + "/data/standby.signal"))

        // Over the running cluster: it is stopped, replaced, started again.
        psql("INSERT INTO orders(note) VALUES ('live row')")
        let again = try siteRun("recover", "--json")
        XCTAssertEqual(again.status, 0, "\(again)")
        XCTAssertEqual(psql("SELECT count(*) FROM orders"), "1000", "the running cluster was replaced by the snapshot's")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: clusterDir).filter { $0.hasPrefix(".sitevault-") }
        XCTAssertEqual(leftovers, [], "no work or side folder left beside the data directory")

        // A dry run says what it would do and changes nothing.
        let dry = try siteRun("recover", "--dry-run", "--json")
        XCTAssertEqual(dry.status, 0, "\(dry)")
        let diff = ((json(dry)["components"] as? [[String: Any]])?.first?["diff"] as? String) ?? ""
        XCTAssertTrue(diff.contains("would be stopped"), diff)
        XCTAssertEqual(psql("SELECT count(*) FROM orders"), "1000")
    }
}
