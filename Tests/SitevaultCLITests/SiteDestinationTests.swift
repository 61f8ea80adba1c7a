import Foundation
import VaultTesting
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// A missing, read-only or full destination, or a malformed control file, is a clear error before
/// anything is frozen.
final class SiteDestinationTests: SiteTestCase {
    /// A writer whose freeze leaves a mark: any mark means something was frozen.
    func addMarkingWriter() throws {
        try appendToControlFile("""
        [[writer]]
        name = "marker"
        kind = "command"
        freeze = ["touch", "\(site!)/run/was-frozen"]
        thaw = ["true"]
        components = ["config"]
        """)
    }

    func assertNothingFrozen(_ r: CLI.Result, file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertFalse(FileManager.default.fileExists(atPath: site + "/run/was-frozen"), "nothing may be frozen: \(r)", file: file, line: line)
        XCTAssertNotEqual(appState(), "T", file: file, line: line)
        let ids = try messageIDs(run: json(r)["runID"] as? String)
        XCTAssertFalse(ids.contains(1200), "no freeze message: \(ids)", file: file, line: line)
        XCTAssertTrue(ids.contains(2900), "the run failed: \(ids)", file: file, line: line)
    }

    func testMissingDestination() throws {
        try makeSite()
        try addMarkingWriter()
        try replaceInControlFile("path = \"backup/repo\"", "path = \"/nonexistent/mount/repo\"")
        let r = try siteRun("backup", "--json")
        XCTAssertEqual(r.status, 10, "\(r)")
        XCTAssertEqual(json(r)["failure"] as? String, "destination-missing")
        XCTAssertTrue(r.stderr.contains("/nonexistent/mount/repo does not exist"), r.stderr)
        try assertNothingFrozen(r)
        XCTAssertTrue(try messageIDs().contains(2010))
        XCTAssertEqual(try siteRun("status").status, 2, "a failed site is unhealthy")
    }

    /// An S3 repository whose server is down: retried, then refused before anything is frozen.
    func testUnreachableS3DestinationFailsBeforeFreezing() throws {
        try makeSite()
        try addMarkingWriter()
        try writeSecret("[default]\naws_access_key_id = k\naws_secret_access_key = s\n", to: site + "/backup/s3-keys")
        try replaceInControlFile("path = \"backup/repo\"", "path = \"s3:http://127.0.0.1:1/bucket\"\ns3_credentials_file = \"backup/s3-keys\"")
        let r = try siteRun("backup", "--json")
        XCTAssertEqual(r.status, 10, "\(r)")
        XCTAssertEqual(json(r)["failure"] as? String, "destination-missing")
        XCTAssertTrue(r.stderr.contains("cannot connect to the S3 server at http://127.0.0.1:1"), r.stderr)
        try assertNothingFrozen(r)
    }

    func mountTmpfs(_ size: String) throws -> String {
        let mnt = tmp.path + "/mnt-\(size)"
        try FileManager.default.createDirectory(atPath: mnt, withIntermediateDirectories: true)
        guard geteuid() == 0, shell("mount -t tmpfs -o size=\(size) tmpfs '\(mnt)'") == 0 else { throw XCTSkip("needs root to mount a tmpfs") }
        addTeardownBlock { _ = self.shell("umount -l '\(mnt)'") }
        return mnt
    }

    func testReadOnlyDestination() throws {
        try makeSite()
        try addMarkingWriter()
        let mnt = try mountTmpfs("64m")
        XCTAssertEqual(try CLI.run(["init", "--repo", mnt + "/repo", "--quiet"], env: ["SITEVAULT_PASSWORD_FILE": passwordFile]).status, 0)
        XCTAssertEqual(shell("mount -o remount,ro '\(mnt)'"), 0)
        try replaceInControlFile("path = \"backup/repo\"", "path = \"\(mnt)/repo\"")
        let r = try siteRun("backup", "--json")
        XCTAssertEqual(r.status, 20, "\(r)")
        XCTAssertEqual(json(r)["failure"] as? String, "destination-unwritable")
        XCTAssertTrue(r.stderr.contains("cannot be written"), r.stderr)
        try assertNothingFrozen(r)
    }

    func testFullDestination() throws {
        try makeSite()
        try addMarkingWriter()
        let mnt = try mountTmpfs("8m")
        XCTAssertEqual(try CLI.run(["init", "--repo", mnt + "/repo", "--quiet"], env: ["SITEVAULT_PASSWORD_FILE": passwordFile]).status, 0)
        try replaceInControlFile("path = \"backup/repo\"", "path = \"\(mnt)/repo\"")
        let r = try siteRun("backup", "--json")
        XCTAssertEqual(r.status, 21, "\(r)")
        XCTAssertEqual(json(r)["failure"] as? String, "destination-full")
        try assertNothingFrozen(r)
    }

    func testWrongPassword() throws {
        try makeSite()
        try addMarkingWriter()
        try writeSecret("not the password\n", to: site + "/backup/other")
        try replaceInControlFile("password_file = \"backup/password\"", "password_file = \"backup/other\"")
        let r = try siteRun("backup", "--json")
        XCTAssertEqual(r.status, 12, "\(r)")
        XCTAssertFalse(r.stderr.contains("not the password") || r.stdout.contains("not the password"), "the password is never printed")
        try assertNothingFrozen(r)
    }

    func testMalformedControlFileRunsNothing() throws {
        try makeSite()
        try addMarkingWriter()
        try replaceInControlFile("exclude = [\"*.tmp\"]", "exclude = [\"*.tmp\"]\nexlcude = [\"*.bak\"]")
        let r = try siteRun("backup", "--json")
        XCTAssertEqual(r.status, 78, "\(r)")
        let line = try String(contentsOfFile: controlFile, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
            .firstIndex { $0.hasPrefix("exlcude") }.map { $0 + 1 }
        XCTAssertTrue(r.stderr.contains("\(controlFile):\(line!):1: unknown key 'exlcude'"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: site + "/run/was-frozen"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: site + "/state/status.db"), "nothing ran, not even the status store")
        XCTAssertEqual(try snapshotCount(), 0)
        // validate says the same, and accepts the file once fixed.
        let v = try CLI.run(["validate", "--site", controlFile])
        XCTAssertEqual(v.status, 78)
        XCTAssertTrue(v.stderr.contains(":\(line!):1: unknown key 'exlcude'"), v.stderr)
        try replaceInControlFile("exlcude", "#exlcude")
        let ok = try CLI.run(["validate", "--site", controlFile, "--json"])
        XCTAssertEqual(ok.status, 0, "\(ok)")
        XCTAssertEqual(json(ok)["valid"] as? Bool, true)
    }

    func testMissingComponentSourceFailsBeforeFreezing() throws {
        try makeSite()
        try addMarkingWriter()
        // Valid when checked, gone by the time the run starts.
        try FileManager.default.createDirectory(atPath: site + "/srv/extra", withIntermediateDirectories: true)
        try appendToControlFile("[[component]]\nname = \"extra\"\nkind = \"folders\"\npaths = [\"srv/extra\"]")
        XCTAssertEqual(try CLI.run(["validate", "--site", controlFile]).status, 0)
        try FileManager.default.removeItem(atPath: site + "/srv/extra")
        let r = try siteRun("backup", "--json")
        XCTAssertEqual(r.status, 78, "the control file names a missing path: \(r)")
        XCTAssertTrue(r.stderr.contains("srv/extra does not exist"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: site + "/run/was-frozen"))
    }
}
