import Foundation
import XCTest
import VaultCore
import VaultRepository
import VaultStorage
import VaultTesting
#if canImport(Glibc)
import Glibc
#endif

/// Restore never writes outside its target, whatever the snapshot holds or the target contains.
final class RestoreSafetyTests: CLITestCase {
    /// Saves a hand-made snapshot (through the library) whose root tree holds `nodes`.
    func saveSnapshot(_ r: Repository, _ writer: BlobWriter, _ nodes: [Node]) throws -> ID {
        let root = try writer.save(.tree, Tree(nodes: nodes).encode()).id
        try writer.flush()
        return try r.saveSnapshot(Snapshot(time: SystemClock().now(), tree: root, paths: ["/evil"], hostname: "evil", username: "evil"))
    }

    func fileNode(_ writer: BlobWriter, _ name: [UInt8], _ text: String) throws -> Node {
        let id = try writer.save(.data, Array(text.utf8)).id
        return Node(name: name, type: .file, mode: 0o644, size: UInt64(text.utf8.count), mtime: 1_700_000_000_000_000_000, content: [id])
    }

    func dirNode(_ writer: BlobWriter, _ name: [UInt8], _ children: [Node]) throws -> Node {
        let id = try writer.save(.tree, Tree(nodes: children).encode()).id
        return Node(name: name, type: .directory, mode: 0o755, mtime: 1_700_000_000_000_000_000, subtree: id)
    }

    func testHostileNamesInSnapshotAreRefused() throws {
        _ = try TestRepository.create(at: repo)
        let r = try TestRepository.open(at: repo)
        let writer = BlobWriter(repository: r)
        let sandbox = dir.sub("sandbox")
        let outside = sandbox + "/outside"
        mkdir(outside)
        try write(outside + "/victim", "original")
        let target = sandbox + "/target"

        let nodes: [Node] = [
            try fileNode(writer, Array("ok.txt".utf8), "fine"),
            // "../escaped" and "../outside/victim" through a directory named "..".
            try dirNode(writer, Array("..".utf8), [
                try fileNode(writer, Array("escaped-dotdot".utf8), "escaped"),
                try dirNode(writer, Array("outside".utf8), [try fileNode(writer, Array("victim".utf8), "overwritten via ..")]),
            ]),
            try dirNode(writer, Array(".".utf8), [try fileNode(writer, Array("dot-file".utf8), "via .")]),
            try dirNode(writer, Array("a".utf8), []),
            try fileNode(writer, Array("a/b".utf8), "slash in name"),
            try fileNode(writer, Array("../slash-escape".utf8), "slash escape"),
            try fileNode(writer, Array((outside + "/absolute-escape").utf8), "absolute-looking name"),
            try fileNode(writer, Array("/etc-escape".utf8), "absolute-looking name 2"),
            try fileNode(writer, [], "empty name"),
            try fileNode(writer, Array("nul\u{0}name".utf8), "NUL in name"),
            // The same name twice: a symlink to the outside and a folder with a file in it.
            Node(name: Array("esc".utf8), type: .symlink, mode: 0o777, mtime: 1_700_000_000_000_000_000, linkTarget: Array(outside.utf8)),
            try dirNode(writer, Array("esc".utf8), [try fileNode(writer, Array("victim".utf8), "overwritten via symlink")]),
        ]
        let snap = try saveSnapshot(r, writer, nodes)
        let sandboxBefore = TreeComparison.describe(sandbox)
        let dirBefore = TreeComparison.describe(dir.path, withDirTimes: false).filter { !String(decoding: $0.path, as: UTF8.self).hasPrefix("/sandbox") }

        let res = try sv(["restore", snap.hex, "--target", target])
        XCTAssertEqual(res.status, 3, "unsafe names are reported as errors: \(res)")
        XCTAssertTrue(res.stderr.contains(".."), res.stderr)
        XCTAssertEqual(try String(contentsOfFile: target + "/ok.txt"), "fine", "safe entries are restored")

        // Nothing outside the target changed: the sandbox (minus the target) and the test folder.
        let sandboxAfter = TreeComparison.describe(sandbox).filter { !String(decoding: $0.path, as: UTF8.self).hasPrefix("/target") }
        XCTAssertEqual(TreeComparison.differences(sandboxBefore, sandboxAfter), [])
        XCTAssertEqual(try String(contentsOfFile: outside + "/victim"), "original")
        let dirAfter = TreeComparison.describe(dir.path, withDirTimes: false).filter { !String(decoding: $0.path, as: UTF8.self).hasPrefix("/sandbox") }
        XCTAssertEqual(TreeComparison.differences(dirBefore, dirAfter), [])
        XCTAssertFalse(FileManager.default.fileExists(atPath: "/etc-escape"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: "/slash-escape"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.path + "/slash-escape"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: target + "/a/b"), "a name with '/' is not split into a path")
        // --overwrite changes nothing about it.
        let again = try sv(["restore", snap.hex, "--target", target, "--overwrite"])
        XCTAssertEqual(again.status, 3, "\(again)")
        XCTAssertEqual(TreeComparison.differences(sandboxBefore, TreeComparison.describe(sandbox).filter { !String(decoding: $0.path, as: UTF8.self).hasPrefix("/target") }), [])
    }

