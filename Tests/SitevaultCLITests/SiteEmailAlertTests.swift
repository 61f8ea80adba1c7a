import Foundation
import VaultTesting
import XCTest

/// Alert e-mails delivered for real through msmtp and an SMTP server on loopback (MailSink.swift),
/// and read back with Python's e-mail parser.
final class SiteEmailAlertTests: SiteTestCase {
    func testFailedBackupMailIsReadBackWithItsHeadersAndBody() throws {
        try makeSite()
        try startMailSink()
        try appendToControlFile("""
        [alerts]
        email = ["ops@example.com", "dba@example.com", "database-administrators@operations.example.com"]
        email_from = "backup@shop.example.com"
        sendmail = "\(sendmail)"
        """)
        try replaceInControlFile("path = \"backup/repo\"", "path = \"/nonexistent/repo\"")
        let r = try siteRun("backup", "--json")
        XCTAssertEqual(r.status, 10, "\(r)")
        let runID = try XCTUnwrap(json(r)["runID"] as? String)
        let mails = try receivedMail()
        XCTAssertEqual(mails.count, 1, "\(mails)")
        let m = try XCTUnwrap(mails.first)
        XCTAssertEqual(m["defects"] as? [String], [], "a well-formed message")
        let all = "ops@example.com, dba@example.com, database-administrators@operations.example.com"
        XCTAssertEqual(m["rcpt"] as? String, all, "sendmail -t took the recipients from the (folded) To header")
        XCTAssertEqual(header(m, "From"), ["backup@shop.example.com"])
        XCTAssertEqual(header(m, "To"), [all])
        XCTAssertEqual(header(m, "Subject"), ["[sitevault] sample: failed on \(hostname())"])
        XCTAssertEqual(header(m, "MIME-Version"), ["1.0"])
        XCTAssertEqual(header(m, "Content-Type"), ["text/plain; charset=\"utf-8\""])
        XCTAssertEqual(header(m, "Content-Transfer-Encoding"), ["quoted-printable"])
        XCTAssertEqual(header(m, "Message-ID").count, 1)
        XCTAssertTrue(header(m, "Message-ID").first?.hasPrefix("<\(runID).") ?? false, "our Message-ID, not msmtp's: \(m)")
        XCTAssertEqual(header(m, "Date").count, 1)
        XCTAssertTrue(header(m, "Date").first?.hasSuffix("+0000") ?? false, "\(header(m, "Date"))")
        let body = m["body"] as? String ?? ""
        XCTAssertTrue(body.contains("Failure:  destination-missing"), body)
        XCTAssertTrue(body.contains("Run:      \(runID)"), body)
        XCTAssertTrue(body.contains("Snapshot: none"), body)
        XCTAssertTrue(body.contains(" 2900 error "), "the run's status messages: \(body)")
        XCTAssertTrue(body.contains("sitevault site messages --run \(runID) --site \(controlFile)"), body)
        let sent = try messages(run: runID).filter { $0["id"] as? Int == 1500 }.compactMap { $0["text"] as? String }
        XCTAssertEqual(sent.count, 1)
        XCTAssertTrue(sent.first?.contains("e-mail to \(all)") ?? false, "\(sent)")
    }

    func testNewlinesInMessagesAddNoRecipientAndNonASCIISubjectIsEncoded() throws {
        try makeSite()
        try startMailSink()
        try replaceInControlFile("site = \"sample\"", "site = \"café-boutique\"")
        try appendDumpComponent("broken", script: "printf 'broken\\nBcc: evil@example.com\\n' >&2; exit 1")
        try appendToControlFile("[alerts]\nemail = [\"ops@example.com\"]\nsendmail = \"\(sendmail)\"")
        let r = try siteRun("backup", "--json")
        XCTAssertNotEqual(r.status, 0, "\(r)")
        let m = try XCTUnwrap(try receivedMail().first, "a message arrived: \(r)")
        XCTAssertEqual(m["rcpt"] as? String, "ops@example.com", "no added recipient")
        XCTAssertEqual(header(m, "Bcc"), [])
        XCTAssertEqual(m["defects"] as? [String], [])
        let raw = m["raw_headers"] as? String ?? ""
        XCTAssertFalse(raw.contains("evil"), "nothing of the messages reaches the headers: \(raw)")
        XCTAssertTrue(raw.contains("Subject: =?utf-8?B?"), "RFC 2047: \(raw)")
        XCTAssertFalse(raw.contains("é"))
        XCTAssertTrue(header(m, "Subject").first?.hasPrefix("[sitevault] café-boutique: ") ?? false, "decodes back: \(header(m, "Subject"))")
        XCTAssertTrue((m["body"] as? String ?? "").contains("Bcc: evil@example.com"), "the text is in the body, where it is harmless")
    }
}
