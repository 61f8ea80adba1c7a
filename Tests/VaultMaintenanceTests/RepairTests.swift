import XCTest
import VaultCore
import VaultRepository
import VaultStorage
import VaultTesting
import VaultArchiver
@testable import VaultMaintenance

/// Prune never deletes a pack whose blobs are unproven, `repair index` rebuilds the index from the
/// pack headers, `repair snapshots` rewrites damaged snapshots without the damaged files.
final class RepairTests: XCTestCase {
    var dir: TemporaryDirectory!
    var path: String { dir.sub("repo") }
    override func setUpWithError() throws { dir = try TemporaryDirectory() }
    override func tearDown() { dir.remove() }

    func makeTree(_ name: String, seed: UInt64, files: Int = 4, size: Int = 1 << 20) throws -> String {
        let p = dir.sub(name)
        try FileManager.default.createDirectory(atPath: p, withIntermediateDirectories: true)
        var rng = SeededRandom(seed: seed)
        for i in 0..<files { try Data(rng.bytes(size / files)).write(to: URL(fileURLWithPath: p + "/f\(i)")) }
        return p
    }

    func backup(_ repo: Repository, _ p: String) async throws -> BackupResult {
        try await Archiver(repository: repo, options: BackupOptions(paths: [p], hostname: "h", username: "u")).run()
    }

    func fresh() throws -> Repository { try TestRepository.open(at: path) }
    var store: LocalStore { LocalStore(root: path) }

    /// Every data blob of a snapshot reads back (through the index or the pack headers).
    func assertReadable(_ repo: Repository, _ tree: ID, file: StaticString = #filePath, line: UInt = #line) throws {
        for n in try repo.loadTree(tree).nodes {
            for c in n.content { XCTAssertNoThrow(try repo.loadBlob(c), "\(n.displayName)", file: file, line: line) }
            if let s = n.subtree { try assertReadable(repo, s, file: file, line: line) }
        }
    }

    /// Rewrites the index files so that `pack` is in none of them.
    func unindex(_ pack: ID) throws {
        let repo = try fresh()
        for name in try repo.store.list(.index).map(\.name) {
            let packs = try IndexFormat.decode(try repo.loadSealed(.index, name), name: name)
            guard packs.contains(where: { $0.0 == pack }) else { continue }
            try repo.saveSealed(.index, IndexFormat.encode(packs.filter { $0.0 != pack }))
            try repo.store.remove(Handle(.index, name))
        }
    }

    /// The biggest data pack that holds content of `tree`'s files.
    /// The largest data pack holding blobs of `tree` (outside `excluding`).
    func dataPack(of tree: ID, _ repo: Repository, excluding: Set<ID> = []) throws -> ID {
        let packs = try dataPacks(of: tree, repo).subtracting(excluding)
        let sizes = Dictionary(try repo.store.list(.data).map { ($0.name, $0.size) }, uniquingKeysWith: { a, _ in a })
        return try XCTUnwrap(packs.max { (sizes[$0.hex] ?? 0) < (sizes[$1.hex] ?? 0) })
    }

    func dataPacks(of tree: ID, _ repo: Repository) throws -> Set<ID> {
        var packs: [ID] = []
        func walk(_ t: ID) throws {
            for n in try repo.loadTree(t).nodes {
                packs += n.content.compactMap { repo.lookup($0)?.pack }
                if let s = n.subtree { try walk(s) }
            }
        }
        try walk(tree)
        return Set(packs)
    }

