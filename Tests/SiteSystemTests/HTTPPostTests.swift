#if canImport(Glibc)
import Glibc
#endif
import XCTest
@testable import SiteSystem
import VaultCore

final class HTTPPostTests: XCTestCase {
    func testPostsJSONWithHeaders() throws {
        let server = try XCTUnwrap(TestHTTPServer())
        server.start(["HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"ok\":true}"])
        defer { server.stop() }
        let body = Array(#"{"event":"backup-failed","site":"shop"}"#.utf8)
        let r = try HTTPPost.postJSON(url: "\(server.baseURL)/hooks/alert?channel=ops", body: body,
                                      headers: ["X-Token": "tok-123", "Content-Length": "999"], timeout: 5)
        XCTAssertEqual(r.status, 200)
        XCTAssertEqual(r.body, #"{"ok":true}"#)
        let req = try XCTUnwrap(server.requests.first)
        XCTAssertEqual(req.method, "POST")
        XCTAssertEqual(req.target, "/hooks/alert?channel=ops")
        XCTAssertEqual(req.version, "HTTP/1.1")
        XCTAssertEqual(req.headers["host"], "127.0.0.1:\(server.port)")
        XCTAssertEqual(req.headers["content-type"], "application/json")
        XCTAssertEqual(req.headers["content-length"], String(body.count))
        XCTAssertEqual(req.headers["connection"], "close")
        XCTAssertEqual(req.headers["x-token"], "tok-123")
        XCTAssertNil(req.headers["authorization"])
        XCTAssertEqual(req.body, body)
    }

    func testNon2xxIsReturnedWithChunkedBody() throws {
        let server = try XCTUnwrap(TestHTTPServer())
        server.start(["HTTP/1.1 503 Service Unavailable\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nserver\r\n9\r\n exploded\r\n0\r\n\r\n"])
        defer { server.stop() }
        let r = try HTTPPost.postJSON(url: server.baseURL, body: Array("{}".utf8), timeout: 5)
        XCTAssertEqual(r.status, 503)
        XCTAssertEqual(r.body, "server exploded")
        XCTAssertEqual(server.requests.first?.target, "/")
    }

    func testBodyToEndOfConnectionAndCustomContentType() throws {
        let server = try XCTUnwrap(TestHTTPServer())
        server.start(["HTTP/1.0 202 Accepted\r\n\r\nqueued"])
        defer { server.stop() }
        let r = try HTTPPost.postJSON(url: "\(server.baseURL)/x", body: [], headers: ["content-type": "application/vnd.api+json"], timeout: 5)
        XCTAssertEqual(r.status, 202)
        XCTAssertEqual(r.body, "queued")
        XCTAssertEqual(server.requests.first?.headers["content-type"], "application/vnd.api+json")
        XCTAssertEqual(server.requests.first?.headers["content-length"], "0")
    }

    func testUserInfoBecomesBasicAuth() throws {
        let server = try XCTUnwrap(TestHTTPServer())
        server.start(["HTTP/1.1 204 No Content\r\n\r\n"])
        defer { server.stop() }
        let host = server.baseURL.dropFirst("http://".count)
        let r = try HTTPPost.postJSON(url: "http://alerts:p%40ss@\(host)/ping", body: Array("{}".utf8), timeout: 5)
        XCTAssertEqual(r.status, 204)
        XCTAssertEqual(r.body, "")
        XCTAssertEqual(server.requests.first?.headers["authorization"], "Basic " + HTTPPost.base64(Array("alerts:p@ss".utf8)))
        XCTAssertEqual(server.requests.first?.headers["authorization"], "Basic YWxlcnRzOnBAc3M=")
    }

    func testIPv6Loopback() throws {
        guard let server = TestHTTPServer(ipv6: true) else { throw XCTSkip("no IPv6 loopback here") }
        server.start(["HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nv6"])
        defer { server.stop() }
        let r = try HTTPPost.postJSON(url: "http://[::1]:\(server.port)/six", body: Array("{}".utf8), timeout: 5)
        XCTAssertEqual(r.status, 200)
        XCTAssertEqual(r.body, "v6")
        XCTAssertEqual(server.requests.first?.headers["host"], "[::1]:\(server.port)")
    }

    func testConnectionRefusedNamesHostAndPortButNoPassword() {
        let port = TestHTTPServer.unusedPort()
        XCTAssertThrowsError(try HTTPPost.postJSON(url: "http://bot:hunter2@127.0.0.1:\(port)/hook?token=abc", body: [], timeout: 5)) { e in
            let text = "\(e)"
            XCTAssertEqual(text, "cannot post to http://127.0.0.1:\(port)/hook: cannot connect to 127.0.0.1:\(port): Connection refused")
            XCTAssertFalse(text.contains("hunter2"))
            XCTAssertFalse(text.contains("abc"))
            XCTAssertEqual((e as? VaultError)?.code, .io)
        }
    }

    func testUnknownHost() {
        XCTAssertThrowsError(try HTTPPost.postJSON(url: "http://no-such-host.invalid/hook", body: [], timeout: 5)) { e in
            XCTAssertTrue("\(e)".hasPrefix("cannot post to http://no-such-host.invalid/hook: cannot resolve host 'no-such-host.invalid'"), "\(e)")
        }
    }

    func testTimeoutWhenTheServerNeverAnswers() throws {
        let server = try XCTUnwrap(TestHTTPServer())
        server.start([nil])
        defer { server.stop() }
        let start = monotonicSeconds()
        XCTAssertThrowsError(try HTTPPost.postJSON(url: "\(server.baseURL)/slow", body: Array("{}".utf8), timeout: 0.5)) { e in
            XCTAssertEqual("\(e)", "cannot post to \(server.baseURL)/slow: timed out after 0.5 s waiting for the response of 127.0.0.1:\(server.port)")
        }
        XCTAssertLessThan(monotonicSeconds() - start, 5)
    }

    func testServerClosingWithoutAnswer() throws {
        let server = try XCTUnwrap(TestHTTPServer())
        server.start([""])
        defer { server.stop() }
        XCTAssertThrowsError(try HTTPPost.postJSON(url: server.baseURL, body: [], timeout: 5)) { e in
            XCTAssertTrue("\(e)".contains("closed the connection without a response"), "\(e)")
        }
    }

    func testInvalidURLsAndHeaders() {
        func code(_ url: String, headers: [String: String] = [:], timeout: Double = 5) -> (VaultError.Code?, String) {
            do {
                _ = try HTTPPost.postJSON(url: url, body: [], headers: headers, timeout: timeout)
                return (nil, "")
            } catch {
                return ((error as? VaultError)?.code, "\(error)")
            }
        }
        XCTAssertEqual(code("ftp://u:secret@host/x").0, .invalidArgument)
        XCTAssertFalse(code("ftp://u:secret@host/x").1.contains("secret"))
        XCTAssertEqual(code("not a url").0, .invalidArgument)
        XCTAssertEqual(code("http:///path").0, .invalidArgument)
        XCTAssertEqual(code("http://host:99999/").0, .invalidArgument)
        XCTAssertEqual(code("http://host/a b").0, .invalidArgument)
        XCTAssertEqual(code("http://host/", timeout: 0).0, .invalidArgument)
        XCTAssertEqual(code("http://host/", headers: ["X-A": "1\r\nEvil: 1"]).0, .invalidArgument)
        XCTAssertEqual(code("http://host/", headers: ["Bad Name": "1"]).0, .invalidArgument)
    }
}
