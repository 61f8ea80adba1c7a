import Foundation
@testable import SiteBackup
import VaultCore
import XCTest

/// A clock the test moves by hand: the schedule calendar is pure, nothing sleeps.
private final class ScheduleTestClock: VaultClock, @unchecked Sendable {
    private let lock = Mutex()
    private var current: Timestamp
    init(_ t: Timestamp) { current = t }
    func now() -> Timestamp { lock.withLock { current } }
    func set(_ t: Timestamp) { lock.withLock { current = t } }
    func advance(seconds: Double) { lock.withLock { current = current.adding(seconds: seconds) } }
}

/// Next/previous runs, daylight-saving days, start-up catch-up and status display of `Schedule`.
final class ScheduleCalendarTests: XCTestCase {
    let paris = ScheduleZone.named("Europe/Paris")
    let newYork = ScheduleZone.named("America/New_York")

    /// "2026-03-29T01:00:00Z" as a Timestamp.
    func at(_ iso: String, file: StaticString = #filePath, line: UInt = #line) -> Timestamp {
        guard let d = ISO8601DateFormatter().date(from: iso) else {
            XCTFail("bad test time \(iso)", file: file, line: line)
            return Timestamp(nanoseconds: 0)
        }
        return Timestamp(nanoseconds: Int64(d.timeIntervalSince1970) * 1_000_000_000)
    }

    func schedule(_ text: String) throws -> Schedule { try Schedule.parse(text).get() }

    /// Every run in [from, to), by iterating nextRun.
    func runs(_ s: Schedule, from: Timestamp, to: Timestamp, zone: ScheduleZone) -> [Timestamp] {
        var out: [Timestamp] = [], t = from.adding(seconds: -0.5)
        while true {
            let n = s.nextRun(after: t, zone: zone)
            guard n < to else { return out }
            out.append(n)
            t = n
        }
    }

    /// The local calendar day (days since 1970-01-01 local) of an instant.
    func localDay(_ t: Timestamp, _ zone: ScheduleZone) -> Int64 {
        ScheduleMath.floorDiv(t.nanoseconds / 1_000_000_000 + Int64(zone.utcOffset(at: t)), 86400)
    }

    // MARK: - UTC basics

    func testDailyInUTC() throws {
        let s = try schedule("daily 02:00")
        XCTAssertEqual(s.nextRun(after: at("2026-11-25T10:00:00Z"), zone: .utc), at("2026-11-26T02:00:00Z"))
        XCTAssertEqual(s.nextRun(after: at("2026-11-26T01:59:59Z"), zone: .utc), at("2026-11-26T02:00:00Z"))
        // Strictly after: a run at exactly t is not "next".
        XCTAssertEqual(s.nextRun(after: at("2026-11-26T02:00:00Z"), zone: .utc), at("2026-11-27T02:00:00Z"))
        XCTAssertEqual(s.nextRun(after: at("2026-11-26T02:00:00Z").adding(seconds: -0.001), zone: .utc), at("2026-11-26T02:00:00Z"))
        // Year end.
        XCTAssertEqual(s.nextRun(after: at("2026-12-31T03:00:00Z"), zone: .utc), at("2027-01-01T02:00:00Z"))
        // Several times a day.
        let twice = try schedule("daily 02:00,14:00")
        XCTAssertEqual(twice.nextRun(after: at("2026-11-26T02:00:00Z"), zone: .utc), at("2026-11-26T14:00:00Z"))
        XCTAssertEqual(twice.nextRun(after: at("2026-11-26T14:00:00Z"), zone: .utc), at("2026-11-27T02:00:00Z"))
    }

