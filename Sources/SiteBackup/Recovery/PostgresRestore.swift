import Foundation
import SiteSystem
import VaultCore
import VaultRepository

/// Puts a PostgreSQL component's logical dumps back into a server (recovery), or into scratch
/// databases (drill). Every dump is streamed from the repository into pg_restore.
struct PostgresRestore {
    let client: PostgresClient
    let repo: Repository
    let component: String
    let timeout: Double

    struct Dump { var database: String; var node: Node }

    /// What a PostgreSQL component's folder holds: dumps per database, globals, or a base backup.
    struct Contents {
        var dumps: [Dump] = []
        var globals: Node?
        var baseBackup: Node?
    }

    static func contents(_ nodes: [Node]) -> Contents {
        var c = Contents()
        for n in nodes where n.type == .file {
            let name = String(decoding: n.name, as: UTF8.self)
            if name == "globals.sql" { c.globals = n } else if name == "base.tar" { c.baseBackup = n } else if name.hasSuffix(".dump") {
                c.dumps.append(Dump(database: databaseName(String(name.dropLast(5))), node: n))
            }
        }
        return c
    }

    /// The inverse of PostgresBackup.fileName.
    static func databaseName(_ file: String) -> String {
        var s = file
        if s.hasPrefix("%2E") { s = "." + s.dropFirst(3) }
        return s.replacingOccurrences(of: "%2F", with: "/").replacingOccurrences(of: "%25", with: "%")
    }

    static func quoteIdent(_ s: String) -> String { "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }
    static func quoteLiteral(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "''") + "'" }

    func exists(_ db: String) throws -> Bool {
        try !client.query("SELECT 1 FROM pg_database WHERE datname = \(Self.quoteLiteral(db))").isEmpty
    }

    /// Sessions connected to `db` other than ours.
    func sessions(_ db: String) throws -> Int {
        // Client connections only: autovacuum and other background workers come and go by themselves.
        Int(try client.query("SELECT count(*) FROM pg_stat_activity WHERE datname = \(Self.quoteLiteral(db)) AND pid <> pg_backend_pid() AND backend_type = 'client backend'").first?.first ?? "0") ?? 0
    }

    func isSuperuser() -> Bool {
        (try? client.query("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").first?.first) == "t"
    }

    func create(_ db: String) throws {
        _ = try client.query("CREATE DATABASE \(Self.quoteIdent(db)) TEMPLATE template0")
    }

    func drop(_ db: String) throws {
        _ = try client.query("DROP DATABASE IF EXISTS \(Self.quoteIdent(db)) WITH (FORCE)")
    }

    /// Renames a database (its sessions are ended first).
    func rename(_ db: String, to new: String) throws {
        _ = try client.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = \(Self.quoteLiteral(db)) AND pid <> pg_backend_pid()")
        _ = try client.query("ALTER DATABASE \(Self.quoteIdent(db)) RENAME TO \(Self.quoteIdent(new))")
    }

    /// pg_restore of a dump into an existing database; `schemaOnly` for `--database new`.
    func restore(_ dump: Node, into db: String, schemaOnly: Bool = false, keepOwners: Bool) throws {
        var args = ["--exit-on-error", "-d", PostgresClient.conninfo(database: db)]
        if schemaOnly { args.append("--schema-only") }
        if !keepOwners { args += ["--no-owner", "--no-privileges"] }
        let (r, _) = try SnapshotFeed.run(client.command("pg_restore", args, timeout: timeout), repo: repo, node: dump,
                                          label: "pg_restore \(db)")
        guard r.succeeded else { throw VaultError(.io, "pg_restore into \(db): \(client.explain(r))") }
    }

    /// Replays globals.sql (roles, tablespaces). Roles that exist already are reported, not fatal.
    func applyGlobals(_ node: Node) throws -> String {
        let psql = client.command("psql", ["-X", "-q", "-d", PostgresClient.conninfo(database: "postgres")], timeout: timeout)
        let (r, _) = try SnapshotFeed.run(psql, repo: repo, node: node, label: "psql globals")
        let errors = r.stderrText.split(separator: "\n").filter { $0.contains("ERROR:") }
        guard r.succeeded else { throw VaultError(.io, "replaying globals.sql: \(client.explain(r))") }
        let existing = errors.filter { $0.contains("already exists") }.count
        let other = errors.count - existing
        return "roles and tablespaces replayed (\(existing) already existed\(other > 0 ? ", \(other) other errors: \(errors.first { !$0.contains("already exists") } ?? "")" : ""))"
    }

    /// Tables in a database, as a quick proof it holds something.
    func tableCount(_ db: String) throws -> Int {
        Int(try client.query("SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')", database: db).first?.first ?? "0") ?? 0
    }
}

