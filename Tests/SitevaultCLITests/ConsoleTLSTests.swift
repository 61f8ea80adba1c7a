import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// The console served over HTTPS (`--tls-cert`, `--tls-key`) with a self-signed certificate made by
/// openssl for the test; curl verifies it (`--cacert`, never `-k`). Bad certificate and key files
/// are refused before anything starts.
final class ConsoleTLSTests: ConsoleTestCase {
    var tlsDir: String { tmp.path + "/tls" }

    /// A self-signed P-256 certificate for 127.0.0.1 and localhost, and its key (mode 600).
    func makeCertificate(_ name: String) throws -> (cert: String, key: String) {
        try FileManager.default.createDirectory(atPath: tlsDir, withIntermediateDirectories: true)
        let cert = tlsDir + "/\(name).crt", key = tlsDir + "/\(name).key"
        let status = shell("""
            openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost \
            -addext 'subjectAltName=IP:127.0.0.1,DNS:localhost' -keyout '\(key)' -out '\(cert)' > '\(tlsDir)/openssl.log' 2>&1
            """)
        XCTAssertEqual(status, 0, (try? String(contentsOfFile: tlsDir + "/openssl.log", encoding: .utf8)) ?? "")
        chmod(key, 0o600)
        return (cert, key)
    }

    func serviceArgs(_ cert: String, _ key: String) -> [String] {
        ["service", "--site", controlFile, "--listen", "127.0.0.1:0", "--console-dir", consoleDir, "--tls-cert", cert, "--tls-key", key]
    }

    func testConsoleOverTLSVerifiedWithItsCertificate() throws {
        try makeSite()
        try setPassword("admin", "admin-password-1")
        let (cert, key) = try makeCertificate("console")
        let base = try startConsole(sites: [controlFile], extra: ["--tls-cert", cert, "--tls-key", key])
        XCTAssertTrue(base.hasPrefix("https://127.0.0.1:"), base)
        XCTAssertFalse(consoleLog.contains("without TLS"), consoleLog)

        // The login page, verified against the certificate.
        let browser = ConsoleClient(base: base, folder: tmp.path, curlOptions: ["--cacert", cert])
        let page = browser.get("/login")
        XCTAssertEqual(page.status, 200, "curl exit \(browser.curlStatus)")
        XCTAssertTrue(page.body.contains("name=\"password\""), page.body)
        XCTAssertTrue(page.headers.contains("sitevault_login=") && page.headers.contains("Secure"), page.headers)
        let login = browser.login("admin", "admin-password-1")
        XCTAssertEqual(login.status, 303, login.body)
        let cookie = login.headers.split(whereSeparator: \.isNewline).first { $0.lowercased().hasPrefix("set-cookie: sitevault_session=") } ?? ""
        XCTAssertTrue(cookie.contains("; Secure") && cookie.contains("HttpOnly"), "the session cookie is Secure over TLS: \(cookie)")
        XCTAssertEqual(browser.get("/").status, 200, "the Secure cookie is sent back over HTTPS")

        // /metrics over TLS (loopback: no token).
        let metrics = browser.get("/metrics")
        XCTAssertEqual(metrics.status, 200)
        XCTAssertTrue(metrics.body.contains("sitevault_status_readable{site=\"sample\"} 1\n"), metrics.body)

        // The certificate is what makes it trusted: without it curl refuses (60), and plain HTTP gets no page.
        let stranger = ConsoleClient(base: base, folder: tmp.path)
        XCTAssertEqual(stranger.get("/login").status, 0)
        XCTAssertEqual(stranger.curlStatus, 60, "curl does not trust an unknown certificate")
        let plain = ConsoleClient(base: base.replacingOccurrences(of: "https://", with: "http://"), folder: tmp.path)
        XCTAssertNotEqual(plain.get("/login").status, 200, "no page over plain HTTP on the TLS port")
    }

    func testBadCertificateOrKeyFilesStartNothing() throws {
        try makeSite()
        let (cert, key) = try makeCertificate("console")
        let otherKey = try makeCertificate("other").key
        let missing = tlsDir + "/missing.crt"
        let exposed = tlsDir + "/exposed.key"
        try FileManager.default.copyItem(atPath: key, toPath: exposed)
        chmod(exposed, 0o644)
        let certAsKey = tlsDir + "/cert-as.key"
        try FileManager.default.copyItem(atPath: cert, toPath: certAsKey)
        chmod(certAsKey, 0o600)
        let cases: [(args: [String], file: String, why: String)] = [
            (serviceArgs(missing, key), missing, "does not exist"),
            (serviceArgs(cert, tlsDir + "/missing.key"), tlsDir + "/missing.key", "does not exist"),
            (serviceArgs(key, key), key, "holds no PEM certificate"),
            (serviceArgs(cert, certAsKey), certAsKey, "holds no unencrypted PEM private key"),
            (serviceArgs(cert, exposed), exposed, "readable by others (mode 644)"),
            (serviceArgs(cert, otherKey), otherKey, "does not match the certificate \(cert)"),
        ]
        for c in cases {
            let r = try CLI.run(c.args, timeout: 60)
            XCTAssertEqual(r.status, 1, "\(c.why): \(r)")
            XCTAssertTrue(r.stderr.contains(c.file) && r.stderr.contains(c.why), "names \(c.file) and says '\(c.why)': \(r.stderr)")
            XCTAssertFalse(r.stderr.contains("console listening"), r.stderr)
        }
        // Half of the pair, or TLS without a console, is a usage error.
        XCTAssertEqual(try CLI.run(["service", "--site", controlFile, "--listen", "127.0.0.1:0", "--tls-cert", cert], timeout: 60).status, 64)
        XCTAssertEqual(try CLI.run(["service", "--site", controlFile, "--tls-cert", cert, "--tls-key", key], timeout: 60).status, 64)
        // Nothing started: the service never announced itself (1700) in the site's status store.
        XCTAssertFalse(try messageIDs().contains(1700), "the service did not start")
    }

    /// A console reachable from other machines without TLS gets a warning (and still serves).
    func testPlainHTTPBeyondLoopbackIsWarnedAbout() throws {
        try makeSite()
        _ = try startConsole(sites: [controlFile], listen: "0.0.0.0:0")
        XCTAssertTrue(consoleLog.contains("warning: the console listens on 0.0.0.0, reachable from other machines, without TLS"), consoleLog)
    }
}