    func testWeekdaysAcrossWeekBoundary() throws {
        let s = try schedule("Mon,Thu 02:00")
        // 2026-11-26 is a Thursday.
        XCTAssertEqual(s.nextRun(after: at("2026-11-26T01:00:00Z"), zone: .utc), at("2026-11-26T02:00:00Z"))
        XCTAssertEqual(s.nextRun(after: at("2026-11-26T02:00:00Z"), zone: .utc), at("2026-11-30T02:00:00Z"))
        XCTAssertEqual(s.nextRun(after: at("2026-11-29T23:59:59Z"), zone: .utc), at("2026-11-30T02:00:00Z"))
        XCTAssertEqual(s.nextRun(after: at("2026-11-30T02:00:00Z"), zone: .utc), at("2026-12-03T02:00:00Z"))
        // Every run over a year falls on a Monday or a Thursday, 3 or 4 days apart.
        let all = runs(s, from: at("2026-01-01T00:00:00Z"), to: at("2027-01-01T00:00:00Z"), zone: .utc)
        XCTAssertEqual(all.count, 105, "2026 has 53 Thursdays and 52 Mondays")
        for r in all { XCTAssert([1, 4].contains(ScheduleMath.weekday(day: localDay(r, .utc))), r.iso8601) }
        for (a, b) in zip(all, all.dropFirst()) { XCTAssert([3 * 86400, 4 * 86400].contains(b.seconds - a.seconds)) }
        // A range wrapping over Sunday.
        let weekend = try schedule("Sat..Mon 22:30")
        XCTAssertEqual(weekend.nextRun(after: at("2026-11-26T00:00:00Z"), zone: .utc), at("2026-11-28T22:30:00Z"))
        XCTAssertEqual(weekend.nextRun(after: at("2026-11-30T22:30:00Z"), zone: .utc), at("2026-12-05T22:30:00Z"))
    }

    func testHourly() throws {
        let s = try schedule("hourly :15")
        XCTAssertEqual(s.nextRun(after: at("2026-11-26T10:14:59Z"), zone: .utc), at("2026-11-26T10:15:00Z"))
        XCTAssertEqual(s.nextRun(after: at("2026-11-26T10:15:00Z"), zone: .utc), at("2026-11-26T11:15:00Z"))
        XCTAssertEqual(s.nextRun(after: at("2026-11-26T23:20:00Z"), zone: .utc), at("2026-11-27T00:15:00Z"))
        // In a half-hour zone the minute is local.
        XCTAssertEqual(s.nextRun(after: at("2026-11-26T10:00:00Z"), zone: .named("Asia/Kolkata")), at("2026-11-26T10:45:00Z"))
        // Across both daylight-saving changes, in both zones: every 60 minutes of elapsed time.
        for zone in [paris, newYork] {
            for day in ["2026-03-07T12:00:00Z", "2026-03-28T12:00:00Z", "2026-10-24T12:00:00Z", "2026-10-31T12:00:00Z"] {
                let start = at(day)
                let all = runs(s, from: start, to: start.adding(seconds: 36 * 3600), zone: zone)
                XCTAssertEqual(all.count, 36, "\(zone) \(day)")
                for (a, b) in zip(all, all.dropFirst()) { XCTAssertEqual(b.seconds - a.seconds, 3600, "\(zone) \(a.iso8601)") }
                for r in all { XCTAssertEqual(zone.rfc3339(r).dropFirst(14).prefix(5), "15:00", zone.rfc3339(r)) }
            }
        }
    }

    func testInterval() throws {
        let s = try schedule("every 6h")
        let t = at("2026-11-26T10:07:13Z").adding(seconds: 0.25)
        XCTAssertEqual(s.nextRun(after: t, zone: .utc), t.adding(seconds: 6 * 3600))
        XCTAssertEqual(s.nextRun(after: t, zone: paris), t.adding(seconds: 6 * 3600), "elapsed time, whatever the zone")
        // Across a daylight-saving change it is still 6 hours of elapsed time.
        let dst = at("2026-03-29T00:00:00Z")
        XCTAssertEqual(s.nextRun(after: dst, zone: paris), at("2026-03-29T06:00:00Z"))
        XCTAssertNil(s.previousRun(atOrBefore: t, zone: .utc))
        XCTAssertFalse(s.isDue(lastRun: t, now: t.adding(seconds: 6 * 3600 - 1), zone: .utc))
        XCTAssertTrue(s.isDue(lastRun: t, now: t.adding(seconds: 6 * 3600), zone: .utc))
    }

    // MARK: - Daylight saving

