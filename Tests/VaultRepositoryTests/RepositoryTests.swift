import Foundation
import XCTest
import VaultCore
import VaultCrypto
import VaultStorage
import VaultTesting
@testable import VaultRepository

final class RepositoryTests: XCTestCase {
    var dir: TemporaryDirectory!
    override func setUpWithError() throws { dir = try TemporaryDirectory() }
    override func tearDown() { dir.remove() }

    /// The index's stored size counts each blob once, wherever copies of it are.
    func testIndexStoredBytesCountsEachBlobOnce() {
        func id(_ n: UInt64) -> ID { ID(w0: n, w1: 0, w2: 0, w3: 0) }
        func entry(_ n: UInt64, _ length: UInt32) -> PackEntry {
            PackEntry(type: .data, id: id(n), offset: 0, length: length, rawLength: length * 2, compressed: true)
        }
        var index = MasterIndex()
        XCTAssertEqual(index.storedBytes, 0)
        index.add(pack: id(100), entries: [entry(1, 100), entry(2, 50)])
        index.add(pack: id(101), entries: [entry(1, 100), entry(3, 7)])
        XCTAssertEqual(index.storedBytes, 157, "blob 1 is stored twice but counted once")
        index.add(pack: id(100), entries: [entry(2, 50)])
        XCTAssertEqual(index.storedBytes, 157)
    }

    func testInitOpenAndPermissions() throws {
        let path = dir.sub("repo")
        let repo = try TestRepository.create(at: path)
        let again = try TestRepository.open(at: path)
        XCTAssertEqual(again.config.id, repo.config.id)
        var st = stat()
        XCTAssertEqual(stat(path + "/config", &st), 0)
        XCTAssertEqual(st.st_mode & 0o077, 0, "config must not be readable by others")
        XCTAssertEqual(stat(path + "/data", &st), 0)
        XCTAssertEqual(st.st_mode & 0o077, 0)
        XCTAssertThrowsError(try TestRepository.create(at: path)) { XCTAssertEqual(($0 as? VaultError)?.code, .repositoryExists) }
    }

    /// Of several `init`s racing on one store, exactly one creates the config; the others are refused.
    func testRacingInitsCreateOneRepository() throws {
        let store = MemoryStore()
        let outcomes = Outcomes()
        DispatchQueue.concurrentPerform(iterations: 4) { i in
            do {
                let r = try Repository.initialize(store: store, password: TestRepository.password, kdf: .insecureForTests(),
                                                  clock: SystemClock(), hostname: "h\(i)", username: "u")
                outcomes.add(r.config.id)
            } catch let e as VaultError where e.code == .repositoryExists { outcomes.add("refused") } catch {
                outcomes.add("\(error)")
            }
        }
        let winners = outcomes.all.filter { $0 != "refused" }
        XCTAssertEqual(outcomes.all.count, 4)
        XCTAssertEqual(winners.count, 1, "exactly one init wins, the others are refused: \(outcomes.all)")
        XCTAssertEqual(try Repository.readConfig(store).id, winners.first)
    }

    func testWrongPasswordMissingRepoAndUnknownVersion() throws {
        let path = dir.sub("repo")
        _ = try TestRepository.create(at: path)
        XCTAssertThrowsError(try Repository.open(store: LocalStore(root: path), password: Array("nope".utf8), clock: SystemClock())) {
            XCTAssertEqual(($0 as? VaultError)?.code, .wrongPassword)
        }
        XCTAssertThrowsError(try Repository.open(store: LocalStore(root: dir.sub("none")), password: TestRepository.password, clock: SystemClock())) {
            XCTAssertEqual(($0 as? VaultError)?.code, .repositoryNotFound)
        }
        let cfg = try String(contentsOfFile: path + "/config", encoding: .utf8)
        try cfg.replacingOccurrences(of: "\"version\" : 1", with: "\"version\" : 7").write(toFile: path + "/config", atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try TestRepository.open(at: path)) { e in
            XCTAssertEqual((e as? VaultError)?.code, .unsupportedVersion)
            XCTAssertTrue("\(e)".contains("version 7"), "\(e)")
        }
    }