    func testPruneReindexesAnUnindexedPackThatSnapshotsUseAndNeverDeletesIt() async throws {
        let repo = try TestRepository.create(at: path)
        let a = try await backup(repo, try makeTree("a", seed: 1))
        let victim = try dataPack(of: a.snapshot.treeID!, repo)
        try unindex(victim)
        let check = try Checker(repository: try fresh()).run(readData: false)
        let problem = try XCTUnwrap(check.problems.first { $0.kind == "pack-unindexed" }, "\(check.problems)")
        XCTAssertTrue(problem.file.contains(victim.hex))
        XCTAssertTrue(problem.message.contains("sitevault repair index"), problem.message)
        XCTAssertFalse(check.warnings.contains { $0.message.contains("prune removes it") }, "\(check.warnings)")
        XCTAssertEqual(check.affectedSnapshots, [], "the data is intact: only the index lost it")

        let report = try Pruner(repository: try fresh()).run(dryRun: false)
        XCTAssertEqual(report.packsReindexed, 1)
        XCTAssertEqual(report.unreferencedPacksRemoved, 0)
        XCTAssertTrue(try store.exists(Handle(.data, victim.hex)), "prune deleted the only copy")
        let after = try fresh()
        XCTAssertTrue(after.index.packs.contains(victim), "a new index file lists it again")
        XCTAssertTrue(try Checker(repository: after).run(readData: true).ok)
        try assertReadable(after, a.snapshot.treeID!)
    }

    func testPruneRemovesAnUnindexedPackOnlyOnceItsHeaderProvesItUnused() async throws {
        let repo = try TestRepository.create(at: path)
        let a = try await backup(repo, try makeTree("a", seed: 2))
        let b = try await backup(repo, try makeTree("b", seed: 3))
        let victim = try dataPack(of: b.snapshot.treeID!, repo)
        try repo.removeSnapshot(b.id)
        try unindex(victim)
        var check = try Checker(repository: try fresh()).run(readData: false)
        XCTAssertTrue(check.warnings.contains { $0.kind == "pack-unreferenced" && $0.file.contains(victim.hex) }, "\(check.warnings)")
        // A pack in no index whose header cannot be read is kept.
        let garbage = ID(bytes: Array(repeating: 0xab, count: 32))
        try store.save(Handle(.data, garbage.hex), bytes: Array(repeating: 1, count: 100))
        let report = try Pruner(repository: try fresh()).run(dryRun: false)
        XCTAssertFalse(try store.exists(Handle(.data, victim.hex)), "an unused unindexed pack is removed")
        XCTAssertTrue(try store.exists(Handle(.data, garbage.hex)), "an unreadable pack is never removed")
        XCTAssertEqual(report.unreadablePacksKept, [garbage.hex])
        check = try Checker(repository: try fresh()).run(readData: false)
        XCTAssertTrue(check.problems.contains { $0.kind == "pack-header" && $0.file.contains(garbage.hex) }, "\(check.problems)")
        try assertReadable(try fresh(), a.snapshot.treeID!)
    }

    func testPruneWhoseLockWasRemovedDeletesNothing() async throws {
        let repo = try TestRepository.create(at: path)
        let a = try await backup(repo, try makeTree("a", seed: 9))
        let b = try await backup(repo, try makeTree("b", seed: 10))
        try repo.removeSnapshot(b.id)
        let packs = Set(try store.list(.data).map(\.name))
        let oldIndex = Set(try store.list(.index).map(\.name))
        let pruning = try fresh()
        let lock = try RepositoryLock.acquire(pruning, exclusive: true, operation: "prune", hostname: "me", username: "u")
        defer { lock.release() }
        // Another host judged the lock stale and removed it.
        try store.remove(Handle(.locks, lock.name))
        XCTAssertThrowsError(try Pruner(repository: pruning, lock: lock).run(dryRun: false)) {
            XCTAssertEqual(($0 as? VaultError)?.code, .locked)
        }
        XCTAssertEqual(Set(try store.list(.data).map(\.name)), packs, "no pack deleted")
        XCTAssertTrue(oldIndex.isSubset(of: Set(try store.list(.index).map(\.name))), "no index file deleted")
        XCTAssertTrue(try Checker(repository: try fresh()).run(readData: false).ok)
        try assertReadable(try fresh(), a.snapshot.treeID!)
    }

