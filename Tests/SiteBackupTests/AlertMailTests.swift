import Foundation
@testable import SiteBackup
import VaultCore
import XCTest

/// The alert e-mail's text: one line per header whatever the values hold, RFC 2047 for non-ASCII,
/// quoted-printable bodies. (Delivery through a real MTA: SiteEmailAlertTests.)
final class AlertMailTests: XCTestCase {
    func mail(subject: String, body: String = "x") -> AlertMail {
        AlertMail(from: "sitevault@example.com", to: ["ops@example.com"], subject: subject,
                  date: Timestamp(seconds: 1_796_191_200), messageID: "run1.abc@example.com", body: body)
    }

    /// The header block: everything before the first empty line.
    func headers(_ m: AlertMail) -> [String] {
        Array(m.text.components(separatedBy: "\n\n")[0].components(separatedBy: "\n"))
    }

    func testNewlinesInAHeaderValueNeverStartAHeader() {
        let h = headers(mail(subject: "[sitevault] shop: failed\nBcc: evil@example.com\r\nX-Evil: 1"))
        XCTAssertFalse(h.contains { $0.hasPrefix("Bcc:") || $0.hasPrefix("X-Evil:") }, "\(h)")
        XCTAssertEqual(h.filter { $0.hasPrefix("Subject:") }, ["Subject: [sitevault] shop: failed Bcc: evil@example.com  X-Evil: 1"])
        // The same with non-ASCII text: encoded words, continuation lines only.
        let u = headers(mail(subject: "café\nBcc: evil@example.com " + String(repeating: "é", count: 40)))
        XCTAssertFalse(u.contains { $0.hasPrefix("Bcc:") }, "\(u)")
        let start = u.firstIndex { $0.hasPrefix("Subject:") }!
        let rest = u[(start + 1)...].prefix { $0.hasPrefix(" ") }
        XCTAssertGreaterThan(rest.count, 0, "a long subject is folded: \(u)")
        XCTAssertTrue(u.allSatisfy { $0.unicodeScalars.allSatisfy(\.isASCII) }, "headers are ASCII: \(u)")
        XCTAssertTrue(u.allSatisfy { $0.count <= 78 }, "\(u)")
    }

    func testNonASCIISubjectIsEncodedWordsThatDecodeBack() throws {
        let subject = "[sitevault] café-boutique: failed on hôte-ünï"
        let h = headers(mail(subject: subject)).drop { !$0.hasPrefix("Subject:") }
        let lines = [h.first!] + h.dropFirst().prefix { $0.hasPrefix(" ") }
        let words = lines.joined(separator: "\n").dropFirst("Subject: ".count).components(separatedBy: "\n ")
        XCTAssertGreaterThan(words.count, 1)
        var decoded: [UInt8] = []
        for w in words {
            XCTAssertTrue(w.hasPrefix("=?utf-8?B?") && w.hasSuffix("?="), w)
            XCTAssertLessThanOrEqual(w.count, 75, "RFC 2047: an encoded word is at most 75 characters")
            decoded += try XCTUnwrap(Data(base64Encoded: String(w.dropFirst(10).dropLast(2))))
        }
        XCTAssertEqual(String(decoding: decoded, as: UTF8.self), subject, "each word holds whole characters; together the subject")
    }

    func testBodyIsQuotedPrintableWithShortLines() {
        let body = "Site café: failed\n" + String(repeating: "long ", count: 40) + "end \n=sign\n.\n"
        let text = mail(subject: "s", body: body).text
        let bodyText = text.components(separatedBy: "\n\n").dropFirst().joined(separator: "\n\n")
        XCTAssertTrue(bodyText.contains("Site caf=C3=A9: failed"), bodyText)
        XCTAssertTrue(bodyText.contains("end=20\n"), "a trailing blank is encoded: \(bodyText)")
        XCTAssertTrue(bodyText.contains("=3Dsign"), bodyText)
        XCTAssertTrue(bodyText.components(separatedBy: "\n").allSatisfy { $0.count <= 76 }, bodyText)
        XCTAssertTrue(bodyText.unicodeScalars.allSatisfy(\.isASCII))
        XCTAssertTrue(text.contains("\nContent-Transfer-Encoding: quoted-printable\n"))
        XCTAssertTrue(text.contains("\nContent-Type: text/plain; charset=utf-8\n"))
    }

    func testManyRecipientsAreFoldedOnePerLine() {
        var m = mail(subject: "s")
        m.to = (1...6).map { "operator\($0)@operations.example.com" }
        let h = headers(m)
        let start = h.firstIndex { $0.hasPrefix("To: ") }!
        XCTAssertEqual(h[start], "To: operator1@operations.example.com,")
        XCTAssertEqual(h[start + 5], " operator6@operations.example.com")
        XCTAssertTrue(h.allSatisfy { $0.count <= 78 }, "\(h)")
    }

    func testDateIsRFC5322InUTC() {
        // 2026-12-02T06:40:00Z is a Wednesday.
        XCTAssertEqual(AlertMail.date(Timestamp(seconds: 1_796_193_600)), "Wed, 02 Dec 2026 06:40:00 +0000")
        XCTAssertEqual(AlertMail.date(Timestamp(seconds: 0)), "Thu, 01 Jan 1970 00:00:00 +0000")
    }

    func testAddressesAreBareAddrSpecs() {
        for good in ["ops@example.com", "a.b+c@x-y.example", "root@localhost"] { XCTAssertNil(MailAddress.problem(good), good) }
        for bad in ["ops", "@x", "a@", "Ops <ops@x.com>", "a,b@x.com", "a@x.com\nBcc: e@x.com", "a..b@x.com", "a@-x.com", "é@x.com"] {
            XCTAssertNotNil(MailAddress.problem(bad), bad)
        }
    }
}
