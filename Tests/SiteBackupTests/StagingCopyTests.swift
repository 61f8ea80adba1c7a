import Foundation
@testable import SiteBackup
import VaultTesting
import XCTest

/// The staging copy is an exact mirror after every update, whatever changed in between, and an
/// update copies only what changed.
final class StagingCopyTests: XCTestCase {
    func testUpdatesKeepAnExactMirror() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let src = dir.path + "/src", staging = dir.path + "/staging"
        var b = RandomTreeBuilder(seed: 42)
        b.maxFileSize = 64 << 10
        try FileManager.default.createDirectory(atPath: src, withIntermediateDirectories: true)
        try b.build(at: src)
        var stats = StagingCopy.Stats()
        try StagingCopy.copy(src, into: staging, stats: &stats)
        XCTAssertGreaterThan(stats.files, 0)
        // Hard links become separate files in the copy: compare without link groups.
        func view(_ root: String) -> [TreeComparison.Entry] {
            TreeComparison.describe(root).map { var e = $0; e.linkGroup = 0; return e }
        }
        XCTAssertEqual(view(staging + src), view(src))

        // Nothing changed: nothing copied.
        var again = StagingCopy.Stats()
        try StagingCopy.copy(src, into: staging, stats: &again)
        XCTAssertEqual(again.files, 0)
        XCTAssertGreaterThanOrEqual(again.unchanged, stats.files, "every file is recognised")

        // Change content (same size, new time), delete, replace a file by a folder, a folder by a file.
        let fm = FileManager.default
        // Known files next to the random ones (whose names may not be valid UTF-8).
        try fm.createDirectory(atPath: src + "/known/sub", withIntermediateDirectories: true)
        let files = (0..<6).map { "known/sub/f\($0).bin" }
        for f in files { try Data(repeating: 7, count: 1000).write(to: URL(fileURLWithPath: src + "/" + f)) }
        var synced = StagingCopy.Stats()
        try StagingCopy.copy(src, into: staging, stats: &synced)
        XCTAssertEqual(synced.files, 6, "only the new files are copied")
        usleep(10_000)
        XCTAssertGreaterThan(files.count, 4)
        let changed = src + "/" + files[0]
        let size = (try fm.attributesOfItem(atPath: changed)[.size] as? Int) ?? 0
        try Data(repeating: 0xAB, count: size).write(to: URL(fileURLWithPath: changed))
        try fm.removeItem(atPath: src + "/" + files[1])
        try fm.removeItem(atPath: src + "/" + files[2])
        try fm.createDirectory(atPath: src + "/" + files[2], withIntermediateDirectories: false)
        try Data("inside".utf8).write(to: URL(fileURLWithPath: src + "/" + files[2] + "/new"))
        try Data("new file".utf8).write(to: URL(fileURLWithPath: src + "/added.txt"))
        var third = StagingCopy.Stats()
        try StagingCopy.copy(src, into: staging, stats: &third)
        XCTAssertEqual(view(staging + src), view(src), "the mirror follows every change")
        XCTAssertLessThanOrEqual(third.files, 4, "only changed files are copied: \(third)")
        XCTAssertGreaterThanOrEqual(third.removed, 1)
    }
}
