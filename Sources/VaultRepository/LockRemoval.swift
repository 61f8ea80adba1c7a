import Foundation
import VaultCore
import VaultStorage
#if canImport(Glibc)
import Glibc
#endif

/// One lock file seen by `unlock`.
public struct LockFileEntry: Codable, Sendable {
    public var file: String
    /// The holder, or nil when the file cannot be opened (damaged, another repository's key).
    public var holder: String?
    public var reason: String
}

/// What `sitevault unlock` removed and kept.
public struct UnlockReport: Codable, Sendable {
    public var removed: [LockFileEntry] = []
    public var kept: [LockFileEntry] = []
    public var dryRun = false
}

/// How a reading command holds the repository: with a shared lock, or without one (asked for with
/// `--no-lock`, or because the lock could not be written on a read-only or full repository).
public struct ReadAccess: Sendable {
    public let lock: RepositoryLock?
    /// Set when reading goes on without a lock although none was asked to be skipped.
    public let warning: String?

    public func release() { lock?.release() }
}

extension RepositoryLock {
    /// Removes stale locks (refreshed more than `staleAfter` ago, or held by a dead process on this
    /// host), or with `all` every lock — even live ones, whose operations then fail before they
    /// commit. Locks whose time is ahead of this host's clock are stale only with `all`.
    public static func removeLocks(_ repo: Repository, hostname: String, all: Bool, dryRun: Bool = false) throws -> UnlockReport {
        var report = UnlockReport()
        report.dryRun = dryRun
        let now = repo.clock.now()
        for (name, _) in try repo.store.list(.locks).sorted(by: { $0.name < $1.name }) {
            let file = "locks/\(name)"
            let info = (try? repo.loadSealed(.locks, name)).flatMap { try? JSONDecoder().decode(LockInfo.self, from: Data($0)) }
            let reason: String?
            if let info, isStale(info, now: now, hostname: hostname) {
                reason = info.hostname == hostname && now.seconds - info.time.seconds <= staleAfter
                    ? "its process \(info.pid) no longer runs on this host"
                    : "it was last refreshed over \(Int(staleAfter / 60)) min ago"
            } else if all {
                reason = info == nil ? "it cannot be read (--remove-all)" : "--remove-all"
            } else {
                reason = nil
            }
            let holder = info?.describe(now: now)
            guard let reason else {
                report.kept.append(LockFileEntry(file: file, holder: holder, reason: info == nil
                    ? "it cannot be read with this repository's key" : "its holder may still be running"))
                continue
            }
            if !dryRun { try repo.store.remove(Handle(.locks, name)) }
            report.removed.append(LockFileEntry(file: file, holder: holder, reason: reason))
        }
        return report
    }

    /// A shared lock for a command that only reads. With `noLock` none is taken. When the lock
    /// cannot be written because the repository is read-only (EROFS, EACCES, EPERM) or full
    /// (ENOSPC, EDQUOT), reading goes on without one and `warning` says so — provided no live
    /// exclusive lock (a prune) is visible. Throws `.locked` on a conflicting lock, like `acquire`.
    public static func acquireForReading(_ repository: Repository, operation: String, hostname: String, username: String,
                                         wait: Double = 0, noLock: Bool) throws -> ReadAccess {
        if noLock { return ReadAccess(lock: nil, warning: nil) }
        do {
            return ReadAccess(lock: try acquire(repository, exclusive: false, operation: operation, hostname: hostname,
                                                username: username, wait: wait), warning: nil)
        } catch let e as VaultError where cannotWrite(e) {
            if let other = try findConflict(repository, me: "", exclusive: false, hostname: hostname) {
                throw VaultError(.locked, "the repository is locked: \(other.describe(now: repository.clock.now())); " +
                                 "it is released when that operation ends")
            }
            return ReadAccess(lock: nil, warning: "cannot write a lock in \(repository.store.location) (\(e.message)); " +
                "reading without a lock because the repository is read-only or full — make sure no prune runs meanwhile " +
                "(pass --no-lock to skip the lock and this warning)")
        }
    }

    /// True for the errors of a repository that cannot take any write: read-only or full.
    static func cannotWrite(_ e: VaultError) -> Bool {
        if e.code == .noSpace { return true }
        guard let n = e.context["errno"].flatMap(Int32.init) else { return false }
        return [EROFS, EACCES, EPERM, ENOSPC, EDQUOT].contains(n)
    }
}
