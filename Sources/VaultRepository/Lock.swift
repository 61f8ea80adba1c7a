import Foundation
import VaultCore
import VaultCrypto
import VaultStorage
#if canImport(Glibc)
import Glibc
#endif

/// A repository lock. Shared locks (backup, restore, check) coexist; an exclusive lock (prune)
/// excludes every other lock. A lock whose process is gone on this host, or whose heartbeat is
/// older than `staleAfter`, is stale and taken over automatically.
public struct LockInfo: Codable, Sendable {
    public var exclusive: Bool
    public var operation: String
    public var hostname: String
    public var username: String
    public var pid: Int32
    public var time: Timestamp

    public var description: String {
        "\(exclusive ? "exclusive" : "shared") lock for \(operation) by pid \(pid) on \(hostname) (\(username)), refreshed \(time.iso8601)"
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
        while true {
            try write(repository, name: name, info: info)
            if let conflict = try findConflict(repository, me: name, exclusive: exclusive, hostname: hostname) {
                try? repository.store.remove(Handle(.locks, name))
                if monotonicSeconds() >= deadline {
                    throw VaultError(.locked, "the repository is locked: \(conflict.description). It is released when that operation ends; retry with --retry-lock to wait", context: ["holder": conflict.description])
                }
                usleep(500_000)
                continue
            }
            let lock = RepositoryLock(repository: repository, name: name, info: info)
            lock.startHeartbeat()
            return lock
        }
    }

    static func write(_ repo: Repository, name: String, info: LockInfo) throws {
        let sealed = try repo.key.seal(Array(try JSONEncoder().encode(info)))
        try repo.store.save(Handle(.locks, name), bytes: sealed)
    }

    /// Returns a live lock that conflicts with ours, removing stale locks on the way.
    static func findConflict(_ repo: Repository, me: String, exclusive: Bool, hostname: String) throws -> LockInfo? {
        let now = repo.clock.now()
        for (name, _) in try repo.store.list(.locks) where name != me {
            guard let plain = try? repo.loadSealed(.locks, name),
                  let other = try? JSONDecoder().decode(LockInfo.self, from: Data(plain)) else { continue }
            if isStale(other, now: now, hostname: hostname) {
                try? repo.store.remove(Handle(.locks, name))
                continue
            }
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

    func refresh() {
        mutex.withLock {
            guard !released else { return }
            info.time = repository.clock.now()
            try? RepositoryLock.write(repository, name: name, info: info)
        }
    }

    /// Confirms, just before a commit, that this lock is still ours: it is rewritten with a fresh
    /// heartbeat, and no exclusive lock of another process exists (which could only happen if this
    /// process was stopped long enough for its lock to be judged stale). Throws `.locked` otherwise,
    /// so nothing is committed that a concurrent prune might not know about.
    public func ensureHeld() throws {
        try mutex.withLock {
            guard !released else { throw VaultError(.locked, "the repository lock was already released") }
            let stillThere = (try? repository.store.exists(Handle(.locks, name))) ?? false
            info.time = repository.clock.now()
            try RepositoryLock.write(repository, name: name, info: info)
            if !stillThere {
                throw VaultError(.locked, "this process's lock was removed as stale (was it suspended for over \(Int(RepositoryLock.staleAfter / 60)) minutes?); nothing was committed — run the operation again")
            }
        }
        // Asking as a shared lock returns exactly the other processes' exclusive locks.
        if !info.exclusive, let other = try RepositoryLock.findConflict(repository, me: name, exclusive: false, hostname: info.hostname) {
            throw VaultError(.locked, "an exclusive lock appeared while this operation ran (\(other.description)); nothing was committed — run it again")
        }
    }

    /// Removes the lock. Safe to call more than once.
    public func release() {
        mutex.withLock {
            guard !released else { return }
            released = true
            try? repository.store.remove(Handle(.locks, name))
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
