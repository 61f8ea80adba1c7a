import Foundation
import XCTest
import VaultTesting
#if canImport(Glibc)
import Glibc
#endif

/// kill -9 at random points of backup and prune: the repository must stay consistent, every snapshot
/// committed before must restore identically, and the next run must work without a manual unlock.
final class CrashTests: CLITestCase {
    struct Committed { var id: String; var source: String; var desc: [TreeComparison.Entry] }

    /// Wall time of a run of sitevault (the longest of `runs`), to spread kill points over it.
    func duration(_ body: () throws -> Void) rethrows -> Double {
        let t0 = Date()
        try body()
        return Date().timeIntervalSince(t0)
    }

    func verifyConsistent(_ committed: [Committed], label: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let c = try check(readData: true)
        XCTAssertEqual(c.status, 0, "\(label): check --read-data after the kill: \(c.result)", file: file, line: line)
        XCTAssertEqual(items(c.report, "problems").count, 0, "\(label): \(items(c.report, "problems"))", file: file, line: line)
        for w in items(c.report, "warnings") {
            XCTAssertEqual(w["kind"] as? String, "pack-unreferenced", "\(label): unexpected warning \(w)", file: file, line: line)
        }
        let ids = Set(try snapshotIDs())
        for s in committed {
            XCTAssertTrue(ids.contains(s.id), "\(label): committed snapshot \(s.id.prefix(8)) is gone", file: file, line: line)
            try assertRestores(s.id, source: s.source, expected: s.desc, label: label, file: file, line: line)
        }
    }

    func testKillDuringBackup() throws {
        var rng = SeededRandom(seed: 0xC0FFEE)
        try initRepo()
        let small = try randomTree("small", seed: 5, maxFileSize: 400_000, filesPerDir: 4, depth: 2)
        var committed = [Committed(id: try backup([small]), source: small, desc: TreeComparison.describe(small))]
        let big = try flatTree("big", seed: 9, dirs: 40, files: 75, maxSize: 20_000)
        let bigDesc = TreeComparison.describe(big)

        // Calibrate: how long does an uninterrupted backup of the big tree take here?
        let scratch = dir.sub("calibration-repo")
        try initRepo(scratch)
        let full = try duration { try backup([big], repo: scratch) }
        removeTree(scratch)

        var killedMidway = 0
        let points = 12
        for i in 0..<points {
            // Spread the kill points over start-up and the whole run.
            let delay = Double(rng.next() % 1000) / 1000 * full * 1.1
            let run = try CLI.start(["backup", "--host", "crash-host", big], env: env())
            usleep(useconds_t(delay * 1_000_000))
            run.kill9()
            let res = run.wait()
            let label = "kill #\(i) after \(Int(delay * 1000)) ms of ~\(Int(full * 1000)) ms"
            if res.signaled {
                killedMidway += 1
            } else {
                XCTAssertEqual(res.status, 0, "\(label): \(res)")
                if let id = try snapshotList().last(where: { ($0["paths"] as? [String]) == [normalized(big)] })?["id"] as? String {
                    committed.append(Committed(id: id, source: big, desc: bigDesc))
                }
            }
            try verifyConsistent(committed, label: label)
            // A new backup works at once: the killed process's lock is taken over without `unlock`.
            try write(small + "/changing", "iteration \(i)")
            let id = try backup([small])
            committed.append(Committed(id: id, source: small, desc: TreeComparison.describe(small)))
            XCTAssertEqual(repoFiles("locks"), [], "\(label): locks left behind")
            if i == points / 2 {
                // prune (exclusive) removes what the killed runs left and keeps everything committed.
                try expect(0, ["prune"])
                let c = try check(readData: true)
                XCTAssertEqual(c.status, 0, "\(c.result)")
                XCTAssertEqual(items(c.report, "warnings").count, 0, "prune removed the leftovers: \(c.report)")
            }
        }
        XCTAssertGreaterThanOrEqual(killedMidway, points / 2, "most kills should land while the backup runs")
        // Finally an uninterrupted backup of the big tree, restored identically.
        let last = try backup([big], extra: ["--host", "crash-host"])
        committed.append(Committed(id: last, source: big, desc: bigDesc))
        try verifyConsistent(committed, label: "final")
    }

