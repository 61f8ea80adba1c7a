import Foundation
import XCTest
import VaultTesting
#if canImport(Glibc)
import Glibc
#endif

/// Documented failures: exit codes, messages, and that nothing is changed when an operation is refused.
final class ErrorTests: CLITestCase {
    func testWrongPasswordExits12WithoutPrintingIt() throws {
        try initRepo()
        let wrong = "Wr0ng-pa55word-zebra"
        let pf = dir.sub("wrong")
        try write(pf, wrong + "\n")
        for args in [["snapshots"], ["backup", dir.path + "/password"], ["check"], ["snapshots", "--json"]] {
            let res = try CLI.run(args, env: env(passwordFile: pf))
            XCTAssertEqual(res.status, 12, "\(args): \(res)")
            XCTAssertFalse(res.stderr.contains(wrong), "password leaked to stderr: \(res.stderr)")
            XCTAssertFalse(res.stdout.contains(wrong), "password leaked to stdout: \(res.stdout)")
            XCTAssertFalse(res.stderr.contains(password), "the real password leaked: \(res.stderr)")
            XCTAssertTrue(res.stderr.lowercased().contains("password"), "the message says what is wrong: \(res.stderr)")
        }
        // The same through SITEVAULT_PASSWORD.
        let res = try CLI.run(["snapshots"], env: ["SITEVAULT_REPOSITORY": repo, "SITEVAULT_PASSWORD": wrong])
        XCTAssertEqual(res.status, 12, "\(res)")
        XCTAssertFalse(res.stderr.contains(wrong) || res.stdout.contains(wrong))
        XCTAssertEqual(repoFiles("locks"), [], "no lock is left behind")
    }