    /// A hard link already in the target to a file outside it: restoring over it with --overwrite must
    /// replace the link, not write into (or chmod/chown) the outside file's inode.
    func testHardLinkInTargetToOutsideFileIsNotWrittenThrough() throws {
        try initRepo()
        let src = dir.sub("src"); mkdir(src)
        try write(src + "/config.php", "restored content from the snapshot")
        XCTAssertEqual(chmod(src + "/config.php", 0o666), 0)
        let expected = TreeComparison.describe(src)
        let id = try backup([src])
        let outside = dir.sub("outside"); mkdir(outside)
        try write(outside + "/victim", "original secret")
        XCTAssertEqual(chmod(outside + "/victim", 0o600), 0)
        let victimBefore = TreeComparison.describe(outside)
        let target = dir.sub("target")
        mkdir(target + normalized(src))
        XCTAssertEqual(link(outside + "/victim", target + normalized(src) + "/config.php"), 0)
        let r = try sv(["restore", id, "--target", target, "--overwrite"])
        XCTAssertEqual(r.status, 0, "\(r)")
        XCTAssertEqual(try String(contentsOfFile: outside + "/victim"), "original secret", "restore wrote through a hard link into a file outside the target")
        XCTAssertEqual(TreeComparison.differences(victimBefore, TreeComparison.describe(outside)), [], "outside file's metadata changed")
        XCTAssertEqual(TreeComparison.differences(expected, TreeComparison.describe(target + normalized(src))), [])
    }

    /// Symlinks already in the target that point outside are replaced, never followed.
    func testSymlinksInTargetAreNotFollowed() throws {
        try initRepo()
        let src = dir.sub("src")
        mkdir(src + "/sub/deeper")
        try write(src + "/sub/deeper/file", "deep file")
        try write(src + "/sub/file", "sub file")
        try write(src + "/top.txt", "top")
        let expected = TreeComparison.describe(src)
        let id = try backup([src])
        let outside = dir.sub("outside")
        mkdir(outside + "/sub")
        try write(outside + "/victim.txt", "original")
        try write(outside + "/sub/file", "original sub file")
        let outsideBefore = TreeComparison.describe(outside)
        let comps = normalized(src).split(separator: "/").map(String.init)

        // 1. The first component of the restored path is a symlink to the outside.
        let t1 = dir.sub("t1"); mkdir(t1)
        XCTAssertEqual(symlink(outside, t1 + "/" + comps[0]), 0)
        let r1 = try sv(["restore", id, "--target", t1, "--overwrite"])
        XCTAssertEqual(r1.status, 0, "\(r1)")
        XCTAssertEqual(TreeComparison.differences(outsideBefore, TreeComparison.describe(outside)), [], "outside untouched (top-level symlink)")
        XCTAssertEqual(TreeComparison.differences(expected, TreeComparison.describe(t1 + normalized(src))), [])

        // 2. Deeper: a directory of the snapshot and a file of the snapshot are symlinks in the target.
        let t2 = dir.sub("t2")
        mkdir(t2 + normalized(src))
        XCTAssertEqual(symlink(outside, t2 + normalized(src) + "/sub"), 0)
        XCTAssertEqual(symlink(outside + "/victim.txt", t2 + normalized(src) + "/top.txt"), 0)
        let r2 = try sv(["restore", id, "--target", t2, "--overwrite"])
        XCTAssertEqual(r2.status, 0, "\(r2)")
        XCTAssertEqual(TreeComparison.differences(outsideBefore, TreeComparison.describe(outside)), [], "outside untouched (inner symlinks)")
        XCTAssertEqual(try String(contentsOfFile: outside + "/victim.txt"), "original")
        XCTAssertEqual(TreeComparison.differences(expected, TreeComparison.describe(t2 + normalized(src))), [])

        // 3. --include restores only part, still through no symlink.
        let t3 = dir.sub("t3")
        mkdir(t3 + normalized(src))
        XCTAssertEqual(symlink(outside, t3 + normalized(src) + "/sub"), 0)
        let r3 = try sv(["restore", id, "--target", t3, "--overwrite", "--include", normalized(src) + "/sub/deeper"])
        XCTAssertEqual(r3.status, 0, "\(r3)")
        XCTAssertEqual(TreeComparison.differences(outsideBefore, TreeComparison.describe(outside)), [], "outside untouched (--include)")
        XCTAssertEqual(try String(contentsOfFile: t3 + normalized(src) + "/sub/deeper/file"), "deep file")
        XCTAssertFalse(FileManager.default.fileExists(atPath: t3 + normalized(src) + "/top.txt"), "not included")
    }
}
