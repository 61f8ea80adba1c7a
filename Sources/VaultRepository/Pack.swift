import VaultCore

/// What a blob holds.
public enum BlobType: UInt8, Sendable {
    case data = 0, tree = 1
}

/// One blob's place in a pack.
public struct PackEntry: Hashable, Sendable {
    public var type: BlobType
    public var id: ID
    public var offset: UInt32
    /// Stored (sealed) length.
    public var length: UInt32
    /// Plaintext length before compression.
    public var rawLength: UInt32
    public var compressed: Bool
    public init(type: BlobType, id: ID, offset: UInt32, length: UInt32, rawLength: UInt32, compressed: Bool) {
        self.type = type; self.id = id; self.offset = offset; self.length = length; self.rawLength = rawLength; self.compressed = compressed
    }
}

/// A pack file: sealed blobs back to back, then the sealed header listing them, then the header's
/// length as 4 little-endian bytes. The pack's name is the SHA-256 of its sealed header.
public enum PackFormat {
    public static func encodeHeader(_ entries: [PackEntry]) -> [UInt8] {
        var w = BinaryWriter(capacity: 8 + entries.count * 48)
        w.raw(Array("SVP1".utf8))
        w.varint(UInt64(entries.count))
        for e in entries {
            w.u8(e.type.rawValue | (e.compressed ? 0x80 : 0))
            w.id(e.id)
            w.varint(UInt64(e.length))
            w.varint(UInt64(e.rawLength))
        }
        return w.bytes
    }

    /// Decodes a header; offsets are recomputed from the lengths in order.
    public static func decodeHeader(_ bytes: [UInt8], pack: String) throws -> [PackEntry] {
        guard bytes.count >= 4, Array(bytes[0..<4]) == Array("SVP1".utf8) else {
            throw VaultError(.corrupt, "pack \(pack) has a header of unknown format")
        }
        var r = BinaryReader(bytes, offset: 4, what: "header of pack \(pack)")
        let n = try r.int()
        guard n <= bytes.count else { throw VaultError(.corrupt, "header of pack \(pack) is malformed") }
        var out: [PackEntry] = []
        out.reserveCapacity(n)
        var off: UInt32 = 0
        for _ in 0..<n {
            let t = try r.u8()
            guard let type = BlobType(rawValue: t & 0x7f) else { throw VaultError(.corrupt, "pack \(pack) lists a blob of unknown type") }
            let id = try r.id()
            let len = UInt32(truncatingIfNeeded: try r.varint())
            let raw = UInt32(truncatingIfNeeded: try r.varint())
            out.append(PackEntry(type: type, id: id, offset: off, length: len, rawLength: raw, compressed: t & 0x80 != 0))
            off &+= len
        }
        return out
    }
}
