import XCTest
import VaultCore
import VaultRepository
import VaultStorage
import VaultTesting
import VaultArchiver
@testable import VaultMaintenance

final class MaintenanceTests: XCTestCase {
    var dir: TemporaryDirectory!
    override func setUpWithError() throws { dir = try TemporaryDirectory() }
    override func tearDown() { dir.remove() }

    func makeTree(_ name: String, seed: UInt64, size: Int) throws -> String {
        let p = dir.sub(name)
        try FileManager.default.createDirectory(atPath: p, withIntermediateDirectories: true)
        var rng = SeededRandom(seed: seed)
        for i in 0..<4 { try Data(rng.bytes(size / 4)).write(to: URL(fileURLWithPath: p + "/f\(i)")) }
        return p
    }

    func backup(_ repo: Repository, _ path: String) async throws -> BackupResult {
        try await Archiver(repository: repo, options: BackupOptions(paths: [path], hostname: "h", username: "u")).run()
    }

    func testCheckNamesDamagedPackAndOnlyAffectedSnapshots() async throws {
        let repo = try TestRepository.create(at: dir.sub("repo"))
        let a = try await backup(repo, try makeTree("a", seed: 1, size: 2 << 20))
        let packsAfterA = Set(try repo.store.list(.data).map(\.name))
        let b = try await backup(repo, try makeTree("b", seed: 2, size: 2 << 20))
        XCTAssertTrue(try Checker(repository: repo).run(readData: true).ok)
        // Damage a data pack that only snapshot b uses.
        let bPacks = try repo.store.list(.data).filter { !packsAfterA.contains($0.name) }.sorted { $0.size > $1.size }
        let victim = bPacks[0].name
        let file = (repo.store as! LocalStore).path(Handle(.data, victim))
        var bytes = try Array(Data(contentsOf: URL(fileURLWithPath: file)))
        bytes[100] ^= 0xff
        try Data(bytes).write(to: URL(fileURLWithPath: file))
        let fresh = try TestRepository.open(at: dir.sub("repo"))
        let report = try Checker(repository: fresh).run(readData: true)
        XCTAssertFalse(report.ok)
        XCTAssertTrue(report.problems.contains { $0.file.contains(victim) }, "\(report.problems)")
        XCTAssertEqual(report.affectedSnapshots, [b.id.hex])
        XCTAssertFalse(report.affectedSnapshots.contains(a.id.hex))
        // Without --read-data the flipped byte inside a blob is not visible, but a missing pack is.
        try FileManager.default.removeItem(atPath: file)
        let structural = try Checker(repository: try TestRepository.open(at: dir.sub("repo"))).run(readData: false)
        XCTAssertTrue(structural.problems.contains { $0.kind == "pack-missing" && $0.file.contains(victim) })
        XCTAssertEqual(structural.affectedSnapshots, [b.id.hex])
    }

    func testTruncatedIndexAndPackAreNamed() async throws {
        let repo = try TestRepository.create(at: dir.sub("repo"))
        _ = try await backup(repo, try makeTree("a", seed: 3, size: 1 << 20))
        let store = repo.store as! LocalStore
        let pack = try store.list(.data).max { $0.size < $1.size }!
        XCTAssertEqual(truncate(store.path(Handle(.data, pack.name)), off_t(pack.size - 10)), 0)
        var report = try Checker(repository: try TestRepository.open(at: dir.sub("repo"))).run(readData: false)
        XCTAssertTrue(report.problems.contains { $0.file.contains(pack.name) }, "\(report.problems)")
        let index = try store.list(.index)[0]
        XCTAssertEqual(truncate(store.path(Handle(.index, index.name)), off_t(index.size / 2)), 0)
        let r2 = try Repository.open(store: store, password: TestRepository.password, clock: SystemClock())
        report = try Checker(repository: r2).run(readData: false)
        XCTAssertTrue(report.problems.contains { $0.file == "index/\(index.name)" }, "\(report.problems)")
    }