    func testParisSpringForward() throws {
        // 2026-03-29: 02:00 CET jumps to 03:00 CEST at 01:00Z; 02:30 does not exist.
        let s = try schedule("daily 02:30")
        XCTAssertEqual(s.nextRun(after: at("2026-03-27T12:00:00Z"), zone: paris), at("2026-03-28T01:30:00Z"), "02:30 CET")
        XCTAssertEqual(s.nextRun(after: at("2026-03-28T12:00:00Z"), zone: paris), at("2026-03-29T01:00:00Z"), "03:00 CEST, just after the gap")
        XCTAssertEqual(s.nextRun(after: at("2026-03-29T01:00:00Z"), zone: paris), at("2026-03-30T00:30:00Z"), "02:30 CEST")
        let that = runs(s, from: at("2026-03-28T23:00:00Z"), to: at("2026-03-29T22:00:00Z"), zone: paris)  // the local day
        XCTAssertEqual(that, [at("2026-03-29T01:00:00Z")])
        XCTAssertEqual(s.describe(next: at("2026-03-29T01:00:00Z"), zone: paris).local, "2026-03-29T03:00:00+02:00")
        // Two skipped times collapse into one run at 03:00; 03:00 itself is the same instant.
        let several = try schedule("daily 02:00,02:30,03:00")
        let collapsed = runs(several, from: at("2026-03-28T23:00:00Z"), to: at("2026-03-29T22:00:00Z"), zone: paris)
        XCTAssertEqual(collapsed, [at("2026-03-29T01:00:00Z")])
        XCTAssertEqual(s.previousRun(atOrBefore: at("2026-03-29T12:00:00Z"), zone: paris), at("2026-03-29T01:00:00Z"))
    }

    func testParisFallBack() throws {
        // 2026-10-25: 03:00 CEST goes back to 02:00 CET at 01:00Z; 02:30 happens at 00:30Z and 01:30Z.
        let s = try schedule("daily 02:30")
        XCTAssertEqual(s.nextRun(after: at("2026-10-24T12:00:00Z"), zone: paris), at("2026-10-25T00:30:00Z"), "first occurrence, CEST")
        XCTAssertEqual(s.nextRun(after: at("2026-10-25T00:30:00Z"), zone: paris), at("2026-10-26T01:30:00Z"), "no second run at 01:30Z")
        XCTAssertEqual(s.nextRun(after: at("2026-10-25T01:00:00Z"), zone: paris), at("2026-10-26T01:30:00Z"))
        let that = runs(s, from: at("2026-10-24T22:00:00Z"), to: at("2026-10-25T23:00:00Z"), zone: paris)  // the local day
        XCTAssertEqual(that, [at("2026-10-25T00:30:00Z")])
        XCTAssertEqual(s.previousRun(atOrBefore: at("2026-10-25T02:00:00Z"), zone: paris), at("2026-10-25T00:30:00Z"))
        XCTAssertEqual(s.describe(next: at("2026-10-25T00:30:00Z"), zone: paris).local, "2026-10-25T02:30:00+02:00")
    }

    func testNewYorkSpringForward() throws {
        // 2026-03-08: 02:00 EST jumps to 03:00 EDT at 07:00Z.
        let early = try schedule("daily 01:30"), late = try schedule("daily 02:30")
        let day = (at("2026-03-08T05:00:00Z"), at("2026-03-09T04:00:00Z"))  // local midnight to midnight
        XCTAssertEqual(runs(early, from: day.0, to: day.1, zone: newYork), [at("2026-03-08T06:30:00Z")], "01:30 EST exists")
        XCTAssertEqual(runs(late, from: day.0, to: day.1, zone: newYork), [at("2026-03-08T07:00:00Z")], "03:00 EDT")
        XCTAssertEqual(late.nextRun(after: at("2026-03-07T00:00:00Z"), zone: newYork), at("2026-03-07T07:30:00Z"))
        XCTAssertEqual(late.nextRun(after: at("2026-03-08T07:00:00Z"), zone: newYork), at("2026-03-09T06:30:00Z"))
        XCTAssertEqual(late.describe(next: at("2026-03-08T07:00:00Z"), zone: newYork).local, "2026-03-08T03:00:00-04:00")
    }

    func testNewYorkFallBack() throws {
        // 2026-11-01: 02:00 EDT goes back to 01:00 EST at 06:00Z; 01:30 happens at 05:30Z and 06:30Z.
        let early = try schedule("daily 01:30"), late = try schedule("daily 02:30")
        let day = (at("2026-11-01T04:00:00Z"), at("2026-11-02T05:00:00Z"))  // local midnight to midnight (25 hours)
        XCTAssertEqual(runs(early, from: day.0, to: day.1, zone: newYork), [at("2026-11-01T05:30:00Z")], "first 01:30, EDT")
        XCTAssertEqual(early.nextRun(after: at("2026-11-01T05:30:00Z"), zone: newYork), at("2026-11-02T06:30:00Z"))
        XCTAssertEqual(runs(late, from: day.0, to: day.1, zone: newYork), [at("2026-11-01T07:30:00Z")], "02:30 EST, once")
        XCTAssertEqual(late.nextRun(after: at("2026-10-31T00:00:00Z"), zone: newYork), at("2026-10-31T06:30:00Z"))
        XCTAssertEqual(early.describe(next: at("2026-11-01T05:30:00Z"), zone: newYork).local, "2026-11-01T01:30:00-04:00")
    }

