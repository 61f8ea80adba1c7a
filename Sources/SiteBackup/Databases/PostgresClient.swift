#if canImport(Glibc)
import Glibc
#endif
import SiteSystem
import VaultCore
import VaultFileSystem

/// Talks to a PostgreSQL server through its own client programs (psql, pg_dump, pg_basebackup,
/// pg_restore), with the connection in the environment and the password in a private pgpass file:
/// never in a command line.
final class PostgresClient {
    let settings: PostgresSettings
    let component: String
    let bin: String
    private var passFile: String?
    private(set) var environment: [String: String]

    init(_ s: PostgresSettings, component: String, stateDir: String) throws {
        settings = s
        self.component = component
        bin = try PostgresClient.binaries(s.binDir)
        environment = ["PGHOST": s.host, "PGPORT": "\(s.port)", "PGUSER": s.user, "PGCONNECT_TIMEOUT": "10",
                       "PGAPPNAME": "sitevault", "PGDATABASE": "postgres"]
        if let m = s.sslmode { environment["PGSSLMODE"] = m }
        if let f = s.passwordFile {
            let pw = try readPassword(f)
            // libpq reads the password from a pgpass file of our own (mode 0600), removed after the run.
            // Only for this server and user: a database name read as connection settings cannot send it elsewhere.
            let path = stateDir + "/.pgpass-\(component)-\(getpid())"
            try makeFolder(stateDir)
            let text = PostgresClient.pgpassLines(host: s.host, port: s.port, user: s.user, password: String(decoding: pw, as: UTF8.self))
            try writeFileAtomically(path, Array(text.utf8))
            passFile = path
            environment["PGPASSFILE"] = path
        }
    }

    deinit { if let passFile { unlink(passFile) } }

    /// The pgpass lines offering `password` to this host, port and user only (any database), with
    /// `:` and `\` escaped in every field. A host list ("a,b", libpq's failover) gets a line per host;
    /// a socket folder also gets a `localhost` line: libpq looks connections through the default
    /// socket folder up under that name.
    static func pgpassLines(host: String, port: Int, user: String, password: String) -> String {
        func field(_ s: String) -> String { s.replacingChars(["\\": "\\\\", ":": "\\:"]) }
        var hosts = host.split(separator: ",", omittingEmptySubsequences: true).map(String.init)
        if hosts.isEmpty { hosts = [host] }
        if hosts.contains(where: { $0.hasPrefix("/") }) { hosts.append("localhost") }
        return hosts.map { "\(field($0)):\(port):*:\(field(user)):\(field(password))\n" }.joined()
    }

    /// The `-d` argument of pg_dump, pg_restore and psql for a database: a connection string whose
    /// `dbname` is quoted (`'` and `\` escaped), so no name is ever read as connection settings.
    static func conninfo(database: String) -> String {
        "dbname='" + database.replacingChars(["\\": "\\\\", "'": "\\'"]) + "'"
    }

    /// Why sitevault refuses a database name, or nil: libpq's programs read a `-d NAME` holding `=`
    /// or starting with a URI prefix as connection settings (another host, another user…).
    static func refusal(ofDatabase name: String) -> String? {
        guard name.contains("=") || name.hasPrefix("postgresql://") || name.hasPrefix("postgres://") else { return nil }
        return "database \"\(name)\" has a name PostgreSQL's programs read as connection settings ('=' or a postgresql:// prefix); "
            + "sitevault does not back it up: rename it (ALTER DATABASE … RENAME TO …) or list the databases to back up in databases = [...]"
    }

    /// The folder holding the client programs: `bin_dir`, else the newest /usr/lib/postgresql/*/bin, else PATH.
    static func binaries(_ configured: String?) throws -> String {
        if let configured {
            guard access(configured + "/pg_dump", X_OK) == 0 else { throw VaultError(.notFound, "bin_dir \(configured) has no pg_dump") }
            return configured
        }
        let versions = ((try? FileSystem.list(FilePath("/usr/lib/postgresql"))) ?? []).compactMap { Int(String(decoding: $0, as: UTF8.self)) }.sorted()
        for v in versions.reversed() where access("/usr/lib/postgresql/\(v)/bin/pg_dump", X_OK) == 0 { return "/usr/lib/postgresql/\(v)/bin" }
        if let p = Executable.find("pg_dump") { return String(p.dropLast("/pg_dump".count)) }
        throw VaultError(.notFound, "PostgreSQL client programs not found: install postgresql-client (pg_dump, pg_basebackup, psql) or set bin_dir")
    }

    var target: String { settings.host.hasPrefix("/") ? "socket \(settings.host) port \(settings.port)" : "\(settings.host):\(settings.port)" }

    func command(_ program: String, _ args: [String], database: String? = nil, timeout: Double? = nil) -> Command {
        var env = environment
        if let database { env["PGDATABASE"] = database }
        return Command([bin + "/" + program] + args, extraEnvironment: env, timeout: timeout)
    }

