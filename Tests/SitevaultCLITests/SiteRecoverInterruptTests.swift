import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// SIGTERM during a recovery starts the application again; during a drill it removes the sandbox.
final class SiteRecoverInterruptTests: SiteTestCase {
    func testSigtermDuringARecoveryStartsTheApplicationAgain() throws {
        try makeSite()
        // A database whose restore command is slow, behind a writer that pauses the application:
        // the recovery is interrupted while the application is stopped for it.
        try appendDumpComponent("slowdb", script: "echo dump-of-slowdb", frozenBy: "app-stop",
                                extra: "restore_command = [\"sh\", \"-c\", \"cat > /dev/null; touch \(site!)/run/restoring; exec sleep 60\"]")
        XCTAssertEqual(try siteRun("backup", "-q").status, 0)
        let recovery = try startSite("recover", "--components", "slowdb", "--json")
        XCTAssertTrue(waitForFile(site + "/run/restoring", timeout: 60), "the restore command started")
        XCTAssertEqual(appState(), "T", "the writer stopped the application for the recovery")
        kill(recovery.pid, SIGTERM)
        let r = recovery.wait(timeout: 60)
        XCTAssertEqual(r.status, 130, "\(r)")
        XCTAssertNotEqual(appState(), "T", "the application was started again")
        XCTAssertFalse(FileManager.default.fileExists(atPath: site + "/state/freeze.json"), "no freeze left behind")
        let json = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        XCTAssertEqual(json?["result"] as? String, "failed")
        XCTAssertTrue((json?["message"] as? String)?.contains("interrupted by signal 15") == true, r.stdout)
        let texts = try messages().compactMap { $0["text"] as? String }
        XCTAssertTrue(texts.contains { $0.contains("started the application again") }, "\(texts)")
        XCTAssertTrue(try messageIDs().contains(2910))
    }

    func testSigtermDuringADrillRemovesTheSandbox() throws {
        try makeSite()
        XCTAssertEqual(try siteRun("backup", "-q").status, 0)
        try appendToControlFile("""
            [drill]
            command = ["sh", "-c", "touch \(site!)/run/probing; exec sleep 60"]
            """)
        let drill = try startSite("drill", "--json")
        XCTAssertTrue(waitForFile(site + "/run/probing", timeout: 60), "the probe started")
        let sandboxes = try FileManager.default.contentsOfDirectory(atPath: site + "/state/drill")
        XCTAssertEqual(sandboxes.count, 1, "the sandbox exists while the drill runs")
        kill(drill.pid, SIGTERM)
        let r = drill.wait(timeout: 60)
        XCTAssertEqual(r.status, 130, "\(r)")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: site + "/state/drill"), [], "the sandbox was removed")
        let status = try siteRun("status", "--json")
        let json = try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any]
        let last = json?["lastDrill"] as? [String: Any]
        XCTAssertEqual(last?["result"] as? String, "failed", status.stdout)
        XCTAssertTrue((last?["failure"] as? String)?.contains("interrupted") == true, status.stdout)
    }
}