    /// 400 days of "daily 02:00" (both changes of 2026): one run per local day, none skipped, none doubled.
    func testOneRunPerLocalDayFor400Days() throws {
        let s = try schedule("daily 02:00")
        for zone in [paris, newYork, ScheduleZone.utc] {
            let start = at("2026-01-01T12:00:00Z")
            let all = runs(s, from: start, to: start.adding(seconds: 400 * 86400), zone: zone)
            XCTAssertEqual(all.count, 400, "\(zone)")
            let days = all.map { localDay($0, zone) }
            for (a, b) in zip(days, days.dropFirst()) { XCTAssertEqual(b, a + 1, "\(zone)") }
            var skipped = 0
            for r in all {
                let clock = zone.rfc3339(r).dropFirst(11).prefix(8)
                if clock == "03:00:00" { skipped += 1 } else { XCTAssertEqual(clock, "02:00:00", zone.rfc3339(r)) }
            }
            XCTAssertEqual(skipped, zone == .utc ? 0 : 1, "the spring-forward day runs at 03:00")
        }
    }

    // MARK: - Catch-up at start-up

    func testCatchUpAfterThreeDaysOff() throws {
        let s = try schedule("daily 02:00")
        let clock = ScheduleTestClock(at("2026-11-20T02:00:05Z"))
        var lastRun: Timestamp? = clock.now()  // the last run started here
        XCTAssertFalse(s.isDue(lastRun: lastRun, now: clock.now(), zone: .utc))
        // The machine is off for three days and starts at 10:00.
        clock.set(at("2026-11-23T10:00:00Z"))
        XCTAssertTrue(s.isDue(lastRun: lastRun, now: clock.now(), zone: .utc))
        XCTAssertEqual(s.missedRuns(lastRun: lastRun ?? clock.now(), now: clock.now(), zone: .utc), 3)
        // The service runs once, and it is not due again until the next slot.
        lastRun = clock.now()
        XCTAssertFalse(s.isDue(lastRun: lastRun, now: clock.now(), zone: .utc))
        clock.set(at("2026-11-24T01:59:59Z"))
        XCTAssertFalse(s.isDue(lastRun: lastRun, now: clock.now(), zone: .utc))
        clock.advance(seconds: 1)
        XCTAssertTrue(s.isDue(lastRun: lastRun, now: clock.now(), zone: .utc))
        XCTAssertEqual(s.missedRuns(lastRun: lastRun ?? clock.now(), now: clock.now(), zone: .utc), 1)
        // Never ran: due at once.
        XCTAssertTrue(s.isDue(lastRun: nil, now: clock.now(), zone: .utc))
        XCTAssertTrue(try schedule("every 6h").isDue(lastRun: nil, now: clock.now(), zone: .utc))
        // The clock was set back behind the last run: not due until the slot after it.
        XCTAssertFalse(s.isDue(lastRun: at("2026-11-30T03:00:00Z"), now: clock.now(), zone: .utc))
        // The count is capped.
        XCTAssertEqual(try schedule("every 1s").missedRuns(lastRun: at("2026-01-01T00:00:00Z"), now: clock.now(), zone: .utc, limit: 50), 50)
    }

    func testCatchUpOverDaylightSavingNight() throws {
        // Off from the evening before the spring-forward night to 02:45 CEST: the skipped 02:30 ran "at 03:00", missed.
        let s = try schedule("daily 02:30")
        let last = at("2026-03-28T01:30:00Z")
        XCTAssertFalse(s.isDue(lastRun: last, now: at("2026-03-29T00:59:59Z"), zone: paris))
        XCTAssertTrue(s.isDue(lastRun: last, now: at("2026-03-29T01:00:00Z"), zone: paris))
        XCTAssertEqual(s.missedRuns(lastRun: last, now: at("2026-03-29T12:00:00Z"), zone: paris), 1)
    }

    // MARK: - Zones and display

