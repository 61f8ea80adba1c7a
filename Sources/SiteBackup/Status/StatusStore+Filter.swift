import Foundation
import VaultCore

/// Which status messages to read (the console's filters); nil fields match everything.
public struct MessageFilter: Sendable {
    public var severities: [Severity]?
    public var component: String?
    public var ids: [Int]?
    public var runID: String?
    public var limit = 200
    public init(severities: [Severity]? = nil, component: String? = nil, ids: [Int]? = nil, runID: String? = nil, limit: Int = 200) {
        self.severities = severities; self.component = component; self.ids = ids; self.runID = runID; self.limit = limit
    }
}

extension StatusStore {
    /// The newest messages matching `filter`, newest first.
    public func messages(matching filter: MessageFilter) throws -> [StatusMessage] {
        var sql = "SELECT run_id, time, id, severity, site, component, text FROM messages WHERE 1=1"
        var params: [SQLiteValue] = []
        if let sev = filter.severities {
            sql += " AND severity IN (" + sev.map { _ in "?" }.joined(separator: ",") + ")"
            params += sev.map { .text($0.rawValue) }
        }
        if let c = filter.component { sql += " AND component = ?"; params.append(.text(c)) }
        if let ids = filter.ids {
            sql += " AND id IN (" + ids.map { _ in "?" }.joined(separator: ",") + ")"
            params += ids.map { .integer(Int64($0)) }
        }
        if let r = filter.runID { sql += " AND run_id = ?"; params.append(.text(r)) }
        sql += " ORDER BY seq DESC LIMIT ?"
        params.append(.integer(Int64(filter.limit)))
        let rows = try mutex.withLock { try db.query(sql, params) }
        return rows.map { r in
            StatusMessage(time: Timestamp(nanoseconds: r[1].integer ?? 0), id: Int(r[2].integer ?? 0),
                          severity: Severity(rawValue: r[3].text ?? "") ?? .info, site: r[4].text ?? "", runID: r[0].text ?? "",
                          component: r[5].text, text: r[6].text ?? "")
        }
    }

    /// The components named in the messages (for the console's filter list).
    public func messageComponents() throws -> [String] {
        try mutex.withLock { try db.query("SELECT DISTINCT component FROM messages WHERE component IS NOT NULL ORDER BY component") }
            .compactMap { $0.first?.text }
    }

    /// One run's report by its id.
    public func run(id: String) throws -> RunReport? {
        let rows = try mutex.withLock { try db.query("SELECT report FROM runs WHERE run_id = ?", [.text(id)]) }
        return rows.first?.first?.text.flatMap { try? JSONDecoder().decode(RunReport.self, from: Data($0.utf8)) }
    }
}

extension StatusStore {
    /// Snapshots of the site as the status store knows them: the count kept by the last retention
    /// run (message 1800, "N kept"), plus the snapshots committed by runs started after it; without
    /// a retention run, every run that committed one.
    public func snapshotCount() throws -> Int {
        let last = try messages(matching: MessageFilter(ids: [MessageID.retentionApplied.rawValue], limit: 1)).first
        var kept = 0
        var since: Int64 = 0
        if let last, let r = last.text.range(of: " kept") {
            let digits = last.text[..<r.lowerBound].reversed().prefix { $0.isNumber }
            kept = Int(String(digits.reversed())) ?? 0
            since = last.time.nanoseconds
        }
        let rows = try mutex.withLock {
            try db.query("SELECT count(*) FROM runs WHERE snapshot IS NOT NULL AND started > ?", [.integer(since)])
        }
        return kept + Int(rows.first?.first?.integer ?? 0)
    }
}
