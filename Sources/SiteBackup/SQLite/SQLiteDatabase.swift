#if canImport(Glibc)
import Glibc
#endif
import CSQLite
import VaultCore

/// A value bound to or read from an SQLite statement.
public enum SQLiteValue: Sendable, Equatable {
    case null, integer(Int64), real(Double), text(String)
    public var text: String? { if case .text(let s) = self { return s }; return nil }
    public var integer: Int64? { if case .integer(let i) = self { return i }; return nil }
    public var real: Double? {
        switch self { case .real(let d): return d; case .integer(let i): return Double(i); default: return nil }
    }
}

private let SQLITE_TRANSIENT_PTR = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

/// A small wrapper over the SQLite C library: enough for the status store and for online copies of
/// an application's database. One connection, used from one thread at a time.
public final class SQLiteDatabase {
    let handle: OpaquePointer
    public let path: String

    /// Opens (and with `create`, creates) a database. `readOnly` never writes to the file.
    public init(path: String, readOnly: Bool = false, create: Bool = false, busyTimeoutMs: Int32 = 5000) throws {
        var db: OpaquePointer?
        var flags = readOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE
        if create && !readOnly { flags |= SQLITE_OPEN_CREATE }
        flags |= SQLITE_OPEN_NOMUTEX
        let rc = sqlite3_open_v2(path, &db, flags, nil)
        guard rc == SQLITE_OK, let db else {
            let msg = db.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            if let db { sqlite3_close_v2(db) }
            throw VaultError(.invalidArgument, "cannot open SQLite database \(path): \(msg)")
        }
        handle = db
        self.path = path
        sqlite3_busy_timeout(db, busyTimeoutMs)
    }

    deinit { sqlite3_close_v2(handle) }

    func error(_ what: String) -> VaultError {
        VaultError(.io, "\(what) (\(path)): \(String(cString: sqlite3_errmsg(handle)))")
    }

    /// Runs one or more statements without results.
    public func execute(_ sql: String) throws {
        var err: UnsafeMutablePointer<CChar>?
        if sqlite3_exec(handle, sql, nil, nil, &err) != SQLITE_OK {
            let msg = err.map { String(cString: $0) } ?? "unknown error"
            sqlite3_free(err)
            throw VaultError(.io, "SQLite error in \(path): \(msg)")
        }
    }

    /// Runs one statement with bound parameters and returns all rows.
    @discardableResult
    public func query(_ sql: String, _ params: [SQLiteValue] = []) throws -> [[SQLiteValue]] {
        var stmt: OpaquePointer?
        guard sqlite3_prepare_v2(handle, sql, -1, &stmt, nil) == SQLITE_OK, let stmt else { throw error("cannot prepare statement") }
        defer { sqlite3_finalize(stmt) }
        for (i, p) in params.enumerated() {
            let idx = Int32(i + 1)
            switch p {
            case .null: sqlite3_bind_null(stmt, idx)
            case .integer(let v): sqlite3_bind_int64(stmt, idx, v)
            case .real(let v): sqlite3_bind_double(stmt, idx, v)
            case .text(let v): sqlite3_bind_text(stmt, idx, v, -1, SQLITE_TRANSIENT_PTR)
            }
        }
        var rows: [[SQLiteValue]] = []
        while true {
            let rc = sqlite3_step(stmt)
            if rc == SQLITE_DONE { break }
            guard rc == SQLITE_ROW else { throw error("statement failed") }
            var row: [SQLiteValue] = []
            for c in 0..<sqlite3_column_count(stmt) {
                switch sqlite3_column_type(stmt, c) {
                case SQLITE_INTEGER: row.append(.integer(sqlite3_column_int64(stmt, c)))
                case SQLITE_FLOAT: row.append(.real(sqlite3_column_double(stmt, c)))
                case SQLITE_NULL: row.append(.null)
                default: row.append(.text(sqlite3_column_text(stmt, c).map { String(cString: $0) } ?? ""))
                }
            }
            rows.append(row)
        }
        return rows
    }

    /// Copies the whole database into `destination` with the online backup API in a single step,
    /// so a busy writer cannot restart the copy (page-by-page copies never finish under load) and
    /// is blocked only while the pages are read. Returns the number of pages copied. Throws
    /// `SQLiteBusy` when another process kept the database locked for `maxWait` seconds (an
    /// application stopped by a writer in the middle of a write transaction never lets go).
    public func backup(to destination: String, maxWait: Double = 120) throws -> Int {
        let dst = try SQLiteDatabase(path: destination, create: true)
        guard let b = sqlite3_backup_init(dst.handle, "main", handle, "main") else { throw dst.error("cannot start online backup") }
        var rc: Int32
        let deadline = monotonicSeconds() + maxWait
        repeat {
            rc = sqlite3_backup_step(b, -1)
            if rc == SQLITE_BUSY || rc == SQLITE_LOCKED {
                if monotonicSeconds() > deadline { sqlite3_backup_finish(b); throw SQLiteBusy(path: path, seconds: maxWait) }
                usleep(20_000)
            }
        } while rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED
        let pages = Int(sqlite3_backup_pagecount(b))
        sqlite3_backup_finish(b)
        guard rc == SQLITE_DONE else { throw dst.error("online backup of \(path) failed (code \(rc))") }
        // The copy is one self-contained file: no -wal to carry along.
        try dst.execute("PRAGMA journal_mode=DELETE")
        return pages
    }

    /// Opens a read transaction and takes its shared lock now (waiting, up to the busy timeout, for
    /// a writer that is committing). While it is held, no other process can hold the exclusive
    /// lock: an application frozen afterwards cannot keep the database locked, and a backup from
    /// this connection copies the state of this moment.
    public func pinRead() throws {
        try execute("BEGIN")
        _ = try query("SELECT count(*) FROM sqlite_master")
    }

    /// Ends the read transaction of `pinRead`.
    public func unpin() { try? execute("COMMIT") }

    /// `PRAGMA integrity_check` (or `quick_check`): "ok", or the first problems found.
    public func integrityCheck(quick: Bool = false) throws -> String {
        let rows = try query(quick ? "PRAGMA quick_check(20)" : "PRAGMA integrity_check(20)")
        return rows.compactMap { $0.first?.text }.joined(separator: "; ")
    }

    /// The number of tables (a quick proof a restored copy holds the schema).
    public func tableCount() throws -> Int64 {
        try query("SELECT count(*) FROM sqlite_master WHERE type = 'table'").first?.first?.integer ?? 0
    }

    public static var libraryVersion: String { String(cString: sqlite3_libversion()) }
}

/// Another process held the database locked for longer than the copy may wait.
struct SQLiteBusy: Error, CustomStringConvertible {
    let path: String
    let seconds: Double
    var description: String {
        "\(path) stayed locked by another process for \(Int(seconds)) s (an application stopped inside a write transaction holds its lock until it runs again)"
    }
}