    func testPruneRefusesWithADamagedIndexFile() async throws {
        let repo = try TestRepository.create(at: path)
        _ = try await backup(repo, try makeTree("a", seed: 4))
        let index = try store.list(.index)[0].name
        XCTAssertEqual(truncate(store.path(Handle(.index, index)), 10), 0)
        let packs = try store.list(.data).count
        XCTAssertThrowsError(try Pruner(repository: try fresh()).run(dryRun: false)) { e in
            XCTAssertEqual((e as? VaultError)?.code, .damaged)
            XCTAssertTrue("\(e)".contains("sitevault repair index"), "\(e)")
        }
        XCTAssertEqual(try store.list(.data).count, packs)
    }

    func testRepairIndexRebuildsFromPackHeadersAndRemovesOldFilesLast() async throws {
        let repo = try TestRepository.create(at: path)
        let a = try await backup(repo, try makeTree("a", seed: 5))
        let b = try await backup(repo, try makeTree("b", seed: 6))
        let old = Set(try store.list(.index).map(\.name))
        let damaged = old.sorted()[0]
        var bytes = try store.load(Handle(.index, damaged))
        bytes[bytes.count / 2] ^= 0x10
        try store.save(Handle(.index, damaged), bytes: bytes)
        XCTAssertFalse(try Checker(repository: try fresh()).run(readData: false).ok)

        let dry = try IndexRepairer(repository: try fresh()).run(dryRun: true)
        XCTAssertEqual(dry.damagedIndexFiles, ["index/\(damaged)"])
        XCTAssertEqual(Set(try store.list(.index).map(\.name)), old, "dry run writes and removes nothing")

        let report = try IndexRepairer(repository: try fresh()).run(dryRun: false)
        XCTAssertEqual(report.packsRead, try store.list(.data).count)
        XCTAssertEqual(Set(report.indexFilesRemoved), old)
        let now = Set(try store.list(.index).map(\.name))
        XCTAssertTrue(now.isDisjoint(with: old))
        XCTAssertEqual(now, Set(report.indexFilesWritten))
        let after = try fresh()
        XCTAssertTrue(after.damagedIndexFiles.isEmpty)
        let check = try Checker(repository: after).run(readData: true)
        XCTAssertTrue(check.ok, "\(check.problems)")
        XCTAssertEqual(check.warnings.count, 0)
        try assertReadable(after, a.snapshot.treeID!)
        try assertReadable(after, b.snapshot.treeID!)
    }

    func testRepairIndexKeepsOldEntriesOfAPackWhoseHeaderIsUnreadable() async throws {
        let repo = try TestRepository.create(at: path)
        let a = try await backup(repo, try makeTree("a", seed: 7))
        let victim = try dataPack(of: a.snapshot.treeID!, repo)
        let file = store.path(Handle(.data, victim.hex))
        var bytes = try Array(Data(contentsOf: URL(fileURLWithPath: file)))
        bytes[bytes.count - 10] ^= 0x01     // inside the sealed header
        try Data(bytes).write(to: URL(fileURLWithPath: file))
        let report = try IndexRepairer(repository: try fresh()).run(dryRun: false)
        XCTAssertEqual(report.packsKeptFromOldIndex.map(\.file), ["data/\(victim.hex.prefix(2))/\(victim.hex)"])
        XCTAssertTrue(try fresh().index.packs.contains(victim), "what the old index knew is not dropped")
        try assertReadable(try fresh(), a.snapshot.treeID!)
    }

