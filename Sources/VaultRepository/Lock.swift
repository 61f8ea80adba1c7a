import Foundation
import VaultCore
import VaultCrypto
import VaultStorage
#if canImport(Glibc)
import Glibc
#endif

/// A repository lock. Shared locks (backup, restore, check) coexist; an exclusive lock (prune)
/// excludes every other lock. A lock whose process is gone on this host, or whose heartbeat is
/// older than `staleAfter`, is stale and taken over automatically. A lock whose time is ahead of
/// this host's clock is never stale (a host with a fast clock cannot be told from a live holder):
/// `sitevault unlock --remove-all` removes it.
public struct LockInfo: Codable, Hashable, Sendable {
    public var exclusive: Bool
    public var operation: String
    public var hostname: String
    public var username: String
    public var pid: Int32
    public var time: Timestamp
    /// True while the process is still checking for conflicting locks (its lock is not held yet):
    /// it backs off if it finds one. Nil (held) in locks written before this field existed.
    public var pending: Bool?

    public var description: String {
        "\(exclusive ? "exclusive" : "shared") lock for \(operation) by pid \(pid) on \(hostname) (\(username)), refreshed \(time.iso8601)"
    }

    /// Same process and operation; the time is left out (a refresh whose write failed half-way may
    /// or may not have replaced it).
    func sameHolder(as other: LockInfo) -> Bool {
        exclusive == other.exclusive && operation == other.operation && hostname == other.hostname &&
            username == other.username && pid == other.pid
    }

    /// The description, plus a note when the lock's time is ahead of `now` (clocks out of step).
    func describe(now: Timestamp) -> String {
        let ahead = time.seconds - now.seconds
        guard ahead > 60 else { return description }
        return description + " — \(Int(ahead / 60)) min ahead of this host's clock (are the clocks of the two hosts out of step? " +
            "such a lock is never judged stale)"
    }
}

public final class RepositoryLock: @unchecked Sendable {
    // @unchecked: `released` and `refreshTimestamp` are guarded by `mutex`; the heartbeat thread only reads.
    public static let heartbeat: Double = 60
    public static let staleAfter: Double = 30 * 60
    let repository: Repository
    public let name: String
    var info: LockInfo
    private let mutex = Mutex()
    private var released = false
    /// Why the lock is no longer ours (removed or replaced by another process), once seen.
    private var lost: String?
    private var thread: Thread?

    private init(repository: Repository, name: String, info: LockInfo) {
        self.repository = repository; self.name = name; self.info = info
    }

    /// Takes a lock, waiting up to `wait` seconds for conflicting locks to go.
    /// Throws `.locked` naming the holder when it cannot.
    public static func acquire(_ repository: Repository, exclusive: Bool, operation: String, hostname: String,
                               username: String, wait: Double = 0) throws -> RepositoryLock {
        let info = LockInfo(exclusive: exclusive, operation: operation, hostname: hostname, username: username,
                            pid: getpid(), time: repository.clock.now())
        let name = Hex.encode(randomBytes(32))
        let deadline = monotonicSeconds() + wait
        var pending = info
        pending.pending = true
        while true {
            try create(repository, name: name, info: pending)
            if let conflict = try findConflict(repository, me: name, exclusive: exclusive, hostname: hostname) {
                try? repository.store.remove(Handle(.locks, name))
                if monotonicSeconds() >= deadline {
                    throw VaultError(.locked, "the repository is locked: \(conflict.describe(now: repository.clock.now())). " +
                        "It is released when that operation ends; retry with --retry-lock SECONDS to wait. If that operation is " +
                        "no longer running, `sitevault unlock` removes stale locks (refreshed over " +
                        "\(Int(staleAfter / 60)) min ago, or of a dead process on this host) and `sitevault unlock --remove-all` " +
                        "removes every lock", context: ["holder": conflict.description])
                }
                usleep(500_000)
                continue
            }
            // No conflict while ours was visible: the lock is held. Written again without
            // `pending`, so a holder's check before its commit counts it.
            do { try write(repository, name: name, info: info) } catch {
                try? repository.store.remove(Handle(.locks, name))
                throw error
            }
            let lock = RepositoryLock(repository: repository, name: name, info: info)
            lock.startHeartbeat()
            return lock
        }
    }

    /// Writes a new lock file with the store's atomic create-if-absent; a name already taken (a
    /// removal of our own earlier attempt that failed) is overwritten, as it can only be ours.
    static func create(_ repo: Repository, name: String, info: LockInfo) throws {
        let sealed = try repo.key.seal(Array(try JSONEncoder().encode(info)))
        if try !repo.store.createIfAbsent(Handle(.locks, name), bytes: sealed) {
            try repo.store.save(Handle(.locks, name), bytes: sealed)
        }
    }

    static func write(_ repo: Repository, name: String, info: LockInfo) throws {
        let sealed = try repo.key.seal(Array(try JSONEncoder().encode(info)))
        try repo.store.save(Handle(.locks, name), bytes: sealed)
    }

