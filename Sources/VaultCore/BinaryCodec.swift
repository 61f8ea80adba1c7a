/// Appends little-endian integers, LEB128 varints, ids and length-prefixed byte strings.
/// Used by the binary on-disk formats (trees, pack headers, index files).
public struct BinaryWriter {
    public private(set) var bytes: [UInt8]

    public init(capacity: Int = 256) { bytes = []; bytes.reserveCapacity(capacity) }

    public mutating func u8(_ v: UInt8) { bytes.append(v) }

    public mutating func u32(_ v: UInt32) {
        for s in stride(from: 0, to: 32, by: 8) { bytes.append(UInt8(truncatingIfNeeded: v >> UInt32(s))) }
    }

    public mutating func varint(_ v: UInt64) {
        var v = v
        while v >= 0x80 { bytes.append(UInt8(truncatingIfNeeded: v) | 0x80); v >>= 7 }
        bytes.append(UInt8(v))
    }

    /// Zig-zag encoded signed varint.
    public mutating func svarint(_ v: Int64) { varint(UInt64(bitPattern: (v << 1) ^ (v >> 63))) }

    public mutating func id(_ v: ID) {
        for w in [v.w0, v.w1, v.w2, v.w3] {
            for s in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: w >> UInt64(s))) }
        }
    }

    public mutating func data<C: Collection>(_ v: C) where C.Element == UInt8 {
        varint(UInt64(v.count)); bytes.append(contentsOf: v)
    }

    public mutating func raw<C: Collection>(_ v: C) where C.Element == UInt8 { bytes.append(contentsOf: v) }
}

/// Reads what `BinaryWriter` wrote; every read is bounds-checked and throws `.corrupt`.
public struct BinaryReader {
    public let bytes: [UInt8]
    public private(set) var offset: Int
    let what: String

    public init(_ bytes: [UInt8], offset: Int = 0, what: String) { self.bytes = bytes; self.offset = offset; self.what = what }

    public var atEnd: Bool { offset >= bytes.count }

    func fail() -> VaultError { VaultError(.corrupt, "\(what) is truncated or malformed at byte \(offset)") }

    public mutating func u8() throws -> UInt8 {
        guard offset < bytes.count else { throw fail() }
        defer { offset += 1 }
        return bytes[offset]
    }

    public mutating func u32() throws -> UInt32 {
        guard offset + 4 <= bytes.count else { throw fail() }
        var v: UInt32 = 0
        for i in 0..<4 { v |= UInt32(bytes[offset + i]) << UInt32(8 * i) }
        offset += 4
        return v
    }

    public mutating func varint() throws -> UInt64 {
        var v: UInt64 = 0, shift: UInt64 = 0
        while true {
            guard offset < bytes.count, shift < 64 else { throw fail() }
            let b = bytes[offset]; offset += 1
            v |= UInt64(b & 0x7f) << shift
            if b < 0x80 { return v }
            shift += 7
        }
    }

    public mutating func int() throws -> Int {
        let v = try varint()
        guard v <= UInt64(Int.max) else { throw fail() }
        return Int(v)
    }

    public mutating func svarint() throws -> Int64 {
        let u = try varint()
        return Int64(bitPattern: (u >> 1) ^ (0 &- (u & 1)))
    }

    public mutating func id() throws -> ID {
        guard offset + 32 <= bytes.count else { throw fail() }
        var w: [UInt64] = [0, 0, 0, 0]
        for i in 0..<32 { w[i >> 3] = (w[i >> 3] << 8) | UInt64(bytes[offset + i]) }
        offset += 32
        return ID(w0: w[0], w1: w[1], w2: w[2], w3: w[3])
    }

    public mutating func data() throws -> [UInt8] {
        let n = try int()
        guard n <= bytes.count - offset else { throw fail() }
        defer { offset += n }
        return Array(bytes[offset..<offset + n])
    }
}
