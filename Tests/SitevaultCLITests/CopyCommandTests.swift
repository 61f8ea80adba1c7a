import Foundation
import XCTest
import VaultTesting
#if canImport(Glibc)
import Glibc
#endif

/// `sitevault copy` and `init --copy-chunker-params` through the executable: another password, both
/// chunking paths, idempotence, selection, dry run, and a copy killed with SIGKILL.
final class CopyCommandTests: CLITestCase {
    var repo2: String!
    var password2File: String!

    override func setUpWithError() throws {
        try super.setUpWithError()
        repo2 = dir.sub("repo2")
        password2File = dir.sub("password2")
        try write(password2File, "a different password for the copy\n")
        chmod(password2File, 0o600)
    }

    /// Runs sitevault on repo2 (its own password), copying from `repo`.
    @discardableResult
    func sv2(_ args: [String], expect status: Int32 = 0, file: StaticString = #filePath, line: UInt = #line) throws -> CLI.Result {
        let res = try sv(args + ["--repo", repo2, "--password-file", password2File])
        XCTAssertEqual(res.status, status, "sitevault \(args.joined(separator: " ")): \(res)", file: file, line: line)
        return res
    }

    var from: [String] { ["--from-repo", repo, "--from-password-file", passwordFile] }

    func copy(_ extra: [String] = [], file: StaticString = #filePath, line: UInt = #line) throws -> [String: Any] {
        let res = try sv2(["copy", "--json"] + from + extra, file: file, line: line)
        return (res.json as? [String: Any]) ?? [:]
    }

    func snapshots2() throws -> [[String: Any]] {
        (try sv2(["snapshots", "--json"]).json as? [[String: Any]]) ?? []
    }

    func testCopyWithSharedChunkerParametersMovesOnlyNewBlobs() throws {
        try initRepo()
        let src = try randomTree("src", seed: 21, maxFileSize: 2 << 20)
        let expected = TreeComparison.describe(src)
        let s1 = try backup([src], extra: ["--tag", "site=web"])
        try sv2(["init"] + ["--copy-chunker-params"] + from)
        let dry = try copy(["--dry-run"])
        XCTAssertEqual((dry["snapshots"] as? [[String: Any]])?.map { $0["result"] as? String }, ["would-copy"])
        XCTAssertEqual(try snapshots2().count, 0)
        let first = try copy()
        XCTAssertEqual(first["rechunked"] as? Bool, false)
        XCTAssertGreaterThan(first["blobsCopied"] as? Int ?? 0, 0)
        let list = try snapshots2()
        XCTAssertEqual(list.count, 1)
        XCTAssertEqual(list.first?["original"] as? String, s1)
        XCTAssertEqual((list.first?["copiedFrom"] as? [String: Any])?["snapshot"] as? String, s1)
        XCTAssertEqual(list.first?["tags"] as? [String], ["site=web"])
        // Run again: nothing copied. A new backup: only its new blobs.
        let again = try copy()
        XCTAssertEqual(again["blobsCopied"] as? Int, 0)
        XCTAssertEqual((again["snapshots"] as? [[String: Any]])?.map { $0["result"] as? String }, ["present"])
        try write(src + "/added", [UInt8](repeating: 7, count: 300_000))
        _ = try backup([src], extra: ["--tag", "site=web"])
        let third = try copy()
        XCTAssertLessThanOrEqual(third["blobsCopied"] as? Int ?? 99, 12, "only the new blob and the trees on its path")
        XCTAssertEqual(try snapshots2().count, 2)
        XCTAssertEqual(try sv2(["check", "--read-data"]).status, 0)
        let copied = try XCTUnwrap(list.first?["id"] as? String)
        let target = dir.sub("restored")
        try sv2(["restore", copied, "--target", target])
        XCTAssertEqual(TreeComparison.differences(expected, TreeComparison.describe(target + normalized(src))), [])
        // The password of the source never opens the copy.
        XCTAssertEqual(try sv(["snapshots"], repo: repo2).status, 12)
    }

    func testCopyBetweenDifferentChunkerParametersSelectsBySite() throws {
        try initRepo()
        let a = try randomTree("a", seed: 22, maxFileSize: 3 << 20)
        let b = try randomTree("b", seed: 23, maxFileSize: 1 << 20)
        let expected = TreeComparison.describe(a)
        _ = try backup([a], extra: ["--tag", "site=a"])
        _ = try backup([b], extra: ["--tag", "site=b"])
        try sv2(["init"])
        let report = try copy(["--site", "a"])
        XCTAssertEqual(report["rechunked"] as? Bool, true)
        let list = try snapshots2()
        XCTAssertEqual(list.map { $0["tags"] as? [String] }, [["site=a"]])
        XCTAssertEqual(try sv2(["check", "--read-data"]).status, 0)
        let target = dir.sub("restored")
        try sv2(["restore", "latest", "--target", target])
        XCTAssertEqual(TreeComparison.differences(expected, TreeComparison.describe(target + normalized(a))), [])
        // An unknown site is an error that says so, and nothing is written.
        let res = try sv2(["copy"] + from + ["--site", "nope"], expect: 1)
        XCTAssertTrue(res.stderr.contains("nothing was copied"), res.stderr)
        // No source given: a message naming the options.
        XCTAssertTrue(try sv2(["copy"], expect: 1).stderr.contains("--from-repo"))
    }

    func testCopyKilledMidwayLeavesTargetCleanAndResumes() throws {
        try killedCopy(sharedParameters: false)   // files chunked again: the slower path
    }

    func testCopyOfStoredBlobsKilledMidwayLeavesTargetCleanAndResumes() throws {
        try killedCopy(sharedParameters: true)
    }

    func killedCopy(sharedParameters: Bool, file: StaticString = #filePath, line: UInt = #line) throws {
        try initRepo()
        let src = try flatTree("big", seed: 24, dirs: 4, files: 12, maxSize: 4 << 20)
        let expected = TreeComparison.describe(src)
        _ = try backup([src])
        try sv2(["init"] + (sharedParameters ? ["--copy-chunker-params"] + from : []))
        let run = try CLI.start(["copy", "--repo", repo2, "--password-file", password2File] + from, env: env())
        // Kill as soon as the copy has stored a pack (or when it ended, whichever comes first).
        let deadline = Date().addingTimeInterval(120)
        while run.isRunning && Date() < deadline && packs(repo: repo2).isEmpty { usleep(1000) }
        run.kill9()
        let killed = run.wait()
        let before = try snapshots2().count
        print("copy (shared parameters: \(sharedParameters)) killed: \(killed.signaled), snapshots in the target before resuming: \(before)")
        XCTAssertEqual(try sv2(["check"]).status, 0, "an interrupted copy leaves the target checking clean")
        _ = try sv2(["unlock"])
        try copy()
        XCTAssertEqual(try snapshots2().count, 1)
        XCTAssertEqual(try sv2(["check", "--read-data"]).status, 0)
        let target = dir.sub("restored")
        try sv2(["restore", "latest", "--target", target])
        XCTAssertEqual(TreeComparison.differences(expected, TreeComparison.describe(target + normalized(src))), [])
    }
}
