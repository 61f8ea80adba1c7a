import Foundation
import XCTest
import VaultTesting
#if canImport(Glibc)
import Glibc
#endif

/// kill -9 at many points of backup and prune: the repository must stay consistent, every snapshot
/// committed before must restore identically, and the next run must work without a manual unlock.
///
/// Kill points are a mix of random delays after start and moments observed in the repository
/// (a pack being written, a pack written, an index written, an old index or pack deleted), so that
/// the short windows between the steps of a commit are hit however fast or loaded the machine is.
final class CrashTests: CLITestCase {
    struct Committed { var id: String; var source: String; var desc: [TreeComparison.Entry] }

    enum KillPoint: CustomStringConvertible {
        /// Seconds after the process started.
        case time(Double)
        /// As soon as a condition on the repository holds (polled), then `jitter` seconds later.
        case when(String, jitter: Double, () -> Bool)
        var description: String {
            switch self {
            case .time(let t): return "after \(Int(t * 1000)) ms"
            case .when(let what, let j, _): return "when \(what) (+\(Int(j * 1000)) ms)"
            }
        }
    }

    /// Runs sitevault and kills it with SIGKILL at `point`; returns the result (signaled when it was killed).
    func runAndKill(_ args: [String], at point: KillPoint) throws -> CLI.Result {
        let run = try CLI.start(args, env: env())
        switch point {
        case .time(let t):
            usleep(useconds_t(t * 1_000_000))
        case .when(let what, let jitter, let condition):
            let t0 = Date()
            let deadline = t0.addingTimeInterval(60)
            var met = false
            while run.isRunning && Date() < deadline {
                if condition() { met = true; break }
                usleep(50)
            }
            trace("  \(what): \(met ? "met" : "not met") after \(Int(Date().timeIntervalSince(t0) * 1000)) ms")
            if jitter > 0 { usleep(useconds_t(jitter * 1_000_000)) }
        }
        run.kill9()
        return run.wait()
    }

    /// Watches the repository's data/ and index/ folders with inotify, counting files being written
    /// (temporary names), stored (renamed into place) and deleted.
    final class RepoWatcher {
        struct Counts { var temps = 0, stored = 0, deleted = 0 }
        private let fd: Int32
        private var kinds: [Int32: String] = [:]
        private(set) var data = Counts()
        private(set) var index = Counts()

        init(repo: String) {
            fd = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
            let mask = UInt32(IN_CREATE | IN_MOVED_TO | IN_DELETE)
            for i in 0..<256 { kinds[inotify_add_watch(fd, repo + "/data/" + String(format: "%02x", i), mask)] = "data" }
            // Pending files may be created in data/ itself or in its sub-folders.
            kinds[inotify_add_watch(fd, repo + "/data", mask)] = "data"
            kinds[inotify_add_watch(fd, repo + "/index", mask)] = "index"
        }
        deinit { close(fd) }

        var isWorking: Bool { fd >= 0 && kinds.keys.allSatisfy { $0 >= 0 } }

        /// Reads pending events; call before looking at the counts.
        func poll() -> RepoWatcher {
            var buf = [UInt8](repeating: 0, count: 1 << 16)
            while true {
                let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if n <= 0 { break }
                var off = 0
                buf.withUnsafeBytes { raw in
                    while off + 16 <= n {
                        let wd = raw.loadUnaligned(fromByteOffset: off, as: Int32.self)
                        let mask = raw.loadUnaligned(fromByteOffset: off + 4, as: UInt32.self)
                        let len = Int(raw.loadUnaligned(fromByteOffset: off + 12, as: UInt32.self))
                        let nameBytes = raw[(off + 16)..<(off + 16 + len)].prefix { $0 != 0 }
                        let isTemp = nameBytes.starts(with: Array(".tmp-".utf8))
                        var c = kinds[wd] == "index" ? index : data
                        if mask & UInt32(IN_CREATE) != 0 && isTemp { c.temps += 1 }
                        if mask & UInt32(IN_MOVED_TO) != 0 && !isTemp { c.stored += 1 }
                        if mask & UInt32(IN_DELETE) != 0 && !isTemp { c.deleted += 1 }
                        if kinds[wd] == "index" { index = c } else { data = c }
                        off += 16 + len
                    }
                }
            }
            return self
        }
    }

