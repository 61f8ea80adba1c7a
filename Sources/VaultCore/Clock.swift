#if canImport(Glibc)
import Glibc
#endif

/// A point in time as nanoseconds since the Unix epoch (UTC).
public struct Timestamp: Hashable, Comparable, Sendable, Codable {
    public var nanoseconds: Int64
    public init(nanoseconds: Int64) { self.nanoseconds = nanoseconds }
    /// Saturates at the range of `Int64` nanoseconds (about ±292 years from 1970); NaN is the epoch.
    public init(seconds: Double) { self.nanoseconds = Self.clampedNanoseconds(seconds) }
    public var seconds: Double { Double(nanoseconds) / 1e9 }
    public static func < (a: Timestamp, b: Timestamp) -> Bool { a.nanoseconds < b.nanoseconds }
    /// Saturates instead of overflowing, whatever `seconds` holds.
    public func adding(seconds: Double) -> Timestamp {
        let (v, o) = nanoseconds.addingReportingOverflow(Self.clampedNanoseconds(seconds))
        return Timestamp(nanoseconds: o ? (seconds < 0 ? Int64.min : Int64.max) : v)
    }

    static func clampedNanoseconds(_ seconds: Double) -> Int64 {
        let ns = seconds * 1e9
        guard !ns.isNaN else { return 0 }
        if ns >= 9.2e18 { return Int64.max }
        if ns <= -9.2e18 { return Int64.min }
        return Int64(ns)
    }

    public init(from decoder: Decoder) throws {
        nanoseconds = try decoder.singleValueContainer().decode(Int64.self)
    }
    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer(); try c.encode(nanoseconds)
    }

    /// RFC 3339 in UTC with seconds, e.g. 2026-11-25T17:19:24Z.
    public var iso8601: String {
        var t = time_t(nanoseconds / 1_000_000_000)
        var tmv = tm()
        gmtime_r(&t, &tmv)
        func p(_ v: Int32, _ w: Int) -> String { let s = String(v); return String(repeating: "0", count: max(0, w - s.count)) + s }
        return "\(p(tmv.tm_year + 1900, 4))-\(p(tmv.tm_mon + 1, 2))-\(p(tmv.tm_mday, 2))T\(p(tmv.tm_hour, 2)):\(p(tmv.tm_min, 2)):\(p(tmv.tm_sec, 2))Z"
    }

    /// Broken-down local (or UTC) calendar fields, used by retention policies.
    public func calendar(utc: Bool) -> (year: Int, month: Int, day: Int, hour: Int, yearDay: Int, weekDay: Int) {
        var t = time_t(nanoseconds / 1_000_000_000)
        var tmv = tm()
        if utc { gmtime_r(&t, &tmv) } else { localtime_r(&t, &tmv) }
        return (Int(tmv.tm_year) + 1900, Int(tmv.tm_mon) + 1, Int(tmv.tm_mday), Int(tmv.tm_hour), Int(tmv.tm_yday), Int(tmv.tm_wday))
    }
}

/// The source of time for the libraries: never read the wall clock directly, take a Clock.
public protocol VaultClock: Sendable {
    func now() -> Timestamp
}

/// The real wall clock.
public struct SystemClock: VaultClock {
    public init() {}
    public func now() -> Timestamp {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Timestamp(nanoseconds: Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec))
    }
}

/// Monotonic seconds, for measuring durations.
public func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}
