import Foundation
import XCTest
import VaultCore
import VaultTesting
#if canImport(Glibc)
import Glibc
#endif

// sys/xattr.h is not in Glibc's module map.
@_silgen_name("lsetxattr") private func lsetxattr(_ path: UnsafePointer<CChar>, _ name: UnsafePointer<CChar>, _ value: UnsafeRawPointer?, _ size: Int, _ flags: Int32) -> Int32
@_silgen_name("lgetxattr") private func lgetxattr(_ path: UnsafePointer<CChar>, _ name: UnsafePointer<CChar>, _ value: UnsafeMutableRawPointer?, _ size: Int) -> Int

/// The everyday path through the executable: init, backup, snapshots, ls, restore, check, diff, stats, keys.
final class BasicFlowTests: CLITestCase {
    func testInitBackupListRestoreCheckDiffStats() throws {
        try initRepo()
        XCTAssertTrue(FileManager.default.fileExists(atPath: repo + "/config"))
        let src = try randomTree("src", seed: 7, maxFileSize: 2 << 20, filesPerDir: 7, depth: 3)
        // Make sure the odd cases are present whatever the random choices were.
        try write(src + "/new\nline name", "newline")
        try write(src + "/ünïcødé-文件", "unicode")
        let badName: [UInt8] = Array((src + "/bad-").utf8) + [0xff, 0xfe]
        let fd = (badName + [0]).withUnsafeBufferPointer { $0.withMemoryRebound(to: CChar.self) { open($0.baseAddress!, O_WRONLY | O_CREAT, 0o640) } }
        XCTAssertGreaterThanOrEqual(fd, 0); close(fd)
        XCTAssertEqual(symlink("target-does-not-exist", src + "/dangling"), 0)
        XCTAssertEqual(link(src + "/ünïcødé-文件", src + "/hardlink-to-unicode"), 0)
        let sparse = open(src + "/sparse", O_WRONLY | O_CREAT, 0o600)
        _ = "head".withCString { Glibc.write(sparse, $0, 4) }
        _ = lseek(sparse, 3 << 20, SEEK_SET)
        _ = "tail".withCString { Glibc.write(sparse, $0, 4) }
        close(sparse)
        XCTAssertEqual(chmod(src + "/sparse", 0o4750), 0)
        XCTAssertEqual(mkfifo(src + "/fifo", 0o640), 0)
        let xattrValue = Array("xattr value \u{0}\u{1}".utf8)
        let hasXattrs = lsetxattr(src + "/ünïcødé-文件", "user.sitevault-test", xattrValue, xattrValue.count, 0) == 0

        let before = TreeComparison.describe(src)
        XCTAssertTrue(before.contains { $0.type == "symlink" })
        XCTAssertTrue(before.contains { $0.linkGroup > 0 })
        XCTAssertTrue(before.contains { String(validating: $0.path, as: UTF8.self) == nil }, "an invalid UTF-8 name is in the tree")

        let first = try backup([src])
        XCTAssertEqual(first.count, 64)

        // snapshots --json parses and lists it.
        let list = try snapshotList()
        XCTAssertEqual(list.count, 1)
        XCTAssertEqual(list.first?["id"] as? String, first)
        XCTAssertEqual(list.first?["paths"] as? [String], [normalized(src)])
        XCTAssertEqual(list.first?["partial"] as? Bool, false)
        let human = try expect(0, ["snapshots"])
        XCTAssertTrue(human.stdout.contains(String(first.prefix(8))), human.stdout)

        // ls shows every name (display form: invalid bytes escaped).
        let ls = try expect(0, ["ls", "--json", "latest"])
        let lsPaths = Set(((ls.json as? [[String: Any]]) ?? []).compactMap { $0["path"] as? String })
        let base = normalized(src)
        let expected = Set(before.map { base + Node.display($0.path) })
        XCTAssertEqual(expected.subtracting(lsPaths), [], "names missing from ls --json")
        XCTAssertEqual(lsPaths.filter { $0.hasPrefix(base + "/") }.count, expected.count, "ls lists exactly the tree")
        XCTAssertTrue(lsPaths.contains(base + "/bad-\\xff\\xfe"), "invalid UTF-8 is shown escaped: \(lsPaths.filter { $0.contains("bad-") })")
        let lsHuman = try expect(0, ["ls", String(first.prefix(12))])
        XCTAssertTrue(lsHuman.stdout.split(separator: "\n").contains { $0 == base + "/ünïcødé-文件" }, lsHuman.stdout)
        let lsSub = try expect(0, ["ls", "--json", "latest", src + "/sparse"])
        XCTAssertEqual(((lsSub.json as? [[String: Any]])?.first?["size"] as? Int), (3 << 20) + 4)

        // Restore into an empty (new) target: the absolute path is recreated under it.
        let target = dir.sub("out")
        let r = try expect(0, ["restore", "latest", "--target", target])
        XCTAssertTrue(r.stderr.isEmpty, r.stderr)
        let after = TreeComparison.describe(target + normalized(src))
        XCTAssertEqual(TreeComparison.differences(before, after), [])
        var st = stat()
        XCTAssertEqual(stat(target + normalized(src) + "/sparse", &st), 0)
        XCTAssertLessThan(Int(st.st_blocks) * 512, 1 << 20, "sparse file stays sparse")
        XCTAssertEqual(lstat(target + normalized(src) + "/fifo", &st), 0)
        XCTAssertEqual(st.st_mode & S_IFMT, S_IFIFO, "a FIFO is restored as a FIFO")
        if hasXattrs {
            var buf = [UInt8](repeating: 0, count: 256)
            let n = lgetxattr(target + normalized(src) + "/ünïcødé-文件", "user.sitevault-test", &buf, buf.count)
            XCTAssertEqual(n >= 0 ? Array(buf[0..<n]) : [], xattrValue, "extended attributes are restored")
        }

        try expect(0, ["check", "--read-data"])

        // A second snapshot with an added file: diff shows it with "+".
        try write(src + "/added-file.txt", "added")
        let second = try backup([src])
        XCTAssertNotEqual(first, second)
        let diff = try expect(0, ["diff", first, second])
        let lines = diff.stdout.split(separator: "\n").map(String.init)
        XCTAssertTrue(lines.contains { $0.hasPrefix("+") && $0.hasSuffix(normalized(src) + "/added-file.txt") }, diff.stdout)
        XCTAssertFalse(lines.contains { $0.hasPrefix("-") }, diff.stdout)
        let diffJSON = try expect(0, ["diff", "--json", String(first.prefix(10)), "latest"])
        XCTAssertEqual((diffJSON.json as? [[String: Any]])?.filter { ($0["change"] as? String) == "+" }.count, 1, diffJSON.stdout)

        // stats --json.
        let stats = try expect(0, ["stats", "--json"])
        let s = stats.json as? [String: Any]
        XCTAssertNotNil(s, stats.stdout)
        XCTAssertEqual(s?["snapshots"] as? Int, 2)
        XCTAssertGreaterThan((s?["restoreSize"] as? Int) ?? 0, 0, stats.stdout)
    }