    func testAForeignKeyFileDoesNotStopOpening() throws {
        // A key file wrapping another master key (e.g. left by an init interrupted before its config
        // was written) must not prevent opening with the right key, whatever the name order.
        let path = dir.sub("repo")
        _ = try TestRepository.create(at: path)
        let stray = try KeyFile.create(master: MasterKey.random(), password: TestRepository.password, kdf: .insecureForTests(),
                                       created: Timestamp(nanoseconds: 0), hostname: "h", username: "u")
        try LocalStore(root: path).save(Handle(.keys, String(repeating: "0", count: 64)), bytes: Array(try JSONEncoder().encode(stray)))
        XCTAssertNoThrow(try TestRepository.open(at: path))
    }

    func testOutOfRangeKDFParametersAreRefused() throws {
        var k = KDFParameters.insecureForTests()
        k.n = 1 << 30
        XCTAssertThrowsError(try k.derive(password: [1])) { XCTAssertEqual(($0 as? VaultError)?.code, .corrupt) }
        k.n = 1000
        XCTAssertThrowsError(try k.derive(password: [1]))
        k = .insecureForTests(); k.salt = ""
        XCTAssertThrowsError(try k.derive(password: [1]))
    }

    func testTamperedConfigIsDetected() throws {
        let path = dir.sub("repo")
        let repo = try TestRepository.create(at: path)
        let cfg = try String(contentsOfFile: path + "/config", encoding: .utf8)
        let other = String(repeating: "a", count: 64)
        try cfg.replacingOccurrences(of: repo.config.id, with: other).write(toFile: path + "/config", atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try TestRepository.open(at: path)) { XCTAssertEqual(($0 as? VaultError)?.code, .corrupt) }
    }

    func testBlobWriterDeduplicatesAndIndexSurvivesReopen() throws {
        let path = dir.sub("repo")
        let repo = try TestRepository.create(at: path)
        let w = BlobWriter(repository: repo, packTargetSize: 1 << 20)
        var rng = SeededRandom(seed: 3)
        var ids: [ID] = []
        var blobs: [[UInt8]] = []
        for i in 0..<20 {
            let b = i % 2 == 0 ? rng.bytes(200_000) : Array(repeating: UInt8(i), count: 300_000)
            blobs.append(b)
            let r = try w.save(.data, b)
            XCTAssertTrue(r.new)
            ids.append(r.id)
            XCTAssertFalse(try w.save(.data, b).new, "a second save of the same blob must be deduplicated")
        }
        try w.flush()
        XCTAssertEqual(w.stats.blobsAdded, 20)
        XCTAssertGreaterThan(w.stats.packsWritten, 1, "1 MiB packs: several expected")
        let reopened = try TestRepository.open(at: path)
        XCTAssertEqual(reopened.index.blobCount, 20)
        for (id, b) in zip(ids, blobs) { XCTAssertEqual(try reopened.loadBlob(id), b) }
        // Compressible blobs were stored compressed.
        let stored = try reopened.store.list(.data).reduce(0) { $0 + $1.size }
        XCTAssertLessThan(stored, 10 * 200_000 + 10 * 300_000 / 2)
        // The repository holds no plaintext: search the packs for a known run of bytes.
        let needle = Array(blobs[0][1000..<1064])
        for (name, _) in try reopened.store.list(.data) {
            let bytes = try reopened.store.load(Handle(.data, name))
            XCTAssertNil(Data(bytes).range(of: Data(needle)), "plaintext found in pack \(name)")
        }
    }

    func testLoadBlobDetectsAlteredPack() throws {
        let path = dir.sub("repo")
        let repo = try TestRepository.create(at: path)
        let w = BlobWriter(repository: repo)
        let id = try w.save(.data, Array(repeating: 7, count: 5000)).id
        try w.flush()
        let loc = try XCTUnwrap(repo.lookup(id))
        let file = (repo.store as! LocalStore).path(Handle(.data, loc.pack.hex))
        var bytes = try Array(Data(contentsOf: URL(fileURLWithPath: file)))
        bytes[Int(loc.entry.offset) + 20] ^= 0x40
        try Data(bytes).write(to: URL(fileURLWithPath: file))
        let fresh = try TestRepository.open(at: path)
        XCTAssertThrowsError(try fresh.loadBlob(id)) { XCTAssertEqual(($0 as? VaultError)?.code, .corrupt) }
    }

