#if canImport(Glibc)
import Glibc
#endif
import XCTest
@testable import SiteSystem
import VaultCore

final class CurlPostTests: XCTestCase {
    var dir = ""

    override func setUp() { dir = makeTemporaryDirectory() }
    override func tearDown() { removeTree(dir) }

    /// A fake curl that records its argv, its stdin (the config), the body file and its mode.
    func installFakeCurl(exit status: Int = 0, stdout: String = "{\"ok\":true}\\n201", stderr: String = "") {
        writeFile("\(dir)/curl", """
            #!/bin/sh
            printf '%s\\n' "$@" > '\(dir)/argv'
            cat > '\(dir)/config'
            body=$(sed -n 's/^data-binary = "@\\(.*\\)"$/\\1/p' '\(dir)/config')
            echo "$body" > '\(dir)/bodypath'
            cp "$body" '\(dir)/body'
            stat -c %a "$body" > '\(dir)/mode'
            printf '\(stderr)' >&2
            printf '\(stdout)'
            exit \(status)

            """, mode: 0o755)
    }

    func testSecretsStayOutOfArgv() throws {
        installFakeCurl()
        let url = "https://bot:s3cret@hooks.example.com/services/T0/B0/tokenpath?key=k1"
        let body = Array(#"{"text":"backup of \"shop\" failed"}"#.utf8)
        let r = try HTTPPost.postJSON(url: url, body: body, headers: ["Authorization": "Bearer tok-XYZ"], timeout: 7,
                                      curlSearchPath: dir)
        XCTAssertEqual(r.status, 201)
        XCTAssertEqual(r.body, #"{"ok":true}"#)

        let argv = try XCTUnwrap(readText("\(dir)/argv"))
        XCTAssertEqual(argv, "-q\n-K\n-\n")
        for secret in ["s3cret", "tokenpath", "tok-XYZ", "hooks.example.com", "k1"] { XCTAssertFalse(argv.contains(secret)) }

        let config = try XCTUnwrap(readText("\(dir)/config")).split(separator: "\n").map(String.init)
        XCTAssertTrue(config.contains("url = \"\(url)\""), "\(config)")
        XCTAssertTrue(config.contains("header = \"Authorization: Bearer tok-XYZ\""))
        XCTAssertTrue(config.contains("header = \"Content-Type: application/json\""))
        XCTAssertTrue(config.contains("max-time = 7"))
        XCTAssertTrue(config.contains("proto = \"=https\""))
        XCTAssertTrue(config.contains("write-out = \"\\n%{http_code}\""))
        XCTAssertEqual(readFile("\(dir)/body"), body)
        XCTAssertEqual(readText("\(dir)/mode"), "600\n")
        let bodyPath = try XCTUnwrap(readText("\(dir)/bodypath")).split(separator: "\n").first.map(String.init)
        XCTAssertFalse(fileExists(try XCTUnwrap(bodyPath)), "the temporary body file is removed")
    }

    func testCurlFailureIsReported() {
        installFakeCurl(exit: 7, stdout: "\\n000", stderr: "curl: (7) Failed to connect to hooks.example.com port 443\\n")
        XCTAssertThrowsError(try HTTPPost.postJSON(url: "https://hooks.example.com/secret-path?t=1", body: [], timeout: 5, curlSearchPath: dir)) { e in
            XCTAssertEqual("\(e)", "cannot post to https://hooks.example.com/secret-path: curl exited with status 7: curl: (7) Failed to connect to hooks.example.com port 443")
        }
    }

    func testMissingCurl() {
        XCTAssertThrowsError(try HTTPPost.postJSON(url: "https://u:pw@example.com/x", body: [], timeout: 5, curlSearchPath: dir)) { e in
            XCTAssertEqual((e as? VaultError)?.code, .notFound)
            XCTAssertEqual("\(e)", "cannot post to https://example.com/x: https URLs need the curl command, which was not found in PATH; install curl")
        }
    }

    func testQuoting() {
        XCTAssertEqual(CurlPost.quote(#"a"b\c"#), #""a\"b\\c""#)
    }

    /// The real curl, when installed, accepts our config: posted to a local http server.
    func testRealCurlPostsThroughConfig() throws {
        guard (try? Spawner.resolve("curl", searchPath: Spawner.currentEnvironment()["PATH"] ?? "")) != nil else {
            throw XCTSkip("curl is not installed")
        }
        let server = try XCTUnwrap(TestHTTPServer())
        server.start(["HTTP/1.1 418 I'm a teapot\r\nContent-Length: 6\r\n\r\nteapot"])
        defer { server.stop() }
        let url = try HTTPURL("http://alerts:p%40ss@127.0.0.1:\(server.port)/hook?x=1")
        let body = Array(#"{"a":"\"quoted\" \\ back"}"#.utf8)
        let r = try CurlPost.post(url, body: body, headers: try HTTPPost.checkedHeaders(["X-Token": "t \"q\""], url: url),
                                  timeout: 5, searchPath: nil, protocols: "=http")
        XCTAssertEqual(r.status, 418)
        XCTAssertEqual(r.body, "teapot")
        let req = try XCTUnwrap(server.requests.first)
        XCTAssertEqual(req.method, "POST")
        XCTAssertEqual(req.target, "/hook?x=1")
        XCTAssertEqual(req.body, body)
        XCTAssertEqual(req.headers["content-type"], "application/json")
        XCTAssertEqual(req.headers["x-token"], "t \"q\"")
        XCTAssertEqual(req.headers["authorization"], "Basic YWxlcnRzOnBAc3M=")
    }

    /// The real curl refuses a closed port with its own message, proving it parsed the config.
    func testRealCurlConnectionError() throws {
        guard (try? Spawner.resolve("curl", searchPath: Spawner.currentEnvironment()["PATH"] ?? "")) != nil else {
            throw XCTSkip("curl is not installed")
        }
        let port = TestHTTPServer.unusedPort()
        XCTAssertThrowsError(try HTTPPost.postJSON(url: "https://127.0.0.1:\(port)/x", body: [], timeout: 5)) { e in
            XCTAssertTrue("\(e)".hasPrefix("cannot post to https://127.0.0.1:\(port)/x: curl exited with status 7"), "\(e)")
        }
    }
}