    func testRepairSnapshotsDropsFilesWithMissingDataAndKeepsOriginalsUnlessForget() async throws {
        let repo = try TestRepository.create(at: path)
        // Four files backed up first, four more added: the second snapshot's new files are in packs
        // of their own, so losing one of those leaves the first four intact (concurrent savers
        // interleave one backup's files across the packs they fill).
        let tree = try makeTree("a", seed: 8, files: 4, size: 12 << 20)
        let first = try await backup(repo, tree)
        var rng = SeededRandom(seed: 9)
        for i in 4..<8 { try Data(rng.bytes(3 << 20)).write(to: URL(fileURLWithPath: tree + "/f\(i)")) }
        let a = try await backup(repo, tree)
        let victim = try dataPack(of: a.snapshot.treeID!, repo, excluding: try dataPacks(of: first.snapshot.treeID!, repo))
        try store.remove(Handle(.data, victim.hex))

        let dry = try SnapshotRepairer(repository: try fresh()).run(dryRun: true, forget: false)
        XCTAssertEqual(dry.repaired.count, 1)
        XCTAssertFalse(dry.repaired[0].removed.isEmpty)
        XCTAssertNil(dry.repaired[0].replacement)
        XCTAssertEqual(try fresh().snapshots().count, 2, "dry run writes nothing")

        let report = try SnapshotRepairer(repository: try fresh()).run(dryRun: false, forget: false)
        let fixed = try XCTUnwrap(report.repaired.first)
        let newID = try XCTUnwrap(fixed.replacement.flatMap { ID(hex: $0) })
        let after = try fresh()
        XCTAssertEqual(Set(try after.snapshots().map(\.id)), [first.id, a.id, newID], "the original is kept")
        let snap = try after.loadSnapshot(newID)
        XCTAssertEqual(snap.time, a.snapshot.time)
        XCTAssertTrue(snap.tags.contains("repaired"))
        XCTAssertEqual(snap.repair?.original, a.id.hex)
        XCTAssertEqual(snap.repair?.removed.map(\.path), fixed.removed.map(\.path))
        XCTAssertTrue(fixed.removed.allSatisfy { $0.reason.contains("file dropped") }, "\(fixed.removed)")
        try assertReadable(after, snap.treeID!)
        // Files whose data is intact are still in the new snapshot.
        let leaf = try leafNames(after, snap.treeID!)
        XCTAssertFalse(leaf.isEmpty)
        XCTAssertEqual(leaf.count + fixed.removed.count, 8)
        // The repaired snapshot is healthy; a second repair finds nothing to do in it.
        XCTAssertEqual(try Checker(repository: after).run(readData: false).affectedSnapshots, [a.id.hex])
        let again = try SnapshotRepairer(repository: try fresh()).run(only: [newID], dryRun: false, forget: false)
        XCTAssertEqual(again.repaired.count, 0)
        // --forget removes the original once its replacement is saved.
        let forgot = try SnapshotRepairer(repository: try fresh()).run(only: [a.id], dryRun: false, forget: true)
        XCTAssertEqual(forgot.repaired.first?.originalForgotten, true)
        XCTAssertFalse(try fresh().snapshots().contains { $0.id == a.id })
    }

    func testRepairSnapshotsWithReadDataDropsFilesWhoseBlobsDoNotAuthenticate() async throws {
        let repo = try TestRepository.create(at: path)
        let a = try await backup(repo, try makeTree("a", seed: 12, files: 4, size: 4 << 20))
        let victim = try dataPack(of: a.snapshot.treeID!, repo)
        let file = store.path(Handle(.data, victim.hex))
        var bytes = try Array(Data(contentsOf: URL(fileURLWithPath: file)))
        bytes[1000] ^= 0x01     // inside the first blob, not the header
        try Data(bytes).write(to: URL(fileURLWithPath: file))
        let structural = try SnapshotRepairer(repository: try fresh()).run(dryRun: true, forget: false)
        XCTAssertEqual(structural.repaired.count, 0, "without --read-data a damaged blob inside a pack is not seen")
        let repairer = SnapshotRepairer(repository: try fresh())
        repairer.readData = true
        let report = try repairer.run(dryRun: false, forget: false)
        XCTAssertEqual(report.repaired.first?.removed.count, 1, "\(report.repaired)")
        let newID = try XCTUnwrap(report.repaired.first?.replacement.flatMap { ID(hex: $0) })
        let after = try fresh()
        try assertReadable(after, try after.loadSnapshot(newID).treeID!)
        XCTAssertEqual(try leafNames(after, try after.loadSnapshot(newID).treeID!).count, 3)
    }

    func leafNames(_ repo: Repository, _ tree: ID) throws -> [String] {
        var out: [String] = []
        for n in try repo.loadTree(tree).nodes {
            if let s = n.subtree { out += try leafNames(repo, s) } else { out.append(n.displayName) }
        }
        return out
    }
}