    func testForgetAndPruneFreeSpaceAndKeepTheRest() async throws {
        let repo = try TestRepository.create(at: dir.sub("repo"))
        var snaps: [BackupResult] = []
        for i in 0..<4 { snaps.append(try await backup(repo, try makeTree("t\(i)", seed: UInt64(10 + i), size: 1 << 20))) }
        // Same paths group: use one path with changing content instead.
        let p = dir.sub("live")
        for i in 0..<3 {
            try? FileManager.default.removeItem(atPath: p)
            snaps.append(try await backup(repo, try makeTree("live", seed: UInt64(20 + i), size: 1 << 20)))
        }
        let before = try repo.store.list(.data).reduce(0) { $0 + $1.size }
        var policy = RetentionPolicy(); policy.keepLast = 1
        let decisions = policy.apply(try repo.snapshots())
        let removed = decisions.filter { !$0.keep }
        XCTAssertEqual(removed.count, 2, "only the two older 'live' snapshots go; each other path keeps its newest")
        for d in removed { try repo.removeSnapshot(d.id) }
        let dry = try Pruner(repository: repo).run(dryRun: true)
        XCTAssertEqual(try repo.store.list(.data).reduce(0) { $0 + $1.size }, before, "dry run must not delete")
        XCTAssertGreaterThan(dry.bytesRemoved, 0)
        let report = try Pruner(repository: repo).run(dryRun: false)
        XCTAssertGreaterThan(report.bytesRemoved, UInt64(1 << 20))
        XCTAssertLessThan(try repo.store.list(.data).reduce(0) { $0 + $1.size }, before - (1 << 20))
        let check = try Checker(repository: try TestRepository.open(at: dir.sub("repo"))).run(readData: true)
        XCTAssertTrue(check.ok, "\(check.problems)")
        XCTAssertTrue(check.warnings.isEmpty, "\(check.warnings)")
        XCTAssertEqual(check.snapshotsChecked, 5)
    }

    func testRetentionPolicyBuckets() {
        func snap(_ day: Int, _ hour: Int = 12) -> (id: ID, snapshot: Snapshot) {
            let t = Timestamp(seconds: 1_767_225_600 + Double(day) * 86400 + Double(hour) * 3600)   // 2026-01-01T00:00Z
            return (ID(bytes: (0..<32).map { UInt8(truncatingIfNeeded: day * 31 + hour + $0) }),
                    Snapshot(time: t, tree: .zero, paths: ["/srv"], hostname: "h", username: "u"))
        }
        var list: [(id: ID, snapshot: Snapshot)] = []
        for d in 0..<60 { list.append(snap(d, 2)); list.append(snap(d, 14)) }
        var p = RetentionPolicy(); p.utc = true
        p.keepDaily = 7
        var kept = p.apply(list).filter(\.keep)
        XCTAssertEqual(kept.count, 7, "one per day for 7 days")
        XCTAssertTrue(kept.allSatisfy { $0.snapshot.time.calendar(utc: true).hour == 14 }, "the newest of each day is kept")
        p = RetentionPolicy(); p.utc = true; p.keepLast = 1; p.keepMonthly = 3
        kept = p.apply(list).filter(\.keep)
        XCTAssertEqual(kept.map { $0.snapshot.time.calendar(utc: true).day }, [1, 28, 31], "newest of March, February and January")
        p = RetentionPolicy(); p.utc = true; p.keepWeekly = 4
        kept = p.apply(list).filter(\.keep)
        XCTAssertEqual(kept.count, 4)
        p = RetentionPolicy(); p.keepWithinSeconds = 2 * 86400
        XCTAssertEqual(p.apply(list).filter(\.keep).count, 5, "the newest and everything within two days of it")
        XCTAssertEqual(RetentionPolicy.isoWeek(Timestamp(seconds: 1_767_225_600), utc: true), "2026-W1")   // Thursday 2026-01-01
        XCTAssertEqual(RetentionPolicy.isoWeek(Timestamp(seconds: 1_767_225_600 - 4 * 86400), utc: true), "2025-W52")  // Sunday 2025-12-28
    }

    func testDiffReportsChanges() async throws {
        let repo = try TestRepository.create(at: dir.sub("repo"))
        let p = try makeTree("d", seed: 30, size: 100_000)
        let a = try await backup(repo, p)
        try Data("new".utf8).write(to: URL(fileURLWithPath: p + "/added"))
        try FileManager.default.removeItem(atPath: p + "/f0")
        try Data("changed".utf8).write(to: URL(fileURLWithPath: p + "/f1"))
        let b = try await backup(repo, p)
        let d = try Differ(repository: repo).diff(a.snapshot.treeID!, b.snapshot.treeID!)
        let byPath = Dictionary(d.map { ($0.path.components(separatedBy: "/").last!, $0.change) }, uniquingKeysWith: { a, _ in a })
        XCTAssertEqual(byPath["added"], "+")
        XCTAssertEqual(byPath["f0"], "-")
        XCTAssertEqual(byPath["f1"], "M")
        XCTAssertNil(byPath["f2"])
    }

    func testStatsCountDedup() async throws {
        let repo = try TestRepository.create(at: dir.sub("repo"))
        let p = try makeTree("s", seed: 40, size: 1 << 20)
        _ = try await backup(repo, p)
        _ = try await backup(repo, p)
        let s = try RepositoryStats.compute(repo)
        XCTAssertEqual(s.snapshots, 2)
        XCTAssertEqual(s.restoreSize, 2 * UInt64((1 << 20) / 4 * 4))
        XCTAssertEqual(s.dedupRatio, 2.0, accuracy: 0.05)
    }
}
