import Foundation
import XCTest

/// Repository locations the CLI refuses, and the storage options it takes.
final class StoreLocationCLITests: CLITestCase {
    func testInitOnS3WithoutCredentialsOrServerFailsClearlyAndCreatesNothing() throws {
        let cwd = dir.sub("cwd")
        mkdir(cwd)
        let base: [String: String] = ["SITEVAULT_PASSWORD_FILE": passwordFile!, "HOME": dir.path, "AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": ""]
        var r = try CLI.run(["init", "--repo", "s3:http://127.0.0.1:1/bucket"], env: base, cwd: cwd)
        XCTAssertNotEqual(r.status, 0, "\(r)")
        XCTAssertTrue(r.stderr.contains("no S3 credentials") && r.stderr.contains("AWS_ACCESS_KEY_ID"), r.stderr)
        // Keys but no server (port 1): retried, then refused naming the server.
        var keyed = base
        keyed["AWS_ACCESS_KEY_ID"] = "key"; keyed["AWS_SECRET_ACCESS_KEY"] = "secret"
        r = try CLI.run(["init", "--repo", "s3:http://127.0.0.1:1/bucket"], env: keyed, cwd: cwd)
        XCTAssertNotEqual(r.status, 0, "\(r)")
        XCTAssertTrue(r.stderr.contains("cannot connect to the S3 server at http://127.0.0.1:1"), r.stderr)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: cwd), [], "init created something in the current folder")
    }

    func testUnknownSchemeIsRefusedWithTheAcceptedForms() throws {
        let cwd = dir.sub("cwd")
        mkdir(cwd)
        for location in ["foo:bar", "s3:", "s3:bucket-only", "sftp:nohostpath"] {
            let r = try CLI.run(["init", "--repo", location], env: ["SITEVAULT_PASSWORD_FILE": passwordFile], cwd: cwd)
            XCTAssertEqual(r.status, 1, "\(location): \(r)")
            XCTAssertTrue(r.stderr.contains("cannot use repository location"), "\(location): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains("sftp:user@host:/path"), "\(location): \(r.stderr)")
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: cwd), [])
    }

    func testAPathWithAColonAfterASlashStaysAPath() throws {
        let cwd = dir.sub("cwd")
        mkdir(cwd)
        let r = try CLI.run(["init", "--repo", "./odd:name"], env: ["SITEVAULT_PASSWORD_FILE": passwordFile], cwd: cwd)
        XCTAssertEqual(r.status, 0, "\(r)")
        XCTAssertTrue(FileManager.default.fileExists(atPath: cwd + "/odd:name/config"))
    }

    func testDebugStoreLogsCallsAndLimitsAreAccepted() throws {
        let init1 = try sv("init", "--debug-store")
        XCTAssertEqual(init1.status, 0, "\(init1)")
        XCTAssertTrue(init1.stderr.contains("store: save keys/"), init1.stderr)
        XCTAssertTrue(init1.stderr.contains("store: createLayout config,keys,snapshots,index,data,locks,logs: ok"), init1.stderr)
        let quiet = try sv("snapshots", "--limit-upload", "10000", "--limit-download", "10000")
        XCTAssertEqual(quiet.status, 0, "\(quiet)")
        XCTAssertFalse(quiet.stderr.contains("store: "), "no debug lines without --debug-store: \(quiet.stderr)")
        let logged = try sv(["snapshots"], env: ["SITEVAULT_DEBUG_STORE": "1"])
        XCTAssertTrue(logged.stderr.contains("store: load config"), logged.stderr)
        let bad = try sv("snapshots", "--limit-upload", "0")
        XCTAssertNotEqual(bad.status, 0, "\(bad)")
    }
}
