import Foundation
import XCTest
import VaultTesting
#if canImport(Glibc)
import Glibc
#endif

/// Damaged repositories: check names the damaged file and the affected snapshots, exits 4,
/// and undamaged snapshots still restore.
final class CorruptionTests: CLITestCase {
    struct TwoSnapshots {
        var srcA: String, srcB: String
        var idA: String, idB: String
        var descA: [TreeComparison.Entry], descB: [TreeComparison.Entry]
        var packsA: Set<String>, packsB: Set<String>
    }

    /// Two backups of different trees: the second one's new data lies in packs the first does not use.
    func twoSnapshots() throws -> TwoSnapshots {
        try initRepo()
        let a = try flatTree("a", seed: 101, dirs: 3, files: 20, maxSize: 120_000)
        let b = try flatTree("b", seed: 202, dirs: 3, files: 20, maxSize: 120_000)
        let idA = try backup([a])
        let packsA = Set(packs().keys)
        let idB = try backup([b])
        let packsB = Set(packs().keys).subtracting(packsA)
        XCTAssertFalse(packsB.isEmpty)
        let c = try check(readData: true)
        XCTAssertEqual(c.status, 0, "clean before damage: \(c.result)")
        return TwoSnapshots(srcA: a, srcB: b, idA: idA, idB: idB, descA: TreeComparison.describe(a), descB: TreeComparison.describe(b),
                            packsA: packsA, packsB: packsB)
    }

    /// The biggest pack among `names` (a data pack, not a small tree pack).
    func biggest(_ names: Set<String>) -> String {
        let sizes = packs()
        return names.max { (sizes[$0] ?? 0) < (sizes[$1] ?? 0) }!
    }

    func testFlippedByteIsFoundByReadDataAndNamed() throws {
        let t = try twoSnapshots()
        let victim = biggest(t.packsB)
        let path = packPath(victim)
        var bytes = try Array(Data(contentsOf: URL(fileURLWithPath: path)))
        bytes[bytes.count / 3] ^= 0x40
        try write(path, bytes)

        let c = try check(readData: true)
        XCTAssertEqual(c.status, 4, "\(c.result)")
        let problems = items(c.report, "problems")
        XCTAssertTrue(problems.contains { ($0["file"] as? String)?.contains(victim) == true }, "the pack is named: \(problems)")
        XCTAssertTrue(problems.allSatisfy { ($0["file"] as? String)?.contains(victim) == true }, "only that pack: \(problems)")
        XCTAssertEqual(c.report["affectedSnapshots"] as? [String], [t.idB], "exactly the snapshot using it")
        XCTAssertTrue(c.result.stderr.contains(victim), "human report names the file on stderr too: \(c.result.stderr)")
        // The human-readable form exits 4 too.
        let human = try sv(["check", "--read-data"])
        XCTAssertEqual(human.status, 4, "\(human)")
        XCTAssertTrue(human.stderr.contains(String(t.idB.prefix(8))), human.stderr)

        // The snapshot that does not use the pack restores identically; the other one reports errors.
        try assertRestores(t.idA, source: t.srcA, expected: t.descA)
        let bad = try sv(["restore", t.idB, "--target", dir.sub("bad-restore")])
        XCTAssertNotEqual(bad.status, 0, "a restore reading a damaged blob must not succeed silently: \(bad)")
    }

    func testDeletedPackIsNamedWithoutReadData() throws {
        let t = try twoSnapshots()
        let victim = biggest(t.packsB)
        try FileManager.default.removeItem(atPath: packPath(victim))
        let c = try check(readData: false)
        XCTAssertEqual(c.status, 4, "\(c.result)")
        let problems = items(c.report, "problems")
        XCTAssertTrue(problems.contains { ($0["file"] as? String)?.contains(victim) == true }, "\(problems)")
        XCTAssertEqual(c.report["affectedSnapshots"] as? [String], [t.idB])
        try assertRestores(t.idA, source: t.srcA, expected: t.descA)
    }