    func testDescribe() throws {
        let s = try schedule("daily 02:00")
        let next = s.nextRun(after: at("2026-11-25T12:00:00Z"), zone: paris)
        XCTAssertEqual(next, at("2026-11-26T01:00:00Z"))
        let d = s.describe(next: next, zone: paris)
        XCTAssertEqual(d.local, "2026-11-26T02:00:00+01:00")
        XCTAssertEqual(d.utc, "2026-11-26T01:00:00Z")
        XCTAssertEqual(s.describe(next: next, zone: .utc).local, "2026-11-26T01:00:00+00:00")
        XCTAssertEqual(s.describe(next: next, zone: .named("Asia/Kolkata")).local, "2026-11-26T06:30:00+05:30")
        XCTAssertEqual(s.describe(next: next, zone: .named("America/St_Johns")).local, "2026-11-25T21:30:00-03:30")
    }

    func testLocalZoneFollowsTZ() throws {
        let saved = getenv("TZ").map { String(cString: $0) }
        defer {
            if let saved { setenv("TZ", saved, 1) } else { unsetenv("TZ") }
            tzset()
        }
        setenv("TZ", "Europe/Paris", 1)
        tzset()
        XCTAssertEqual(ScheduleZone.local.utcOffset(at: at("2026-07-01T00:00:00Z")), 7200)
        XCTAssertEqual(ScheduleZone.local.utcOffset(at: at("2026-12-01T00:00:00Z")), 3600)
        let s = try schedule("daily 02:30")
        for t in ["2026-03-28T12:00:00Z", "2026-10-24T12:00:00Z", "2026-11-25T12:00:00Z"] {
            XCTAssertEqual(s.nextRun(after: at(t), zone: .local), s.nextRun(after: at(t), zone: paris), t)
        }
        XCTAssertEqual(s.describe(next: at("2026-03-29T01:00:00Z"), zone: .local).local, "2026-03-29T03:00:00+02:00")
        setenv("TZ", "UTC", 1)
        tzset()
        XCTAssertEqual(s.nextRun(after: at("2026-03-28T12:00:00Z"), zone: .local), at("2026-03-29T02:30:00Z"))
    }

    func testZoneChoiceAndUnknownNames() {
        XCTAssertEqual(ScheduleZone(TimeZoneChoice.utc), .utc)
        XCTAssertEqual(ScheduleZone(TimeZoneChoice.local), .local)
        XCTAssertTrue(paris.isKnown)
        XCTAssertTrue(ScheduleZone.local.isKnown)
        let bogus = ScheduleZone.named("Mars/Olympus_Mons")
        XCTAssertFalse(bogus.isKnown)
        // An unknown name reads as UTC rather than failing.
        XCTAssertEqual(bogus.utcOffset(at: at("2026-07-01T00:00:00Z")), 0)
    }

    // MARK: - Odd inputs

    func testOddInputsDoNotTrap() throws {
        let t = at("2026-11-26T10:00:00Z")
        for kind: Schedule.Kind in [.weekly(days: [], times: [120]), .weekly(days: [1], times: []), .weekly(days: [0, 8], times: [-5, 1440]),
                                    .hourly(minute: 60), .hourly(minute: -1), .interval(seconds: 0), .interval(seconds: -5),
                                    .interval(seconds: .nan), .interval(seconds: .infinity), .interval(seconds: 1e30)] {
            let s = Schedule(kind: kind, text: "odd")
            XCTAssertEqual(s.nextRun(after: t, zone: .utc), Schedule.never, "\(kind)")
            XCTAssertNil(s.previousRun(atOrBefore: t, zone: .utc), "\(kind)")
            XCTAssertFalse(s.isDue(lastRun: nil, now: t, zone: .utc), "\(kind)")
            XCTAssertFalse(s.isDue(lastRun: t, now: t.adding(seconds: 1e6), zone: .utc), "\(kind)")
            XCTAssertEqual(s.missedRuns(lastRun: t, now: t.adding(seconds: 1e6), zone: .utc), 0)
        }
        // Out-of-range values are dropped, valid ones kept.
        let mixed = Schedule(kind: .weekly(days: [0, 4, 9], times: [120, 5000]), text: "odd")
        XCTAssertEqual(mixed.nextRun(after: at("2026-11-25T00:00:00Z"), zone: .utc), at("2026-11-26T02:00:00Z"))
        // Extreme instants: before 1970, and near the end of the Int64 nanosecond range.
        let daily = try schedule("daily 02:00")
        XCTAssertEqual(daily.nextRun(after: at("1969-12-31T12:00:00Z"), zone: .utc), at("1970-01-01T02:00:00Z"))
        XCTAssertEqual(daily.previousRun(atOrBefore: at("1969-12-31T12:00:00Z"), zone: paris), at("1969-12-31T01:00:00Z"))
        XCTAssertEqual(daily.nextRun(after: Timestamp(nanoseconds: Int64.max - 1), zone: paris), Schedule.never)
        XCTAssertEqual(try schedule("every 6h").nextRun(after: Timestamp(nanoseconds: Int64.max - 1), zone: .utc), Schedule.never)
        _ = daily.nextRun(after: Timestamp(nanoseconds: Int64.min), zone: newYork)
        _ = daily.describe(next: Schedule.never, zone: paris)
    }

