import Foundation
import VaultTesting
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Tests against the sample site (examples/sample-site): a real application running in the
/// background, writing to its SQLite database and data folder, backed up by the built executable.
class SiteTestCase: XCTestCase {
    var tmp: TemporaryDirectory!
    /// The site folder (normalised path, as the control file reader reports it).
    var site: String!
    var controlFile: String { site + "/site.toml" }
    var repo: String { site + "/backup/repo" }
    var passwordFile: String { site + "/backup/password" }
    var extraPids: [Int32] = []
    /// The control file `messages()` reads (another copy while a test breaks the main one).
    var messagesControl: String?

    static let examples = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("examples/sample-site").path

    override func setUpWithError() throws {
        tmp = try TemporaryDirectory()
        site = URL(fileURLWithPath: tmp.path).resolvingSymlinksInPath().path + "/site"
    }

    override func tearDown() {
        if let pid = appPid {
            kill(pid, SIGCONT); kill(pid, SIGTERM)
            for _ in 0..<250 where kill(pid, 0) == 0 && appState() != "Z" { usleep(20_000) }
            kill(pid, SIGKILL)
        }
        for p in extraPids { kill(p, SIGCONT); kill(p, SIGKILL) }
        tmp?.remove()
    }

    /// Creates the sample site and starts its application.
    func makeSite(writesPerSecond: Int = 50, at folder: String? = nil) throws {
        if let folder { site = folder }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/bash")
        p.arguments = [SiteTestCase.examples + "/make-site.sh", site, CLI.executable, "\(writesPerSecond)"]
        p.environment = CLI.environment([:])
        // Output to a file, not a pipe: the application started in the background would keep a
        // pipe open (inherited descriptor) and reading it to the end would never finish.
        let log = tmp.path + "/make-site.log"
        FileManager.default.createFile(atPath: log, contents: nil)
        let h = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        p.standardOutput = h; p.standardError = h
        try p.run()
        p.waitUntilExit()
        try h.close()
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        XCTAssertEqual(p.terminationStatus, 0, text)
        XCTAssertNotNil(appPid, "the sample application is running: \(text)")
    }

    /// Writes a password file readable only by its owner (the control file refuses any other).
    func writeSecret(_ text: String, to path: String) throws {
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        XCTAssertEqual(chmod(path, 0o600), 0)
    }

    var appPid: Int32? {
        guard let s = try? String(contentsOfFile: site + "/run/sampleapp.pid", encoding: .utf8) else { return nil }
        return Int32(s.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// The application's state letter from /proc (T = stopped).
    func appState() -> Character? {
        guard let pid = appPid, let s = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = s.lastIndex(of: ")") else { return nil }
        return s[s.index(after: close)...].first { $0 != " " }
    }

    /// Writes the application has made so far (from its stats file).
    func appWrites() -> Int {
        guard let d = FileManager.default.contents(atPath: site + "/run/stats.json"),
              let o = try? JSONSerialization.jsonObject(with: d) as? [String: Any] else { return 0 }
        return o["writes"] as? Int ?? 0
    }

    func waitForAppWrites(beyond n: Int, timeout: Double = 10) -> Bool {
        let end = Date().addingTimeInterval(timeout)
        while Date() < end { if appWrites() > n { return true }; usleep(20_000) }
        return false
    }

    func appendToControlFile(_ text: String) throws {
        // A table the control file has already (the sample's [drill]) gets the new keys merged in.
        if let header = text.split(separator: "\n").first, header.hasPrefix("[") && !header.hasPrefix("[["),
           let s = try? String(contentsOfFile: controlFile, encoding: .utf8), let at = s.range(of: "\n" + header + "\n") {
            let keys = text.split(separator: "\n", omittingEmptySubsequences: false).dropFirst().joined(separator: "\n")
            try (String(s[..<at.upperBound]) + keys + "\n" + String(s[at.upperBound...])).write(toFile: controlFile, atomically: true, encoding: .utf8)
            return
        }
        let h = try FileHandle(forWritingTo: URL(fileURLWithPath: controlFile))
        h.seekToEndOfFile()
        h.write(Data(("\n" + text + "\n").utf8))
        h.closeFile()
    }

    /// Appends a `command` database component whose dump is `sh -c script`; with `frozenBy`, a
    /// signal writer of that name stops the sample application while the component is stored.
    func appendDumpComponent(_ name: String, script: String, frozenBy writer: String? = nil, extra: String = "") throws {
        let quoted = script.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
        var text = "[[component]]\nname = \"\(name)\"\nkind = \"database\"\nengine = \"command\"\ndump_command = [\"sh\", \"-c\", \"\(quoted)\"]\n\(extra)"
        if let writer {
            text += "\n[[writer]]\nname = \"\(writer)\"\nkind = \"signal\"\npid_file = \"run/sampleapp.pid\"\ncomponents = [\"\(name)\"]\n"
        }
        try appendToControlFile(text)
    }

    /// A site without the sample application: its repository (password file 0600, `init`) and a
    /// control file made of the usual head (site, time zone, state, repository) and `body`.
    func makeBareSite(_ name: String, body: String, file: StaticString = #filePath, line: UInt = #line) throws {
        for d in [site + "/backup", site + "/state", site + "/run"] { try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true) }
        try Data("\(name)-test-password\n".utf8).write(to: URL(fileURLWithPath: passwordFile))
        chmod(passwordFile, 0o600)
        let r = try CLI.run(["init", "--quiet"], env: ["SITEVAULT_REPOSITORY": repo, "SITEVAULT_PASSWORD_FILE": passwordFile])
        XCTAssertEqual(r.status, 0, "\(r)", file: file, line: line)
        try Data(("""
        site = "\(name)"
        time_zone = "UTC"
        state_dir = "state"

        [repository]
        path = "backup/repo"
        password_file = "backup/password"

        """ + body).utf8).write(to: URL(fileURLWithPath: controlFile))
    }

    /// Removes the sample writer's `start` line (a test that redefines the writer gives its own).
    func removeSampleStartCommand() throws {
        let s = try String(contentsOfFile: controlFile, encoding: .utf8)
        let lines = s.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.hasPrefix("start = [\"sh\", \"-c\", \"mkdir -p") }
        XCTAssertEqual(lines.count, s.split(separator: "\n", omittingEmptySubsequences: false).count - 1, "the sample writer has a start line")
        try lines.joined(separator: "\n").write(toFile: controlFile, atomically: true, encoding: .utf8)
    }

