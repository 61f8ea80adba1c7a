import Foundation
import XCTest
import VaultCore
import VaultRepository
import VaultStorage
import VaultTesting

/// Lost or damaged index files and missing data, through the executable: prune never deletes the
/// only copy, `repair index` rebuilds the index, `repair snapshots` saves what is still readable.
final class RepairCommandTests: CLITestCase {
    struct Setup {
        var srcA: String, srcB: String, idA: String, idB: String
        var descA: [TreeComparison.Entry], descB: [TreeComparison.Entry]
        /// The biggest pack written by the second backup (a data pack only B uses).
        var victim: String
    }

    func setUpTwoSnapshots() throws -> Setup {
        try initRepo()
        let a = try flatTree("a", seed: 301, dirs: 3, files: 20, maxSize: 120_000)
        let b = try flatTree("b", seed: 302, dirs: 3, files: 20, maxSize: 120_000)
        let idA = try backup([a])
        let packsA = Set(packs().keys)
        let idB = try backup([b])
        let sizes = packs()
        let victim = try XCTUnwrap(Set(sizes.keys).subtracting(packsA).max { sizes[$0]! < sizes[$1]! })
        return Setup(srcA: a, srcB: b, idA: idA, idB: idB, descA: TreeComparison.describe(a), descB: TreeComparison.describe(b),
                     victim: victim)
    }

    /// Rewrites the index file listing `pack` without that pack's entries (the other packs stay indexed).
    func dropFromIndex(_ pack: String) throws {
        let r = try TestRepository.open(at: repo)
        let id = try XCTUnwrap(ID(hex: pack))
        var rewritten = 0
        for name in repoFiles("index") {
            let packs = try IndexFormat.decode(try r.loadSealed(.index, name), name: name)
            guard packs.contains(where: { $0.0 == id }) else { continue }
            XCTAssertGreaterThan(packs.count, 1, "the index file holds other packs too")
            try r.saveSealed(.index, IndexFormat.encode(packs.filter { $0.0 != id }))
            try r.store.remove(Handle(.index, name))
            rewritten += 1
        }
        XCTAssertEqual(rewritten, 1)
    }

    func testPruneReindexesAPackWhoseIndexEntriesWereLost() throws {
        let t = try setUpTwoSnapshots()
        try dropFromIndex(t.victim)
        let c = try check(readData: false)
        XCTAssertEqual(c.status, 4, "\(c.result)")
        let problem = items(c.report, "problems").first { ($0["file"] as? String)?.contains(t.victim) == true }
        XCTAssertEqual(problem?["kind"] as? String, "pack-unindexed", "\(c.report)")
        XCTAssertTrue((problem?["message"] as? String ?? "").contains("sitevault repair index"), "\(String(describing: problem))")
        XCTAssertFalse(items(c.report, "warnings").contains { ($0["message"] as? String ?? "").contains("prune removes it") },
                       "check must not announce that prune removes a pack snapshots need: \(c.report)")
        XCTAssertEqual(c.report["affectedSnapshots"] as? [String], [])

        let prune = try expect(0, ["prune", "--json"])
        XCTAssertEqual((prune.json as? [String: Any])?["packsReindexed"] as? Int, 1, "\(prune)")
        XCTAssertNotNil(packs()[t.victim], "prune deleted the only copy of snapshot B's data")
        let after = try check(readData: true)
        XCTAssertEqual(after.status, 0, "\(after.result)")
        try assertRestores(t.idB, source: t.srcB, expected: t.descB)
        try assertRestores(t.idA, source: t.srcA, expected: t.descA)
    }

    func testRepairIndexRebuildsADamagedIndex() throws {
        let t = try setUpTwoSnapshots()
        let before = repoFiles("index")
        let victim = before[0]
        var bytes = try Array(Data(contentsOf: URL(fileURLWithPath: repo + "/index/" + victim)))
        bytes[bytes.count / 2] ^= 0x20
        try write(repo + "/index/" + victim, bytes)
        let prune = try sv(["prune"])
        XCTAssertEqual(prune.status, 4, "prune refuses to work on a damaged index: \(prune)")
        XCTAssertTrue(prune.stderr.contains("sitevault repair index"), prune.stderr)

        let dry = try expect(0, ["repair", "index", "--dry-run", "--json"])
        XCTAssertEqual((dry.json as? [String: Any])?["damagedIndexFiles"] as? [String], ["index/" + victim], "\(dry)")
        XCTAssertEqual(repoFiles("index"), before, "--dry-run writes and removes nothing")

        let res = try expect(0, ["repair", "index"])
        XCTAssertTrue(res.stdout.contains("new index file"), "\(res)")
        XCTAssertTrue(Set(repoFiles("index")).isDisjoint(with: before), "the old index files are gone: \(repoFiles("index"))")
        let c = try check(readData: true)
        XCTAssertEqual(c.status, 0, "\(c.result)")
        XCTAssertEqual(items(c.report, "warnings").count, 0, "\(c.report)")
        try assertRestores(t.idA, source: t.srcA, expected: t.descA)
        try assertRestores(t.idB, source: t.srcB, expected: t.descB)
    }

    func testRepairSnapshotsKeepsWhatIsReadable() throws {
        let t = try setUpTwoSnapshots()
        try FileManager.default.removeItem(atPath: packPath(t.victim))
        let c = try sv(["check"])
        XCTAssertEqual(c.status, 4)
        XCTAssertTrue(c.stderr.contains("sitevault repair snapshots"), "check points to the repair: \(c.stderr)")

        let dry = try expect(0, ["repair", "snapshots", "--dry-run"])
        XCTAssertTrue(dry.stdout.contains("would remove"), "\(dry)")
        XCTAssertEqual(Set(try snapshotIDs()), [t.idA, t.idB], "--dry-run writes nothing")

        let res = try expect(0, ["repair", "snapshots", "--json"])
        let report = try XCTUnwrap(res.json as? [String: Any], "\(res)")
        let repaired = try XCTUnwrap((report["repaired"] as? [[String: Any]])?.first, "\(report)")
        XCTAssertEqual(repaired["original"] as? String, t.idB)
        let newID = try XCTUnwrap(repaired["replacement"] as? String)
        let removed = (repaired["removed"] as? [[String: Any]] ?? []).compactMap { $0["path"] as? String }
        XCTAssertFalse(removed.isEmpty)
        XCTAssertEqual(Set(try snapshotIDs()), [t.idA, t.idB, newID], "the original is kept without --forget")
        // The new snapshot records what it left out.
        let listed = try snapshotList().first { $0["id"] as? String == newID }
        let repair = listed?["repair"] as? [String: Any]
        XCTAssertEqual(repair?["original"] as? String, t.idB)
        XCTAssertEqual((repair?["removed"] as? [[String: Any]])?.count, removed.count)
        XCTAssertTrue((listed?["tags"] as? [String] ?? []).contains("repaired"))
        // It restores completely: every file that is left is intact, the dropped ones are absent.
        let target = dir.sub("repaired")
        let r = try expect(0, ["restore", newID, "--target", target])
        XCTAssertTrue(r.stderr.isEmpty || !r.stderr.contains("cannot restore"), "\(r)")
        let got = TreeComparison.describe(target + normalized(t.srcB))
        let droppedNames = Set(removed.map { String($0.dropFirst(normalized(t.srcB).count)) })
        let expected = t.descB.filter { !droppedNames.contains(String(decoding: $0.path, as: UTF8.self)) }
        XCTAssertEqual(TreeComparison.differences(expected, got).filter { !$0.contains("mtime") }, [])
        XCTAssertLessThan(expected.count, t.descB.count, "some files were dropped")
    }
}
