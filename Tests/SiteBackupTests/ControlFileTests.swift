import Foundation
import SiteBackup
import VaultStorage
import VaultTesting
import XCTest

/// Every rejection names the file, the line, the column and the reason; nothing else happens.
final class ControlFileTests: XCTestCase {
    var tmp: TemporaryDirectory!
    /// The temporary folder with its path normalised, as the control file reader reports paths.
    var dir: (path: String, Void)!
    var file: String { dir.path + "/site.toml" }

    override func setUpWithError() throws {
        tmp = try TemporaryDirectory()
        dir = (URL(fileURLWithPath: tmp.path).resolvingSymlinksInPath().path, ())
        for d in ["data", "etc", "repo", "media"] { try FileManager.default.createDirectory(atPath: dir.path + "/" + d, withIntermediateDirectories: true) }
        try Data("x".utf8).write(to: URL(fileURLWithPath: dir.path + "/pw"))
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: dir.path + "/pw")
        try Data().write(to: URL(fileURLWithPath: dir.path + "/app.db"))
    }

    /// A valid base file; `extra` is appended.
    func base(_ extra: String = "", header: String = "") -> String {
        """
        site = "shop"
        time_zone = "UTC"
        state_dir = "state"
        \(header)
        [repository]
        path = "repo"
        password_file = "pw"

        [[component]]
        name = "data"
        kind = "folders"
        paths = ["data"]

        \(extra)
        """
    }

    /// An SFTP repository with its own ssh command line; a command that cannot be split is refused at its value.
    func testSFTPRepositoryAndItsCommand() throws {
        let ok = base().replacingOccurrences(of: "path = \"repo\"",
                                             with: "path = \"sftp:backupbox:/srv/shop\"\nsftp_command = \"ssh -F '/etc/my ssh' backupbox -s sftp\"")
        let cfg = try parse(ok)
        XCTAssertEqual(cfg.mainDestination.path, "sftp:backupbox:/srv/shop", "an sftp: location stays as written")
        XCTAssertEqual(cfg.mainDestination.sftpCommand, "ssh -F '/etc/my ssh' backupbox -s sftp")
        let bad = base().replacingOccurrences(of: "path = \"repo\"", with: "path = \"sftp:backupbox:/srv/shop\"\nsftp_command = \"ssh 'open\"")
        assertRejected(bad, line: 7, column: 16, "a single quote is not closed")
    }

    /// An S3 repository's URL style reaches the store options; a style other than path or virtual is refused at its value.
    func testS3URLStyle() throws {
        let ok = base().replacingOccurrences(of: "path = \"repo\"", with: "path = \"s3:https://s3.example.net/shop/vault\"\ns3_url_style = \"virtual\"")
        let cfg = try parse(ok)
        XCTAssertEqual(cfg.mainDestination.s3URLStyle, "virtual")
        XCTAssertEqual(cfg.mainDestination.storeOptions(StoreOptions()).s3URLStyle, "virtual")
        let bad = base().replacingOccurrences(of: "path = \"repo\"", with: "path = \"s3:https://s3.example.net/shop\"\ns3_url_style = \"dns\"")
        assertRejected(bad, line: 7, "s3_url_style must be \"path\" or \"virtual\"")
    }

    func parse(_ text: String, checkPaths: Bool = true) throws -> SiteConfig {
        try text.write(toFile: file, atomically: true, encoding: .utf8)
        return try ControlFile.load(path: file, checkPaths: checkPaths)
    }

    /// Asserts the file is refused with a problem at `line` (and `column` if given) whose reason contains `reason`.
    func assertRejected(_ text: String, line: Int, column: Int? = nil, _ reason: String, file f: StaticString = #filePath, l: UInt = #line) {
        do {
            _ = try parse(text)
            XCTFail("accepted a control file that should be refused (\(reason))", file: f, line: l)
        } catch let e as ControlFileError {
            let hit = e.problems.first { $0.line == line && (column == nil || $0.column == column) && $0.message.contains(reason) }
            XCTAssertNotNil(hit, "expected line \(line)\(column.map { " column \($0)" } ?? ""): \(reason); got:\n\(e.description)", file: f, line: l)
            XCTAssertTrue(e.description.contains("\(file):\(line):"), "the message names the file and line", file: f, line: l)
        } catch {
            XCTFail("unexpected error \(error)", file: f, line: l)
        }
    }

    func testRepositoryLocationsOtherThanFoldersAreKeptOrRefused() throws {
        func with(_ location: String) -> String { base().replacingOccurrences(of: "path = \"repo\"", with: "path = \"\(location)\"") }
        XCTAssertEqual(try parse(base()).mainDestination.path, dir.path + "/repo", "a folder is resolved")
        XCTAssertEqual(try parse(with("s3:https://h/b/p")).mainDestination.path, "s3:https://h/b/p", "kept as written")
        XCTAssertEqual(try parse(with("sub/a:b")).mainDestination.path, dir.path + "/sub/a:b", "a colon after a slash is a path")
        assertRejected(with("foo:bar"), line: 6, "cannot use repository location \"foo:bar\"")
    }

    func testDrillSectionIsReadAndChecked() throws {
        let c = try parse(base("[drill]\nschedule = \"Sun 04:00\"\nsandbox = \"sandbox\"\ncommand = [\"/bin/true\", \"x\"]\ntimeout = \"5m\""))
        XCTAssertEqual(c.drill.schedule?.text, "Sun 04:00")
        XCTAssertEqual(c.drillSandbox, dir.path + "/sandbox")
        XCTAssertEqual(c.drill.command ?? [], ["/bin/true", "x"])
        XCTAssertEqual(c.drill.timeout, 300)
        let d = try parse(base())
        XCTAssertNil(d.drill.schedule)
        XCTAssertEqual(d.drillSandbox, d.stateDir + "/drill")
        assertRejected(base("[drill]\nschedule = \"sometimes 04:00\""), line: 15, "schedule:")
        assertRejected(base("[drill]\nsandbox = \"data/sb\""), line: 15, "inside")
        assertRejected(base("[drill]\nkeep = true"), line: 15, "keep")
    }

    func testDrillStartStopAndProbeAreRead() throws {
        let c = try parse(base("[drill]\nstart = [\"app\", \"--serve\"]\nstop = [\"app\", \"--stop\"]\nprobe = [\"curl\", \"-fsS\", \"http://127.0.0.1:8081/\"]\nprobe_timeout = \"90s\""))
        XCTAssertEqual(c.drill.start ?? [], ["app", "--serve"])
        XCTAssertEqual(c.drill.stop ?? [], ["app", "--stop"])
        XCTAssertEqual(c.drill.probe ?? [], ["curl", "-fsS", "http://127.0.0.1:8081/"])
        XCTAssertEqual(c.drill.probeTimeout, 90)
        XCTAssertEqual(try parse(base()).drill.probeTimeout, 60)
        assertRejected(base("[drill]\nstop = [\"app\", \"--stop\"]"), line: 15, "stop needs start")
        assertRejected(base("[drill]\nstart = \"app --serve\""), line: 15, "start")
    }

    func testCopyTargetsAreReadAndChecked() throws {
        let repos = "[repositories.off]\npath = \"off\"\npassword_file = \"pw\"\n"   // lines 14–16, [[copy]] at 17
        let c = try parse(base(repos + "[[copy]]\nrepository = \"off\"\nkeep_daily = 30\nkeep_within = \"2d\""))
        XCTAssertEqual(c.copies.map(\.repository), ["off"])
        XCTAssertEqual(c.copies.first?.retention.keepDaily, 30)
        XCTAssertEqual(c.copies.first?.retention.keepWithin, 2 * 86400)
        XCTAssertEqual(c.backupRepositories, ["main"], "a copy target alone is not written by the backup itself")
        XCTAssertEqual(try c.readingFromCopy("off").mainDestination.path, dir.path + "/off")
        XCTAssertThrowsError(try c.readingFromCopy("main"))
        XCTAssertEqual(try parse(base()).copies.count, 0)
        assertRejected(base(repos + "[[copy]]\nrepository = \"elsewhere\""), line: 18, "is not defined")
        assertRejected(base(repos + "[[copy]]\nrepository = \"main\""), line: 18, "cannot be the main repository")
        assertRejected(base(repos + "[[copy]]\nrepository = \"off\"\nkeep_dayly = 3"), line: 19, "unknown key 'keep_dayly'")
        assertRejected(base(repos + "[[copy]]\nrepository = \"off\"\n[[copy]]\nrepository = \"off\""), line: 20, "already a copy target")
        assertRejected(base(repos + "[[copy]]\nrepository = \"off\"\nkeep_last = -1"), line: 19, "keep_last")
    }

    func testAlertEmailAndWebhookFormatAreReadAndChecked() throws {
        let c = try parse(base("""
        [alerts]
        email = ["ops@example.com", "dba+alerts@mail.example.org"]
        email_from = "backup@shop.example.com"
        sendmail = "/usr/bin/msmtp"
        webhook = "https://chat.example.com/hooks/x"
        webhook_format = "slack"
        """))
        XCTAssertEqual(c.alerts.email, ["ops@example.com", "dba+alerts@mail.example.org"])
        XCTAssertEqual(c.alerts.emailFrom, "backup@shop.example.com")
        XCTAssertEqual(c.alerts.sendmail, "/usr/bin/msmtp")
        XCTAssertEqual(c.alerts.webhookFormat, .slack)
        let d = try parse(base("[alerts]\nemail = [\"root@localhost\"]"))
        XCTAssertTrue(d.alerts.isConfigured, "e-mail alone is a channel")
        XCTAssertEqual(d.alerts.sendmail, "/usr/sbin/sendmail")
        XCTAssertEqual(d.alerts.webhookFormat, .json)
        // Each malformed address at its own element.
        assertRejected(base("[alerts]\nemail = [\"ops@example.com\", \"Ops <ops@example.com>\"]"), line: 15, column: 29, "no angle brackets")
        assertRejected(base("[alerts]\nemail = [\"ops@example.com\\nBcc: evil@example.com\"]"), line: 15, column: 10, "not an e-mail address")
        assertRejected(base("[alerts]\nemail = [\"ops@exa mple.com\"]"), line: 15, column: 10, "invalid domain")
        assertRejected(base("[alerts]\nemail = [\"ops@bücher.example\"]"), line: 15, column: 10, "xn--")
        assertRejected(base("[alerts]\nemail = [\"ops@example.com\"]\nemail_from = \"nobody\""), line: 16, column: 14, "not an e-mail address")
        assertRejected(base("[alerts]\nemail_from = \"a@b.c\""), line: 15, "email is not")
        assertRejected(base("[alerts]\nemail = [\"ops@example.com\"]\nsendmail = \"sendmail\""), line: 16, column: 12, "absolute path")
        assertRejected(base("[alerts]\nwebhook = \"http://x/\"\nwebhook_format = \"teams\""), line: 16, column: 18, "\"slack\"")
        assertRejected(base("[alerts]\nemail = \"ops@example.com\""), line: 15, column: 9, "a list of strings")
    }

    func testValidFileResolvesRelativePathsAgainstItsFolder() throws {
        let c = try parse(base())
        XCTAssertEqual(c.site, "shop")
        XCTAssertEqual(c.timeZone, .utc)
        XCTAssertEqual(c.mainDestination.path, dir.path + "/repo")
        XCTAssertEqual(c.mainDestination.passwordFile, dir.path + "/pw")
        XCTAssertEqual(c.stateDir, dir.path + "/state")
        XCTAssertEqual(c.stagingDir, dir.path + "/state/staging")
        XCTAssertEqual(c.components.map(\.paths), [[dir.path + "/data"]])
    }

    func testSyntaxErrorHasLineAndColumn() {
        assertRejected(base("oops = ", header: ""), line: 14, column: 8, "expected a value")
        assertRejected("site = \"shop\"\ntime_zone = UTC\n", line: 2, column: 13, "strings must be quoted")
    }

    func testUnknownKeyIsReportedAtTheKey() {
        assertRejected(base("", header: "colour = \"blue\""), line: 4, column: 1, "unknown key 'colour'")
        // Inside an array of tables, at the key's own line and column.
        assertRejected(base("[[component]]\nname = \"m\"\nkind = \"folders\"\npaths = [\"media\"]\n  pathz = [\"x\"]"), line: 18, column: 3, "unknown key 'pathz'")
    }

    func testWrongTypeIsReportedAtTheValue() {
        assertRejected(base("[retention]\nkeep_daily = \"seven\""), line: 15, column: 14, "keep_daily must be an integer")
        assertRejected(base("[[component]]\nname = \"m\"\nkind = \"folders\"\npaths = \"media\""), line: 17, column: 9, "paths must be a list of strings")
    }

    func testDuplicateComponent() {
        assertRejected(base("[[component]]\nname = \"data\"\nkind = \"folders\"\npaths = [\"media\"]"), line: 15, column: 8, "duplicate component 'data' (first defined at line 9)")
    }

    func testMissingPath() {
        assertRejected(base("[[component]]\nname = \"m\"\nkind = \"folders\"\npaths = [\"media\", \"nowhere\"]"), line: 17, column: 19, "does not exist")
        assertRejected(base("[[component]]\nname = \"db\"\nkind = \"database\"\nengine = \"sqlite\"\npath = \"missing.db\""), line: 18, column: 8, "database \(dir.path)/missing.db does not exist")
    }

    func testWriterNamingAMissingComponent() {
        assertRejected(base("[[writer]]\nname = \"app\"\nkind = \"command\"\nfreeze = [\"true\"]\nthaw = [\"true\"]\ncomponents = [\"data\", \"dtaa\"]"),
                       line: 19, column: 23, "names component 'dtaa', which does not exist")
    }

    func testComponentWithTwoWriters() {
        let w = "[[writer]]\nname = \"a\"\nkind = \"command\"\nfreeze = [\"true\"]\nthaw = [\"true\"]\ncomponents = [\"data\"]\n"
        assertRejected(base(w + w.replacingOccurrences(of: "\"a\"", with: "\"b\"")), line: 25, column: 15, "already has writer 'a'")
    }

    func testDestinationInsideABackedUpFolder() throws {
        try FileManager.default.createDirectory(atPath: dir.path + "/data/repo", withIntermediateDirectories: true)
        let text = base().replacingOccurrences(of: "path = \"repo\"", with: "path = \"data/repo\"")
        assertRejected(text, line: 6, column: 8, "is inside \(dir.path)/data, which component 'data' backs up")
        // The state folder too.
        assertRejected(base().replacingOccurrences(of: "state_dir = \"state\"", with: "state_dir = \"data/state\""), line: 3, column: 13, "state_dir")
    }

    func testScheduleSparserThanTheRetentionWindow() throws {
        assertRejected(base("[schedule]\ncalendar = \"Mon 02:00\""), line: 15, column: 12, "leaves up to 7d between runs, more than the retention window of 5d")
        assertRejected(base("[schedule]\ncalendar = \"Mon,Thu 02:00\"\nretention_window = \"3d\""), line: 15, column: 12, "leaves up to 4d")
        // With sparse = "warn" the file is accepted with a warning.
        let c = try parse(base("[schedule]\ncalendar = \"Sun 03:00\"\nsparse = \"warn\""))
        XCTAssertEqual(c.warnings.count, 1)
        XCTAssertTrue(c.warnings[0].contains(":15:12: schedule"), c.warnings[0])
        // Daily fits a 5-day window.
        XCTAssertEqual(try parse(base("[schedule]\ncalendar = \"daily 02:00\"")).schedule.calendar?.maximumGap, 86400)
    }

    func testMissingRequiredKeys() {
        assertRejected("site = \"shop\"\n[repository]\npath = \"repo\"\npassword_file = \"pw\"\n[[component]]\nname = \"d\"\nkind = \"folders\"\npaths = [\"data\"]\n",
                       line: 1, column: 1, "missing key 'time_zone'")
        assertRejected(base("[[component]]\nname = \"db\"\nkind = \"database\"\nengine = \"command\""), line: 14, "missing key 'dump_command'")
        assertRejected(base("[[writer]]\nname = \"w\"\nkind = \"signal\"\ncomponents = [\"data\"]"), line: 14, "missing key 'pid_file'")
    }

    func testKeysThatDoNotApplyToAKind() {
        assertRejected(base("[[component]]\nname = \"db\"\nkind = \"database\"\nengine = \"sqlite\"\npath = \"app.db\"\npaths = [\"data\"]"), line: 19, column: 1, "does not apply to a database component")
    }

    func testBadValues() {
        assertRejected(base("", header: "time_zone2 = 1").replacingOccurrences(of: "time_zone = \"UTC\"", with: "time_zone = \"Europe/Paris\""), line: 2, column: 13, "time_zone must be \"UTC\" or \"local\"")
        assertRejected(base("[hooks]\ntimeout = \"ten minutes\""), line: 15, column: 11, "invalid duration")
        assertRejected(base("[[component]]\nname = \"x\"\nkind = \"archive\"\npaths = [\"data\"]"), line: 16, column: 8, "kind must be one of")
        assertRejected(base("[schedule]\ncalendar = \"daily 25:00\""), line: 15, column: 12, "invalid time '25:00'")
        assertRejected(base("[alerts]\nwebhook = \"ftp://x\""), line: 15, column: 11, "http:// or https://")
        assertRejected(base("[[component]]\nname = \"bad name\"\nkind = \"folders\"\npaths = [\"data\"]"), line: 15, column: 8, "may hold only letters")
    }

    /// A password file others can read is refused at its key's value; read from a snapshot it is not checked.
    func testPasswordFileReadableByOthers() throws {
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: dir.path + "/pw")
        assertRejected(base(), line: 7, column: 17, "password file \(dir.path)/pw is readable by others (mode 644): anyone on this machine can read the password; chmod 600 \(dir.path)/pw")
        XCTAssertNoThrow(try parse(base(), checkPaths: false))
    }

    func testAllProblemsAreReportedAtOnce() throws {
        XCTAssertThrowsError(try parse(base("[retention]\nkeep_daily = \"x\"\nkeep_weeky = 3"))) { e in
            let problems = (e as? ControlFileError)?.problems ?? []
            XCTAssertEqual(problems.count, 2, "\(problems)")
        }
    }

    func testNonASCIIPaths() throws {
        let name = "données/überprüfung 日本"
        try FileManager.default.createDirectory(atPath: dir.path + "/" + name, withIntermediateDirectories: true)
        let c = try parse(base("[[component]]\nname = \"ü\"\nkind = \"folders\"\npaths = [\"\(name)\"]"))
        XCTAssertEqual(c.components[1].paths, [dir.path + "/" + name])
        XCTAssertEqual(c.components[1].name, "ü")
    }

    /// The complete example in docs/control-file.md is a valid control file.
    func testDocumentedExampleParses() throws {
        let docs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("docs/control-file.md")
        let text = try String(contentsOf: docs, encoding: .utf8)
        guard let marker = text.range(of: "<!-- complete-example -->"),
              let open = text.range(of: "```toml\n", range: marker.upperBound..<text.endIndex),
              let close = text.range(of: "\n```", range: open.upperBound..<text.endIndex) else {
            return XCTFail("docs/control-file.md has no complete example block")
        }
        let example = String(text[open.upperBound..<close.lowerBound])
        let c = try parse(example, checkPaths: false)
        XCTAssertGreaterThanOrEqual(c.components.count, 4)
        XCTAssertEqual(Set(c.components.map(\.kind)), Set(ComponentKind.allCases))
        XCTAssertGreaterThanOrEqual(c.destinations.count, 2)
        XCTAssertGreaterThanOrEqual(c.writers.count, 2)
        XCTAssertNotNil(c.schedule.calendar)
        XCTAssertNotNil(c.hooks.afterBackup)
        XCTAssertTrue(c.alerts.isConfigured)
    }

    /// `consistency`: "component" by default, "site" accepted (with a warning for each database that
    /// can only be streamed inside the window), anything else refused at the value.
    func testConsistency() throws {
        XCTAssertEqual(try parse(base()).consistency, .component)
        let dump = "[[component]]\nname = \"cache\"\nkind = \"database\"\nengine = \"command\"\ndump_command = [\"echo\", \"x\"]\n"
        let site = try parse(base(dump, header: "consistency = \"site\""))
        XCTAssertEqual(site.consistency, .site)
        XCTAssertEqual(site.warnings.count, 1, "\(site.warnings)")
        XCTAssertTrue(site.warnings.first?.hasPrefix("\(file):15:1: component 'cache'") ?? false, "\(site.warnings)")
        XCTAssertTrue(site.warnings.first?.contains("inside the freeze window") ?? false)
        XCTAssertEqual(try parse(base(dump, header: "consistency = \"component\"")).warnings, [])
        assertRejected(base(header: "consistency = \"sites\""), line: 4, column: 15, "consistency must be \"component\"")
        assertRejected(base(header: "consistency = \"sites\""), line: 4, column: 15, "not \"sites\"")
        assertRejected(base(header: "consistency = true"), line: 4, column: 15, "consistency must be")
    }
}

