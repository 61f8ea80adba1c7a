import Foundation
import VaultTesting
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Secrets stay secret: SITEVAULT_PASSWORD reaches no child, password files others can read are
/// refused (control file) or warned about (command line), and a control file others can change is
/// not run by one-shot commands.
final class SiteSecretsTests: SiteTestCase {
    let secret = "sv-secret-0d4c9a"

    func testChildrenNeverSeeTheRepositoryPasswordVariable() throws {
        try makeSite()
        let dumpEnv = { (name: String) in "[\"sh\", \"-c\", \"env > \(self.site!)/run/\(name)-env\"]" }
        try replaceInControlFile("settings = { version = [", "settings = { env = [\"/usr/bin/env\"], version = [")
        try replaceInControlFile("components = [\"data\"]", "components = [\"data\"]\n[[writer]]\nname = \"cmd\"\nkind = \"command\"\n"
                                 + "freeze = \(dumpEnv("writer"))\nthaw = [\"true\"]\ncomponents = [\"config\"]")
        let hook = site + "/etc/after-backup"
        try "#!/bin/sh\nenv > \(site!)/run/hook-env\n".write(toFile: hook, atomically: true, encoding: .utf8)
        chmod(hook, 0o755)
        try appendToControlFile("[hooks]\nafter_backup = \"\(hook)\"\n[alerts]\ncommand = \(dumpEnv("alert"))\non_success = true")
        let r = try CLI.run(["site", "backup", "--json", "--site", controlFile], env: ["SITEVAULT_PASSWORD": secret])
        XCTAssertEqual(r.status, 0, "\(r)")
        for name in ["writer", "hook", "alert"] {
            let env = try String(contentsOfFile: site + "/run/\(name)-env", encoding: .utf8)
            XCTAssertTrue(env.contains("PATH="), "the \(name) got an environment: \(env)")
            XCTAssertFalse(env.contains(secret) || env.contains("SITEVAULT_PASSWORD="), "the \(name) saw the password: \(env)")
        }
        let snapshot = json(r)["snapshot"] as? String ?? "?"
        let setting = try repoRun(["dump", snapshot, "/config/settings/env"])
        XCTAssertEqual(setting.status, 0, "\(setting)")
        XCTAssertTrue(setting.stdout.contains("PATH="), setting.stdout)
        XCTAssertFalse(setting.stdout.contains(secret), "the stored setting holds the password: \(setting.stdout)")
    }

    func testPasswordFileReadableByOthersIsRefusedInTheControlFile() throws {
        try makeSite()
        chmod(passwordFile, 0o644)
        let r = try CLI.run(["validate", "--site", controlFile])
        XCTAssertEqual(r.status, 78, "\(r)")
        let line = try String(contentsOfFile: controlFile, encoding: .utf8).components(separatedBy: "\n")
            .firstIndex { $0.hasPrefix("password_file") }.map { $0 + 1 } ?? 0
        XCTAssertTrue(r.stderr.contains("\(controlFile):\(line):17: password file \(passwordFile) is readable by others (mode 644)"), r.stderr)
        XCTAssertTrue(r.stderr.contains("chmod 600 \(passwordFile)"), r.stderr)
        chmod(passwordFile, 0o640)
        XCTAssertEqual(try CLI.run(["validate", "--site", controlFile]).status, 0, "a group may read it")
    }

    func testPasswordFileReadableByOthersIsAWarningOnTheCommandLine() throws {
        try makeSite()
        chmod(passwordFile, 0o604)
        let r = try CLI.run(["snapshots", "--repo", repo, "--password-file", passwordFile])
        XCTAssertEqual(r.status, 0, "the command still runs: \(r)")
        XCTAssertTrue(r.stderr.contains("warning: password file \(passwordFile) is readable by others (mode 604)"), r.stderr)
        XCTAssertTrue(r.stderr.contains("chmod 600 \(passwordFile)"), r.stderr)
        chmod(passwordFile, 0o600)
        let quiet = try CLI.run(["snapshots", "--repo", repo, "--password-file", passwordFile])
        XCTAssertFalse(quiet.stderr.contains("readable by others"), quiet.stderr)
    }

    func testControlFileWritableByOthersIsNotRun() throws {
        try makeSite()
        chmod(controlFile, 0o646)
        for (args, what) in [(["backup"], "the backup was not run"), (["drill"], "the drill was not run"),
                             (["recover", "--dry-run"], "nothing was recovered"), (["thaw"], "nothing was thawed"),
                             (["forget"], "nothing was forgotten")] {
            let r = try CLI.run(["site"] + args + ["--site", controlFile])
            XCTAssertEqual(r.status, 78, "\(args): \(r)")
            XCTAssertTrue(r.stderr.contains("\(controlFile) is writable by others (mode 646)"), r.stderr)
            XCTAssertTrue(r.stderr.contains(what) && r.stderr.contains("chmod o-w \(controlFile)"), r.stderr)
        }
        XCTAssertEqual(try snapshotCount(), 0)
        XCTAssertEqual(try CLI.run(["site", "status", "--site", controlFile]).status, 2, "status still reads it (never backed up)")
    }

    /// Recovery and drills read the control file without checking paths; a readable password file is still refused.
    func testDrillAndRecoverRefuseAPasswordFileReadableByOthers() throws {
        try makeSite()
        XCTAssertEqual(try siteRun("backup").status, 0)
        chmod(passwordFile, 0o644)
        for (args, what) in [(["drill"], "the drill was not run"), (["recover", "--dry-run"], "nothing was recovered")] {
            let r = try CLI.run(["site"] + args + ["--site", controlFile])
            XCTAssertEqual(r.status, 78, "\(args): \(r)")
            XCTAssertTrue(r.stderr.contains("password file \(passwordFile) is readable by others (mode 644)"), r.stderr)
            XCTAssertTrue(r.stderr.contains(what) && r.stderr.contains("chmod 600 \(passwordFile)"), r.stderr)
        }
    }
}
