import XCTest
import VaultCore
import VaultRepository
import VaultTesting
import VaultMaintenance
@testable import VaultArchiver
@testable import VaultRestorer

/// A repository on a small tmpfs fills up during a backup: the error is clear, nothing is
/// committed, and the repository checks clean with its earlier snapshot intact.
final class FullDiskTests: XCTestCase {
    func testBackupOntoAFullDiskFailsCleanly() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let mnt = dir.sub("small")
        try FileManager.default.createDirectory(atPath: mnt, withIntermediateDirectories: false)
        guard geteuid() == 0, run("/bin/mount", ["-t", "tmpfs", "-o", "size=6m", "tmpfs", mnt]) == 0 else {
            throw XCTSkip("needs root to mount a small tmpfs")
        }
        defer { _ = run("/bin/umount", [mnt]) }
        let repo = try TestRepository.create(at: mnt + "/repo")
        let small = dir.sub("small-src"), big = dir.sub("big-src")
        for p in [small, big] { try FileManager.default.createDirectory(atPath: p, withIntermediateDirectories: false) }
        var rng = SeededRandom(seed: 77)
        try Data(rng.bytes(1 << 20)).write(to: URL(fileURLWithPath: small + "/one"))
        for i in 0..<4 { try Data(rng.bytes(3 << 20)).write(to: URL(fileURLWithPath: big + "/f\(i)")) }
        let first = try await Archiver(repository: repo, options: BackupOptions(paths: [small], hostname: "h", username: "u")).run()
        do {
            _ = try await Archiver(repository: repo, options: BackupOptions(paths: [big], hostname: "h", username: "u")).run()
            XCTFail("a 12 MiB backup cannot fit in what is left of 6 MiB")
        } catch let e as VaultError {
            XCTAssertEqual(e.code, .noSpace, "\(e)")
            XCTAssertTrue(e.message.contains("free space"), e.message)
        }
        let reopened = try TestRepository.open(at: mnt + "/repo")
        XCTAssertEqual(try reopened.snapshots().map(\.id), [first.id], "no snapshot may be committed by a failed backup")
        let report = try Checker(repository: reopened).run(readData: true)
        XCTAssertTrue(report.ok, "\(report.problems)")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: mnt + "/repo/data").filter { $0.hasPrefix(".tmp") }
        XCTAssertEqual(leftovers, [], "the unfinished pack must be removed")
        let out = dir.sub("out")
        _ = try await Restorer(repository: reopened, tree: first.snapshot.treeID!, options: RestoreOptions(target: out)).run()
        XCTAssertEqual(TreeComparison.differences(TreeComparison.describe(small), TreeComparison.describe(out + small)), [])
    }

    func run(_ tool: String, _ args: [String]) -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: tool)
        p.arguments = args
        do { try p.run() } catch { return -1 }
        p.waitUntilExit()
        return p.terminationStatus
    }
}
