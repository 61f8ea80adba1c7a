import XCTest
import VaultCore
import VaultCrypto
import VaultStorage
import VaultTesting
@testable import VaultRepository
#if canImport(Glibc)
import Glibc
#endif

/// A lock that was removed or replaced is noticed (never silently written again), clocks out of
/// step are explained, `unlock` removes only stale locks, and reading falls back to no lock on a
/// read-only or full repository.
final class LockSafetyTests: XCTestCase {
    var dir: TemporaryDirectory!
    override func setUpWithError() throws { dir = try TemporaryDirectory() }
    override func tearDown() { dir.remove() }

    func lockFiles(_ repo: Repository) throws -> [String] { try repo.store.list(.locks).map(\.name).sorted() }

    func testHeartbeatAfterTheLockWasRemovedDoesNotRecreateItAndCommitFails() throws {
        let repo = try TestRepository.create(at: dir.sub("repo"))
        let lock = try RepositoryLock.acquire(repo, exclusive: false, operation: "backup", hostname: "me", username: "u")
        // Another host's prune judged it stale and removed it.
        try repo.store.remove(Handle(.locks, lock.name))
        lock.refresh()
        XCTAssertEqual(try lockFiles(repo), [], "the heartbeat must not write the removed lock again")
        XCTAssertNotNil(lock.lostReason)
        XCTAssertThrowsError(try lock.ensureHeld()) { e in
            XCTAssertEqual((e as? VaultError)?.code, .locked)
            XCTAssertTrue("\(e)".contains("nothing was committed"), "\(e)")
        }
        XCTAssertEqual(try lockFiles(repo), [], "ensureHeld does not recreate it either")
        lock.release()
    }

    /// A prune waiting for the lock (`--retry-lock`) shows its exclusive lock, marked pending, for a
    /// moment on each try: a backup committing at that moment goes on (the prune sees the backup's
    /// lock and backs off); a held exclusive lock still stops the commit, and still stops a new taker.
    func testAPendingExclusiveLockDoesNotFailACommitButAHeldOneDoes() throws {
        let repo = try TestRepository.create(at: dir.sub("repo"))
        let lock = try RepositoryLock.acquire(repo, exclusive: false, operation: "backup", hostname: "me", username: "u")
        var waiting = LockInfo(exclusive: true, operation: "prune", hostname: "other", username: "u", pid: 77, time: repo.clock.now())
        waiting.pending = true
        try RepositoryLock.write(repo, name: "aa", info: waiting)
        XCTAssertNoThrow(try lock.ensureHeld(), "a lock still being acquired is not held")
        XCTAssertThrowsError(try RepositoryLock.acquire(repo, exclusive: false, operation: "backup", hostname: "me", username: "u"),
                             "a new taker backs off from a pending exclusive lock (it may be about to hold it)")
        waiting.pending = nil
        try RepositoryLock.write(repo, name: "aa", info: waiting)
        XCTAssertThrowsError(try lock.ensureHeld()) { e in
            XCTAssertTrue("\(e)".contains("an exclusive lock appeared"), "\(e)")
        }
        lock.release()
    }

    func testALockReplacedByAnotherProcessIsLost() throws {
        let repo = try TestRepository.create(at: dir.sub("repo"))
        let lock = try RepositoryLock.acquire(repo, exclusive: false, operation: "backup", hostname: "me", username: "u")
        let other = LockInfo(exclusive: true, operation: "prune", hostname: "other", username: "u", pid: 77, time: repo.clock.now())
        try RepositoryLock.write(repo, name: lock.name, info: other)
        XCTAssertThrowsError(try lock.ensureHeld()) { e in
            XCTAssertEqual((e as? VaultError)?.code, .locked)
            XCTAssertTrue("\(e)".contains("replaced"), "\(e)")
        }
        lock.release()
        XCTAssertEqual(try lockFiles(repo), [lock.name], "release leaves the other process's file alone")
    }

    func testLockFromTheFutureBlocksExplainsAndOnlyRemoveAllRemovesIt() throws {
        let repo = try TestRepository.create(at: dir.sub("repo"))
        let future = LockInfo(exclusive: true, operation: "prune", hostname: "fasthost", username: "u", pid: 4242,
                              time: repo.clock.now().adding(seconds: 3 * 3600))
        try RepositoryLock.write(repo, name: String(repeating: "a", count: 64), info: future)
        XCTAssertThrowsError(try RepositoryLock.acquire(repo, exclusive: false, operation: "backup", hostname: "me", username: "u")) { e in
            XCTAssertEqual((e as? VaultError)?.code, .locked)
            let text = "\(e)"
            XCTAssertTrue(text.contains("ahead of this host's clock"), text)
            XCTAssertTrue(text.contains("sitevault unlock --remove-all"), text)
        }
        var report = try RepositoryLock.removeLocks(repo, hostname: "me", all: false)
        XCTAssertEqual(report.removed.count, 0)
        XCTAssertEqual(report.kept.map(\.file), ["locks/" + String(repeating: "a", count: 64)])
        XCTAssertEqual(try lockFiles(repo).count, 1)
        report = try RepositoryLock.removeLocks(repo, hostname: "me", all: true, dryRun: true)
        XCTAssertEqual(report.removed.count, 1)
        XCTAssertEqual(try lockFiles(repo).count, 1, "dry run removes nothing")
        report = try RepositoryLock.removeLocks(repo, hostname: "me", all: true)
        XCTAssertEqual(report.removed.count, 1)
        XCTAssertEqual(try lockFiles(repo), [])
        XCTAssertNoThrow(try RepositoryLock.acquire(repo, exclusive: false, operation: "backup", hostname: "me", username: "u").release())
    }

