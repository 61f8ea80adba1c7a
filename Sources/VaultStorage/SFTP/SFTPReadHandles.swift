import VaultCore

/// Open read handles of pack files, so the ranged reads of restore and check (often one per blob)
/// cost one READ round trip instead of OPEN + READ. Only `data` files are cached: a pack's bytes
/// never change under its name. A handle of a lost session is never reused; `drop` (on remove) and
/// eviction close a handle once its last reader is done.
final class SFTPReadHandles: @unchecked Sendable {
    // @unchecked: `entries` and `tick` are only touched under `lock`; an entry's counters too.
    final class Entry {
        let channel: SFTPChannel
        let handle: [UInt8]
        let path: String
        var users = 0
        var lastUse: UInt64 = 0
        var retired = false
        init(channel: SFTPChannel, handle: [UInt8], path: String) {
            self.channel = channel; self.handle = handle; self.path = path
        }
    }

    private let lock = Mutex()
    private var entries: [String: Entry] = [:]
    private var tick: UInt64 = 0
    private let limit: Int

    init(limit: Int = 64) { self.limit = limit }

    /// An open handle of `path` (opened with `open` when none is cached); give it back with `checkin`.
    func checkout(_ path: String, open: () throws -> (SFTPChannel, [UInt8])) throws -> Entry {
        if let e = lock.withLock({ () -> Entry? in
            guard let e = entries[path] else { return nil }
            if e.channel.isDead { retire(e); return nil }
            e.users += 1; tick += 1; e.lastUse = tick
            return e
        }) { return e }
        let (channel, handle) = try open()
        let fresh = Entry(channel: channel, handle: handle, path: path)
        var duplicate: Entry?
        let chosen: Entry = lock.withLock {
            if let other = entries[path], !other.channel.isDead {
                duplicate = fresh
                other.users += 1; tick += 1; other.lastUse = tick
                return other
            }
            if let old = entries[path] { retire(old) }
            entries[path] = fresh
            fresh.users = 1; tick += 1; fresh.lastUse = tick
            evictIfFull()
            return fresh
        }
        if let d = duplicate { close(d) }
        return chosen
    }

    func checkin(_ e: Entry) {
        let closeNow = lock.withLock { () -> Bool in e.users -= 1; return e.retired && e.users == 0 }
        if closeNow { close(e) }
    }

    /// Forgets the handle of a removed file.
    func drop(_ path: String) {
        let closeNow: Entry? = lock.withLock {
            guard let e = entries[path] else { return nil }
            retire(e)
            return e.users == 0 ? e : nil
        }
        if let closeNow { close(closeNow) }
    }

    /// Call with `lock` held.
    private func retire(_ e: Entry) {
        e.retired = true
        if entries[e.path] === e { entries[e.path] = nil }
    }

    /// Call with `lock` held: closes the least recently used idle handles beyond `limit`.
    private func evictIfFull() {
        guard entries.count > limit else { return }
        let idle = entries.values.filter { $0.users == 0 }.sorted { $0.lastUse < $1.lastUse }
        for e in idle.prefix(entries.count - limit) {
            retire(e)
            try? e.channel.close(e.handle, path: e.path, wait: false)
        }
    }

    private func close(_ e: Entry) { try? e.channel.close(e.handle, path: e.path, wait: false) }
}
