/// How a PostgreSQL database component connects and what it takes (docs/control-file.md).
public struct PostgresSettings: Sendable, Codable, Equatable {
    public enum Method: String, Sendable, Codable { case logical, physical }
    public enum Verify: String, Sendable, Codable { case none, list, restore }

    /// A host name, an address, or a socket folder (starts with "/").
    public var host = "/var/run/postgresql"
    public var port = 5432
    public var user = "postgres"
    /// A file holding the password (mode 0600); without it libpq's own ~/.pgpass or trust applies.
    public var passwordFile: String?
    /// nil: every database that accepts connections (not templates).
    public var databases: [String]?
    public var sslmode: String?
    public var method: Method = .logical
    /// Logical dumps run at once (several databases).
    public var jobs = 2
    public var verify: Verify = .list
    /// With verify = "restore": a query run in the scratch copy, returning true when it is good.
    public var verifySQL: String?
    /// Where verify_sql runs in a drill's temporary cluster (physical method).
    public var verifyDatabase = "postgres"
    /// Folder of pg_dump, pg_basebackup, … (default: the newest /usr/lib/postgresql/*/bin, then PATH).
    public var binDir: String?
}