    /// Runs one query with psql and returns its rows (fields split on the unit separator).
    func query(_ sql: String, database: String? = nil, timeout: Double = 60) throws -> [[String]] {
        let r = try ProcessRunner().run(command("psql", ["-X", "-A", "-t", "-q", "-F", "\u{1F}", "-v", "ON_ERROR_STOP=1", "-c", sql],
                                                database: database, timeout: timeout))
        guard r.succeeded else { throw VaultError(.io, explain(r)) }
        guard !r.stdoutTruncated else {
            let limit = ProcessRunner().stdoutLimit >> 20
            throw VaultError(.io, "the answer of PostgreSQL at \(target) to \(sql) is longer than \(limit) MiB; it was not used")
        }
        return r.stdoutText.split(separator: "\n", omittingEmptySubsequences: true).map { $0.split(separator: "\u{1F}", omittingEmptySubsequences: false).map(String.init) }
    }

    /// Runs a check query (verify_sql) in `database`; it must return true ("t", "true", "1" or
    /// "ok"). `place` says where, for the error ("on the restored copy", "in shop").
    func expectTrue(_ sql: String, database: String?, place: String) throws {
        let value = try query(sql, database: database).first?.first ?? ""
        guard ["t", "true", "1", "ok"].contains(value.lowercased()) else {
            throw VaultError(.io, "the check query \(place) returned \"\(value)\", not true: \(sql)")
        }
    }

    /// A server error in words an operator acts on (the server's own message is kept).
    func explain(_ r: ProcessResult) -> String {
        let err = r.stderrText
        let lower = err.lowercased()
        if r.timedOut { return "PostgreSQL at \(target) did not answer in time" }
        if lower.contains("connection refused") || lower.contains("no such file or directory") && lower.contains("socket") || lower.contains("could not connect") || lower.contains("timeout expired") {
            return "cannot reach PostgreSQL at \(target): the server is down or unreachable (\(lastLine(err)))"
        }
        if lower.contains("password authentication failed") || lower.contains("no password supplied") {
            return "PostgreSQL at \(target) refused user \(settings.user): wrong or missing password (\(settings.passwordFile.map { "password_file \($0)" } ?? "no password_file")) (\(lastLine(err)))"
        }
        if lower.contains("does not exist") {
            let line = err.split(separator: "\n").first { $0.contains("ERROR:") || $0.contains("FATAL:") }.map(String.init) ?? lastLine(err)
            return "PostgreSQL at \(target): \(line.trimmingChars(" \t"))"
        }
        // The server's error lines (pg_dump: error: …) say what went wrong; details follow them.
        let errors = err.split(separator: "\n").map(String.init).filter { $0.contains("error:") || $0.contains("ERROR:") }
        if !errors.isEmpty {
            let status = r.exitCode.map { "exited with status \($0)" } ?? r.summary
            return "\(r.command.split(separator: "/").last ?? "") \(status): " + errors.prefix(3).joined(separator: " / ")
        }
        return "\(r.command) \(r.summary)"
    }

    func lastLine(_ s: String) -> String {
        s.split(separator: "\n").map { String($0).trimmingChars(" \t") }.last { !$0.isEmpty } ?? s
    }

    struct ServerInfo { var version: String; var databases: [(name: String, size: UInt64)] }

    /// Connects, reads the server version and the databases to back up with their sizes; a server
    /// that is down, a wrong password or a missing database is an error naming the component.
    func inspect() throws -> ServerInfo {
        let version = try query("SHOW server_version").first?.first ?? "?"
        let rows = try query("SELECT datname, pg_database_size(datname) FROM pg_database WHERE datallowconn AND NOT datistemplate ORDER BY datname")
        let all = rows.map { (name: $0[0], size: UInt64($0.count > 1 ? $0[1] : "0") ?? 0) }
        var chosen: [(name: String, size: UInt64)] = []
        if let wanted = settings.databases {
            for w in wanted {
                guard let hit = all.first(where: { $0.name == w }) else {
                    throw VaultError(.notFound, "PostgreSQL at \(target) has no database \"\(w)\" (it has: \(all.map(\.name).joined(separator: ", ")))")
                }
                chosen.append(hit)
            }
        } else { chosen = all }
        return ServerInfo(version: version, databases: chosen)
    }

    /// The databases `inspect` chose, less those whose names are refused (`refusal(ofDatabase:)`),
    /// which are returned with the reason.
    static func split(_ dbs: [String]) -> (usable: [String], refused: [String]) {
        (dbs.filter { refusal(ofDatabase: $0) == nil }, dbs.compactMap { refusal(ofDatabase: $0) })
    }
}

extension String {
    func replacingChars(_ map: [Character: String]) -> String {
        var out = ""
        for c in self { out += map[c] ?? String(c) }
        return out
    }
}
