import Foundation
import VaultTesting
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Faults on the real remote servers: an S3 server (SeaweedFS) restarted in the middle of a backup,
/// and kill -9 of a prune on S3 and on SFTP. Nothing committed may be lost: afterwards `check
/// --read-data` passes, every snapshot restores byte for byte, and the next run needs no `unlock`.
final class RemoteFaultTests: CLITestCase {
    /// What the child gets beside the repository and password (S3 keys, the SFTP command).
    var remoteEnv: [String: String] = [:]

    override func env(repo r: String? = nil, passwordFile pf: String? = nil) -> [String: String] {
        var e = super.env(repo: r, passwordFile: pf)
        for (k, v) in remoteEnv { e[k] = v }
        return e
    }

    static let scripts = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("scripts").path

    private func useS3(_ kind: S3TestServer.Kind, stem: String) throws -> S3TestServer {
        guard let s = S3TestServer.find(kind) else { throw XCTSkip(S3TestServer.skipReason(kind)) }
        remoteEnv = s.environment
        repo = s.location(bucket: S3TestServer.freshBucket(stem), prefix: "vault")
        return s
    }

    private func useSFTP(_ stem: String) throws {
        guard let d = ProcessInfo.processInfo.environment["SITEVAULT_TEST_SFTP_DIR"], !d.isEmpty else {
            throw XCTSkip("SITEVAULT_TEST_SFTP_DIR is not set (scripts/test.sh starts an SFTP server)")
        }
        remoteEnv = ["SITEVAULT_SFTP_COMMAND": "ssh -F \(d)/ssh_config svtest -s sftp"]
        repo = "sftp:svtest:" + d + "/repos/\(stem)-" + UUID().uuidString.prefix(8).lowercased()
    }

    // MARK: a server restarted during a backup

    /// SeaweedFS is stopped and started again (same ports and data) while a backup uploads (slowed
    /// by --limit-upload so that the restart lands in the middle). The backup either rides it out
    /// (retries) and commits a snapshot that restores, or fails naming the server with nothing
    /// committed; either way the earlier snapshot is intact and `check --read-data` passes.
    func testSeaweedFSRestartDuringBackup() throws {
        _ = try useS3(.seaweedfs, stem: "restart")
        guard let serverDir = ProcessInfo.processInfo.environment["SITEVAULT_TEST_S3_DIR"], !serverDir.isEmpty else {
            throw XCTSkip("SITEVAULT_TEST_S3_DIR is not set: start the servers with scripts/s3-servers.sh and source DIR/env")
        }
        try initRepo()
        let small = try randomTree("small", seed: 3, maxFileSize: 200_000, filesPerDir: 4, depth: 2)
        let smallDesc = TreeComparison.describe(small)
        let first = try backup([small])
        // ~24 MB at 2 MiB/s: about 12 s of uploads, the restart (a few seconds) lands inside.
        let big = try flatTree("big", seed: 21, dirs: 12, files: 20, maxSize: 200_000)
        let bigDesc = TreeComparison.describe(big)
        let run = try CLI.start(["backup", "--limit-upload", "2048", "--json", big], env: env())
        usleep(1_500_000)
        let runningAtRestart = run.isRunning
        // system(), not Process: the restarted server keeps running, and Foundation's Process would
        // wait for it too (its end-of-process socket is inherited by the server).
        let status = system("bash '\(Self.scripts)/s3-servers.sh' restart '\(serverDir)' seaweedfs > /dev/null 2>&1")
        XCTAssertEqual(status, 0, "SeaweedFS restarted")
        let r = run.wait(timeout: 600)
        if CLI.trace { FileHandle.standardError.write(Data("[restart] backup ended \(r.status): \(r.stderr)\n".utf8)) }
        XCTAssertTrue(runningAtRestart, "the backup was still running when the server went down: \(r)")
        let ids = try snapshotIDs()
        if r.status == 0 {
            let id = try XCTUnwrap((r.json as? [String: Any])?["snapshot"] as? String, "\(r)")
            XCTAssertEqual(Set(ids), [first, id])
            try assertRestores(id, source: big, expected: bigDesc, label: "backup across the restart")
        } else {
            XCTAssertFalse(r.signaled, "\(r)")
            XCTAssertEqual(ids, [first], "a failed backup commits nothing: \(r)")
            XCTAssertTrue(r.stderr.contains("S3 server at \(S3TestServer.find(.seaweedfs)!.endpoint)"), "the error names the server: \(r.stderr)")
        }
        try assertRestores(first, source: small, expected: smallDesc, label: "earlier snapshot")
        let c = try check(readData: true)
        XCTAssertEqual(c.status, 0, "\(c.result)")
        // The next backup works without an unlock.
        let next = try backup([big])
        try assertRestores(next, source: big, expected: bigDesc, label: "next backup")
    }