    func testUnlockRemovesStaleLocksAndKeepsLiveOnes() throws {
        let repo = try TestRepository.create(at: dir.sub("repo"))
        let now = repo.clock.now()
        let old = LockInfo(exclusive: false, operation: "backup", hostname: "slowhost", username: "u", pid: 1,
                           time: now.adding(seconds: -RepositoryLock.staleAfter - 60))
        let live = LockInfo(exclusive: false, operation: "backup", hostname: "me", username: "u", pid: getpid(), time: now)
        try RepositoryLock.write(repo, name: String(repeating: "b", count: 64), info: old)
        try RepositoryLock.write(repo, name: String(repeating: "c", count: 64), info: live)
        let report = try RepositoryLock.removeLocks(repo, hostname: "me", all: false)
        XCTAssertEqual(report.removed.map(\.file), ["locks/" + String(repeating: "b", count: 64)])
        XCTAssertTrue(report.removed[0].reason.contains("min ago"), report.removed[0].reason)
        XCTAssertEqual(try lockFiles(repo), [String(repeating: "c", count: 64)])
    }

    func testReadingFallsBackToNoLockOnlyWhenTheLockCannotBeWritten() throws {
        let path = dir.sub("repo")
        _ = try TestRepository.create(at: path)
        let readOnly = try Repository.open(store: FailingSaves(LocalStore(root: path), errno: EROFS), password: TestRepository.password,
                                           clock: SystemClock())
        let access = try RepositoryLock.acquireForReading(readOnly, operation: "restore", hostname: "me", username: "u", noLock: false)
        XCTAssertNil(access.lock)
        XCTAssertTrue(access.warning?.contains("read-only or full") == true, "\(String(describing: access.warning))")
        let full = try Repository.open(store: FailingSaves(LocalStore(root: path), errno: ENOSPC), password: TestRepository.password,
                                       clock: SystemClock())
        XCTAssertNil(try RepositoryLock.acquireForReading(full, operation: "check", hostname: "me", username: "u", noLock: false).lock)
        // Another I/O error is not a reason to read unlocked.
        let broken = try Repository.open(store: FailingSaves(LocalStore(root: path), errno: EIO), password: TestRepository.password,
                                         clock: SystemClock())
        XCTAssertThrowsError(try RepositoryLock.acquireForReading(broken, operation: "check", hostname: "me", username: "u", noLock: false))
        // A live exclusive lock still refuses reading, even unlocked.
        let writable = try TestRepository.open(at: path)
        let prune = try RepositoryLock.acquire(writable, exclusive: true, operation: "prune", hostname: "me", username: "u")
        XCTAssertThrowsError(try RepositoryLock.acquireForReading(readOnly, operation: "restore", hostname: "me", username: "u", noLock: false)) {
            XCTAssertEqual(($0 as? VaultError)?.code, .locked)
        }
        prune.release()
        // --no-lock writes nothing and warns about nothing.
        let none = try RepositoryLock.acquireForReading(writable, operation: "restore", hostname: "me", username: "u", noLock: true)
        XCTAssertNil(none.lock); XCTAssertNil(none.warning)
        XCTAssertEqual(try lockFiles(writable), [])
    }
}

/// A store whose saves fail with one errno (a read-only or full file system), reads pass through.
struct FailingSaves: BlobStore {
    let inner: LocalStore
    let code: Int32
    init(_ inner: LocalStore, errno code: Int32) { self.inner = inner; self.code = code }
    var location: String { inner.location }
    func save(_ handle: Handle, bytes: UnsafeRawBufferPointer) throws {
        throw VaultError.posix("cannot create", path: inner.path(handle), errno: code)
    }
    func load(_ handle: Handle) throws -> [UInt8] { try inner.load(handle) }
    func load(_ handle: Handle, offset: Int, length: Int) throws -> [UInt8] { try inner.load(handle, offset: offset, length: length) }
    func createIfAbsent(_ handle: Handle, bytes: UnsafeRawBufferPointer) throws -> Bool {
        throw VaultError.posix("cannot create", path: inner.path(handle), errno: code)
    }
    func stat(_ handle: Handle) throws -> StoredFile { try inner.stat(handle) }
    func list(_ kind: FileKind, _ body: (StoredFile) throws -> Bool) throws { try inner.list(kind, body) }
    func remove(_ handle: Handle) throws { throw VaultError.posix("cannot remove", path: inner.path(handle), errno: code) }
    func createPending(_ kind: FileKind) throws -> PendingFile { throw VaultError.posix("cannot create", path: inner.location, errno: code) }
    func createLayout(kinds: [FileKind]) throws { throw VaultError.posix("cannot create", path: inner.location, errno: code) }
    func checkReachable() throws { try inner.checkReachable() }
    func checkWritable() throws -> Int? { throw VaultError.posix("cannot create", path: inner.location, errno: code) }
    func removeStaleTemporaries(olderThan: Double, now: Double) throws -> Int { 0 }
}