    func testMissingRepositoryExits10() throws {
        let missing = dir.sub("no-such-repo")
        let res = try CLI.run(["snapshots"], env: env(repo: missing))
        XCTAssertEqual(res.status, 10, "\(res)")
        XCTAssertTrue(res.stderr.contains(missing) || res.stderr.contains(normalized(missing)), res.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: missing), "opening must not create the folder")
        // An existing but empty folder is not a repository either.
        mkdir(missing)
        XCTAssertEqual(try CLI.run(["backup", passwordFile!], env: env(repo: missing)).status, 10)
        XCTAssertEqual(try CLI.run(["restore", "latest", "--target", dir.sub("t")], env: env(repo: missing)).status, 10)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: missing), [])
        // --repo wins over the environment.
        try initRepo()
        XCTAssertEqual(try CLI.run(["snapshots", "--repo", missing], env: env()).status, 10)
        XCTAssertEqual(try CLI.run(["snapshots", "--repo", repo], env: env(repo: missing)).status, 0)
    }

    func testUsageErrorsExit64() throws {
        try initRepo()
        XCTAssertEqual(try sv(["backup"]).status, 64, "backup without paths")
        XCTAssertEqual(try sv(["snapshots", "--no-such-option"]).status, 64)
        XCTAssertEqual(try sv(["no-such-command"]).status, 64)
    }

    func testBackupOfMissingPathFailsAndSavesNothing() throws {
        try initRepo()
        let existing = dir.sub("exists"); mkdir(existing)
        try write(existing + "/f", "data")
        let missing = dir.sub("does-not-exist")
        let res = try sv(["backup", existing, missing])
        XCTAssertNotEqual(res.status, 0, "\(res)")
        XCTAssertNotEqual(res.status, 3, "a missing root is not a partial backup: \(res)")
        XCTAssertTrue(res.stderr.contains(normalized(missing)), "the missing path is named: \(res.stderr)")
        XCTAssertEqual(repoFiles("snapshots"), [], "no snapshot was created")
        XCTAssertEqual(packs(), [:], "no data was written")
        XCTAssertEqual(repoFiles("locks"), [], "the lock was released")
    }

    func testInitOnExistingRepositoryFails() throws {
        try initRepo()
        let config = try Data(contentsOf: URL(fileURLWithPath: repo + "/config"))
        let keys = repoFiles("keys")
        let res = try sv(["init"])
        XCTAssertNotEqual(res.status, 0, "\(res)")
        XCTAssertTrue(res.stderr.contains("already"), res.stderr)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: repo + "/config")), config, "config untouched")
        XCTAssertEqual(repoFiles("keys"), keys, "no key added")
        try expect(0, ["snapshots"])
    }

    func testUnsupportedVersionExits14() throws {
        try initRepo()
        let url = URL(fileURLWithPath: repo + "/config")
        var obj = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        XCTAssertEqual(obj["version"] as? Int, 1)
        obj["version"] = 99
        try JSONSerialization.data(withJSONObject: obj).write(to: url)
        for args in [["snapshots"], ["backup", passwordFile!], ["check"], ["prune"]] {
            let res = try sv(args)
            XCTAssertEqual(res.status, 14, "\(args): \(res)")
            XCTAssertTrue(res.stderr.contains("99"), "the message names the version: \(res.stderr)")
        }
        // Refused before asking for the password: a wrong password still gives 14.
        let pf = dir.sub("wrong"); try write(pf, "nope")
        XCTAssertEqual(try CLI.run(["snapshots"], env: env(passwordFile: pf)).status, 14)
        XCTAssertEqual(repoFiles("snapshots"), [])
    }

    func testRestoreIntoNonEmptyTarget() throws {
        try initRepo()
        let src = try randomTree("src", seed: 21, maxFileSize: 200_000)
        try write(src + "/known", "from the snapshot")
        let expected = TreeComparison.describe(src)
        try backup([src])
        let target = dir.sub("target")
        mkdir(target)
        try write(target + "/precious", "do not touch")
        let before = TreeComparison.describe(target)
        let res = try sv(["restore", "latest", "--target", target])
        XCTAssertEqual(res.status, 13, "\(res)")
        XCTAssertTrue(res.stderr.contains("--overwrite"), "the message says how to proceed: \(res.stderr)")
        XCTAssertEqual(TreeComparison.differences(before, TreeComparison.describe(target)), [], "target untouched")
        // A target that is a file is refused too.
        let fileTarget = dir.sub("file-target")
        try write(fileTarget, "a file")
        XCTAssertEqual(try sv(["restore", "latest", "--target", fileTarget]).status, 13)
        XCTAssertEqual(try String(contentsOfFile: fileTarget), "a file")

        // With --overwrite: restored, an existing file of the snapshot replaced, others kept.
        mkdir(target + normalized(src))
        try write(target + normalized(src) + "/known", "stale content that is longer than the original")
        let ok = try sv(["restore", "latest", "--target", target, "--overwrite"])
        XCTAssertEqual(ok.status, 0, "\(ok)")
        XCTAssertEqual(TreeComparison.differences(expected, TreeComparison.describe(target + normalized(src))), [])
        XCTAssertEqual(try String(contentsOfFile: target + "/precious"), "do not touch")
    }

    /// A write error in the repository (not ENOSPC: here EFBIG from a file size limit; in practice EIO,
    /// EROFS, a failing network share) must not commit a snapshot that references data never stored.
    func testRepositoryWriteErrorNeverCommitsABrokenSnapshot() throws {
        try initRepo()
        let src = try flatTree("src", seed: 91, dirs: 10, files: 30, maxSize: 100_000)   // ~15 MB
        // Files larger than 4 MiB cannot be written by the backup process: pack files fail part-way.
        let wrapper = ["/bin/bash", "-c", "trap '' XFSZ; ulimit -f 4096; exec \"$@\"", "bash"]
        let res = try CLI.run(["backup", "--json", src], env: env(), wrapper: wrapper)
        XCTAssertNotEqual(res.status, 0, "the backup cannot have succeeded: \(res)")
        let c = try check(readData: true)
        XCTAssertEqual(c.status, 0, "backup exited \(res.status) and left a snapshot referencing data that was never stored: " +
                       "\(items(c.report, "problems").count) problem(s), affected \(c.report["affectedSnapshots"] ?? "-")")
        if res.status == 3 {
            // If it claims a partial snapshot, everything it did not report must restore.
            let errors = Set(((res.json as? [String: Any])?["errors"] as? [[String: String]] ?? []).compactMap { $0["path"] })
            let expected = TreeComparison.describe(src).filter { !errors.contains(normalized(src) + String(decoding: $0.path, as: UTF8.self)) }
            let target = dir.sub("out")
            let r = try sv(["restore", "latest", "--target", target])
            XCTAssertEqual(r.status, 0, "files the backup did not report as failed cannot be restored: \(r.stderr.prefix(500))")
            let got = TreeComparison.describe(target + normalized(src))
            let missing = TreeComparison.differences(expected, got)
            XCTAssertTrue(missing.isEmpty, "\(missing.count) file(s) silently lost, e.g. \(missing.prefix(3))")
        }
    }

    /// An unreadable file: backup saves a partial snapshot, exits 3, and the rest restores.
    /// Tests run as root, who reads any file; the backup runs with CAP_DAC_OVERRIDE and
    /// CAP_DAC_READ_SEARCH dropped (setpriv), so mode 000 really is unreadable for it.
    func testUnreadableFileGivesPartialSnapshot() throws {
        try initRepo()
        let src = try randomTree("src", seed: 31, maxFileSize: 300_000)
        mkdir(src + "/sub")
        try write(src + "/sub/secret", "cannot be read")
        try write(src + "/sub/readable", "can be read")
        XCTAssertEqual(chmod(src + "/sub/secret", 0), 0)
        let wrapper = ["/usr/bin/setpriv", "--inh-caps=-dac_override,-dac_read_search", "--bounding-set=-dac_override,-dac_read_search", "--"]
        if geteuid() == 0 {
            guard FileManager.default.isExecutableFile(atPath: wrapper[0]) else { throw XCTSkip("setpriv is not available") }
            let probe = Process()
            probe.executableURL = URL(fileURLWithPath: wrapper[0])
            probe.arguments = Array(wrapper.dropFirst()) + ["/bin/cat", src + "/sub/secret"]
            probe.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
            probe.standardError = FileHandle(forWritingAtPath: "/dev/null")
            try probe.run(); probe.waitUntilExit()
            if probe.terminationStatus == 0 { throw XCTSkip("cannot make a file unreadable for root here (setpriv did not drop capabilities)") }
        }
        var expected = TreeComparison.describe(src)
        expected.removeAll { String(decoding: $0.path, as: UTF8.self) == "/sub/secret" }
        let res = try CLI.run(["backup", "--json", src], env: env(), wrapper: geteuid() == 0 ? wrapper : [])
        XCTAssertEqual(res.status, 3, "\(res)")
        XCTAssertTrue(res.stderr.contains(normalized(src) + "/sub/secret"), "the unreadable file is named: \(res.stderr)")
        let obj = res.json as? [String: Any]
        let id = obj?["snapshot"] as? String
        XCTAssertNotNil(id, res.stdout)
        XCTAssertEqual((obj?["errors"] as? [[String: String]])?.map { $0["path"] }, [normalized(src) + "/sub/secret"])

        let list = try snapshotList()
        XCTAssertEqual(list.count, 1, "the partial snapshot is saved")
        XCTAssertEqual(list.first?["partial"] as? Bool, true)
        XCTAssertTrue(try expect(0, ["snapshots"]).stdout.contains("partial"))
        XCTAssertEqual(repoFiles("locks"), [])
        try assertRestores(id ?? "latest", source: src, expected: expected)
        try expect(0, ["check", "--read-data"])
    }
}