    func testPreviousRun() throws {
        let s = try schedule("Mon,Thu 02:00")
        XCTAssertEqual(s.previousRun(atOrBefore: at("2026-11-26T02:00:00Z"), zone: .utc), at("2026-11-26T02:00:00Z"), "at or before")
        XCTAssertEqual(s.previousRun(atOrBefore: at("2026-11-26T01:59:59Z"), zone: .utc), at("2026-11-23T02:00:00Z"))
        XCTAssertEqual(s.previousRun(atOrBefore: at("2026-11-30T01:00:00Z"), zone: .utc), at("2026-11-26T02:00:00Z"))
        let hourly = try schedule("hourly :15")
        XCTAssertEqual(hourly.previousRun(atOrBefore: at("2026-11-01T06:20:00Z"), zone: newYork), at("2026-11-01T06:15:00Z"), "01:15 EST, the repeat")
        XCTAssertEqual(hourly.previousRun(atOrBefore: at("2026-11-01T06:14:00Z"), zone: newYork), at("2026-11-01T05:15:00Z"), "01:15 EDT")
    }
}

extension ScheduleCalendarTests {
    /// Cross-check "daily HH:MM" against a brute-force reading of the rule in zones with odd transitions:
    /// the run of local day D at wall time W is the first whole minute at which the zone's wall clock reads W or later.
    func testMatchesBruteForceInOddZones() throws {
        let zones = ["Australia/Lord_Howe", "America/Santiago", "America/Havana", "Asia/Tehran", "Africa/Casablanca",
                     "Pacific/Apia", "Europe/Dublin", "America/Sao_Paulo", "Pacific/Chatham", "Europe/Paris", "America/New_York"]
        let walls = [0, 30, 60, 90, 120, 150, 180, 23 * 60 + 30]
        var seed: UInt64 = 42
        func random(_ n: Int64) -> Int64 { seed = seed &* 6364136223846793005 &+ 1442695040888963407; return Int64((seed >> 33) % UInt64(n)) }
        // Instants within two days of each zone's offset changes in 2011 and 2026 (Apia skipped 2011-12-30).
        var near: [String: [Int64]] = [:]
        for name in zones {
            guard let tz = TimeZone(identifier: name) else { XCTFail(name); continue }
            for year in ["2011-01-01T00:00:00Z", "2026-01-01T00:00:00Z"] {
                var d = Date(timeIntervalSince1970: at(year).seconds)
                for _ in 0..<3 {
                    guard let next = tz.nextDaylightSavingTimeTransition(after: d) else { break }
                    near[name, default: []].append(Int64(next.timeIntervalSince1970)); d = next
                }
            }
            near[name, default: []].append(at("2011-12-30T10:00:00Z").nanoseconds / 1_000_000_000)
        }
        for i in 0..<600 {
            let name = zones[i % zones.count], zone = ScheduleZone.named(name), w = walls[(i / zones.count) % walls.count]
            let s = Schedule(kind: .weekly(days: Array(1...7), times: [w]), text: "daily")
            let centres = near[name] ?? [0]
            let t = centres[Int(random(Int64(centres.count)))] - 2 * 86400 + random(4 * 86400)
            let day = ScheduleMath.floorDiv(t + Int64(zone.utcOffset(at: Timestamp(nanoseconds: t * 1_000_000_000))), 86400)
            var expected: Int64?
            for d in (day - 2)...(day + 3) {
                let target = d * 86400 + Int64(w) * 60
                var u = ScheduleMath.floorDiv(target - 16 * 3600, 60) * 60
                while u + Int64(zone.utcOffset(at: Timestamp(nanoseconds: u * 1_000_000_000))) < target { u += 60 }
                if u > t, expected.map({ u < $0 }) ?? true { expected = u }
            }
            let got = s.nextRun(after: Timestamp(nanoseconds: t * 1_000_000_000), zone: zone)
            XCTAssertEqual(got.nanoseconds / 1_000_000_000, expected, "\(zone) \(w) after \(Timestamp(nanoseconds: t * 1_000_000_000).iso8601)")
        }
    }
}
