import Foundation
import VaultCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The time zone a calendar schedule's wall-clock times are read in.
///
/// - `.utc`: Coordinated Universal Time, no daylight saving.
/// - `.local`: the machine's zone, exactly as the C library sees it (`TZ`, else `/etc/localtime`),
///   read through `localtime_r`, so it agrees with every other local-time figure of the process.
///   The C library reads `TZ` when `tzset()` runs; a process that changes `TZ` must call `tzset()`.
/// - `.named("Europe/Paris")`: an IANA zone, read through Foundation's `TimeZone(identifier:)`,
///   which needs no process-wide state and is safe from any thread. An unknown name is read as UTC;
///   check `isKnown` when accepting a name from a user.
public enum ScheduleZone: Sendable, Hashable {
    case utc
    case local
    case named(String)

    /// The zone a control file's `time_zone` choice stands for.
    public init(_ choice: TimeZoneChoice) {
        switch choice {
        case .utc: self = .utc
        case .local: self = .local
        }
    }

    /// False only for a `.named` zone the time zone database does not know.
    public var isKnown: Bool {
        if case .named(let name) = self { return TimeZone(identifier: name) != nil }
        return true
    }

    /// Seconds east of UTC in this zone at `t` (e.g. 7200 for Paris in summer).
    public func utcOffset(at t: Timestamp) -> Int {
        Int(ZoneRules(self).offset(ScheduleMath.floorSeconds(t)))
    }

    /// `t` as RFC 3339 local time with its numeric offset, e.g. "2026-11-26T02:00:00+01:00".
    /// Sub-second digits are dropped; an offset with seconds (only in pre-1900 zone history) is truncated to minutes.
    public func rfc3339(_ t: Timestamp) -> String {
        let utc = ScheduleMath.floorSeconds(t)
        let off = ZoneRules(self).offset(utc)
        // Render the local wall time as if it were UTC, then swap the "Z" for the offset.
        let wall = Timestamp(nanoseconds: ScheduleMath.nanoseconds(utc &+ off)).iso8601
        let sign = off < 0 ? "-" : "+"
        let minutes = abs(off) / 60
        func two(_ v: Int64) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return String(wall.dropLast()) + "\(sign)\(two(minutes / 60)):\(two(minutes % 60))"
    }
}

/// A zone resolved once for one computation: the UTC offset at any instant (whole seconds since the epoch).
struct ZoneRules {
    let offset: (Int64) -> Int64

    init(_ zone: ScheduleZone) {
        switch zone {
        case .utc:
            offset = { _ in 0 }
        case .local:
            offset = { s in
                var t = time_t(clamping: s)
                var tmv = tm()
                guard localtime_r(&t, &tmv) != nil else { return 0 }
                return Int64(tmv.tm_gmtoff)
            }
        case .named(let name):
            if let tz = TimeZone(identifier: name) {
                offset = { s in Int64(tz.secondsFromGMT(for: Date(timeIntervalSince1970: Double(s)))) }
            } else {
                offset = { _ in 0 }
            }
        }
    }

    /// How a local wall-clock time (seconds since 1970-01-01T00:00 local) maps to instants.
    enum Wall: Equatable {
        /// Happens once, at this instant.
        case once(Int64)
        /// Happens twice (the clock was set back): first and second instant.
        case twice(Int64, Int64)
        /// Never happens (the clock jumped over it); `gapEnd` is the first instant after the jump.
        case skipped(gapEnd: Int64)

        /// The one instant a calendar run for this wall time happens at: the first occurrence, or the end of the gap.
        var runInstant: Int64 {
            switch self {
            case .once(let u), .twice(let u, _), .skipped(let u): return u
            }
        }
        /// Every instant the wall clock shows this time (none in a gap).
        var occurrences: [Int64] {
            switch self {
            case .once(let u): return [u]
            case .twice(let a, let b): return [a, b]
            case .skipped: return []
            }
        }
    }

    /// Resolves a wall time, assuming at most one offset change within two days either side of it.
    func resolve(wall w: Int64) -> Wall {
        let probes = [offset(w &- 172_800), offset(w), offset(w &+ 172_800)]
        var hits: [Int64] = []
        for o in Set(probes) {
            let u = w &- o
            if offset(u) == o { hits.append(u) }
        }
        hits.sort()
        if hits.count == 1 { return .once(hits[0]) }
        if hits.count >= 2 { return .twice(hits[0], hits[hits.count - 1]) }
        // A gap: find the first instant whose wall time has passed w, between the two candidate offsets.
        var lo = w &- (probes.max() ?? 0), hi = w &- (probes.min() ?? 0)
        if lo &+ offset(lo) >= w { return .skipped(gapEnd: lo) }
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2
            if mid &+ offset(mid) >= w { hi = mid } else { lo = mid }
        }
        return .skipped(gapEnd: hi)
    }
}

/// Integer helpers shared by the schedule calendar.
enum ScheduleMath {
    static let nsPerSecond: Int64 = 1_000_000_000
    /// Whole seconds since the epoch, rounded down (also for instants before 1970).
    static func floorSeconds(_ t: Timestamp) -> Int64 { floorDiv(t.nanoseconds, nsPerSecond) }
    static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
        let q = a / b
        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
    }
    /// Seconds to nanoseconds, saturating instead of overflowing.
    static func nanoseconds(_ s: Int64) -> Int64 {
        let (v, o) = s.multipliedReportingOverflow(by: nsPerSecond)
        return o ? (s < 0 ? Int64.min : Int64.max) : v
    }
    /// Weekday of a day number since 1970-01-01 (a Thursday): 1 = Monday … 7 = Sunday.
    static func weekday(day: Int64) -> Int { Int(((day % 7) + 7 + 3) % 7) + 1 }
}
