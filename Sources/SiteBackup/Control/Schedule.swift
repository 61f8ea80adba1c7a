/// A calendar schedule, in the site's time zone. The syntax (docs/control-file.md):
///
///     every 6h                 fixed interval from the previous start (also "every 1s", "every 30m")
///     hourly :15               every hour at minute 15 ("hourly" alone: minute 0)
///     daily 02:00              every day at 02:00 (several times: "daily 02:00,14:00")
///     Mon,Thu 02:00            on the days listed; ranges work too: "Mon..Fri 22:30"
public struct Schedule: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case interval(seconds: Double)
        case hourly(minute: Int)
        /// Weekdays 1 = Monday … 7 = Sunday; times as minutes after midnight.
        case weekly(days: [Int], times: [Int])
    }
    public var kind: Kind
    public var text: String

    static let dayNames = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]

    /// Parses the schedule text, or returns a reason it is wrong.
    public static func parse(_ text: String) -> Result<Schedule, ScheduleError> {
        let words = text.split(separator: " ", omittingEmptySubsequences: true).map { $0.lowercased() }
        guard let first = words.first else { return .failure(.init("the schedule is empty")) }
        func done(_ k: Kind) -> Result<Schedule, ScheduleError> { .success(Schedule(kind: k, text: text)) }
        switch first {
        case "every":
            guard words.count == 2, let s = DurationText.parse(words[1]), s >= 1 else {
                return .failure(.init("'every' takes one duration of at least 1s and at most \(DurationText.maximumText), e.g. \"every 6h\""))
            }
            return done(.interval(seconds: s))
        case "hourly":
            if words.count == 1 { return done(.hourly(minute: 0)) }
            guard words.count == 2, words[1].hasPrefix(":"), let m = Int(words[1].dropFirst()), (0..<60).contains(m) else {
                return .failure(.init("'hourly' takes an optional minute, e.g. \"hourly :15\""))
            }
            return done(.hourly(minute: m))
        default:
            guard words.count == 2 else { return .failure(.init("expected days and times, e.g. \"daily 02:00\" or \"Mon,Thu 02:00\"")) }
            let days: [Int]
            if first == "daily" || first == "*" { days = Array(1...7) } else {
                var set = Set<Int>()
                for part in first.split(separator: ",") {
                    let range = part.split(separator: ".", omittingEmptySubsequences: true).map(String.init)
                    let idx = range.compactMap { dayNames.firstIndex(of: $0).map { $0 + 1 } }
                    guard idx.count == range.count, let a = idx.first, let b = idx.last, idx.count <= 2,
                          !part.contains(".") || part.contains("..") else {
                        return .failure(.init("unknown day '\(part)': use Mon, Tue, Wed, Thu, Fri, Sat, Sun, ranges like Mon..Fri, or daily"))
                    }
                    if a <= b { for d in a...b { set.insert(d) } } else { for d in a...7 { set.insert(d) }; for d in 1...b { set.insert(d) } }
                }
                days = set.sorted()
            }
            guard !days.isEmpty else {
                return .failure(.init("no day given before the times: use daily, Mon..Fri or a list like Mon,Thu"))
            }
            var times: [Int] = []
            for t in words[1].split(separator: ",") {
                let hm = t.split(separator: ":")
                guard hm.count == 2, hm[1].count == 2, let h = Int(hm[0]), let m = Int(hm[1]), (0..<24).contains(h), (0..<60).contains(m) else {
                    return .failure(.init("invalid time '\(t)': use HH:MM (24-hour), e.g. 02:00"))
                }
                times.append(h * 60 + m)
            }
            guard !times.isEmpty else { return .failure(.init("no time given: use HH:MM (24-hour), e.g. daily 02:00")) }
            return done(.weekly(days: days, times: Array(Set(times)).sorted()))
        }
    }

    /// The longest time between two consecutive runs (ignoring daylight-saving shifts of an hour).
    public var maximumGap: Double {
        switch kind {
        case .interval(let s): return s
        case .hourly: return 3600
        case .weekly(let days, let times):
            // Runs in minutes since Monday 00:00, over one week; the largest gap wraps around.
            var runs: [Int] = []
            for d in days { for t in times { runs.append((d - 1) * 1440 + t) } }
            runs.sort()
            guard let firstRun = runs.first, let lastRun = runs.last else { return .infinity }
            var gap = firstRun + 7 * 1440 - lastRun
            for (a, b) in zip(runs, runs.dropFirst()) { gap = max(gap, b - a) }
            return Double(gap * 60)
        }
    }
}

public struct ScheduleError: Error, Sendable, Equatable {
    public var message: String
    init(_ m: String) { message = m }
}

/// Durations written as "30s", "5m", "2h", "5d", "1w", "1y" (365 days) or combined ("1h30m"),
/// at most `maximum` (100 years): anything longer is refused, so every duration fits a `Timestamp`.
public enum DurationText {
    /// 100 years of 365 days, in seconds.
    public static let maximum: Double = 100 * 365 * 86400
    public static let maximumText = "100y"

    /// The duration in seconds, or nil when the text is not a duration or is longer than `maximum`.
    public static func parse(_ text: String) -> Double? {
        guard let total = parseAnySize(text), total.isFinite, total <= maximum else { return nil }
        return total
    }

    /// Whether `text` is written as a duration (of any size): to tell "too long" from "not a duration".
    public static func isWellFormed(_ text: String) -> Bool { parseAnySize(text) != nil }

    static func parseAnySize(_ text: String) -> Double? {
        var total = 0.0, number = "", any = false
        for c in text.lowercased() {
            if c.isNumber || c == "." { number.append(c); continue }
            guard let n = Double(number) else { return nil }
            let unit: Double
            switch c {
            case "s": unit = 1
            case "m": unit = 60
            case "h": unit = 3600
            case "d": unit = 86400
            case "w": unit = 7 * 86400
            case "y": unit = 365 * 86400
            default: return nil
            }
            total += n * unit; number = ""; any = true
        }
        return number.isEmpty && any ? total : nil
    }

    /// Any value is safe to format: beyond `maximum` (or not finite) it reads "more than 100y".
    public static func format(_ seconds: Double) -> String {
        guard seconds.isFinite, abs(seconds) <= maximum else { return "more than \(maximumText)" }
        let s = Int(seconds.rounded())
        if s % 86400 == 0 && s > 0 { return "\(s / 86400)d" }
        if s % 3600 == 0 && s > 0 { return "\(s / 3600)h" }
        if s % 60 == 0 && s > 0 { return "\(s / 60)m" }
        return "\(s)s"
    }
}
