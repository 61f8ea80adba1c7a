import Foundation
import XCTest
import VaultTesting
#if canImport(Glibc)
import Glibc
#endif

/// Through the executable: files changing while read, sparse files, and a restore target changed
/// under the restore.
final class HardeningCLITests: CLITestCase {
    func waitFor(_ path: String) -> Bool {
        for _ in 0..<3000 { if FileManager.default.fileExists(atPath: path) { return true }; usleep(20_000) }
        return false
    }

    func append(_ path: String, _ s: String) {
        let h = FileHandle(forWritingAtPath: path)!
        h.seekToEndOfFile(); h.write(Data(s.utf8)); h.closeFile()
    }

    func testLogGrowingWhileReadGivesExitThreeAndNamesIt() throws {
        try initRepo()
        let src = dir.sub("src"); mkdir(src)
        let log = src + "/app.log"
        try write(log, String(repeating: "line of the log\n", count: 20_000))
        let gate = dir.sub("gate")
        let run = try CLI.start(["backup", "--json", src], env: env().merging(["SITEVAULT_TEST_READ_GATE": gate]) { $1 })
        defer { try? write(gate + "-1", "go"); try? write(gate + "-2", "go"); run.kill9() }
        for pass in 1...2 {
            XCTAssertTrue(waitFor(gate + ".waiting-\(pass)"), "the backup finished reading pass \(pass)")
            append(log, "written during pass \(pass)\n")
            try write(gate + "-\(pass)", "go")
        }
        let res = run.wait()
        XCTAssertEqual(res.status, 3, "a file changed while read makes the backup partial: \(res)")
        let path = normalized(log)
        XCTAssertTrue(res.stderr.contains(path) && res.stderr.contains("changed while it was read"), res.stderr)
        let obj = try XCTUnwrap(res.json as? [String: Any], "\(res)")
        XCTAssertEqual(obj["changed"] as? [String], [path])
        let summary = try XCTUnwrap(obj["summary"] as? [String: Any])
        XCTAssertEqual(summary["filesChangedWhileRead"] as? Int, 1)
        let snaps = try snapshotList()
        XCTAssertEqual(snaps.count, 1)
        XCTAssertEqual(snaps.first?["partial"] as? Bool, true, "\(snaps)")
        XCTAssertEqual(snaps.first?["changedFiles"] as? [String], [path])
        // What was stored is consistent with itself: check --read-data passes and the restore's size
        // is what the second pass read.
        XCTAssertEqual(try check(readData: true).status, 0)
        let target = dir.sub("out")
        try expect(0, ["restore", "latest", "--target", target])
        let restored = try Data(contentsOf: URL(fileURLWithPath: target + path))
        XCTAssertEqual(restored.count, 20_000 * 16 + "written during pass 1\n".utf8.count)
    }

    func testSparseFileBacksUpWithoutReadingHolesAndRestoresSparse() throws {
        try initRepo()
        let src = dir.sub("src"); mkdir(src)
        let file = src + "/vm.img"
        let fd = open(file, O_WRONLY | O_CREAT, 0o644)
        XCTAssertEqual(ftruncate(fd, 1 << 30), 0)
        let data = [UInt8](repeating: 0x5a, count: 200_000)
        XCTAssertEqual(data.withUnsafeBytes { pwrite(fd, $0.baseAddress, data.count, 512 << 20) }, data.count)
        close(fd)
        let res = try expect(0, ["backup", "--json", src])
        let summary = try XCTUnwrap((res.json as? [String: Any])?["summary"] as? [String: Any])
        XCTAssertEqual(summary["bytesProcessed"] as? Int, 1 << 30)
        XCTAssertLessThan(try XCTUnwrap(summary["bytesAdded"] as? Int), 16 << 20, "the zeros are stored once")
        let target = dir.sub("out")
        try expect(0, ["restore", "latest", "--target", target])
        var st = stat()
        XCTAssertEqual(stat(target + normalized(file), &st), 0)
        XCTAssertEqual(st.st_size, 1 << 30)
        XCTAssertLessThan(Int(st.st_blocks) * 512, 8 << 20, "the restored file is sparse")
        let back = open(target + normalized(file), O_RDONLY)
        var got = [UInt8](repeating: 0, count: data.count + 2)
        XCTAssertEqual(got.withUnsafeMutableBytes { pread(back, $0.baseAddress, $0.count, (512 << 20) - 1) }, got.count)
        close(back)
        XCTAssertEqual(got, [0] + data + [0])
    }

    func testRestoreFolderSwappedForSymlinkWritesNothingOutside() throws {
        try initRepo()
        let src = dir.sub("src"); mkdir(src + "/uploads/sub")
        try write(src + "/uploads/a.php", "<?php // restored as root")
        try write(src + "/uploads/sub/b", "b")
        try write(src + "/top.txt", "top")
        try backup([src])
        let outside = dir.sub("etc"); mkdir(outside)
        let target = dir.sub("target")
        let gate = dir.sub("gate")
        // Wait at the first folder created: the one leading to the snapshot's paths ("tmp").
        let run = try CLI.start(["restore", "latest", "--target", target, "--json"],
                                env: env().merging(["SITEVAULT_TEST_RESTORE_GATE": gate]) { $1 })
        defer { try? write(gate, "go"); run.kill9() }
        XCTAssertTrue(waitFor(gate + ".waiting"))
        let first = String(decoding: FileManager.default.contents(atPath: gate + ".waiting") ?? Data(), as: UTF8.self)
        XCTAssertTrue(first.hasPrefix(normalized(target) + "/"), first)
        // A local user moves the new folder away and leaves a symlink to a folder outside.
        XCTAssertEqual(rename(first, first + ".moved"), 0)
        XCTAssertEqual(symlink(outside, first), 0)
        try write(gate, "go")
        let res = run.wait()
        XCTAssertEqual(res.status, 3, "\(res)")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: outside), [], "nothing written outside the target")
        XCTAssertTrue(res.stderr.contains(first) && res.stderr.contains("replaced by a symlink"), res.stderr)
        let errors = ((res.json as? [String: Any])?["errors"] as? [[String: String]]) ?? []
        XCTAssertEqual(errors.map { $0["path"] }, [first])
    }
}
