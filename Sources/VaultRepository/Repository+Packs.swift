import VaultCore
import VaultCrypto
import VaultStorage

/// An index file that could not be read (damaged, truncated, unknown format).
public struct DamagedIndexFile: Hashable, Sendable {
    public var name: String
    /// What is wrong, without the file's name (e.g. "its content does not match its name").
    public var message: String

    init(name: String, error: Error) {
        self.name = name
        let text = (error as? VaultError)?.message ?? "\(error)"
        let prefix = "index/\(name) is damaged: "
        message = text.hasPrefix(prefix) ? String(text.dropFirst(prefix.count)) : text
    }

    /// The warning readers give once: which file, what is wrong, what to run.
    public var warning: String {
        "index/\(name) is damaged (\(message)) and was skipped; the packs it listed are found by reading their headers. " +
            "Run `sitevault repair index` to rebuild the index"
    }
}

/// A pack that is in no readable index file, as found by reading its header.
public struct UnindexedPack: Sendable {
    public var pack: ID
    public var size: Int
    /// The blobs its header lists; nil when the header cannot be read (`error` says why).
    public var entries: [PackEntry]?
    public var error: String?
}

/// The result of reading the headers of every pack outside the readable index files.
public struct UnindexedScan: Sendable {
    public var packs: [UnindexedPack] = []
    public var readable: [(ID, [PackEntry])] { packs.compactMap { p in p.entries.map { (p.pack, $0) } } }
    public var unreadable: [UnindexedPack] { packs.filter { $0.entries == nil } }
}

extension Repository {
    /// Bytes read at the end of a pack to find its header (see `readPackHeader`).
    static let packTailRead = 64 << 10

    /// Reads and opens a pack's header (the last 4 bytes give its length), checking it against the
    /// pack's name and size. Throws `.corrupt` naming what is wrong.
    public func readPackHeader(_ pack: ID, size: Int) throws -> [PackEntry] {
        guard size >= 4 + AEAD.overhead else { throw VaultError(.corrupt, "pack is truncated (\(size) bytes)") }
        let h = Handle(.data, pack.hex)
        // One read of the pack's tail holds the header of all but packs of very many blobs (an
        // entry is 37–45 bytes): one request per pack on a remote store, not two.
        let tailLength = min(size, Self.packTailRead)
        let tail = try store.load(h, offset: size - tailLength, length: tailLength)
        var r = BinaryReader(Array(tail[(tailLength - 4)...]), what: "pack length")
        let len = Int(try r.u32())
        guard len + 4 <= size else { throw VaultError(.corrupt, "pack is truncated or its header length is damaged") }
        let sealed = len + 4 <= tailLength ? Array(tail[(tailLength - 4 - len)..<(tailLength - 4)])
                                           : try store.load(h, offset: size - 4 - len, length: len)
        guard sha256ID(sealed) == pack else {
            throw VaultError(.corrupt, "pack header does not match the pack's name: the file was altered or damaged")
        }
        let header = try PackFormat.decodeHeader(try key.open(sealed, what: "header of pack \(pack.short)"), pack: pack.short)
        if let last = header.last, Int(last.offset) + Int(last.length) != size - 4 - len {
            throw VaultError(.corrupt, "pack size does not match its header (truncated or extended)")
        }
        return header
    }

    /// Reads the header of every stored pack that no readable index file lists, and adds the blobs
    /// found to the in-memory index (no index file is written: `repair index` does that). Done once
    /// per `loadIndex`; later calls return the same result.
    @discardableResult
    public func scanUnindexedPacks() throws -> UnindexedScan {
        try scanMutex.withLock {
            if let done = mutex.withLock({ unindexedScan }) { return done }
            let indexed = Set(index.packs)
            var scan = UnindexedScan()
            for (name, size) in try store.list(.data) {
                guard let pack = ID(hex: name), pack.hex == name, !indexed.contains(pack) else { continue }
                do {
                    scan.packs.append(UnindexedPack(pack: pack, size: size, entries: try readPackHeader(pack, size: size)))
                } catch {
                    scan.packs.append(UnindexedPack(pack: pack, size: size, entries: nil,
                                                    error: (error as? VaultError)?.message ?? "\(error)"))
                }
            }
            addUnindexed(scan.readable)
            mutex.withLock { unindexedScan = scan }
            return scan
        }
    }

    /// Looks for a blob missing from the index in the headers of unindexed packs.
    func findUnindexed(_ id: ID) -> BlobLocation? {
        guard let scan = try? scanUnindexedPacks(), let loc = lookup(id) else { return nil }
        if scan.packs.contains(where: { $0.pack == loc.pack }) && damagedIndexFiles.isEmpty {
            warn("some blobs are in packs that no readable index file lists (their headers were read instead); " +
                 "run `sitevault repair index` to rebuild the index")
        }
        return loc
    }
}
