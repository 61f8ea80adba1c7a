import Foundation
import VaultTesting
import XCTest

/// `sitevault copy` from a local repository to the remote stores (S3 on SeaweedFS and Ceph RGW,
/// SFTP on OpenSSH), each with its own password: the copy restores byte for byte from the remote
/// repository, a second copy moves nothing, `check --read-data` is clean there, and a copy back
/// from the remote repository into a new local one (the main repository lost) restores too.
final class RemoteCopyTests: CLITestCase {
    var password2File: String!

    override func setUpWithError() throws {
        try super.setUpWithError()
        password2File = dir.sub("password2")
        try write(password2File, "the off-site copy's own password\n")
        chmod(password2File, 0o600)
    }

    func testCopyToS3OnSeaweedFS() throws { try copyRoundTrip(try s3(.seaweedfs)) }
    func testCopyToS3OnCephRGW() throws { try copyRoundTrip(try s3(.rgw)) }

    func testCopyToSFTP() throws {
        guard let d = ProcessInfo.processInfo.environment["SITEVAULT_TEST_SFTP_DIR"], !d.isEmpty else {
            throw XCTSkip("SITEVAULT_TEST_SFTP_DIR is not set (scripts/test.sh starts an SFTP server)")
        }
        let location = "sftp:svtest:" + d + "/repos/copy-" + UUID().uuidString.prefix(8).lowercased()
        try copyRoundTrip((location, ["SITEVAULT_SFTP_COMMAND": "ssh -F \(d)/ssh_config svtest -s sftp"]))
    }

    private func s3(_ kind: S3TestServer.Kind) throws -> (String, [String: String]) {
        guard let s = S3TestServer.find(kind) else { throw XCTSkip(S3TestServer.skipReason(kind)) }
        return (s.location(bucket: S3TestServer.freshBucket("copy"), prefix: "offsite"), s.environment)
    }

    private func copyRoundTrip(_ remote: (location: String, env: [String: String])) throws {
        // Runs sitevault on the remote repository with its own password.
        func onRemote(_ args: [String], expect status: Int32 = 0) throws -> CLI.Result {
            let r = try sv(args + ["--repo", remote.location, "--password-file", password2File], env: remote.env)
            XCTAssertEqual(r.status, status, "sitevault \(args.joined(separator: " ")) on \(remote.location): \(r)")
            return r
        }
        try initRepo()
        let src = try randomTree("src", seed: 31, maxFileSize: 2 << 20)
        let expected = TreeComparison.describe(src)
        let s1 = try backup([src], extra: ["--tag", "site=web"])
        try onRemote(["init", "--copy-chunker-params", "--from-repo", repo, "--from-password-file", passwordFile])
        let first = try onRemote(["copy", "--json", "--from-repo", repo, "--from-password-file", passwordFile])
        XCTAssertGreaterThan((first.json as? [String: Any])?["blobsCopied"] as? Int ?? 0, 0, "\(first)")
        let again = try onRemote(["copy", "--json", "--from-repo", repo, "--from-password-file", passwordFile])
        XCTAssertEqual((again.json as? [String: Any])?["blobsCopied"] as? Int, 0, "a second copy moves nothing")
        let list = (try onRemote(["snapshots", "--json"]).json as? [[String: Any]]) ?? []
        XCTAssertEqual(list.count, 1)
        XCTAssertEqual(list.first?["original"] as? String, s1)
        XCTAssertEqual(try onRemote(["check", "--read-data"]).status, 0)
        let copied = try XCTUnwrap(list.first?["id"] as? String)
        let target = dir.sub("from-remote")
        try onRemote(["restore", copied, "--target", target])
        XCTAssertEqual(TreeComparison.differences(expected, TreeComparison.describe(target + normalized(src))), [])

        // The main repository is lost: copy back from the remote one into a new local repository.
        let rebuilt = dir.sub("rebuilt")
        XCTAssertEqual(try sv(["init"], repo: rebuilt).status, 0)
        let back = try sv(["copy", "--json", "--from-repo", remote.location, "--from-password-file", password2File], env: remote.env, repo: rebuilt)
        XCTAssertEqual(back.status, 0, "\(back)")
        let local = (try sv(["snapshots", "--json"], repo: rebuilt).json as? [[String: Any]]) ?? []
        XCTAssertEqual(local.count, 1)
        let home = dir.sub("home-again")
        XCTAssertEqual(try sv(["restore", try XCTUnwrap(local.first?["id"] as? String), "--target", home], repo: rebuilt).status, 0)
        XCTAssertEqual(TreeComparison.differences(expected, TreeComparison.describe(home + normalized(src))), [])
    }
}
