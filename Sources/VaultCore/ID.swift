/// A 32-byte identifier: a blob id (keyed hash of plaintext), a pack or file id (SHA-256 of the
/// stored bytes), or a random id. Printed as 64 lowercase hex digits.
public struct ID: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var w0: UInt64, w1: UInt64, w2: UInt64, w3: UInt64

    public init(w0: UInt64, w1: UInt64, w2: UInt64, w3: UInt64) {
        self.w0 = w0; self.w1 = w1; self.w2 = w2; self.w3 = w3
    }

    /// Builds an id from exactly 32 bytes (big-endian words, so ordering matches the hex form).
    public init<C: Collection>(bytes: C) where C.Element == UInt8 {
        precondition(bytes.count == 32, "an ID is 32 bytes")
        var words: [UInt64] = [0, 0, 0, 0]
        var i = 0
        for b in bytes { words[i >> 3] = (words[i >> 3] << 8) | UInt64(b); i += 1 }
        self.init(w0: words[0], w1: words[1], w2: words[2], w3: words[3])
    }

    /// Parses 64 hex digits; nil when the text is not a full id.
    public init?(hex: String) {
        let bytes = Hex.decode(hex)
        guard let bytes, bytes.count == 32 else { return nil }
        self.init(bytes: bytes)
    }

    public var bytes: [UInt8] {
        var out = [UInt8](); out.reserveCapacity(32)
        for w in [w0, w1, w2, w3] { for s in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: w >> UInt64(s))) } }
        return out
    }

    public var hex: String { Hex.encode(bytes) }
    /// The first 8 hex digits, as shown to operators.
    public var short: String { String(hex.prefix(8)) }
    public var description: String { hex }

    public static let zero = ID(w0: 0, w1: 0, w2: 0, w3: 0)

    public func hash(into hasher: inout Hasher) { hasher.combine(w0) }

    public static func < (a: ID, b: ID) -> Bool {
        (a.w0, a.w1, a.w2, a.w3) < (b.w0, b.w1, b.w2, b.w3)
    }
}

/// Lowercase hexadecimal encoding.
public enum Hex {
    private static let digits = Array("0123456789abcdef".utf8)

    public static func encode<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        var out = [UInt8](); out.reserveCapacity(bytes.count * 2)
        for b in bytes { out.append(digits[Int(b >> 4)]); out.append(digits[Int(b & 15)]) }
        return String(decoding: out, as: UTF8.self)
    }

    public static func decode(_ text: String) -> [UInt8]? {
        let u = Array(text.utf8)
        guard u.count % 2 == 0 else { return nil }
        func v(_ c: UInt8) -> UInt8? {
            switch c {
            case 48...57: return c - 48
            case 97...102: return c - 87
            case 65...70: return c - 55
            default: return nil
            }
        }
        var out = [UInt8](); out.reserveCapacity(u.count / 2)
        var i = 0
        while i < u.count {
            guard let h = v(u[i]), let l = v(u[i + 1]) else { return nil }
            out.append(h << 4 | l); i += 2
        }
        return out
    }
}
