import VaultCore

/// Whole packs kept after they were fetched, so that reading the blobs of one pack one after the
/// other (check, restore) costs one request per pack instead of one per blob: on a server where a
/// request costs milliseconds, that is the difference between seconds and minutes.
///
/// The first ranged read of a pack goes to the server as a ranged read; a second read of the same
/// pack fetches it whole (so reading one small blob never downloads a whole pack). Packs are named
/// by their content and never change; the store drops a pack from the cache when it saves or
/// removes that name. At most `limit` bytes are kept, least recently used first out.
final class S3PackCache: @unchecked Sendable {
    // @unchecked: every field is only touched under `lock`.
    private let lock = Mutex()
    private var packs: [String: [UInt8]] = [:]
    /// Cached keys, least recently used first.
    private var order: [String] = []
    private var held = 0
    /// Keys read once by range recently, oldest first (bounded).
    private var seen: [String] = []
    private let limit: Int

    init(limit: Int) { self.limit = limit }

    func get(_ key: String) -> [UInt8]? {
        lock.withLock {
            guard let b = packs[key] else { return nil }
            if let i = order.firstIndex(of: key) { order.remove(at: i); order.append(key) }
            return b
        }
    }

    /// Whether `key` was read by range before (then it is worth fetching whole); records this read.
    func shouldFetchWhole(_ key: String) -> Bool {
        lock.withLock {
            if let i = seen.firstIndex(of: key) { seen.remove(at: i); return true }
            seen.append(key)
            if seen.count > 256 { seen.removeFirst() }
            return false
        }
    }

    func put(_ key: String, _ bytes: [UInt8]) {
        guard bytes.count <= limit / 2 else { return }
        lock.withLock {
            if let old = packs[key] { held -= old.count; order.removeAll { $0 == key } }
            packs[key] = bytes; order.append(key); held += bytes.count
            while held > limit, let first = order.first {
                order.removeFirst()
                held -= packs.removeValue(forKey: first)?.count ?? 0
            }
        }
    }

    func drop(_ key: String) {
        lock.withLock {
            if let old = packs.removeValue(forKey: key) { held -= old.count; order.removeAll { $0 == key } }
            seen.removeAll { $0 == key }
        }
    }
}
