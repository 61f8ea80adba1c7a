import VaultCore
import VaultStorage

/// Reads many blobs of one pack with few requests: the wanted entries are sorted by offset and cut
/// into runs (neighbours closer than `maxGap` bytes share a run, a run stops growing at `maxRun`
/// bytes), each run is one ranged read, and every blob of it is opened and checked against its id.
/// Restore and `check --read-data` read this way (one request per run of blobs, not one per blob),
/// which is what makes a remote store fast; on a local store it saves system calls.
public struct PackRuns: Sendable {
    public var maxGap: Int
    public var maxRun: Int

    public init(maxGap: Int = 256 << 10, maxRun: Int = 16 << 20) {
        self.maxGap = maxGap; self.maxRun = maxRun
    }

    /// Runs as long as `store` reads well in one request (`BlobStore.readRunSize`).
    public init(for store: any BlobStore) {
        self.init(maxRun: store.readRunSize)
    }

    /// The runs of `entries` (any order, duplicates allowed): each a byte range and its entries in
    /// offset order.
    public func plan(_ entries: [PackEntry]) -> [(range: Range<Int>, entries: [PackEntry])] {
        var sorted = entries.sorted { $0.offset < $1.offset }
        var seen = Set<ID>()
        sorted.removeAll { !seen.insert($0.id).inserted }
        var runs: [(range: Range<Int>, entries: [PackEntry])] = []
        for e in sorted {
            let start = Int(e.offset), end = start + Int(e.length)
            if let last = runs.last, start >= last.range.upperBound, start - last.range.upperBound <= maxGap,
               end - last.range.lowerBound <= maxRun {
                runs[runs.count - 1].range = last.range.lowerBound..<end
                runs[runs.count - 1].entries.append(e)
            } else {
                runs.append((start..<end, [e]))
            }
        }
        return runs
    }

    /// Reads the wanted blobs of `pack` and calls `body` with each one's plaintext, or with the
    /// error that blob met (a run whose read fails is retried blob by blob, so one damaged blob
    /// does not take its neighbours with it). `body` sees blobs in pack order, each id once.
    /// Returns the bytes read from the store.
    @discardableResult
    public func read(_ repository: Repository, pack: ID, entries: [PackEntry],
                     _ body: (PackEntry, Result<[UInt8], Error>) throws -> Void) throws -> UInt64 {
        let handle = Handle(.data, pack.hex)
        var bytes: UInt64 = 0
        for run in plan(entries) {
            let data: [UInt8]
            do {
                data = try repository.store.loadRun(handle, offset: run.range.lowerBound, length: run.range.count)
            } catch {
                // One by one: a missing pack fails each blob with its own error; a short pack fails
                // only the blobs past its end.
                for e in run.entries {
                    let r = Result { () throws -> [UInt8] in
                        let sealed = try repository.store.loadRun(handle, offset: Int(e.offset), length: Int(e.length))
                        bytes += UInt64(sealed.count)
                        return try repository.decodeBlob(sealed, entry: e, pack: pack)
                    }
                    try body(e, r)
                }
                continue
            }
            bytes += UInt64(data.count)
            for e in run.entries {
                let from = Int(e.offset) - run.range.lowerBound
                let plain = Result {
                    try data.withUnsafeBytes { try repository.decodeBlob(UnsafeRawBufferPointer(rebasing: $0[from..<from + Int(e.length)]), entry: e, pack: pack) }
                }
                try body(e, plain)
            }
        }
        return bytes
    }
}
