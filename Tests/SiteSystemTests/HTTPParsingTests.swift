import XCTest
@testable import SiteSystem
import VaultCore

final class HTTPParsingTests: XCTestCase {
    func testURLParts() throws {
        let u = try HTTPURL("HTTP://user:pa%3Ass@Example.com:8080/a/b?c=d#frag")
        XCTAssertEqual(u.scheme, "http")
        XCTAssertEqual(u.host, "Example.com")
        XCTAssertEqual(u.port, 8080)
        XCTAssertEqual(u.target, "/a/b?c=d")
        XCTAssertEqual(u.user, "user")
        XCTAssertEqual(u.password, "pa:ss")
        XCTAssertEqual(u.hostHeader, "Example.com:8080")
        XCTAssertEqual(u.redacted, "http://Example.com:8080/a/b")
        XCTAssertEqual(u.withoutFragment, "HTTP://user:pa%3Ass@Example.com:8080/a/b?c=d")

        let v6 = try HTTPURL("https://[2001:db8::1]/hook")
        XCTAssertEqual(v6.host, "2001:db8::1")
        XCTAssertEqual(v6.port, 443)
        XCTAssertEqual(v6.hostHeader, "[2001:db8::1]")
        XCTAssertEqual(v6.endpoint, "[2001:db8::1]:443")

        let q = try HTTPURL("http://h?x=1")
        XCTAssertEqual(q.target, "/?x=1")
        XCTAssertEqual(q.hostHeader, "h")
        XCTAssertEqual(try HTTPURL("http://h:80/").hostHeader, "h")
    }

    func testRedactionNeverShowsUserInfo() {
        XCTAssertEqual(HTTPURL.redact("https://u:p@h/x?token=1"), "https://h/x")
        XCTAssertEqual(HTTPURL.redact("https://u:p?x@h/x"), "https://h/x")
        XCTAssertEqual(HTTPURL.redact("u:secret@host"), "host")
    }

    func testResponseFraming() throws {
        func parse(_ s: String, eof: Bool) throws -> (Int, String)? {
            try HTTPResponseParser.parse(Array(s.utf8)[...], atEOF: eof).map { ($0.status, String(decoding: $0.body, as: UTF8.self)) }
        }
        XCTAssertNil(try parse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab", eof: false))
        XCTAssertEqual(try parse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nabcdefg", eof: false)?.1, "abcde")
        XCTAssertNil(try parse("HTTP/1.1 200 OK\r\n\r\nabc", eof: false))
        XCTAssertEqual(try parse("HTTP/1.1 200 OK\r\n\r\nabc", eof: true)?.1, "abc")
        XCTAssertEqual(try parse("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok", eof: false)?.0, 201)
        XCTAssertNil(try parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n", eof: false))
        XCTAssertEqual(try parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\nA\r\n0123456789\r\n0\r\n\r\n", eof: false)?.1,
                       "abc0123456789")
        XCTAssertEqual(try parse("HTTP/1.1 404 Not Found\nContent-Length: 3\n\nnop", eof: false)?.0, 404)
        XCTAssertThrowsError(try parse("garbage\r\n\r\n", eof: false))
        XCTAssertThrowsError(try parse("", eof: true))
        XCTAssertThrowsError(try parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", eof: false))
    }

    func testBase64() {
        XCTAssertEqual(HTTPPost.base64([]), "")
        XCTAssertEqual(HTTPPost.base64(Array("f".utf8)), "Zg==")
        XCTAssertEqual(HTTPPost.base64(Array("fo".utf8)), "Zm8=")
        XCTAssertEqual(HTTPPost.base64(Array("foobar".utf8)), "Zm9vYmFy")
    }

    func testResultSummaryFormatting() {
        XCTAssertEqual(ProcessResult(command: "x", exitCode: nil, signal: nil, timedOut: true, timeout: 5).summary, "timed out after 5 s")
        XCTAssertEqual(ProcessResult(command: "x", exitCode: 2, signal: nil, stderr: Array("a\nb\n\n  ".utf8)).summary, "exited with status 2: b")
        XCTAssertEqual(ProcessResult(command: "x", exitCode: nil, signal: 15).summary, "killed by signal 15 (SIGTERM)")
        XCTAssertEqual(ProcessResult(command: "x", exitCode: 1, signal: nil, stderr: [0xff, 0x41]).stderrText, "\u{FFFD}A")
    }
}
