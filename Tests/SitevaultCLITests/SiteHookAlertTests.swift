import Foundation
import VaultTesting
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// The after-backup hook's rules and the alerts sent to a real local HTTP listener and command.
final class SiteHookAlertTests: SiteTestCase {
    func writeHook(_ body: String, mode: Int = 0o755) throws -> String {
        let path = site + "/etc/after-backup"
        try ("#!/bin/sh\n" + body + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, mode_t(mode))
        return path
    }

    func testHookRunsAfterSuccessWithTheSnapshotInItsEnvironment() throws {
        try makeSite()
        let hook = try writeHook("env | grep ^SITEVAULT_ | sort > \(site!)/run/hook-env")
        try appendToControlFile("[hooks]\nafter_backup = \"\(hook)\"")
        let r = try siteRun("backup", "--json")
        XCTAssertEqual(r.status, 0, "\(r)")
        let env = try String(contentsOfFile: site + "/run/hook-env", encoding: .utf8)
        XCTAssertTrue(env.contains("SITEVAULT_SNAPSHOT=\(json(r)["snapshot"] as? String ?? "?")"), env)
        XCTAssertTrue(env.contains("SITEVAULT_SITE=sample"), env)
        XCTAssertTrue(env.contains("SITEVAULT_SUMMARY=["), env)
        XCTAssertFalse(env.contains("PASSWORD"), "no password reaches the hook: \(env)")
        let ids = try messageIDs(run: json(r)["runID"] as? String)
        XCTAssertTrue(ids.contains(1400) && ids.contains(1401), "\(ids)")
        XCTAssertLessThan(ids.firstIndex(of: 1300)!, ids.firstIndex(of: 1400)!, "the hook runs after the commit")
    }

    func testHookRefusedWhenWritableByOthersOrOwnedBySomeoneElse() throws {
        try makeSite()
        let hook = try writeHook("touch \(site!)/run/hook-ran", mode: 0o775)
        try appendToControlFile("[hooks]\nafter_backup = \"\(hook)\"")
        let r = try siteRun("backup", "--json")
        XCTAssertEqual(r.status, 5, "committed, but the hook was refused: \(r)")
        XCTAssertFalse(FileManager.default.fileExists(atPath: site + "/run/hook-ran"))
        let msgs = try messages(run: json(r)["runID"] as? String)
        let refusal = msgs.first { $0["id"] as? Int == 2061 }
        XCTAssertTrue((refusal?["text"] as? String ?? "").contains("writable by its group"), "\(msgs)")
        XCTAssertEqual(try snapshotCount(), 1, "a refused hook does not cost the backup")

        chmod(hook, 0o755)
        chown(hook, 4321, 4321)
        let r2 = try siteRun("backup", "--json")
        XCTAssertEqual(r2.status, 5, "\(r2)")
        XCTAssertFalse(FileManager.default.fileExists(atPath: site + "/run/hook-ran"))
        let text = try messages(run: json(r2)["runID"] as? String).first { $0["id"] as? Int == 2061 }?["text"] as? String ?? ""
        XCTAssertTrue(text.contains("owned by uid 4321"), text)
        XCTAssertEqual(try siteRun("status").status, 1, "a refused hook is a warning")
    }

    func testMissingHookIsSilentAndFailedRunRunsNoHook() throws {
        try makeSite()
        try appendToControlFile("[hooks]\nafter_backup = \"/nonexistent/hook\"")
        let r = try siteRun("backup", "--json")
        XCTAssertEqual(r.status, 0, "\(r)")
        XCTAssertFalse(try messageIDs().contains { (1400...1499).contains($0) || $0 == 2060 || $0 == 2061 })
        // A run that fails never runs the hook.
        let hook = try writeHook("touch \(site!)/run/hook-ran")
        try replaceInControlFile("after_backup = \"/nonexistent/hook\"", "after_backup = \"\(hook)\"")
        try appendDumpComponent("broken", script: "false")
        let failed = try siteRun("backup", "--json")
        XCTAssertEqual(failed.status, 3, "\(failed)")
        XCTAssertFalse(FileManager.default.fileExists(atPath: site + "/run/hook-ran"))
    }

    func testAlertsOnFailureReachTheWebhookAndTheCommand() throws {
        try makeSite()
        let (url, log) = try startListener()
        try appendToControlFile("""
        [alerts]
        webhook = "\(url)"
        command = ["sh", "-c", "cat > \(site!)/run/alert.json; echo $SITEVAULT_MESSAGE_ID > \(site!)/run/alert-id"]
        """)
        // Success: no alert by default.
        XCTAssertEqual(try siteRun("backup").status, 0)
        XCTAssertEqual(requests(log).count, 0)
        XCTAssertFalse(FileManager.default.fileExists(atPath: site + "/run/alert.json"))
        // Failure: both channels get the final status message.
        try replaceInControlFile("path = \"backup/repo\"", "path = \"/nonexistent/repo\"")
        let r = try siteRun("backup", "--json")
        XCTAssertEqual(r.status, 10)
        let reqs = requests(log)
        XCTAssertEqual(reqs.count, 1)
        XCTAssertEqual(reqs.first?["path"] as? String, "/hooks/sitevault?token=secret")
        XCTAssertEqual(reqs.first?["type"] as? String, "application/json")
        let body = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data((reqs.first?["body"] as? String ?? "").utf8)) as? [String: Any])
        XCTAssertEqual(body["result"] as? String, "failed")
        XCTAssertEqual(body["failure"] as? String, "destination-missing")
        XCTAssertEqual(body["message_id"] as? Int, 2900)
        XCTAssertEqual(body["site"] as? String, "sample")
        // The alert agrees with the status store: same message, same time.
        let final = try messages(run: json(r)["runID"] as? String).first { $0["id"] as? Int == 2900 }
        XCTAssertEqual(body["time"] as? String, final?["time"] as? String)
        XCTAssertEqual(body["text"] as? String, final?["text"] as? String)
        let cmdBody = try JSONSerialization.jsonObject(with: try Data(contentsOf: URL(fileURLWithPath: site + "/run/alert.json"))) as? [String: Any]
        XCTAssertEqual(cmdBody?["run_id"] as? String, json(r)["runID"] as? String)
        XCTAssertEqual(try String(contentsOfFile: site + "/run/alert-id", encoding: .utf8), "2900\n")
        let ids = try messageIDs(run: json(r)["runID"] as? String)
        XCTAssertEqual(ids.filter { $0 == 1500 }.count, 2, "both deliveries recorded: \(ids)")
        XCTAssertFalse(r.stderr.contains("token=secret"), "the webhook's query is not logged")
    }

    func testSuccessAlertWhenAskedAndDeliveryFailureRecorded() throws {
        try makeSite()
        let (url, log) = try startListener()
        try appendToControlFile("[alerts]\nwebhook = \"\(url)\"\non_success = true\ncommand = [\"false\"]")
        let r = try siteRun("backup", "--json")
        XCTAssertEqual(r.status, 0, "\(r)")
        let body = try JSONSerialization.jsonObject(with: Data((requests(log).first?["body"] as? String ?? "").utf8)) as? [String: Any]
        XCTAssertEqual(body?["message_id"] as? Int, 1900)
        XCTAssertEqual(body?["snapshot"] as? String, json(r)["snapshot"] as? String)
        XCTAssertTrue(try messageIDs().contains(2070), "the failed alert command is recorded")
    }
}