    /// A damaged index file is named by check (which says to run `repair index`), but the data it
    /// described is still found through the pack headers: every snapshot restores, with a warning.
    func testTruncatedIndexIsNamed() throws {
        let t = try twoSnapshots()
        let indexFiles = repoFiles("index")
        XCTAssertEqual(indexFiles.count, 2)
        let victim = indexFiles[0]
        let path = repo + "/index/" + victim
        let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as! NSNumber
        XCTAssertEqual(truncate(path, off_t(size.intValue / 2)), 0)
        let c = try check(readData: false)
        XCTAssertEqual(c.status, 4, "\(c.result)")
        let problems = items(c.report, "problems")
        XCTAssertTrue(problems.contains { ($0["file"] as? String) == "index/" + victim }, "\(problems)")
        XCTAssertTrue(problems.contains { ($0["kind"] as? String) == "pack-unindexed" }, "the packs it listed are named: \(problems)")
        XCTAssertEqual(c.report["affectedSnapshots"] as? [String], [], "no snapshot lost data: the packs are intact")
        XCTAssertTrue(c.result.stderr.contains("sitevault repair index"), c.result.stderr)
        let snaps = try sv(["snapshots"])
        XCTAssertEqual(snaps.status, 0, "listing snapshots does not need the index: \(snaps)")
        for (id, src, desc) in [(t.idA, t.srcA, t.descA), (t.idB, t.srcB, t.descB)] {
            let target = dir.sub("r-\(id.prefix(8))")
            let restore = try sv(["restore", id, "--target", target])
            XCTAssertEqual(restore.status, 0, "\(restore)")
            XCTAssertTrue(restore.stderr.contains(victim) && restore.stderr.contains("sitevault repair index"),
                          "the damaged index file is named once, with the way out: \(restore.stderr)")
            XCTAssertEqual(restore.stderr.components(separatedBy: victim).count - 1, 1, "warned once: \(restore.stderr)")
            XCTAssertEqual(TreeComparison.differences(desc, TreeComparison.describe(target + normalized(src))), [])
        }
    }

    func testTruncatedPackIsFoundWithoutReadData() throws {
        let t = try twoSnapshots()
        for (victim, cut) in [(biggest(t.packsB), 10), (biggest(t.packsA), 1)] {
            let path = packPath(victim)
            let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as! NSNumber
            XCTAssertEqual(truncate(path, off_t(size.intValue - cut)), 0)
            let c = try check(readData: false)
            XCTAssertEqual(c.status, 4, "\(c.result)")
            let problems = items(c.report, "problems")
            XCTAssertTrue(problems.contains { ($0["file"] as? String)?.contains(victim) == true }, "truncated by \(cut): \(problems)")
        }
        let c = try check(readData: false)
        XCTAssertEqual(Set(c.report["affectedSnapshots"] as? [String] ?? []), [t.idA, t.idB])
    }

    func testDamagedSnapshotFileIsNamed() throws {
        let t = try twoSnapshots()
        try flipMiddleByte(repo + "/snapshots/" + t.idA)
        let c = try check(readData: false)
        XCTAssertEqual(c.status, 4, "\(c.result)")
        XCTAssertTrue(items(c.report, "problems").contains { ($0["file"] as? String) == "snapshots/" + t.idA }, "\(c.report)")
        XCTAssertEqual(c.report["affectedSnapshots"] as? [String], [t.idA])
        try assertRestores(t.idB, source: t.srcB, expected: t.descB)
    }

    /// One damaged snapshot file must not stop new backups (or listing the others): check reports it,
    /// everything else keeps working.
    func testDamagedSnapshotFileDoesNotBlockNewBackups() throws {
        let t = try twoSnapshots()
        try flipMiddleByte(repo + "/snapshots/" + t.idA)
        try write(t.srcB + "/d0/new-file", "new")
        let res = try sv(["backup", t.srcB])
        XCTAssertEqual(res.status, 0, "a backup of another tree fails because an old snapshot file is damaged: \(res)")
        let list = try sv(["snapshots"])
        XCTAssertEqual(list.status, 0, "snapshots cannot list the undamaged snapshots: \(list)")
    }

    /// Damages a file by flipping one bit in its middle.
    func flipMiddleByte(_ path: String) throws {
        var bytes = try Array(Data(contentsOf: URL(fileURLWithPath: path)))
        bytes[bytes.count / 2] ^= 1
        try write(path, bytes)
    }
}