    func testKillDuringPrune() throws {
        var rng = SeededRandom(seed: 0xBADC0DE)
        try initRepo()
        // Three generations of a tree; forgetting the first leaves packs that are partly used (repacked)
        // and packs that are entirely unused (removed).
        let src = try flatTree("src", seed: 77, dirs: 10, files: 60, maxSize: 40_000)
        let only1 = try flatTree("only1", seed: 78, dirs: 2, files: 20, maxSize: 40_000)
        let first = try backup([src, only1])
        try mutate(src, seed: 1, every: 2)
        let second = try backup([src, only1])
        let desc2 = TreeComparison.describe(src)
        let descOnly1 = TreeComparison.describe(only1)
        try mutate(src, seed: 2, every: 3)
        let third = try backup([src, only1])
        let desc3 = TreeComparison.describe(src)
        try expect(0, ["forget", first])
        // The kept snapshots: second and third (checked through the src part of each).
        let kept = [Committed(id: second, source: src, desc: desc2), Committed(id: third, source: src, desc: desc3),
                    Committed(id: third, source: only1, desc: descOnly1)]
        let dry = try expect(0, ["prune", "--dry-run", "--json"])
        let plan = dry.json as? [String: Any]
        XCTAssertGreaterThan(plan?["packsRepacked"] as? Int ?? 0, 0, "the scenario must repack: \(dry.stdout)")
        XCTAssertGreaterThan(plan?["bytesRemoved"] as? Int ?? 0, 0, "\(dry.stdout)")

        // Keep a pristine copy of the repository before prune; each kill starts from it.
        let pristine = dir.sub("pristine")
        try FileManager.default.copyItem(atPath: repo, toPath: pristine)
        func resetRepo() throws {
            removeTree(repo)
            try FileManager.default.copyItem(atPath: pristine, toPath: repo)
        }
        let full = try duration { try expect(0, ["prune"]) }
        try verifyConsistent(kept, label: "uninterrupted prune")

        var killedMidway = 0
        let points = 12
        for i in 0..<points {
            try resetRepo()
            let delay = Double(rng.next() % 1000) / 1000 * full * 1.1
            let run = try CLI.start(["prune"], env: env())
            usleep(useconds_t(delay * 1_000_000))
            run.kill9()
            let res = run.wait()
            let label = "prune kill #\(i) after \(Int(delay * 1000)) ms of ~\(Int(full * 1000)) ms"
            if res.signaled { killedMidway += 1 } else { XCTAssertEqual(res.status, 0, "\(label): \(res)") }
            try verifyConsistent(kept, label: label)
            // The next prune takes the stale exclusive lock over, finishes the job and leaves a clean repository.
            let again = try sv(["prune"])
            XCTAssertEqual(again.status, 0, "\(label): prune after the kill: \(again)")
            let c = try check(readData: true)
            XCTAssertEqual(c.status, 0, "\(label): \(c.result)")
            XCTAssertEqual(items(c.report, "warnings").count, 0, "\(label): leftovers after a completed prune: \(c.report)")
            XCTAssertEqual(try snapshotIDs().sorted(), [second, third].sorted(), label)
            if i % 4 == 0 {
                try verifyConsistent(kept, label: label + " (after the second prune)")
                try write(src + "/d0/after-crash-\(i)", "x")
                let id = try backup([src, only1])
                XCTAssertEqual(id.count, 64)
                try FileManager.default.removeItem(atPath: src + "/d0/after-crash-\(i)")
            }
        }
        XCTAssertGreaterThanOrEqual(killedMidway, points / 3, "kills should land while prune runs (prune took ~\(Int(full * 1000)) ms)")
    }
}