    /// Backing up a path whose parent folder is reached through a symlink (e.g. /srv/current/app with
    /// /srv/current -> releases/42): the files must come back on restore.
    func testBackupThroughSymlinkedParentFolderRestores() throws {
        try initRepo()
        let real = dir.sub("releases/42/app")
        mkdir(real)
        try write(real + "/index.html", "hello")
        XCTAssertEqual(symlink(dir.sub("releases/42"), dir.sub("current")), 0)
        let path = dir.sub("current") + "/app"
        let expected = TreeComparison.describe(path)
        let id = try backup([path])
        let check = try expect(0, ["check", "--read-data"])
        _ = check
        let ls = try expect(0, ["ls", id])
        XCTAssertTrue(ls.stdout.contains(normalized(path) + "/index.html"), ls.stdout)
        let target = dir.sub("out")
        let r = try sv(["restore", id, "--target", target])
        XCTAssertEqual(r.status, 0, "the snapshot cannot be restored: \(r)")
        XCTAssertEqual(TreeComparison.differences(expected, TreeComparison.describe(target + normalized(path))), [],
                       "files backed up through a symlinked parent are not restored")
    }

    func testKeyAddListRemove() throws {
        try initRepo()
        let src = dir.sub("k"); mkdir(src)
        try write(src + "/f", "key test")
        try backup([src])
        let second = dir.sub("password2")
        let newPassword = "a different passphrase 2"
        try write(second, newPassword + "\n")
        let add = try expect(0, ["key", "add", "--json", "--new-password-file", second])
        let newKey = (add.json as? [String: Any])?["id"] as? String
        XCTAssertNotNil(newKey, add.stdout)
        XCTAssertFalse(add.stdout.contains(newPassword) || add.stderr.contains(newPassword))
        XCTAssertEqual(repoFiles("keys").count, 2)

        // The second password opens the repository.
        let with2 = try CLI.run(["snapshots", "--json"], env: env(passwordFile: second))
        XCTAssertEqual(with2.status, 0, "\(with2)")
        XCTAssertEqual((with2.json as? [Any])?.count, 1)

        // key list marks the current key.
        let list = try CLI.run(["key", "list", "--json"], env: env(passwordFile: second))
        XCTAssertEqual(list.status, 0, "\(list)")
        let keys = (list.json as? [[String: Any]]) ?? []
        XCTAssertEqual(keys.count, 2)
        XCTAssertEqual(keys.filter { $0["current"] as? Bool == true }.map { $0["id"] as? String }, [newKey])
        let firstKey = keys.first { $0["current"] as? Bool == false }?["id"] as? String
        XCTAssertNotNil(firstKey)

        // Removing the key in use is refused; removing the other one works.
        let refuse = try CLI.run(["key", "remove", newKey ?? "x"], env: env(passwordFile: second))
        XCTAssertNotEqual(refuse.status, 0, "\(refuse)")
        XCTAssertEqual(repoFiles("keys").count, 2, "nothing removed")
        let remove = try CLI.run(["key", "remove", String((firstKey ?? "x").prefix(12))], env: env(passwordFile: second))
        XCTAssertEqual(remove.status, 0, "\(remove)")
        XCTAssertEqual(repoFiles("keys"), [newKey ?? ""])
        // Now the first password no longer opens it; the second still does.
        try expect(12, ["snapshots"])
        XCTAssertEqual(try CLI.run(["snapshots"], env: env(passwordFile: second)).status, 0)
    }
}