    func replaceInControlFile(_ a: String, _ b: String) throws {
        let s = try String(contentsOfFile: controlFile, encoding: .utf8)
        XCTAssertTrue(s.contains(a), "control file holds \(a)")
        try s.replacingOccurrences(of: a, with: b).write(toFile: controlFile, atomically: true, encoding: .utf8)
    }

    /// Runs `sitevault site <args> --site <control file>`.
    @discardableResult
    func siteRun(_ args: String..., control: String? = nil, timeout: Double = 300) throws -> CLI.Result {
        try CLI.run(["site"] + args + ["--site", control ?? controlFile], timeout: timeout)
    }

    func startSite(_ args: String...) throws -> CLI.Running {
        try CLI.start(["site"] + args + ["--site", controlFile])
    }

    /// Runs a plain repository command against the site's repository.
    @discardableResult
    func repoRun(_ args: [String], repo r: String? = nil) throws -> CLI.Result {
        try CLI.run(args, env: ["SITEVAULT_REPOSITORY": r ?? repo, "SITEVAULT_PASSWORD_FILE": passwordFile])
    }

    func json(_ r: CLI.Result, file: StaticString = #filePath, line: UInt = #line) -> [String: Any] {
        guard let o = r.json as? [String: Any] else { XCTFail("not JSON: \(r)", file: file, line: line); return [:] }
        return o
    }

    /// The site's status messages, oldest first.
    func messages(run: String? = nil) throws -> [[String: Any]] {
        var args = ["messages", "--json", "--limit", "10000"]
        if let run { args += ["--run", run] }
        let r = try CLI.run(["site"] + args + ["--site", messagesControl ?? controlFile])
        XCTAssertEqual(r.status, 0, "\(r)")
        return r.json as? [[String: Any]] ?? []
    }

    func messageIDs(run: String? = nil) throws -> [Int] { try messages(run: run).compactMap { $0["id"] as? Int } }

    func snapshotCount(repo r: String? = nil) throws -> Int {
        let s = try repoRun(["snapshots", "--json"], repo: r)
        return (s.json as? [Any])?.count ?? -1
    }

    func waitForFile(_ path: String, timeout: Double = 60) -> Bool {
        let end = Date().addingTimeInterval(timeout)
        while Date() < end { if FileManager.default.fileExists(atPath: path) { return true }; usleep(10_000) }
        return false
    }

    func shell(_ command: String) -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", command]
        try? p.run()
        p.waitUntilExit()
        return p.terminationStatus
    }
}
