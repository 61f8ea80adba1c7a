import VaultCore

/// Where a blob is stored.
public struct BlobLocation: Hashable, Sendable {
    public var pack: ID
    public var entry: PackEntry
}

/// The in-memory map of every blob to its pack, built from all index files.
/// Memory is proportional to the number of blobs, not to the size of the data.
public struct MasterIndex: Sendable {
    struct Compact: Hashable, Sendable {
        var pack: Int32
        var offset: UInt32
        var length: UInt32
        var rawLength: UInt32
        var flags: UInt8
    }
    private(set) var packIDs: [ID] = []
    private var packNumber: [ID: Int32] = [:]
    private var blobs: [ID: Compact] = [:]
    /// Names of the index files that were loaded (prune replaces them).
    public var files: Set<String> = []

    public init() {}

    public var blobCount: Int { blobs.count }
    /// Stored (compressed, encrypted) bytes of the distinct blobs, each counted once: the pack data
    /// the index locates, without pack headers, index and snapshot files. Kept as blobs are added.
    public private(set) var storedBytes: UInt64 = 0
    public var packs: [ID] { packIDs }

    public func contains(_ id: ID) -> Bool { blobs[id] != nil }

    public func lookup(_ id: ID) -> BlobLocation? {
        guard let c = blobs[id] else { return nil }
        return BlobLocation(pack: packIDs[Int(c.pack)], entry: PackEntry(type: BlobType(rawValue: c.flags & 0x7f) ?? .data, id: id,
                                                                         offset: c.offset, length: c.length, rawLength: c.rawLength,
                                                                         compressed: c.flags & 0x80 != 0))
    }

    public mutating func add(pack: ID, entries: [PackEntry]) {
        let n: Int32
        if let existing = packNumber[pack] { n = existing } else {
            n = Int32(packIDs.count); packIDs.append(pack); packNumber[pack] = n
        }
        blobs.reserveCapacity(blobs.count + entries.count)
        for e in entries where blobs[e.id] == nil {
            storedBytes += UInt64(e.length)
            blobs[e.id] = Compact(pack: n, offset: e.offset, length: e.length, rawLength: e.rawLength,
                                  flags: e.type.rawValue | (e.compressed ? 0x80 : 0))
        }
    }

    /// Every blob grouped by pack (for check and prune).
    public func entriesByPack() -> [ID: [PackEntry]] {
        var out: [ID: [PackEntry]] = [:]
        for (id, c) in blobs {
            out[packIDs[Int(c.pack)], default: []].append(PackEntry(type: BlobType(rawValue: c.flags & 0x7f) ?? .data, id: id, offset: c.offset,
                                                                   length: c.length, rawLength: c.rawLength, compressed: c.flags & 0x80 != 0))
        }
        return out
    }

    public func forEachBlob(_ body: (ID, BlobLocation) -> Void) {
        for (id, _) in blobs { body(id, lookup(id)!) }
    }
}

/// An index file: for each pack, the blobs it holds. Sealed on disk.
public enum IndexFormat {
    public static func encode(_ packs: [(ID, [PackEntry])]) -> [UInt8] {
        var w = BinaryWriter(capacity: 16 + packs.reduce(0) { $0 + 40 + $1.1.count * 48 })
        w.raw(Array("SVI1".utf8))
        w.varint(UInt64(packs.count))
        for (pack, entries) in packs {
            w.id(pack)
            w.varint(UInt64(entries.count))
            for e in entries {
                w.u8(e.type.rawValue | (e.compressed ? 0x80 : 0))
                w.id(e.id)
                w.varint(UInt64(e.offset)); w.varint(UInt64(e.length)); w.varint(UInt64(e.rawLength))
            }
        }
        return w.bytes
    }

    public static func decode(_ bytes: [UInt8], name: String) throws -> [(ID, [PackEntry])] {
        guard bytes.count >= 4, Array(bytes[0..<4]) == Array("SVI1".utf8) else {
            throw VaultError(.corrupt, "index file \(name) has an unknown format")
        }
        var r = BinaryReader(bytes, offset: 4, what: "index file \(name)")
        let n = try r.int()
        guard n <= bytes.count else { throw VaultError(.corrupt, "index file \(name) is malformed") }
        var out: [(ID, [PackEntry])] = []
        for _ in 0..<n {
            let pack = try r.id()
            let c = try r.int()
            guard c <= bytes.count else { throw VaultError(.corrupt, "index file \(name) is malformed") }
            var entries: [PackEntry] = []
            entries.reserveCapacity(c)
            for _ in 0..<c {
                let t = try r.u8()
                guard let type = BlobType(rawValue: t & 0x7f) else { throw VaultError(.corrupt, "index file \(name) lists an unknown blob type") }
                let id = try r.id()
                let off = UInt32(truncatingIfNeeded: try r.varint())
                let len = UInt32(truncatingIfNeeded: try r.varint())
                let raw = UInt32(truncatingIfNeeded: try r.varint())
                entries.append(PackEntry(type: type, id: id, offset: off, length: len, rawLength: raw, compressed: t & 0x80 != 0))
            }
            out.append((pack, entries))
        }
        return out
    }
}
