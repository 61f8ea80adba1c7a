/// Validation of the four date/time forms (RFC 3339 profile used by TOML 1.0).
enum TOMLDateTime {
    /// `YYYY-MM-DD` exactly (used to decide whether a space separates a time).
    static func isFullDate(_ t: [Unicode.Scalar]) -> Bool {
        t.count == 10 && isDateStart(t)
    }

    private static func isDateStart(_ t: [Unicode.Scalar]) -> Bool {
        t.count >= 5 && t[0..<4].allSatisfy(TOMLChars.isDigit) && t[4] == "-"
    }

    /// Whether a bare token should be treated as a date or time rather than a number.
    static func looksLikeDateTime(_ t: [Unicode.Scalar]) -> Bool {
        isDateStart(t) || (t.count >= 3 && t[0..<2].allSatisfy(TOMLChars.isDigit) && t[2] == ":")
    }

    /// Returns `nil` if valid, otherwise a short reason.
    static func validate(_ t: [Unicode.Scalar]) -> String? {
        var i = 0
        func number(_ count: Int) -> Int? {
            guard i + count <= t.count else { return nil }
            var v = 0
            for c in t[i..<(i + count)] {
                guard TOMLChars.isDigit(c) else { return nil }
                v = v * 10 + Int(c.value - 48)
            }
            i += count
            return v
        }
        func expect(_ c: Unicode.Scalar) -> Bool {
            guard i < t.count, t[i] == c else { return false }
            i += 1
            return true
        }
        func time() -> String? {
            guard let h = number(2), expect(":"), let m = number(2), expect(":"), let s = number(2) else {
                return "expected a time as HH:MM:SS"
            }
            if h > 23 { return "hour out of range" }
            if m > 59 { return "minute out of range" }
            if s > 60 { return "second out of range" }
            if expect(".") {
                guard i < t.count, TOMLChars.isDigit(t[i]) else { return "expected digits after the decimal point" }
                while i < t.count, TOMLChars.isDigit(t[i]) { i += 1 }
            }
            return nil
        }

        guard isDateStart(t) else {
            if let problem = time() { return problem }
            return i == t.count ? nil : "unexpected text after the time"
        }
        guard let y = number(4), expect("-"), let mo = number(2), expect("-"), let d = number(2) else {
            return "expected a date as YYYY-MM-DD"
        }
        if mo < 1 || mo > 12 { return "month out of range" }
        if d < 1 || d > daysIn(month: mo, year: y) { return "day out of range" }
        if i == t.count { return nil }
        guard expect("T") || expect("t") || expect(" ") else { return "expected 'T' between date and time" }
        if let problem = time() { return problem }
        if i == t.count { return nil }
        if expect("Z") || expect("z") {
            return i == t.count ? nil : "unexpected text after the time zone"
        }
        guard expect("+") || expect("-") else { return "invalid time zone offset" }
        guard let oh = number(2), expect(":"), let om = number(2), i == t.count else {
            return "invalid time zone offset, expected Z or +HH:MM"
        }
        if oh > 23 || om > 59 { return "time zone offset out of range" }
        return nil
    }

    private static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2:
            let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
            return leap ? 29 : 28
        case 4, 6, 9, 11:
            return 30
        default:
            return 31
        }
    }
}
