import Foundation
import VaultTesting
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// `sitevault alert test`: every channel once, each result printed; nothing else happens.
final class AlertTestCommandTests: SiteTestCase {
    func alertTest(_ extra: String...) throws -> CLI.Result {
        try CLI.run(["alert", "test", "--site", controlFile] + extra)
    }

    func testEveryChannelDeliveredExitsZeroAndChangesNothingElse() throws {
        try makeSite()
        try startMailSink()
        let (url, log) = try startListener()
        try appendToControlFile("""
        [alerts]
        webhook = "\(url)"
        command = ["sh", "-c", "cat > \(site!)/run/alert.json"]
        email = ["ops@example.com"]
        sendmail = "\(sendmail)"
        """)
        let r = try alertTest("--json")
        XCTAssertEqual(r.status, 0, "\(r)")
        let out = json(r)
        let channels = out["channels"] as? [[String: Any]] ?? []
        XCTAssertEqual(channels.compactMap { $0["channel"] as? String }, ["command", "webhook", "email"])
        XCTAssertEqual(channels.compactMap { $0["delivered"] as? Bool }, [true, true, true])
        let body = try JSONSerialization.jsonObject(with: Data((requests(log).first?["body"] as? String ?? "").utf8)) as? [String: Any]
        XCTAssertEqual(body?["result"] as? String, "test")
        XCTAssertEqual(body?["site"] as? String, "sample")
        let cmd = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: site + "/run/alert.json"))) as? [String: Any]
        XCTAssertEqual(cmd?["result"] as? String, "test")
        let mail = try receivedMail()
        XCTAssertEqual(mail.count, 1)
        XCTAssertEqual(mail.first.map { header($0, "Subject") }, ["[sitevault] sample: test on \(hostname())"])
        // Only the messages: 1501, then one 1500 per channel; no run, no snapshot.
        let runID = try XCTUnwrap(out["run_id"] as? String)
        XCTAssertEqual(try messageIDs(run: runID), [1501, 1500, 1500, 1500])
        XCTAssertEqual(try snapshotCount(), 0)
        let plain = try alertTest()
        XCTAssertEqual(plain.status, 0)
        XCTAssertEqual(plain.stdout.split(separator: "\n").map { $0.split(separator: " ").prefix(2).joined(separator: " ") },
                       ["command ok", "webhook ok", "email ok"], plain.stdout)
    }

    func testAFailingWebhookIsNamedAndExitsOne() throws {
        try makeSite()
        try startMailSink()
        let (url, log) = try startListener()
        let failing = url.replacingOccurrences(of: "/hooks/", with: "/fail/")
        try appendToControlFile("""
        [alerts]
        webhook = "\(failing)"
        webhook_format = "slack"
        email = ["ops@example.com"]
        sendmail = "\(sendmail)"
        """)
        let r = try alertTest()
        XCTAssertEqual(r.status, 1, "\(r)")
        let lines = r.stdout.split(separator: "\n").map(String.init)
        XCTAssertTrue(lines.contains { $0.hasPrefix("webhook  FAILED") && $0.contains("answered 500") }, r.stdout)
        XCTAssertTrue(lines.contains { $0.hasPrefix("email    ok") }, "the other channel is still tried: \(r.stdout)")
        XCTAssertFalse(r.stdout.contains("token=secret"), "the webhook's query is not shown")
        // The Slack body: one "text" field.
        let body = try JSONSerialization.jsonObject(with: Data((requests(log).first?["body"] as? String ?? "").utf8)) as? [String: Any]
        XCTAssertEqual(body.map { Array($0.keys) }, ["text"])
        XCTAssertTrue((body?["text"] as? String ?? "").hasPrefix("sitevault: site sample on \(hostname()): test"), "\(body ?? [:])")
        XCTAssertTrue(try messageIDs().contains(2070), "the failure is recorded")
    }

    func testMissingOrHangingSendmailIsAFailedChannelThatSaysWhatToDo() throws {
        try makeSite()
        try appendToControlFile("[alerts]\nemail = [\"ops@example.com\"]\nsendmail = \"/nonexistent/sendmail\"")
        let missing = try alertTest()
        XCTAssertEqual(missing.status, 1, "\(missing)")
        XCTAssertTrue(missing.stdout.hasPrefix("email    FAILED"), missing.stdout)
        XCTAssertTrue(missing.stdout.contains("install an MTA"), missing.stdout)
        // A sendmail that never ends is stopped at the timeout.
        let hanging = tmp.path + "/hanging-sendmail"
        try "#!/bin/sh\ncat > /dev/null\nexec sleep 600\n".write(toFile: hanging, atomically: true, encoding: .utf8)
        chmod(hanging, 0o755)
        try replaceInControlFile("/nonexistent/sendmail", hanging)
        try appendToControlFile("timeout = \"1s\"")
        let r = try alertTest("--json")
        XCTAssertEqual(r.status, 1, "\(r)")
        let channel = (json(r)["channels"] as? [[String: Any]])?.first
        XCTAssertEqual(channel?["delivered"] as? Bool, false)
        XCTAssertTrue((channel?["detail"] as? String ?? "").contains("timed out"), "\(channel ?? [:])")
    }

    func testNoChannelIsAFailureThatSaysWhatToSet() throws {
        try makeSite()
        let r = try alertTest()
        XCTAssertEqual(r.status, 1, "\(r)")
        XCTAssertTrue(r.stderr.contains("set command, webhook or email in [alerts]"), r.stderr)
    }
}