    /// Names in a folder (raw readdir).
    func names(_ path: String) -> [String] {
        guard let dp = opendir(path) else { return [] }
        defer { closedir(dp) }
        var out: [String] = []
        while let ent = readdir(dp) {
            let n = withUnsafeBytes(of: ent.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
            if n != "." && n != ".." { out.append(n) }
        }
        return out
    }

    /// (finished pack files, temporary files) under data/.
    func dataFiles() -> (packs: Set<String>, temps: Int) {
        var packs = Set<String>(), temps = 0
        for d in (0..<256).map({ repo + "/data/" + String(format: "%02x", $0) }) + [repo + "/data"] {
            for n in names(d) where n.count != 2 {
                if n.hasPrefix(".tmp-") { temps += 1 } else { packs.insert(n) }
            }
        }
        return (packs, temps)
    }

    func indexFiles() -> Set<String> { Set(names(repo + "/index").filter { !$0.hasPrefix(".") }) }

    func duration(_ body: () throws -> Void) rethrows -> Double {
        let t0 = Date()
        try body()
        return Date().timeIntervalSince(t0)
    }

    /// Checks the repository and restores every committed snapshot; returns the number of warnings
    /// (unreferenced packs left by the killed run).
    @discardableResult
    func verifyConsistent(_ committed: [Committed], label: String, file: StaticString = #filePath, line: UInt = #line) throws -> Int {
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
        return items(c.report, "warnings").count
    }

    func trace(_ s: String) {
        if CLI.trace { FileHandle.standardError.write(Data("[crash] \(s)\n".utf8)) }
    }

    func testKillDuringBackup() throws {
        var rng = SeededRandom(seed: 0xC0FFEE)
        try initRepo()
        let small = try randomTree("small", seed: 5, maxFileSize: 400_000, filesPerDir: 4, depth: 2)
        var committed = [Committed(id: try backup([small]), source: small, desc: TreeComparison.describe(small))]
        // ~30 MB in 600 files: two full 16 MiB packs and a last one.
        let big = try flatTree("big", seed: 9, dirs: 20, files: 30, maxSize: 100_000)
        var bigDesc = TreeComparison.describe(big)

        // Calibrate: how long does an uninterrupted backup of the big tree take here?
        let scratch = dir.sub("calibration-repo")
        try initRepo(scratch)
        let full = try duration { try backup([big], repo: scratch) }
        removeTree(scratch)

        var killed = 0, leftPacks = 0, staleLocks = 0
        let points = 12
        for i in 0..<points {
            let w = RepoWatcher(repo: repo)
            XCTAssertTrue(w.isWorking, "inotify")
            let random = Double(rng.next() % 1000) / 1000
            let point: KillPoint
            switch i {
            case 1: point = .when("the first pack is being written", jitter: 0) { w.poll().data.temps >= 1 }
            case 3: point = .when("the first pack is stored", jitter: 0) { w.poll().data.stored >= 1 }
            case 5: point = .when("the second pack is being written", jitter: random * 0.002) { w.poll().data.temps >= 2 }
            case 7: point = .when("the last pack is stored", jitter: 0) { w.poll().data.stored >= 3 }
            case 9: point = .when("the index is being written", jitter: 0) { w.poll().index.temps >= 1 }
            case 11: point = .when("the index is stored", jitter: 0) { w.poll().index.stored >= 1 }
            default: point = .time(random * full)
            }
            let res = try runAndKill(["backup", "--host", "crash-host", big], at: point)
            let label = "backup kill #\(i) \(point) (full run ~\(Int(full * 1000)) ms)"
            if res.signaled {
                killed += 1
            } else {
                XCTAssertEqual(res.status, 0, "\(label): \(res)")
                if let id = try snapshotList().last(where: { ($0["paths"] as? [String]) == [normalized(big)] })?["id"] as? String {
                    committed.append(Committed(id: id, source: big, desc: bigDesc))
                }
                // New content, so that the next backups have data to write again.
                try mutate(big, seed: UInt64(1000 + i), every: 1, maxSize: 100_000)
                bigDesc = TreeComparison.describe(big)
            }
            if res.signaled && !repoFiles("locks").isEmpty { staleLocks += 1 }
            let leftovers = try verifyConsistent(committed, label: label)
            if res.signaled && leftovers > 0 { leftPacks += 1 }
            trace("\(label): \(res.signaled ? "killed" : "finished"), \(leftovers) unreferenced pack(s)")
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
        XCTAssertGreaterThanOrEqual(killed, points / 2, "most kills should land while the backup runs")
        XCTAssertGreaterThan(leftPacks, 0, "some kill should land after a pack was written")
        XCTAssertGreaterThan(staleLocks, 0, "some kill should leave a stale lock to take over")
        // Finally an uninterrupted backup of the big tree, restored identically.
        let last = try backup([big], extra: ["--host", "crash-host"])
        committed.append(Committed(id: last, source: big, desc: bigDesc))
        try verifyConsistent(committed, label: "final")
    }

    func testKillDuringPrune() throws {
        var rng = SeededRandom(seed: 0xBADC0DE)
        try initRepo()
        // Three generations of a tree; forgetting the first leaves packs that are partly used (repacked)
        // and data that is entirely unused (removed).
        let src = try flatTree("src", seed: 77, dirs: 8, files: 25, maxSize: 200_000)
        let only1 = try flatTree("only1", seed: 78, dirs: 2, files: 10, maxSize: 100_000)
        let first = try backup([src, only1])
        try mutate(src, seed: 1, every: 2)
        let second = try backup([src, only1])
        let desc2 = TreeComparison.describe(src)
        let descOnly1 = TreeComparison.describe(only1)
        try mutate(src, seed: 2, every: 3)
        let third = try backup([src, only1])
        let desc3 = TreeComparison.describe(src)
        try expect(0, ["forget", first])
        // The kept snapshots: second and third.
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

        try resetRepo()
        let pristineIndex = indexFiles()
        let pristinePacks = dataFiles().packs
        var killed = 0, killedWhileWriting = 0, staleLocks = 0
        let points = 12
        for i in 0..<points {
            try resetRepo()
            let w = RepoWatcher(repo: repo)
            XCTAssertTrue(w.isWorking, "inotify")
            let random = Double(rng.next() % 1000) / 1000
            let point: KillPoint
            switch i {
            case 1: point = .when("a repacked pack is being written", jitter: 0) { w.poll().data.temps >= 1 }
            case 2: point = .when("a repacked pack is stored", jitter: 0) { w.poll().data.stored >= 1 }
            case 4: point = .when("the first new index is stored", jitter: 0) { w.poll().index.stored >= 1 }
            case 5: point = .when("the second new index is stored", jitter: 0) { w.poll().index.stored >= 2 }
            case 7: point = .when("an old index is deleted", jitter: 0) { w.poll().index.deleted >= 1 }
            case 8: point = .when("the first old pack is deleted", jitter: 0) { w.poll().data.deleted >= 1 }
            case 10: point = .when("a second old pack is deleted", jitter: random * 0.002) { w.poll().data.deleted >= 2 }
            default: point = .time(random * full)
            }
            let res = try runAndKill(["prune"], at: point)
            let label = "prune kill #\(i) \(point) (full run ~\(Int(full * 1000)) ms)"
            if res.signaled { killed += 1 } else { XCTAssertEqual(res.status, 0, "\(label): \(res)") }
            let changed = indexFiles() != pristineIndex || dataFiles().packs != pristinePacks
            // The killed prune's exclusive lock is still there; check (shared) must take it over as stale.
            if res.signaled && !repoFiles("locks").isEmpty { staleLocks += 1 }
            if res.signaled && changed { killedWhileWriting += 1 }
            trace("\(label): \(res.signaled ? "killed" : "finished")\(changed ? " after changing the repository" : "")")
            try verifyConsistent(kept, label: label)
            XCTAssertEqual(repoFiles("locks"), [], "\(label): the stale lock was not taken over")
            // The next prune takes the stale exclusive lock over, finishes the job and leaves a clean repository.
            let again = try sv(["prune"])
            XCTAssertEqual(again.status, 0, "\(label): prune after the kill: \(again)")
            let c = try check(readData: true)
            XCTAssertEqual(c.status, 0, "\(label): \(c.result)")
            XCTAssertEqual(items(c.report, "warnings").count, 0, "\(label): leftovers after a completed prune: \(c.report)")
            XCTAssertEqual(try snapshotIDs().sorted(), [second, third].sorted(), label)
            if i % 3 == 0 {
                try verifyConsistent(kept, label: label + " (after the second prune)")
                try write(src + "/d0/after-crash-\(i)", "x")
                let id = try backup([src, only1])
                XCTAssertEqual(id.count, 64)
                try FileManager.default.removeItem(atPath: src + "/d0/after-crash-\(i)")
            }
        }
        XCTAssertGreaterThanOrEqual(killed, points / 2, "kills should land while prune runs (prune took ~\(Int(full * 1000)) ms)")
        XCTAssertGreaterThan(killedWhileWriting, 0, "some kill should land after prune started changing the repository")
        XCTAssertGreaterThan(staleLocks, 0, "some kill should leave a stale exclusive lock to take over")
    }
}
