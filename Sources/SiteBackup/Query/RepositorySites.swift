import Foundation
import VaultCore
import VaultRepository

/// One site found in a repository (`sitevault sites`).
public struct RepositorySite: Sendable, Codable {
    public var site: String
    public var snapshots: Int
    /// Snapshots of the site that were copied here from another repository.
    public var copied: Int
    public var newest: String
    public var newestTime: Timestamp
    public var hostname: String
    /// What a restore of the newest snapshot writes (its files' sizes).
    public var size: UInt64?
    public var partial: Bool
    /// The newest drill whose log is in the repository's `logs/`, if any.
    public var lastDrill: DrillLogEntry?
}

/// A drill run log found in a repository's `logs/`.
public struct DrillLogEntry: Sendable, Codable {
    /// The log's UTC start stamp (`20261201T020000Z`).
    public var started: String
    public var runID: String
    /// The `result:` line of the log ("passed", "failed (…)"), when it can be read.
    public var result: String?
}

/// Lists the sites whose snapshots (tag `site=NAME`) a repository holds.
public enum RepositorySites {
    public static func list(_ repository: Repository) throws -> [RepositorySite] {
        var bySite: [String: [(id: ID, snapshot: Snapshot)]] = [:]
        for s in try repository.snapshots() {
            for tag in s.snapshot.tags where tag.hasPrefix("site=") { bySite[String(tag.dropFirst(5)), default: []].append(s) }
        }
        let drills = latestDrills(repository)
        return bySite.keys.sorted().map { name in
            let list = bySite[name]!
            let newest = list.last!
            return RepositorySite(site: name, snapshots: list.count, copied: list.filter { $0.snapshot.copiedFrom != nil }.count,
                                  newest: newest.id.hex, newestTime: newest.snapshot.time, hostname: newest.snapshot.hostname,
                                  size: newest.snapshot.summary?.bytesProcessed, partial: newest.snapshot.partial, lastDrill: drills[name])
        }
    }

    /// The newest `SITE-drill-STAMP-RUN.log` per site, with its result line.
    static func latestDrills(_ repository: Repository) -> [String: DrillLogEntry] {
        var out: [String: DrillLogEntry] = [:]
        let names = ((try? repository.store.list(.logs)) ?? []).map(\.name)
        for name in names where name.hasSuffix(".log") {
            let parts = name.dropLast(4).components(separatedBy: "-")
            guard parts.count >= 4, parts[parts.count - 3] == "drill" else { continue }
            let site = parts[0..<(parts.count - 3)].joined(separator: "-")
            let entry = DrillLogEntry(started: parts[parts.count - 2], runID: parts[parts.count - 1])
            if let have = out[site], have.started >= entry.started { continue }
            out[site] = entry
        }
        for (site, var e) in out {
            if let bytes = try? repository.store.load(.init(.logs, "\(site)-drill-\(e.started)-\(e.runID).log")) {
                let line = String(decoding: bytes, as: UTF8.self).split(separator: "\n").first { $0.hasPrefix("result:") }
                e.result = line.map { $0.dropFirst(7).trimmingCharacters(in: .whitespaces) }
                out[site] = e
            }
        }
        return out
    }
}
