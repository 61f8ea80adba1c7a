import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// End-to-end recovery of real third-party applications installed from Debian's packages
/// (scripts/realapp/run.sh): MediaWiki on SQLite (uploads and SQLite files in one data folder:
/// nested components), on PostgreSQL (logical dump; the database and its role dropped) and on
/// PostgreSQL with a physical base backup (the cluster's data directory removed); DokuWiki (files
/// only, a `service` writer with its own stop and start commands). Each run writes
/// items through the wiki's HTTP API, backs the site up while a loop keeps writing, runs a drill,
/// destroys everything the application owns, runs `sitevault site recover` once, and checks the
/// wiki answers, every item written before the backup reads back byte for byte, owners and modes
/// are as before, and the wiki still accepts an edit and an upload.
///
/// The driver installs what it lacks (apt-get), so these tests are never skipped: without root or
/// without the packages they fail, with the driver's log. The control files use the writers'
/// `start`, `[recovery] probe` and `consistency = "site"` (with the check that nothing written
/// during the backup is half in the snapshot); REALAPP_NEW_KEYS=0 drops them.
final class RealApplicationTests: XCTestCase {
    static let defaultKeys = "start,probe,consistency,drill"
    static let driver = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("scripts/realapp/run.sh").path

    // Everything the application owns deleted (and the wiki killed), then one `site recover`.
    func testMediaWikiOnSQLite() throws { try runDriver("mediawiki", variant: "sqlite") }

    func testMediaWikiOnPostgreSQL() throws { try runDriver("mediawiki", variant: "postgres") }

    func testMediaWikiOnPostgreSQLPhysical() throws { try runDriver("mediawiki", variant: "postgres-physical") }

    func testDokuWiki() throws { try runDriver("dokuwiki", variant: "files") }

    // The wiki left running while uploads are deleted, its configuration changed and its database
    // corrupted (SQLite overwritten, PostgreSQL rows deleted): recovery must stop it, put
    // everything back and let it run again.
    func testMediaWikiOnSQLiteDamaged() throws { try runDriver("mediawiki", variant: "sqlite", disaster: "damage") }

    func testMediaWikiOnPostgreSQLDamaged() throws { try runDriver("mediawiki", variant: "postgres", disaster: "damage") }

    func testMediaWikiOnPostgreSQLPhysicalDamaged() throws { try runDriver("mediawiki", variant: "postgres-physical", disaster: "damage") }

    func testDokuWikiDamaged() throws { try runDriver("dokuwiki", variant: "files", disaster: "damage") }

    // The machine gone: also the control file and sitevault's state folder; one
    // `site recover --repo R --site-from-snapshot --target /` from the repository alone.
    func testMediaWikiOnSQLiteMachineLost() throws { try runDriver("mediawiki", variant: "sqlite", disaster: "machine") }

    func testMediaWikiOnPostgreSQLMachineLost() throws { try runDriver("mediawiki", variant: "postgres", disaster: "machine") }

    func testMediaWikiOnPostgreSQLPhysicalMachineLost() throws { try runDriver("mediawiki", variant: "postgres-physical", disaster: "machine") }

    func testDokuWikiMachineLost() throws { try runDriver("dokuwiki", variant: "files", disaster: "machine") }

    func runDriver(_ app: String, variant: String, disaster: String = "destroy", file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertEqual(getuid(), 0, "the real-application tests install packages and run the applications as www-data and postgres: run them as root", file: file, line: line)
        guard getuid() == 0 else { return }
        XCTAssertTrue(FileManager.default.isExecutableFile(atPath: CLI.executable), "sitevault not found: \(CLI.executable)", file: file, line: line)
        let dir = NSTemporaryDirectory() + "/realapp-\(app)-\(variant)-\(disaster)-\(UUID().uuidString.prefix(8))"
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/bash")
        var args = [RealApplicationTests.driver, app, "--variant", variant, "--disaster", disaster, "--dir", dir]
        // The writers' `start` and the `[recovery] probe` are documented keys: on by default.
        // REALAPP_NEW_KEYS: "1" or "all" adds `consistency = "site"`, "0" or "none" uses none,
        // or a list such as "start,probe,consistency".
        let keys = ProcessInfo.processInfo.environment["REALAPP_NEW_KEYS"] ?? RealApplicationTests.defaultKeys
        switch keys {
        case "", "0", "none": break
        case "1", "all": args.append("--new-keys")
        default: args.append("--new-keys=\(keys)")
        }
        p.arguments = args
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("SITEVAULT_") }
        env["SITEVAULT"] = CLI.executable
        p.environment = env
        // Output to a file, not a pipe: the servers started in the background inherit descriptors.
        let out = dir + ".out"
        _ = FileManager.default.createFile(atPath: out, contents: nil)
        let h = try FileHandle(forWritingTo: URL(fileURLWithPath: out))
        p.standardOutput = h; p.standardError = h
        p.standardInput = FileHandle(forReadingAtPath: "/dev/null")
        try p.run()
        let deadline = Date().addingTimeInterval(900)
        while p.isRunning && Date() < deadline { usleep(100_000) }
        if p.isRunning { kill(p.processIdentifier, SIGTERM); sleep(5); if p.isRunning { kill(p.processIdentifier, SIGKILL) } }
        p.waitUntilExit()
        try? h.close()
        let text = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
        let full = (try? String(contentsOfFile: dir + "/harness/run.log", encoding: .utf8)) ?? ""
        if p.terminationStatus != 0 {
            XCTFail("scripts/realapp/run.sh \(args.dropFirst().joined(separator: " ")) exited \(p.terminationStatus):\n\(text)\n--- full log (\(dir)/harness/run.log):\n\(full.suffix(20_000))", file: file, line: line)
        } else {
            print(text)
            try? FileManager.default.removeItem(atPath: dir)
        }
        try? FileManager.default.removeItem(atPath: out)
    }
}
