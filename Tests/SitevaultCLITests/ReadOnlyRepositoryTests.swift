import Foundation
import XCTest
import VaultTesting
#if canImport(Glibc)
import Glibc
#endif

/// The disaster case: a repository that cannot be written (read-only mount, full disk) must still
/// be readable — restore, dump, ls, snapshots and check work without a lock, with a warning.
final class ReadOnlyRepositoryTests: CLITestCase {
    var mounts: [String] = []

    override func tearDown() {
        for m in mounts.reversed() { _ = shell("umount \(m)") }
        super.tearDown()
    }

    @discardableResult
    func shell(_ command: String) -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", command + " >/dev/null 2>&1"]
        try? p.run()
        p.waitUntilExit()
        return p.terminationStatus
    }

    /// Runs every reading command and checks it works and says it reads without a lock.
    func assertReadingWorks(_ src: String, expected: [TreeComparison.Entry], file: StaticString = #filePath, line: UInt = #line) throws {
        let target = dir.sub("restore-\(UUID().uuidString.prefix(6))")
        let restore = try sv(["restore", "latest", "--target", target])
        XCTAssertEqual(restore.status, 0, "\(restore)", file: file, line: line)
        XCTAssertTrue(restore.stderr.contains("reading without a lock"), restore.stderr, file: file, line: line)
        XCTAssertEqual(TreeComparison.differences(expected, TreeComparison.describe(target + normalized(src))), [], file: file, line: line)
        let dump = try sv(["dump", "latest", normalized(src) + "/f"])
        XCTAssertEqual(dump.status, 0, "\(dump)", file: file, line: line)
        XCTAssertEqual(dump.stdout, "file content", file: file, line: line)
        XCTAssertEqual(try sv(["ls", "latest"]).status, 0, file: file, line: line)
        XCTAssertEqual(try sv(["snapshots"]).status, 0, file: file, line: line)
        let c = try sv(["check", "--read-data"])
        XCTAssertEqual(c.status, 0, "\(c)", file: file, line: line)
        XCTAssertTrue(c.stderr.contains("reading without a lock"), c.stderr, file: file, line: line)
        let quiet = try sv(["check", "--no-lock"])
        XCTAssertEqual(quiet.status, 0, "\(quiet)", file: file, line: line)
        XCTAssertFalse(quiet.stderr.contains("warning"), "--no-lock asks for no lock: no warning: \(quiet.stderr)", file: file, line: line)
    }

    func makeSource() throws -> (String, [TreeComparison.Entry]) {
        let src = dir.sub("src"); mkdir(src)
        try write(src + "/f", "file content")
        try write(src + "/g", [UInt8](repeating: 7, count: 300_000))
        return (src, TreeComparison.describe(src))
    }

    func testReadOnlyRepositoryCanBeRead() throws {
        try initRepo()
        let (src, expected) = try makeSource()
        try backup([src])
        guard shell("mount --bind \(repo!) \(repo!)") == 0 else { throw XCTSkip("bind mounts are not available here") }
        mounts.append(repo)
        XCTAssertEqual(shell("mount -o remount,ro,bind \(repo!)"), 0)
        // The repository really is read-only, for root too: a backup cannot write.
        let b = try sv(["backup", src])
        XCTAssertNotEqual(b.status, 0, "\(b)")
        XCTAssertTrue(b.stderr.contains("Read-only file system"), b.stderr)
        XCTAssertEqual(repoFiles("locks"), [])
        try assertReadingWorks(src, expected: expected)
    }

    func testFullRepositoryCanBeRead() throws {
        let disk = dir.sub("disk"); mkdir(disk)
        guard shell("mount -t tmpfs -o size=8m tmpfs \(disk)") == 0 else { throw XCTSkip("tmpfs mounts are not available here") }
        mounts.append(disk)
        repo = disk + "/repo"
        try initRepo()
        let (src, expected) = try makeSource()
        try backup([src])
        // Fill the file system to the last byte.
        shell("dd if=/dev/zero of=\(disk)/filler bs=1M; dd if=/dev/zero of=\(disk)/filler2 bs=4k; dd if=/dev/zero of=\(disk)/filler3 bs=1")
        let b = try sv(["backup", src])
        XCTAssertNotEqual(b.status, 0, "the repository is really full: \(b)")
        try assertReadingWorks(src, expected: expected)
    }
}
