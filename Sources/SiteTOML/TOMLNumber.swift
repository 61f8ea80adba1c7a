/// Integer and float literals.
enum TOMLNumber {
    enum Result {
        case integer(Int64)
        case float(Double)
        /// Invalid; an optional specific reason.
        case invalid(String?)
    }

    static func parse(_ t: [Unicode.Scalar]) -> Result {
        switch String(String.UnicodeScalarView(t)) {
        case "inf", "+inf": return .float(.infinity)
        case "-inf": return .float(-.infinity)
        case "nan", "+nan", "-nan": return .float(.nan)
        default: break
        }
        if t.count >= 2, t[0] == "0", let radix = radix(of: t[1]) {
            return parseRadix(Array(t.dropFirst(2)), radix: radix)
        }
        return parseDecimal(t)
    }

    private static func radix(of c: Unicode.Scalar) -> Int64? {
        switch c {
        case "x": return 16
        case "o": return 8
        case "b": return 2
        default: return nil
        }
    }

    /// Reads `digit ( '_'? digit )*` at `i`; returns the digits without
    /// underscores, or `nil` if there is no digit or an underscore is not
    /// between two digits.
    private static func digits(_ t: [Unicode.Scalar], _ i: inout Int, _ isDigit: (Unicode.Scalar) -> Bool) -> [Unicode.Scalar]? {
        guard i < t.count, isDigit(t[i]) else { return nil }
        var out = [t[i]]
        i += 1
        while i < t.count {
            if t[i] == "_" {
                guard i + 1 < t.count, isDigit(t[i + 1]) else { return nil }
                i += 1
            } else if isDigit(t[i]) {
                out.append(t[i])
                i += 1
            } else {
                break
            }
        }
        return out
    }

    private static func parseRadix(_ t: [Unicode.Scalar], radix: Int64) -> Result {
        let isDigit: (Unicode.Scalar) -> Bool = { c in
            switch radix {
            case 16: return TOMLChars.isHexDigit(c)
            case 8: return ("0"..."7").contains(c)
            default: return c == "0" || c == "1"
            }
        }
        var i = 0
        guard let ds = digits(t, &i, isDigit), i == t.count else { return .invalid(nil) }
        var value: Int64 = 0
        for d in ds {
            guard let v = Int64(String(d), radix: 16) else { return .invalid(nil) }
            let (m, o1) = value.multipliedReportingOverflow(by: radix)
            let (a, o2) = m.addingReportingOverflow(v)
            if o1 || o2 { return .invalid("out of range for a 64-bit integer") }
            value = a
        }
        return .integer(value)
    }

    private static func parseDecimal(_ t: [Unicode.Scalar]) -> Result {
        var i = 0
        var negative = false
        if i < t.count, t[i] == "+" || t[i] == "-" {
            negative = t[i] == "-"
            i += 1
        }
        guard let intDigits = digits(t, &i, TOMLChars.isDigit) else { return .invalid(nil) }
        if intDigits.count > 1 && intDigits[0] == "0" {
            return .invalid("leading zeros are not allowed")
        }
        var fraction: [Unicode.Scalar]?
        var exponent: [Unicode.Scalar]?
        if i < t.count, t[i] == "." {
            i += 1
            guard let f = digits(t, &i, TOMLChars.isDigit) else {
                return .invalid("expected digits after the decimal point")
            }
            fraction = f
        }
        if i < t.count, t[i] == "e" || t[i] == "E" {
            i += 1
            var sign: [Unicode.Scalar] = []
            if i < t.count, t[i] == "+" || t[i] == "-" {
                sign = [t[i]]
                i += 1
            }
            guard let e = digits(t, &i, TOMLChars.isDigit) else {
                return .invalid("expected digits in the exponent")
            }
            exponent = sign + e
        }
        guard i == t.count else { return .invalid(nil) }

        if fraction == nil && exponent == nil {
            var value: Int64 = 0
            for d in intDigits {
                let v = Int64(d.value - 48)
                let (m, o1) = value.multipliedReportingOverflow(by: 10)
                let (a, o2) = negative ? m.subtractingReportingOverflow(v) : m.addingReportingOverflow(v)
                if o1 || o2 { return .invalid("out of range for a 64-bit integer") }
                value = a
            }
            return .integer(value)
        }

        var text = String.UnicodeScalarView()
        if negative { text.append("-") }
        text.append(contentsOf: intDigits)
        if let fraction {
            text.append(".")
            text.append(contentsOf: fraction)
        }
        if let exponent {
            text.append("e")
            text.append(contentsOf: exponent)
        }
        guard let d = Double(String(text)), d.isFinite else {
            return .invalid("out of range for a 64-bit float")
        }
        return .float(d)
    }
}
