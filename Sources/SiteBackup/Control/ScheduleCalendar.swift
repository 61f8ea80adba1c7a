import VaultCore

/// When a `Schedule` runs: the next and previous scheduled instants in a zone, whether a run is due
/// at start-up, and how to show an instant in `site status`. Pure functions of their arguments (and of
/// the zone database): no clock is read, so tests pass any `Timestamp`.
///
/// Semantics per kind:
/// - `.interval(seconds)`: elapsed time, not anchored to any clock: the next run is `t + seconds`.
///   There is no grid of instants, so `previousRun` is nil for it.
/// - `.weekly(days, times)` ("daily 02:00", "Mon,Thu 02:00"): wall-clock times in the zone, and each
///   listed (day, time) runs exactly once per local calendar day:
///   - a time the clock skips (02:30 when 02:00 jumps to 03:00) runs once, at the first instant after
///     the jump (03:00 local); several skipped times collapse into that one run;
///   - a time the clock shows twice (01:30 when 02:00 goes back to 01:00) runs once, at its first occurrence.
/// - `.hourly(minute)`: every instant the wall clock shows HH:minute:00. In an hour the clock repeats it
///   runs in both occurrences and in a skipped hour it does not run, so with whole-hour shifts it keeps
///   running every 60 minutes of elapsed time (no double run 15 minutes apart, no two-hour hole).
///
/// Out-of-range values in a hand-built `Kind` (day 0, minute 60, a non-positive interval) are ignored;
/// a schedule left with nothing to run returns `Schedule.never` / nil / false rather than trapping.
extension Schedule {
    /// The far future (Int64.max nanoseconds): what `nextRun` returns for a schedule that never runs.
    public static let never = Timestamp(nanoseconds: Int64.max)

    /// The first scheduled instant strictly after `t`.
    public func nextRun(after t: Timestamp, zone: ScheduleZone) -> Timestamp {
        if case .interval(let s) = kind {
            guard s.isFinite, s > 0, s * 1e9 < 9e18 else { return Self.never }
            let (v, o) = t.nanoseconds.addingReportingOverflow(max(1, Int64((s * 1e9).rounded())))
            return o ? Self.never : Timestamp(nanoseconds: v)
        }
        guard let u = search(from: ScheduleMath.floorSeconds(t), forward: true, rules: ZoneRules(zone)) else { return Self.never }
        return Timestamp(nanoseconds: ScheduleMath.nanoseconds(u))
    }

    /// The last scheduled instant at or before `t`; nil for `.interval` (no fixed grid) or a schedule that never runs.
    public func previousRun(atOrBefore t: Timestamp, zone: ScheduleZone) -> Timestamp? {
        if case .interval = kind { return nil }
        return search(from: ScheduleMath.floorSeconds(t), forward: false, rules: ZoneRules(zone))
            .map { Timestamp(nanoseconds: ScheduleMath.nanoseconds($0)) }
    }

    /// Catch-up at start-up: true when at least one scheduled instant lies in (lastRun, now], i.e. a run
    /// was missed (or is due right now). The caller then runs ONCE, however many slots were missed, and
    /// records that start as the new `lastRun`, which makes this false until the next slot.
    /// `lastRun == nil` (never ran) is due for any schedule that runs at all. A `lastRun` after `now`
    /// (the clock was set back) is not due until a slot after `lastRun` is reached.
    public func isDue(lastRun: Timestamp?, now: Timestamp, zone: ScheduleZone) -> Bool {
        guard let last = lastRun else {
            if case .interval = kind { return nextRun(after: now, zone: zone) != Self.never }
            return previousRun(atOrBefore: now, zone: zone) != nil
        }
        let next = nextRun(after: last, zone: zone)
        return next != Self.never && next <= now
    }

    /// How many scheduled instants lie in (lastRun, now], counting at most `limit`: for a log line such as
    /// "3 scheduled runs were missed; running once now". Catch-up runs once whatever this says.
    public func missedRuns(lastRun: Timestamp, now: Timestamp, zone: ScheduleZone, limit: Int = 1000) -> Int {
        var count = 0, t = lastRun
        while count < limit {
            let next = nextRun(after: t, zone: zone)
            guard next != Self.never, next <= now else { break }
            count += 1
            t = next
        }
        return count
    }

    /// `next` for `site status`: local time with its offset ("2026-11-26T02:00:00+01:00") and UTC ("2026-11-26T01:00:00Z").
    public func describe(next: Timestamp, zone: ScheduleZone) -> (local: String, utc: String) {
        (zone.rfc3339(next), next.iso8601)
    }

    // MARK: - Calendar search

    /// The nearest calendar run strictly after `s` (forward) or at or before `s` (backward), in whole seconds.
    /// Scans local days (weekly) or hours (hourly) around `s`; the window covers the longest possible gap
    /// (a week, or a 24-hour zone jump for hourly) and the scan stops a safe margin after the first hit.
    private func search(from s: Int64, forward: Bool, rules: ZoneRules) -> Int64? {
        let slotLength: Int64, window: Int64, margin: Int64
        let runs: (Int64) -> [Int64]
        switch kind {
        case .interval:
            return nil
        case .hourly(let minute):
            guard (0..<60).contains(minute) else { return nil }
            slotLength = 3600; window = 30; margin = 4
            runs = { hour in rules.resolve(wall: hour * 3600 + Int64(minute) * 60).occurrences }
        case .weekly(let days, let times):
            let daySet = Set(days.filter { (1...7).contains($0) })
            let minutes = Set(times.filter { (0..<1440).contains($0) }).sorted()
            guard !daySet.isEmpty, !minutes.isEmpty else { return nil }
            slotLength = 86400; window = 9; margin = 3
            runs = { day in
                guard daySet.contains(ScheduleMath.weekday(day: day)) else { return [] }
                return minutes.map { rules.resolve(wall: day * 86400 + Int64($0) * 60).runInstant }
            }
        }
        let here = ScheduleMath.floorDiv(s + rules.offset(s), slotLength)
        var best: Int64?, bestSlot: Int64 = 0
        let slots = forward ? Array(here - 3 ... here + window) : Array((here - window ... here + 3).reversed())
        for slot in slots {
            if best != nil && abs(slot - bestSlot) >= margin { break }
            for u in runs(slot) {
                let better: Bool
                if forward { better = u > s && (best.map { u < $0 } ?? true) } else { better = u <= s && (best.map { u > $0 } ?? true) }
                if better {
                    if best == nil { bestSlot = slot }
                    best = u
                }
            }
        }
        return best
    }
}
