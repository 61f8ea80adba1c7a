import Foundation
import VaultTesting
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// A file name holding ESC and a newline reaches a person escaped, on one line: `ls`, a backup's
/// error and a site run's log. `--json` keeps the exact name.
final class NameEscapingTests: CLITestCase {
    let hostile = "esc\u{1B}[31mRED\nfake line"
    let shown = "esc\\x1b[31mRED\\nfake line"

    /// Root reads any file: the backup runs without CAP_DAC_OVERRIDE / CAP_DAC_READ_SEARCH, as in ErrorTests.
    let dropCaps = ["/usr/bin/setpriv", "--inh-caps=-dac_override,-dac_read_search", "--bounding-set=-dac_override,-dac_read_search", "--"]

    func assertOneLine(_ text: String, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertTrue(text.contains(shown), "\(what) shows the escaped name: \(text)", file: file, line: line)
        XCTAssertFalse(text.contains("\u{1B}"), "\(what) holds a raw ESC: \(text)", file: file, line: line)
        XCTAssertFalse(text.components(separatedBy: "\n").contains { $0.hasPrefix("fake line") }, "\(what) has a forged line", file: file, line: line)
    }

    func makeSource() throws -> String {
        let src = dir.sub("src")
        mkdir(src)
        try write(src + "/" + hostile, "hostile")
        try write(src + "/plain", "plain")
        return normalized(src)
    }

    func unreadableForUs(_ path: String) throws -> [String] {
        XCTAssertEqual(chmod(path, 0), 0)
        guard geteuid() == 0 else { return [] }
        guard FileManager.default.isExecutableFile(atPath: dropCaps[0]) else { throw XCTSkip("setpriv is not available") }
        let probe = Process()
        probe.executableURL = URL(fileURLWithPath: dropCaps[0])
        probe.arguments = Array(dropCaps.dropFirst()) + ["/bin/cat", path]
        probe.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        probe.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try probe.run(); probe.waitUntilExit()
        if probe.terminationStatus == 0 { throw XCTSkip("cannot make a file unreadable for root here") }
        return dropCaps
    }

    func testLsEscapesAndJSONKeepsTheExactName() throws {
        try initRepo()
        let src = try makeSource()
        let id = try backup([src])
        let ls = try expect(0, ["ls", id])
        assertOneLine(ls.stdout, "ls")
        XCTAssertTrue(ls.stdout.contains(src + "/plain"), ls.stdout)
        let long = try expect(0, ["ls", "-l", id])
        assertOneLine(long.stdout, "ls -l")
        let json = try expect(0, ["ls", "--json", id])
        let paths = (json.json as? [[String: Any]] ?? []).compactMap { $0["path"] as? String }
        XCTAssertTrue(paths.contains(src + "/" + hostile), "ls --json keeps the exact name: \(paths)")
    }

    func testBackupErrorNamesTheFileEscaped() throws {
        try initRepo()
        let src = try makeSource()
        let wrapper = try unreadableForUs(src + "/" + hostile)
        let res = try CLI.run(["backup", "--json", src], env: env(), wrapper: wrapper)
        XCTAssertEqual(res.status, 3, "\(res)")
        assertOneLine(res.stderr, "the backup's error")
        XCTAssertTrue(res.stderr.contains("cannot back up \(src)/\(shown): "), res.stderr)
        let errors = (res.json as? [String: Any])?["errors"] as? [[String: String]]
        XCTAssertEqual(errors?.map { $0["path"] }, [src + "/" + hostile], "--json keeps the exact path")
    }

    /// A quoted key may hold any character: the control file's problem names it escaped, on its line.
    func testControlFileProblemIsEscaped() throws {
        let control = dir.sub("site.toml")
        try write(control, "site = \"odd\"\n\"esc\\u001b[31mRED\\nfake line\" = 1\n")
        let r = try CLI.run(["validate", "--site", control])
        XCTAssertEqual(r.status, 78, "\(r)")
        assertOneLine(r.stderr, "the control file's problems")
        XCTAssertTrue(r.stderr.contains(":2:1: unknown key '\(shown)' in the top level"), r.stderr)
    }

    func testSiteRunLogShowsTheNameEscaped() throws {
        try initRepo()
        let src = try makeSource()
        let control = dir.sub("site.toml")
        try write(control, """
            site = "odd"
            time_zone = "UTC"
            state_dir = "\(dir.sub("state"))"
            [repository]
            path = "\(repo!)"
            password_file = "\(passwordFile!)"
            [[component]]
            name = "files"
            kind = "folders"
            paths = ["\(src)"]
            """)
        let wrapper = try unreadableForUs(src + "/" + hostile)
        let res = try CLI.run(["site", "backup", "--site", control], wrapper: wrapper)
        XCTAssertEqual(res.status, 3, "partial: \(res)")
        assertOneLine(res.stderr, "the run's messages on stderr")
        assertOneLine(res.stdout, "the run's summary")
        let logs = try FileManager.default.contentsOfDirectory(atPath: dir.sub("state") + "/logs")
        XCTAssertEqual(logs.count, 1, "\(logs)")
        let log = try String(contentsOfFile: dir.sub("state") + "/logs/" + (logs.first ?? "?"), encoding: .utf8)
        assertOneLine(log, "the run log")
        let messages = try CLI.run(["site", "messages", "--site", control])
        assertOneLine(messages.stdout, "site messages")
        let exact = try CLI.run(["site", "messages", "--json", "--site", control])
        let texts = (exact.json as? [[String: Any]] ?? []).compactMap { $0["text"] as? String }
        XCTAssertTrue(texts.contains { $0.contains(src + "/" + hostile) }, "--json keeps the exact name: \(texts)")
    }
}
