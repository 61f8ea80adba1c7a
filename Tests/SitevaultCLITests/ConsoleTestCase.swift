import Foundation
import XCTest
import VaultTesting
#if canImport(Glibc)
import Glibc
#endif

/// The sample site with the console started by `sitevault service --listen` on a free loopback port.
class ConsoleTestCase: SiteTestCase {
    var service: CLI.Running?
    var consoleDir: String { tmp.path + "/console" }
    /// The service's stderr up to the console's "listening" line.
    var consoleLog = ""

    override func tearDown() {
        if let s = service { kill(s.pid, SIGTERM); _ = s.wait(timeout: 60) }
        super.tearDown()
    }

    /// A copy of the sample site's control file under another name, its own state folder and,
    /// with `repository`, another repository path.
    func addSite(_ name: String, repository: String? = nil) throws -> String {
        var text = try String(contentsOfFile: controlFile, encoding: .utf8)
        text = text.replacingOccurrences(of: "site = \"sample\"", with: "site = \"\(name)\"")
            .replacingOccurrences(of: "state_dir = \"state\"", with: "state_dir = \"state-\(name)\"")
        if let repository { text = text.replacingOccurrences(of: "path = \"backup/repo\"", with: "path = \"\(repository)\"") }
        let path = site + "/\(name).toml"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o644)
        return path
    }

    func setPassword(_ user: String, _ password: String, readOnly: Bool = false) throws {
        let r = try CLI.run(["console", "passwd", "--user", user, "--console-dir", consoleDir] + (readOnly ? ["--read-only"] : []),
                            stdin: Data((password + "\n").utf8))
        XCTAssertEqual(r.status, 0, "\(r)")
    }

    /// Starts the service with the console on a free loopback port (or `listen`), with more options
    /// in `extra`; returns the console's address.
    func startConsole(sites: [String], env: [String: String] = [:], listen: String = "127.0.0.1:0", extra: [String] = []) throws -> String {
        let args = ["service"] + sites.flatMap { ["--site", $0] } + ["--listen", listen, "--console-dir", consoleDir] + extra
        let s = try CLI.start(args, env: env)
        service = s
        let end = Date().addingTimeInterval(60)
        while Date() < end {
            let err = (try? String(contentsOfFile: s.errPath, encoding: .utf8)) ?? ""
            consoleLog = err
            if let r = err.range(of: "console listening on ") {
                return String(err[r.upperBound...].prefix { !$0.isWhitespace })
            }
            if !s.isRunning { break }
            usleep(50_000)
        }
        XCTFail("the console did not start: \(s.wait(timeout: 5))")
        throw XCTSkip("no console")
    }

    func waitFor(_ what: String, timeout: Double = 120, _ condition: () -> Bool) -> Bool {
        let end = Date().addingTimeInterval(timeout)
        while Date() < end { if condition() { return true }; usleep(250_000) }
        XCTFail("timed out waiting for \(what)")
        return false
    }

    /// The row of `site` in the dashboard, and its state word.
    func rowState(_ page: String, _ site: String) -> String? {
        guard let r = page.range(of: "<tr id=\"site-\(site)\" data-state=\"") else { return nil }
        let rest = page[r.upperBound...]
        return rest.firstIndex(of: "\"").map { String(rest[..<$0]) }
    }

    /// A tool the test needs (prometheus, chromium): skipped locally when missing, a failure when
    /// scripts/test.sh asked for it (SITEVAULT_TEST_CONSOLE_TOOLS=1, after install-deps --tests).
    func requireTool(_ path: String) throws {
        guard !FileManager.default.isExecutableFile(atPath: path) else { return }
        if ProcessInfo.processInfo.environment["SITEVAULT_TEST_CONSOLE_TOOLS"] == "1" {
            XCTFail("\(path) is missing: run scripts/install-deps.sh --tests")
        }
        throw XCTSkip("\(path) is not installed (scripts/install-deps.sh --tests installs it)")
    }

    /// A free TCP port on 127.0.0.1 (asked of the kernel, then released).
    func freePort() -> Int { FreePort.pick() }

    /// The repository's root folder (packaging/, Tests/browser/).
    var sourceRoot: String {
        URL(fileURLWithPath: SiteTestCase.examples).deletingLastPathComponent().deletingLastPathComponent().path
    }
}
