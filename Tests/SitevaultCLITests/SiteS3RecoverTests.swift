import Foundation
import VaultTesting
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// The sample site with its repository on Ceph RGW (`[repository] path = "s3:http://…"`, the keys in
/// an `s3_credentials_file`): `site backup`, the disaster, `site recover`, the application runs again.
final class SiteS3RecoverTests: RecoveryTestCase {
    var server: S3TestServer?
    var location = ""

    override var repo: String { location.isEmpty ? super.repo : location }

    /// Plain repository commands get the keys in the environment.
    override func repoRun(_ args: [String], repo r: String? = nil) throws -> CLI.Result {
        var env = ["SITEVAULT_REPOSITORY": r ?? repo, "SITEVAULT_PASSWORD_FILE": passwordFile]
        for (k, v) in server?.environment ?? [:] { env[k] = v }
        return try CLI.run(args, env: env)
    }

    func testSiteBackupDestroyRecoverThroughCephRGW() throws {
        guard let s = S3TestServer.find(.rgw) else { throw XCTSkip(S3TestServer.skipReason(.rgw)) }
        server = s
        try makeSite(writesPerSecond: 100)
        location = s.location(bucket: S3TestServer.freshBucket("site"), prefix: "sites/shop")
        let keys = site + "/backup/s3-keys"
        try writeSecret("[default]\naws_access_key_id = \(s.accessKey)\naws_secret_access_key = \(s.secretKey)\n", to: keys)
        let initRun = try repoRun(["init", "--quiet"])
        XCTAssertEqual(initRun.status, 0, "\(initRun)")
        try replaceInControlFile("path = \"backup/repo\"", "path = \"\(location)\"\ns3_credentials_file = \"backup/s3-keys\"")
        try FileManager.default.removeItem(atPath: site + "/backup/repo")   // nothing local to fall back on

        try FileManager.default.createDirectory(atPath: dataPath + "/notes", withIntermediateDirectories: true)
        try write(dataPath + "/notes/keep.txt", "notes kept by the application\n")
        XCTAssertTrue(waitForAppWrites(beyond: 60), "the application writes")
        let original = try XCTUnwrap(text(confPath))
        let snapshot = try XCTUnwrap(backupSite()["snapshot"] as? String)
        XCTAssertEqual(try snapshotCount(), 1)
        let expectedData = try snapshotTree(snapshot, component: "data", path: dataPath)
        let expectedDB = dbSummary(try snapshotDatabase(snapshot))
        XCTAssertGreaterThan(orderCount(expectedDB), 0, expectedDB)

        try destroySite()
        let r = try siteRun("recover", "--json", "--no-start")
        XCTAssertEqual(r.status, 0, "\(r)")
        XCTAssertEqual(json(r)["result"] as? String, "recovered", "\(r)")
        XCTAssertEqual(json(r)["snapshot"] as? String, snapshot)
        XCTAssertEqual(text(confPath), original, "the configuration file is back")
        XCTAssertEqual(TreeComparison.differences(expectedData, TreeComparison.describe(dataPath)), [], "the data folder equals the snapshot's")
        XCTAssertEqual(dbSummary(dbPath), expectedDB, "the database holds the snapshot's rows")
        XCTAssertNotNil(startApp())
        XCTAssertEqual(appCheck(config: confPath)["integrity"] as? String, "ok")

        // Wrong keys in the credentials file: the run fails before freezing anything, naming the S3 error.
        try writeSecret("[default]\naws_access_key_id = \(s.accessKey)\naws_secret_access_key = wrong\n", to: keys)
        let refused = try siteRun("backup", "--json")
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue((refused.stdout + refused.stderr).contains("SignatureDoesNotMatch"), "\(refused)")
    }
}