    /// Returns a live lock that conflicts with ours, removing stale locks on the way. With
    /// `ignoringPending`, locks still being acquired are left out (see `ensureHeld`).
    static func findConflict(_ repo: Repository, me: String, exclusive: Bool, hostname: String,
                             ignoringPending: Bool = false) throws -> LockInfo? {
        let now = repo.clock.now()
        for (name, _) in try repo.store.list(.locks) where name != me {
            guard let plain = try? repo.loadSealed(.locks, name),
                  let other = try? JSONDecoder().decode(LockInfo.self, from: Data(plain)) else { continue }
            if isStale(other, now: now, hostname: hostname) {
                try? repo.store.remove(Handle(.locks, name))
                continue
            }
            if ignoringPending && other.pending == true { continue }
            if exclusive || other.exclusive { return other }
        }
        return nil
    }

    public static func isStale(_ l: LockInfo, now: Timestamp, hostname: String) -> Bool {
        if l.hostname == hostname && l.pid > 0 && kill(l.pid, 0) != 0 && errno == ESRCH { return true }
        return now.seconds - l.time.seconds > staleAfter
    }

    private func startHeartbeat() {
        let t = Thread { [weak self] in
            while true {
                for _ in 0..<Int(RepositoryLock.heartbeat * 10) {
                    usleep(100_000)
                    if self?.isReleased ?? true { return }
                }
                guard let self else { return }
                self.refresh()
            }
        }
        thread = t
        t.start()
    }

    var isReleased: Bool { mutex.withLock { released } }

    /// The heartbeat: rewrites the lock with a fresh time, unless it was removed or replaced by
    /// another process meanwhile; then the loss is remembered (never hidden by writing the file
    /// again) and `ensureHeld` fails, so nothing is committed.
    func refresh() {
        mutex.withLock {
            guard !released, lost == nil else { return }
            if let why = checkOwned() { lost = why; return }
            info.time = repository.clock.now()
            try? RepositoryLock.write(repository, name: name, info: info)
        }
    }

    /// Nil when the lock file still holds what this process last wrote; otherwise why not.
    /// Called under `mutex`.
    private func checkOwned() -> String? {
        let handle = Handle(.locks, name)
        guard (try? repository.store.exists(handle)) == true else {
            return "this process's lock file locks/\(name.prefix(8)) was removed by another process (judged stale: " +
                "was this process suspended, or is another host's clock over \(Int(RepositoryLock.staleAfter / 60)) min ahead?)"
        }
        guard let plain = try? repository.loadSealed(.locks, name),
              let onDisk = try? JSONDecoder().decode(LockInfo.self, from: Data(plain)), onDisk.sameHolder(as: info) else {
            // An unreadable file is treated as replaced: it is not what we wrote.
            return "this process's lock file locks/\(name.prefix(8)) was replaced by another process"
        }
        return nil
    }

    /// Confirms, just before a commit (a backup's index and snapshot, a prune's deletions), that this
    /// lock is still ours: the file still holds what this process wrote (it was not removed as stale
    /// or replaced, now or at an earlier heartbeat), and no exclusive lock of another process exists.
    /// The lock is then rewritten with a fresh time. Throws `.locked` otherwise, so nothing is
    /// committed that a concurrent prune might not know about.
    public func ensureHeld() throws {
        try mutex.withLock {
            guard !released else { throw VaultError(.locked, "the repository lock was already released") }
            if lost == nil { lost = checkOwned() }
            if let lost {
                throw VaultError(.locked, lost + (info.exclusive ? "; stopped before deleting anything more — run it again"
                                                                 : "; nothing was committed — run the operation again"))
            }
            info.time = repository.clock.now()
            try RepositoryLock.write(repository, name: name, info: info)
        }
        // Asking as a shared lock returns exactly the other processes' exclusive locks. One still
        // being acquired (a prune waiting with --retry-lock shows its lock for a moment on each
        // try) is not held: it sees ours and backs off, so it is left out.
        if !info.exclusive, let other = try RepositoryLock.findConflict(repository, me: name, exclusive: false, hostname: info.hostname,
                                                                        ignoringPending: true) {
            throw VaultError(.locked, "an exclusive lock appeared while this operation ran (\(other.description)); nothing was committed — run it again")
        }
    }

    /// Why the lock was lost, if a heartbeat or `ensureHeld` found it removed or replaced.
    public var lostReason: String? { mutex.withLock { lost } }

    /// Removes the lock (unless it was lost: the file is then another process's). Safe to call more than once.
    public func release() {
        mutex.withLock {
            guard !released else { return }
            released = true
            if lost == nil { try? repository.store.remove(Handle(.locks, name)) }
        }
    }

    /// Runs `body` under a lock, releasing it afterwards whatever happens.
    public static func with<T>(_ repository: Repository, exclusive: Bool, operation: String, hostname: String, username: String,
                               wait: Double = 0, _ body: () throws -> T) throws -> T {
        let l = try acquire(repository, exclusive: exclusive, operation: operation, hostname: hostname, username: username, wait: wait)
        defer { l.release() }
        return try body()
    }
}
