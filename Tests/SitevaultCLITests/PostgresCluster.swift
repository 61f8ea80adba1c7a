import Foundation
import SiteSystem
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// The real PostgreSQL server the tests use: the one `scripts/test.sh` started
/// ($SITEVAULT_TEST_PG_DIR), or one started here with scripts/pg-cluster.sh and stopped at exit.
final class PostgresCluster {
    let dir: String
    let port: Int
    let socket: String
    let passwordFile: String
    let bin: String

    static let scripts = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("scripts").path

    nonisolated(unsafe) static var startedHere: String?
    nonisolated(unsafe) static var cached: PostgresCluster?

    static func shared() throws -> PostgresCluster {
        if let c = cached { return c }
        var dir = ProcessInfo.processInfo.environment["SITEVAULT_TEST_PG_DIR"] ?? ""
        if dir.isEmpty || !FileManager.default.fileExists(atPath: dir + "/port") {
            dir = "/tmp/sitevault-test-pg-\(getpid())"
            let r = sh("'\(scripts)/pg-cluster.sh' start '\(dir)'")
            guard r.status == 0 else { throw XCTSkip("no PostgreSQL server could be started: \(r.output)") }
            startedHere = dir
            atexit { if let d = PostgresCluster.startedHere { _ = PostgresCluster.sh("'\(PostgresCluster.scripts)/pg-cluster.sh' stop '\(d)'; rm -rf '\(d)'") } }
        }
        let port = Int((try String(contentsOfFile: dir + "/port", encoding: .utf8)).trimmingCharacters(in: .whitespacesAndNewlines))!
        let bin = try FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql").sorted().last.map { "/usr/lib/postgresql/\($0)/bin" } ?? "/usr/bin"
        let c = PostgresCluster(dir: dir, port: port, socket: dir + "/socket", passwordFile: dir + "/password", bin: bin)
        cached = c
        return c
    }

    init(dir: String, port: Int, socket: String, passwordFile: String, bin: String) {
        self.dir = dir; self.port = port; self.socket = socket; self.passwordFile = passwordFile; self.bin = bin
    }

    /// Runs a bash command to the end. Through SiteSystem's runner, not Foundation's Process: a
    /// daemon started by the command (the postmaster) would keep Foundation waiting for ever.
    @discardableResult
    static func sh(_ command: String, timeout: Double = 600) -> (status: Int32, output: String) {
        do {
            let r = try ProcessRunner().run(Command(["/bin/bash", "-c", command + " 2>&1"], timeout: timeout))
            return (r.exitCode ?? 128 + (r.signal ?? 0), r.stdoutText)
        } catch { return (127, "\(error)") }
    }

    /// psql as the superuser over the trusted local socket; returns the trimmed output.
    @discardableResult
    func psql(_ sql: String, db: String = "postgres", file: StaticString = #filePath, line: UInt = #line) -> String {
        let r = PostgresCluster.sh("'\(bin)/psql' -X -A -t -q -v ON_ERROR_STOP=1 -h '\(socket)' -p \(port) -U postgres -d '\(db)' -c \"\(sql.replacingOccurrences(of: "\"", with: "\\\""))\"")
        XCTAssertEqual(r.status, 0, "psql \(sql): \(r.output)", file: file, line: line)
        return r.output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The control-file text of a `postgresql` database component that connects to this server over
    /// TCP with its password file; `body` holds the component's own keys (databases, method, verify, …).
    func component(name: String, _ body: String) -> String {
        """
        [[component]]
        name = "\(name)"
        kind = "database"
        engine = "postgresql"
        host = "127.0.0.1"
        port = \(port)
        password_file = "\(passwordFile)"
        \(body)
        """
    }

    /// A client program (pgbench, pg_restore, …) with the socket connection options.
    func tool(_ name: String, _ args: String) -> String {
        "'\(bin)/\(name)' -h '\(socket)' -p \(port) -U postgres \(args)"
    }

    /// The pgbench invariant: balances of accounts, tellers and branches all equal the sum of history deltas.
    func invariant(_ db: String, file: StaticString = #filePath, line: UInt = #line) -> (holds: Bool, detail: String) {
        let v = psql("SELECT (SELECT coalesce(sum(abalance),0) FROM pgbench_accounts) || ',' || (SELECT coalesce(sum(bbalance),0) FROM pgbench_branches) || ',' || (SELECT coalesce(sum(tbalance),0) FROM pgbench_tellers) || ',' || (SELECT coalesce(sum(delta),0) FROM pgbench_history) || ',' || (SELECT count(*) FROM pgbench_history)", db: db, file: file, line: line)
        let parts = v.split(separator: ",").map(String.init)
        return (parts.count == 5 && Set(parts[0..<4]).count == 1, v)
    }
}
