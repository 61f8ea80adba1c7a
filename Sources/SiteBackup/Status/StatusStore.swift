#if canImport(Glibc)
import Glibc
#endif
import Foundation
import VaultCore

/// The durable record of runs and status messages, a small SQLite database in the site's state
/// folder (`status.db`). Every message is committed as it is emitted, so a crash keeps what
/// happened up to that moment.
public final class StatusStore: @unchecked Sendable {
    // @unchecked: the connection is used under `mutex` only.
    let db: SQLiteDatabase
    let mutex = Mutex()
    public let path: String

    public init(stateDir: String) throws {
        try makeFolder(stateDir)
        path = stateDir + "/status.db"
        db = try SQLiteDatabase(path: path, create: true)
        chmod(path, 0o600)
        let setup = """
            PRAGMA journal_mode=WAL;
            PRAGMA synchronous=FULL;
            CREATE TABLE IF NOT EXISTS runs(run_id TEXT PRIMARY KEY, site TEXT NOT NULL, started INTEGER NOT NULL,
                finished INTEGER, result TEXT NOT NULL, snapshot TEXT, report TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS messages(seq INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL,
                time INTEGER NOT NULL, id INTEGER NOT NULL, severity TEXT NOT NULL, site TEXT NOT NULL,
                component TEXT, text TEXT NOT NULL);
            CREATE INDEX IF NOT EXISTS messages_time ON messages(time);
            CREATE INDEX IF NOT EXISTS runs_started ON runs(started, snapshot);
            CREATE INDEX IF NOT EXISTS runs_result ON runs(result, started);
            CREATE INDEX IF NOT EXISTS messages_id ON messages(id, seq);
            CREATE TABLE IF NOT EXISTS drills(run_id TEXT PRIMARY KEY, time INTEGER NOT NULL, result TEXT NOT NULL, report TEXT NOT NULL);
            """
        // Two processes opening a new store at once (the service and `site messages`) race for the
        // switch to WAL, which SQLite answers with "locked" without waiting: try again briefly.
        var attempt = 0
        while true {
            do { try db.execute(setup); break } catch let e as VaultError where attempt < 50 && (e.message.contains("locked") || e.message.contains("busy")) {
                attempt += 1
                usleep(100_000)
            }
        }
    }

    public func add(_ m: StatusMessage) throws {
        _ = try mutex.withLock {
            try db.query("INSERT INTO messages(run_id, time, id, severity, site, component, text) VALUES(?,?,?,?,?,?,?)",
                         [.text(m.runID), .integer(m.time.nanoseconds), .integer(Int64(m.id)), .text(m.severity.rawValue),
                          .text(m.site), m.component.map { .text($0) } ?? .null, .text(m.text)])
        }
    }

    public func save(_ r: RunReport) throws {
        let json = String(decoding: try JSONEncoder.sorted.encode(r), as: UTF8.self)
        _ = try mutex.withLock {
            try db.query("""
                INSERT INTO runs(run_id, site, started, finished, result, snapshot, report) VALUES(?,?,?,?,?,?,?)
                ON CONFLICT(run_id) DO UPDATE SET finished=excluded.finished, result=excluded.result,
                snapshot=excluded.snapshot, report=excluded.report
                """, [.text(r.runID), .text(r.site), .integer(r.started.nanoseconds), r.finished.map { .integer($0.nanoseconds) } ?? .null,
                      .text(r.result), r.snapshot.map { .text($0) } ?? .null, .text(json)])
        }
    }

    /// Messages at or after `since`, oldest first (at most `limit`, the newest ones).
    public func messages(since: Timestamp? = nil, runID: String? = nil, limit: Int = 1000) throws -> [StatusMessage] {
        var sql = "SELECT run_id, time, id, severity, site, component, text FROM messages WHERE time >= ?"
        var params: [SQLiteValue] = [.integer(since?.nanoseconds ?? 0)]
        if let runID { sql += " AND run_id = ?"; params.append(.text(runID)) }
        sql += " ORDER BY seq DESC LIMIT ?"
        params.append(.integer(Int64(limit)))
        let rows = try mutex.withLock { try db.query(sql, params) }
        return rows.reversed().map { r in
            StatusMessage(time: Timestamp(nanoseconds: r[1].integer ?? 0), id: Int(r[2].integer ?? 0),
                          severity: Severity(rawValue: r[3].text ?? "") ?? .info, site: r[4].text ?? "", runID: r[0].text ?? "",
                          component: r[5].text, text: r[6].text ?? "")
        }
    }

    /// Whether the staleness alarm stands: its last raise (2080) came after its last clear (1600).
    public func staleAlarmRaised() throws -> Bool {
        let rows = try mutex.withLock { try db.query("SELECT id FROM messages WHERE id IN (1600, 2080) ORDER BY seq DESC LIMIT 1") }
        return rows.first?.first?.integer == 2080
    }

    public func saveDrill(_ d: DrillReport) throws {
        let json = String(decoding: try JSONEncoder.sorted.encode(d), as: UTF8.self)
        _ = try mutex.withLock {
            try db.query("INSERT OR REPLACE INTO drills(run_id, time, result, report) VALUES(?,?,?,?)",
                         [.text(d.runID), .integer(d.started.nanoseconds), .text(d.result), .text(json)])
        }
    }

    /// The newest drills first.
    public func drills(limit: Int = 1) throws -> [DrillReport] {
        let rows = try mutex.withLock { try db.query("SELECT report FROM drills ORDER BY time DESC LIMIT \(limit)") }
        return rows.compactMap { r in r.first?.text.flatMap { try? JSONDecoder().decode(DrillReport.self, from: Data($0.utf8)) } }
    }

    /// The newest runs first.
    public func runs(limit: Int = 20, result: [String]? = nil) throws -> [RunReport] {
        var sql = "SELECT report FROM runs"
        if let result { sql += " WHERE result IN (" + result.map { "'\($0)'" }.joined(separator: ",") + ")" }
        sql += " ORDER BY started DESC LIMIT \(limit)"
        let rows = try mutex.withLock { try db.query(sql) }
        return rows.compactMap { r in r.first?.text.flatMap { try? JSONDecoder().decode(RunReport.self, from: Data($0.utf8)) } }
    }
}

extension JSONEncoder {
    static var sorted: JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return e
    }
}

/// Creates a folder (and its parents) with mode 0700 (or `mode`) if it does not exist.
func makeFolder(_ path: String, mode: mode_t = 0o700) throws {
    if mkdir(path, mode) == 0 || errno == EEXIST { return }
    let e = errno
    if e == ENOENT, let slash = path.lastIndex(of: "/"), slash != path.startIndex {
        try makeFolder(String(path[..<slash]), mode: mode)
        if mkdir(path, mode) == 0 || errno == EEXIST { return }
    }
    throw VaultError.posix("cannot create folder", path: path, errno: e)
}