    // MARK: kill -9 during a remote prune

    func testKillDuringPruneOnS3() throws {
        _ = try useS3(.seaweedfs, stem: "prunekill")
        try killDuringPrune()
    }

    func testKillDuringPruneOnSFTP() throws {
        try useSFTP("prunekill")
        try killDuringPrune()
    }

    private struct Kept { var id: String; var source: String; var desc: [TreeComparison.Entry] }

    /// Three generations of a tree, the first forgotten (prune repacks and removes), then prune
    /// killed at several moments, each in a fresh repository (the first prune runs whole to time it).
    private func killDuringPrune() throws {
        let base = repo!
        var full = 0.0
        var killed = 0
        let fractions = [0.0, 0.2, 0.45, 0.7]
        for (i, fraction) in fractions.enumerated() {
            repo = base + "-\(i)"
            let src = try flatTree("src\(i)", seed: 77, dirs: 4, files: 20, maxSize: 150_000)
            try initRepo()
            let first = try backup([src])
            try mutate(src, seed: 1, every: 2)
            let second = try backup([src])
            let desc2 = TreeComparison.describe(src)
            try mutate(src, seed: 2, every: 3)
            let third = try backup([src])
            let kept = [Kept(id: second, source: src, desc: desc2), Kept(id: third, source: src, desc: TreeComparison.describe(src))]
            try expect(0, ["forget", first])
            let label = "prune #\(i)"
            if i == 0 {
                let plan = try expect(0, ["prune", "--dry-run", "--json"]).json as? [String: Any]
                XCTAssertGreaterThan(plan?["packsRepacked"] as? Int ?? 0, 0, "the scenario must repack: \(String(describing: plan))")
                let t0 = Date()
                try expect(0, ["prune"])
                full = Date().timeIntervalSince(t0)
            } else {
                let run = try CLI.start(["prune"], env: env())
                usleep(useconds_t(fraction * full * 1_000_000))
                run.kill9()
                let r = run.wait()
                if r.signaled { killed += 1 } else { XCTAssertEqual(r.status, 0, "\(label): \(r)") }
                // check takes the dead prune's exclusive lock over as stale; nothing committed is lost.
                let c = try check(readData: true)
                XCTAssertEqual(c.status, 0, "\(label) (killed: \(r.signaled)): \(c.result)")
                XCTAssertEqual(try snapshotIDs().sorted(), [second, third].sorted(), label)
                for k in kept { try assertRestores(k.id, source: k.source, expected: k.desc, label: label) }
                // The next prune finishes the job: a clean repository.
                let again = try sv(["prune"])
                XCTAssertEqual(again.status, 0, "\(label): prune after the kill: \(again)")
            }
            let c = try check(readData: true)
            XCTAssertEqual(c.status, 0, "\(label): \(c.result)")
            XCTAssertEqual(items(c.report, "warnings").count, 0, "\(label): leftovers after a completed prune: \(c.report)")
            for k in kept { try assertRestores(k.id, source: k.source, expected: k.desc, label: label + " (after prune)") }
            removeTree(src)
        }
        XCTAssertGreaterThan(killed, 0, "some kill must land while prune runs (a full prune took \(Int(full * 1000)) ms)")
    }
}
