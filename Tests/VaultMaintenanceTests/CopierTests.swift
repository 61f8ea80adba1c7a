import XCTest
import VaultCore
import VaultCrypto
import VaultRepository
import VaultStorage
import VaultTesting
import VaultArchiver
import VaultRestorer
@testable import VaultMaintenance

/// `Copier` through the library: both paths (blobs as they are, files chunked again), idempotence,
/// what the copied snapshot records, and that every copy restores exactly and checks clean.
final class CopierTests: XCTestCase {
    var dir: TemporaryDirectory!
    override func setUpWithError() throws { dir = try TemporaryDirectory() }
    override func tearDown() { dir.remove() }
    let otherPassword: [UInt8] = Array("another password entirely".utf8)

    func makeTree(_ name: String, seed: UInt64) throws -> String {
        let p = dir.sub(name)
        try FileManager.default.createDirectory(atPath: p, withIntermediateDirectories: true)
        var tree = RandomTreeBuilder(seed: seed)
        tree.filesPerDir = 5; tree.depth = 2
        try tree.build(at: p)
        return p
    }

    func backup(_ repo: Repository, _ path: String, tags: [String] = []) async throws -> BackupResult {
        var o = BackupOptions(paths: [path], hostname: "h", username: "u")
        o.tags = tags
        return try await Archiver(repository: repo, options: o).run()
    }

    func assertRestores(_ repo: Repository, _ id: ID, like source: String, file: StaticString = #filePath, line: UInt = #line) async throws {
        let snap = try repo.loadSnapshot(id)
        let out = dir.sub("restore-\(id.short)")
        _ = try await Restorer(repository: repo, tree: snap.treeID!, options: RestoreOptions(target: out)).run()
        let diffs = TreeComparison.differences(TreeComparison.describe(source), TreeComparison.describe(out + source))
        XCTAssertEqual(diffs, [], file: file, line: line)
    }

    func testSameParametersMovesOnlyMissingBlobsAndIsIdempotent() async throws {
        let r1 = try TestRepository.create(at: dir.sub("r1"))
        let r2 = try TestRepository.create(at: dir.sub("r2"), password: otherPassword, master: r1.key.withFreshEncryptionKey())
        let a = try makeTree("a", seed: 11)
        let s1 = try await backup(r1, a, tags: ["site=one"])
        let copier = Copier(source: r1, target: r2)
        XCTAssertTrue(copier.sameChunkerParameters)
        let dry = try copier.run(try r1.snapshots(), dryRun: true)
        XCTAssertEqual(dry.snapshots.map(\.result), ["would-copy"])
        XCTAssertEqual(try r2.snapshots().count, 0, "a dry run writes nothing")
        let first = try copier.run(try r1.snapshots(), dryRun: false)
        XCTAssertEqual(first.copiedCount, 1)
        XCTAssertFalse(first.rechunked)
        XCTAssertGreaterThan(first.blobsCopied, 0)
        let copied = try XCTUnwrap(ID(hex: first.snapshots[0].target ?? ""))
        let snap = try r2.loadSnapshot(copied)
        XCTAssertEqual(snap.original, s1.id.hex)
        XCTAssertEqual(snap.copiedFrom?.repository, r1.config.id)
        XCTAssertEqual(snap.copiedFrom?.snapshot, s1.id.hex)
        XCTAssertEqual(snap.tree, try r1.loadSnapshot(s1.id).tree, "same parameters: the same tree id")
        XCTAssertEqual(snap.tags, ["site=one"])
        // A second backup shares most blobs: only the new ones move; the first snapshot is not copied again.
        try Data(randomBytes(200_000)).write(to: URL(fileURLWithPath: a + "/new-file"))
        _ = try await backup(r1, a, tags: ["site=one"])
        let second = try Copier(source: r1, target: try TestRepository.open(at: dir.sub("r2"), password: otherPassword))
            .run(try r1.snapshots(), dryRun: false)
        XCTAssertEqual(second.copiedCount, 1)
        XCTAssertEqual(second.presentCount, 1)
        // The new file's blob and the trees on its path (the temporary folder's parents included).
        XCTAssertLessThanOrEqual(second.blobsCopied, 12, "only the new file's blob and the changed trees")
        XCTAssertLessThan(second.blobsCopied, first.blobsCopied / 2)
        let third = try Copier(source: r1, target: try TestRepository.open(at: dir.sub("r2"), password: otherPassword))
            .run(try r1.snapshots(), dryRun: false)
        XCTAssertEqual(third.copiedCount, 0)
        XCTAssertEqual(third.blobsCopied, 0)
        let fresh = try TestRepository.open(at: dir.sub("r2"), password: otherPassword)
        XCTAssertTrue(try Checker(repository: fresh).run(readData: true).ok)
        for s in try fresh.snapshots() where s.snapshot.time == second.snapshots.last!.time {
            try await assertRestores(fresh, s.id, like: a)
        }
    }

    func testDifferentParametersRechunksAndRestoresExactly() async throws {
        let r1 = try TestRepository.create(at: dir.sub("r1"))
        let r2 = try TestRepository.create(at: dir.sub("r2"), password: otherPassword)
        let a = try makeTree("a", seed: 12)
        let s1 = try await backup(r1, a)
        let copier = Copier(source: r1, target: r2)
        XCTAssertFalse(copier.sameChunkerParameters)
        let report = try copier.run(try r1.snapshots(), dryRun: false)
        XCTAssertTrue(report.rechunked)
        XCTAssertEqual(report.copiedCount, 1)
        let copied = try XCTUnwrap(ID(hex: report.snapshots[0].target ?? ""))
        XCTAssertNotEqual(try r2.loadSnapshot(copied).tree, try r1.loadSnapshot(s1.id).tree)
        XCTAssertEqual(try r2.loadSnapshot(copied).original, s1.id.hex)
        let fresh = try TestRepository.open(at: dir.sub("r2"), password: otherPassword)
        XCTAssertTrue(try Checker(repository: fresh).run(readData: true).ok)
        try await assertRestores(fresh, copied, like: a)
        // Copying the copy back into a third repository keeps the first original: still copied once.
        let r3 = try TestRepository.create(at: dir.sub("r3"))
        _ = try Copier(source: fresh, target: r3).run(try fresh.snapshots(), dryRun: false)
        let again = try Copier(source: r1, target: try TestRepository.open(at: dir.sub("r3"))).run(try r1.snapshots(), dryRun: false)
        XCTAssertEqual(again.presentCount, 1)
        XCTAssertEqual(again.copiedCount, 0)
    }

    func testRefusesTheSameRepository() throws {
        let r1 = try TestRepository.create(at: dir.sub("r1"))
        XCTAssertThrowsError(try Copier(source: r1, target: try TestRepository.open(at: dir.sub("r1"))).run([], dryRun: false)) {
            XCTAssertEqual(($0 as? VaultError)?.code, .invalidArgument)
        }
    }
}
