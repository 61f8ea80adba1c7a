import Foundation
import VaultTesting
import XCTest

/// The sample site backed up to a repository on the real SFTP server of scripts/test.sh
/// (SITEVAULT_TEST_SFTP_DIR), destroyed, and recovered from it: the control file's `sftp_command`
/// carries the ssh command line to every site command.
final class SFTPSiteRecoveryTests: RecoveryTestCase {
    func testSiteBackupDestroyRecoverThroughSFTP() throws {
        guard let server = ProcessInfo.processInfo.environment["SITEVAULT_TEST_SFTP_DIR"], !server.isEmpty else {
            throw XCTSkip("SITEVAULT_TEST_SFTP_DIR is not set (scripts/test.sh starts an SFTP server)")
        }
        let command = "ssh -F \(server)/ssh_config svtest -s sftp"
        let folder = server + "/repos/site-" + UUID().uuidString.prefix(8).lowercased()
        let location = "sftp:svtest:" + folder
        try makeSite(writesPerSecond: 100)
        try FileManager.default.createDirectory(atPath: dataPath + "/notes", withIntermediateDirectories: true)
        try write(dataPath + "/notes/keep.txt", "notes kept by the application\n")
        let i = try CLI.run(["init", "--quiet"], env: ["SITEVAULT_REPOSITORY": location, "SITEVAULT_PASSWORD_FILE": passwordFile,
                                                      "SITEVAULT_SFTP_COMMAND": command])
        XCTAssertEqual(i.status, 0, "\(i)")
        try replaceInControlFile("path = \"backup/repo\"", "path = \"\(location)\"\nsftp_command = \"\(command)\"")
        XCTAssertTrue(waitForAppWrites(beyond: 60), "the application writes")
        let original = try XCTUnwrap(text(confPath))

        let report = try backupSite()
        let snapshot = try XCTUnwrap(report["snapshot"] as? String)
        XCTAssertTrue(FileManager.default.fileExists(atPath: folder + "/snapshots/" + snapshot) ||
                      ((try? FileManager.default.contentsOfDirectory(atPath: folder + "/snapshots")) ?? []).contains { $0.hasPrefix(snapshot) },
                      "the snapshot is on the SFTP server")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: repo + "/snapshots"), [], "nothing went to the local repository")

        try destroySite()
        let r = try siteRun("recover", "--json", "--no-start")
        XCTAssertEqual(r.status, 0, "\(r)")
        let rec = json(r)
        XCTAssertEqual(rec["result"] as? String, "recovered", "\(rec)")
        XCTAssertEqual(rec["snapshot"] as? String, snapshot)
        XCTAssertEqual(text(confPath), original, "the configuration file is back")
        XCTAssertEqual(text(dataPath + "/notes/keep.txt"), "notes kept by the application\n")
        XCTAssertGreaterThan(orderCount(dbSummary(dbPath)), 0, "the database holds the snapshot's orders")
    }
}
