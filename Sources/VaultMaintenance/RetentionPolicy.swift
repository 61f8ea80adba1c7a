import VaultCore
import VaultRepository

/// Which snapshots to keep: the newest N, the newest of each of the last N hours/days/weeks/
/// months/years, and everything within a duration of the newest. Applied per group of
/// snapshots with the same host and paths. The newest snapshot of a group is always kept.
public struct RetentionPolicy: Codable, Sendable, Equatable {
    public var keepLast = 0, keepHourly = 0, keepDaily = 0, keepWeekly = 0, keepMonthly = 0, keepYearly = 0
    public var keepWithinSeconds: Double = 0
    /// Calendar buckets in UTC instead of local time.
    public var utc = false
    public init() {}

    public var isEmpty: Bool {
        keepLast == 0 && keepHourly == 0 && keepDaily == 0 && keepWeekly == 0 && keepMonthly == 0 && keepYearly == 0 && keepWithinSeconds == 0
    }

    public struct Decision: Sendable {
        public var id: ID
        public var snapshot: Snapshot
        public var keep: Bool
        public var reasons: [String]
    }

    /// Decides for every snapshot; input order does not matter.
    public func apply(_ snapshots: [(id: ID, snapshot: Snapshot)]) -> [Decision] {
        var groups: [String: [(id: ID, snapshot: Snapshot)]] = [:]
        for s in snapshots { groups[s.snapshot.hostname + "\u{0}" + s.snapshot.paths.joined(separator: "\u{0}"), default: []].append(s) }
        var out: [Decision] = []
        for key in groups.keys.sorted() {
            let list = groups[key]!.sorted { ($0.snapshot.time, $0.id) > ($1.snapshot.time, $1.id) }
            let newest = list.first!.snapshot.time
            let rules: [(String, Int, (Timestamp) -> String)] = [
                ("hourly", keepHourly, { let c = $0.calendar(utc: utc); return "\(c.year)-\(c.month)-\(c.day)-\(c.hour)" }),
                ("daily", keepDaily, { let c = $0.calendar(utc: utc); return "\(c.year)-\(c.month)-\(c.day)" }),
                ("weekly", keepWeekly, { Self.isoWeek($0, utc: utc) }),
                ("monthly", keepMonthly, { let c = $0.calendar(utc: utc); return "\(c.year)-\(c.month)" }),
                ("yearly", keepYearly, { "\($0.calendar(utc: utc).year)" }),
            ]
            var seen = Array(repeating: Set<String>(), count: rules.count)
            for (i, s) in list.enumerated() {
                var reasons: [String] = []
                if i == 0 { reasons.append("newest") }
                if i < keepLast { reasons.append("last") }
                if keepWithinSeconds > 0 && newest.seconds - s.snapshot.time.seconds <= keepWithinSeconds { reasons.append("within") }
                for (r, rule) in rules.enumerated() where rule.1 > 0 {
                    let bucket = rule.2(s.snapshot.time)
                    if !seen[r].contains(bucket) && seen[r].count < rule.1 {
                        seen[r].insert(bucket)
                        reasons.append(rule.0)
                    }
                }
                out.append(Decision(id: s.id, snapshot: s.snapshot, keep: !reasons.isEmpty, reasons: reasons))
            }
        }
        return out
    }

    /// ISO-8601 week ("2026-W48").
    static func isoWeek(_ t: Timestamp, utc: Bool) -> String {
        let c = t.calendar(utc: utc)
        let wday = (c.weekDay + 6) % 7          // Monday = 0
        let thursdayYDay = c.yearDay - wday + 3  // the Thursday of this week decides the year
        var year = c.year
        var yday = thursdayYDay
        func days(_ y: Int) -> Int { (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 ? 366 : 365 }
        if yday < 0 { year -= 1; yday += days(year) } else if yday >= days(year) { yday -= days(year); year += 1 }
        return "\(year)-W\(yday / 7 + 1)"
    }
}