final class ScheduleTests: XCTestCase {
    func gap(_ s: String) -> Double? { try? Schedule.parse(s).get().maximumGap }

    func testGaps() {
        XCTAssertEqual(gap("daily 02:00"), 86400)
        XCTAssertEqual(gap("daily 02:00,14:00"), 43200)
        XCTAssertEqual(gap("daily 02:00,04:00"), 22 * 3600)
        XCTAssertEqual(gap("Mon,Thu 02:00"), 4 * 86400)
        XCTAssertEqual(gap("Mon..Fri 22:30"), 3 * 86400)
        XCTAssertEqual(gap("Sat..Mon 01:00"), 5 * 86400)
        XCTAssertEqual(gap("Sun 03:00"), 7 * 86400)
        XCTAssertEqual(gap("hourly :15"), 3600)
        XCTAssertEqual(gap("every 1s"), 1)
        XCTAssertEqual(gap("every 1h30m"), 5400)
    }

    func testRejected() {
        for bad in ["", "daily", "daily 2", "daily 24:00", "Moonday 02:00", "every", "every 0s", "hourly 15", "Mon.Fri 02:00", "daily 02:00 extra"] {
            if case .success = Schedule.parse(bad) { XCTFail("accepted \"\(bad)\"") }
        }
    }

    func testDurations() {
        XCTAssertEqual(DurationText.parse("5d"), 432000)
        XCTAssertEqual(DurationText.parse("1h30m"), 5400)
        XCTAssertNil(DurationText.parse("5"))
        XCTAssertNil(DurationText.parse("5x"))
        XCTAssertEqual(DurationText.format(432000), "5d")
    }
}

/// docs/status-messages.md lists every status message ID with its name and severity.
final class StatusMessageDocsTests: XCTestCase {
    func testEveryMessageIsDocumented() throws {
        let docs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("docs/status-messages.md")
        let text = try String(contentsOf: docs, encoding: .utf8)
        for m in MessageID.allCases {
            let row = "| \(m.rawValue) | `\(m)` | \(m.severity.rawValue) |"
            XCTAssertTrue(text.contains(row), "docs/status-messages.md lacks the row \(row)")
        }
    }
}