    func testKeysAddListRemove() throws {
        let path = dir.sub("repo")
        let repo = try TestRepository.create(at: path)
        let second = try repo.addKey(password: Array("second".utf8), kdf: .insecureForTests(), hostname: "h", username: "u")
        XCTAssertEqual(try repo.listKeys().count, 2)
        let viaSecond = try Repository.open(store: LocalStore(root: path), password: Array("second".utf8), clock: SystemClock())
        XCTAssertEqual(viaSecond.keyName, second)
        XCTAssertThrowsError(try viaSecond.removeKey(second), "removing the key in use must be refused")
        _ = try viaSecond.removeKey(repo.keyName)
        XCTAssertThrowsError(try TestRepository.open(at: path)) { XCTAssertEqual(($0 as? VaultError)?.code, .wrongPassword) }
    }

    func testLocksSharedExclusiveAndStale() throws {
        let path = dir.sub("repo")
        let repo = try TestRepository.create(at: path)
        let a = try RepositoryLock.acquire(repo, exclusive: false, operation: "backup", hostname: "me", username: "u")
        let b = try RepositoryLock.acquire(repo, exclusive: false, operation: "check", hostname: "me", username: "u")
        XCTAssertThrowsError(try RepositoryLock.acquire(repo, exclusive: true, operation: "prune", hostname: "me", username: "u")) { e in
            XCTAssertEqual((e as? VaultError)?.code, .locked)
            XCTAssertTrue("\(e)".contains("pid \(getpid())"), "the holder must be named: \(e)")
        }
        a.release(); b.release()
        let x = try RepositoryLock.acquire(repo, exclusive: true, operation: "prune", hostname: "me", username: "u")
        XCTAssertThrowsError(try RepositoryLock.acquire(repo, exclusive: false, operation: "backup", hostname: "me", username: "u"))
        x.release()
        // A lock of a process that no longer exists on this host is taken over.
        let dead = LockInfo(exclusive: true, operation: "prune", hostname: "me", username: "u", pid: deadPID(), time: repo.clock.now())
        try RepositoryLock.write(repo, name: String(repeating: "d", count: 64), info: dead)
        let taken = try RepositoryLock.acquire(repo, exclusive: false, operation: "backup", hostname: "me", username: "u")
        XCTAssertEqual(try repo.store.list(.locks).count, 1)
        taken.release()
        XCTAssertEqual(try repo.store.list(.locks).count, 0)
        // An old heartbeat from another host is stale too; a fresh one is not.
        XCTAssertTrue(RepositoryLock.isStale(LockInfo(exclusive: true, operation: "p", hostname: "far", username: "u", pid: 1,
                                                      time: repo.clock.now().adding(seconds: -RepositoryLock.staleAfter - 1)), now: repo.clock.now(), hostname: "me"))
        XCTAssertFalse(RepositoryLock.isStale(LockInfo(exclusive: true, operation: "p", hostname: "far", username: "u", pid: 1,
                                                       time: repo.clock.now()), now: repo.clock.now(), hostname: "me"))
    }

    func testEnsureHeldSeesAnExclusiveLockBesideSharedOnes() throws {
        let repo = try TestRepository.create(at: dir.sub("repo"))
        let mine = try RepositoryLock.acquire(repo, exclusive: false, operation: "backup", hostname: "me", username: "u")
        defer { mine.release() }
        XCTAssertNoThrow(try mine.ensureHeld())
        let now = repo.clock.now()
        try RepositoryLock.write(repo, name: String(repeating: "0", count: 64),
                                 info: LockInfo(exclusive: false, operation: "check", hostname: "me", username: "u", pid: getpid(), time: now))
        XCTAssertNoThrow(try mine.ensureHeld(), "another shared lock is no conflict")
        try RepositoryLock.write(repo, name: String(repeating: "f", count: 64),
                                 info: LockInfo(exclusive: true, operation: "prune", hostname: "me", username: "u", pid: getpid(), time: now))
        XCTAssertThrowsError(try mine.ensureHeld()) { XCTAssertEqual(($0 as? VaultError)?.code, .locked) }
    }

    func deadPID() -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/true")
        try? p.run(); p.waitUntilExit()
        return p.processIdentifier
    }
}

/// Results gathered from concurrent threads.
final class Outcomes: @unchecked Sendable {
    // @unchecked: `items` is only touched under `lock`.
    private let lock = Mutex()
    private var items: [String] = []
    func add(_ s: String) { lock.withLock { items.append(s) } }
    var all: [String] { lock.withLock { items } }
}
