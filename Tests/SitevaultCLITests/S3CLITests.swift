import Foundation
import XCTest
import VaultTesting

/// The executable on an S3 repository (`--repo s3:http://127.0.0.1:PORT/bucket/prefix`, keys in
/// AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY) on the real servers scripts/test.sh starts.
final class S3CLITests: CLITestCase {
    /// The server whose keys the child gets (changed by a test to try wrong ones).
    var server: S3TestServer?

    override func env(repo r: String? = nil, passwordFile pf: String? = nil) -> [String: String] {
        var e = super.env(repo: r, passwordFile: pf)
        for (k, v) in server?.environment ?? [:] { e[k] = v }
        return e
    }

    func testInitBackupRestoreCheckOnSeaweedFS() throws { try flow(.seaweedfs) }
    func testInitBackupRestoreCheckOnCephRGW() throws { try flow(.rgw) }

    /// A server that is down (nothing listens on the port): retried, then exit 10 (no repository),
    /// naming the server; the same for an SFTP server. No real server is needed for either.
    func testServerDownIsNoRepository() throws {
        server = S3TestServer(endpoint: "http://127.0.0.1:\(FreePort.pick())", accessKey: "AKIDTEST", secretKey: "not-a-real-secret")
        let s3 = try sv(["snapshots"], repo: server!.location(bucket: "down", prefix: "vault"))
        XCTAssertEqual(s3.status, 10, "\(s3)")
        XCTAssertTrue(s3.stderr.contains("cannot connect to the S3 server at \(server!.endpoint)"), s3.stderr)
        XCTAssertFalse(s3.stderr.contains("not-a-real-secret"), "the secret was printed")
        server = nil
        let port = FreePort.pick()
        let sftp = try sv(["snapshots"], repo: "sftp://nobody@127.0.0.1:\(port)//srv/repo")
        XCTAssertEqual(sftp.status, 10, "\(sftp)")
        XCTAssertTrue(sftp.stderr.contains("cannot reach the SFTP server"), sftp.stderr)
    }

    private func flow(_ kind: S3TestServer.Kind) throws {
        guard let s = S3TestServer.find(kind) else { throw XCTSkip(S3TestServer.skipReason(kind)) }
        server = s
        repo = s.location(bucket: S3TestServer.freshBucket("cli"), prefix: "vault/main")
        try initRepo()   // the bucket does not exist yet: init makes it
        let again = try sv(["init"])
        XCTAssertEqual(again.status, 1, "\(again)")
        XCTAssertTrue(again.stderr.contains("already exists"), again.stderr)

        let src = try randomTree("src", seed: 11, maxFileSize: 3 << 20, filesPerDir: 6, depth: 3)
        let expected = TreeComparison.describe(src)
        let first = try backup([src])
        try write(src + "/added-later", "a second snapshot")
        let second = try backup([src])
        XCTAssertNotEqual(first, second)
        XCTAssertEqual(try snapshotList().count, 2)
        try assertRestores(first, source: src, expected: expected, label: "\(kind)")
        try assertRestores(second, source: src, expected: TreeComparison.describe(src), label: "\(kind)")
        let c = try check(readData: true)
        XCTAssertEqual(c.status, 0, "\(kind) check --read-data: \(c.result)")

        // Wrong secret: the S3 error is named, the secret is not printed.
        var bad = s
        bad.secretKey = "wrong-secret-\(UInt32.random(in: 0...UInt32.max))"
        server = bad
        let refused = try sv(["snapshots"])
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue(refused.stderr.contains("SignatureDoesNotMatch") && refused.stderr.contains("AWS_SECRET_ACCESS_KEY"), refused.stderr)
        XCTAssertFalse(refused.stderr.contains(bad.secretKey) || refused.stdout.contains(bad.secretKey), "the secret was printed")
        server = s

        // A bucket that does not exist: no repository (exit 10), named.
        let missing = try sv(["snapshots"], repo: s.location(bucket: S3TestServer.freshBucket("none"), prefix: "x"))
        XCTAssertEqual(missing.status, 10, "\(missing)")
        XCTAssertTrue(missing.stderr.contains("does not exist"), missing.stderr)
    }
}
