import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// The web console served by `sitevault service --listen`, driven over HTTP like a browser:
/// login, dashboard, CSRF, read-only role, the login limiter, actions and /metrics.
final class ConsoleTests: ConsoleTestCase {
    func testLoginDashboardActionsCSRFReadOnlyAndMetrics() throws {
        try makeSite()
        let second = try addSite("second")
        let broken = try addSite("broken", repository: "backup/missing")
        try setPassword("admin", "admin-password-1")
        try setPassword("viewer", "viewer-password-1", readOnly: true)
        let st = try FileManager.default.attributesOfItem(atPath: consoleDir + "/users.json")
        XCTAssertEqual((st[.posixPermissions] as? Int) ?? 0, 0o600, "the users file is private")
        let users = try String(contentsOfFile: consoleDir + "/users.json", encoding: .utf8)
        XCTAssertFalse(users.contains("admin-password-1"), "only a hash is stored")
        let base = try startConsole(sites: [controlFile, second, broken])

        // Not logged in: the login page; a wrong password is refused.
        let anon = ConsoleClient(base: base, folder: tmp.path)
        XCTAssertEqual(anon.get("/").status, 303)
        XCTAssertTrue(anon.get("/login").body.contains("name=\"password\""))
        XCTAssertEqual(anon.login("admin", "wrong-password").status, 401)
        XCTAssertEqual(anon.get("/sites/sample").status, 303, "site pages need a session too")

        // The administrator: every site listed, with its state.
        let admin = ConsoleClient(base: base, folder: tmp.path)
        let login = admin.login("admin", "admin-password-1")
        XCTAssertEqual(login.status, 303, login.body)
        XCTAssertTrue(login.headers.lowercased().contains("set-cookie: sitevault_session="), login.headers)
        XCTAssertTrue(login.headers.contains("HttpOnly") && login.headers.contains("SameSite=Strict"), login.headers)
        XCTAssertFalse(login.headers.contains("Secure"), "plain HTTP on loopback: no Secure cookie (a browser would not send it)")
        XCTAssertFalse(consoleLog.contains("without TLS"), "no plain-text warning on loopback: \(consoleLog)")
        let dash = admin.get("/")
        XCTAssertEqual(dash.status, 200)
        for name in ["sample", "second", "broken"] { XCTAssertEqual(rowState(dash.body, name), "never run", "row of \(name)") }
        XCTAssertFalse(dash.body.contains("sample-test-password"), "no secret on the page")
        guard let csrf = admin.csrf() else { return XCTFail("no CSRF token on the page") }

        // An action without the CSRF token, or with another session's, is refused and does nothing.
        XCTAssertEqual(admin.post("/sites/sample/actions/backup", [:]).status, 403)
        XCTAssertEqual(admin.post("/sites/sample/actions/backup", ["csrf": "not-the-token"]).status, 403)
        usleep(500_000)
        XCTAssertFalse(try messageIDs().contains(1703), "no run was requested")

        // The read-only user sees everything but cannot act.
        let viewer = ConsoleClient(base: base, folder: tmp.path)
        XCTAssertEqual(viewer.login("viewer", "viewer-password-1").status, 303)
        XCTAssertEqual(rowState(viewer.get("/").body, "sample"), "never run")
        XCTAssertFalse(viewer.get("/sites/sample").body.contains("action-backup"), "no buttons for a read-only user")
        let refused = viewer.post("/sites/sample/actions/backup", ["csrf": viewer.csrf() ?? ""])
        XCTAssertEqual(refused.status, 403, refused.body)
        XCTAssertTrue(refused.body.contains("read-only"))

        // The administrator's "run a backup now": confirmation page, then queued, running, done.
        XCTAssertTrue(admin.get("/sites/sample/confirm/backup").body.contains("action=\"/sites/sample/actions/backup\""))
        let queued = admin.post("/sites/sample/actions/backup", ["csrf": csrf])
        XCTAssertEqual(queued.status, 303, queued.body)
        XCTAssertEqual(admin.post("/sites/broken/actions/backup", ["csrf": csrf]).status, 303)
        _ = waitFor("the sample backup to land in the dashboard") { rowState(admin.get("/").body, "sample") == "healthy" }
        _ = waitFor("the broken site's run to fail") { rowState(admin.get("/").body, "broken") == "failed" }
        XCTAssertEqual(rowState(admin.get("/").body, "second"), "never run")
        let ids = try messageIDs()
        XCTAssertTrue(ids.contains(1703) && ids.contains(1900), "requested in the console, then succeeded: \(ids)")

        // The site page: chart, run log link, the messages filtered by ID.
        let page = admin.get("/sites/sample?id=1900")
        XCTAssertEqual(page.status, 200)
        XCTAssertTrue(page.body.contains("<svg") && page.body.contains("<rect class=\"succeeded\""), "the timeline has the run")
        XCTAssertTrue(page.body.contains("<td>1900</td>"))
        XCTAssertFalse(page.body.contains("<td>1000</td>"), "the ID filter leaves other messages out")
        guard let r = page.body.range(of: "/sites/sample/runs/") else { return XCTFail("no run log link") }
        let runPath = String(page.body[r.lowerBound...].prefix { $0 != "\"" })
        let log = admin.get(runPath)
        XCTAssertEqual(log.status, 200)
        XCTAssertTrue(log.body.contains("  1900  INFO"), log.body)
        XCTAssertEqual(admin.get("/sites/nosuchsite").status, 404)
        XCTAssertTrue(admin.get("/sites/sample/chart.svg").body.hasPrefix("<svg"))

        // /metrics (loopback: no token) has the values of the run.
        let metrics = anon.get("/metrics")
        XCTAssertEqual(metrics.status, 200)
        XCTAssertTrue(metrics.body.contains("sitevault_last_run_success{site=\"sample\"} 1\n"), metrics.body)
        XCTAssertTrue(metrics.body.contains("sitevault_last_run_success{site=\"broken\"} 0\n"), metrics.body)
        XCTAssertTrue(metrics.body.contains("sitevault_component_success{site=\"sample\",component=\"database\"} 1\n"), metrics.body)
        XCTAssertTrue(metrics.body.contains("sitevault_snapshots{site=\"sample\"} 1\n"), metrics.body)
        XCTAssertTrue(metrics.body.contains("sitevault_stale{site=\"sample\"} 0\n"), metrics.body)
        // The repository's size as the run's index counted it: the blobs stored in its packs, at most
        // what `stats` finds on disk in them (pack headers included there), and most of it.
        let sizeLine = metrics.body.split(separator: "\n").first { $0.hasPrefix("sitevault_repository_size_bytes{site=\"sample\",repository=\"main\"} ") }
        let size = sizeLine.flatMap { Double($0.split(separator: " ").last ?? "") } ?? 0
        let stats = json(try repoRun(["stats", "--json"]))
        let stored = (stats["storedSize"] as? Double) ?? Double((stats["storedSize"] as? Int) ?? 0)
        XCTAssertTrue(size > 0 && size <= stored && size > stored * 0.5, "repository size \(sizeLine ?? "missing") against stats' \(stored)")
        XCTAssertFalse(metrics.body.contains("sitevault_repository_size_bytes{site=\"broken\""), "the broken site committed nothing")
        XCTAssertTrue(metrics.body.contains("sitevault_stale{site=\"second\"} 1\n"), metrics.body)
        let success = metrics.body.split(separator: "\n").first { $0.hasPrefix("sitevault_last_success_timestamp_seconds{site=\"sample\"}") }
        let t = success.flatMap { Double($0.split(separator: " ").last ?? "") } ?? 0
        XCTAssertLessThan(abs(t - Date().timeIntervalSince1970), 300, "last success is now: \(success ?? "missing")")
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/promtool") {
            let file = tmp.path + "/metrics.txt"
            try metrics.body.write(toFile: file, atomically: true, encoding: .utf8)
            XCTAssertEqual(shell("promtool check metrics < \(file) > \(tmp.path)/promtool.log 2>&1"), 0,
                           (try? String(contentsOfFile: tmp.path + "/promtool.log", encoding: .utf8)) ?? "")
        }

        // Logging out ends the session.
        XCTAssertEqual(admin.post("/logout", ["csrf": csrf]).status, 303)
        XCTAssertEqual(admin.get("/").status, 303)
    }

    /// A drill run from its button lands in the drills and the metrics; the staleness alarm of a
    /// never-run site is acknowledged (message 1601) and shown so.
    func testDrillNowAndAcknowledgeTheAlarm() throws {
        try makeSite()
        let second = try addSite("second")
        XCTAssertEqual(try siteRun("backup").status, 0)
        try setPassword("admin", "admin-password-1")
        let base = try startConsole(sites: [controlFile, second])
        let admin = ConsoleClient(base: base, folder: tmp.path)
        XCTAssertEqual(admin.login("admin", "admin-password-1").status, 303)
        guard let csrf = admin.csrf() else { return XCTFail("no CSRF token") }
        _ = waitFor("the alarm of the never-run site") { admin.get("/metrics").body.contains("sitevault_staleness_alarm{site=\"second\"} 1") }
        XCTAssertTrue(admin.get("/sites/second").body.contains("id=\"action-acknowledge\""), "the alarm can be acknowledged")
        XCTAssertFalse(admin.get("/sites/sample").body.contains("id=\"action-thaw\""), "nothing frozen: no thaw button")
        XCTAssertEqual(admin.post("/sites/second/actions/acknowledge", ["csrf": csrf]).status, 303)
        let row = admin.get("/").body
        XCTAssertTrue(row.contains("ALARM <small>(acknowledged)</small>"), row)
        messagesControl = second
        XCTAssertTrue(try messageIDs().contains(1601), "the acknowledgement is recorded")
        messagesControl = nil

        XCTAssertEqual(admin.post("/sites/sample/actions/drill", ["csrf": csrf]).status, 303)
        _ = waitFor("the drill to pass", timeout: 180) { admin.get("/metrics").body.contains("sitevault_last_drill_success{site=\"sample\"} 1") }
        let metrics = admin.get("/metrics").body
        let recovery = metrics.split(separator: "\n").first { $0.hasPrefix("sitevault_last_drill_recovery_seconds{site=\"sample\"}") }
        XCTAssertGreaterThan(recovery.flatMap { Double($0.split(separator: " ").last ?? "") } ?? 0, 0, "recovery time measured")
        let page = admin.get("/sites/sample").body
        XCTAssertTrue(page.contains("<h2>Recovery drills</h2>") && page.contains("<td>passed"), "the drill is listed")
        XCTAssertTrue(page.contains("drill 20") && page.contains(": recovery "), "the drill is charted")
    }

    /// A run killed with SIGKILL while the application is frozen leaves a freeze record: the site
    /// shows "frozen", and the console's thaw button brings the application back.
    func testThawFromTheConsole() throws {
        try makeSite()
        try appendDumpComponent("slow", script: "echo $$ > \(site!)/run/dump.pid; touch \(site!)/run/frozen; exec sleep 60",
                                frozenBy: "app-stop")
        let run = try startSite("backup")
        XCTAssertTrue(waitForFile(site + "/run/frozen", timeout: 60))
        run.kill9()
        _ = run.wait(timeout: 30)
        XCTAssertEqual(appState(), "T", "the application is left stopped")
        if let pid = Int32(((try? String(contentsOfFile: site + "/run/dump.pid", encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)) {
            extraPids.append(pid)
        }
        try setPassword("admin", "admin-password-1")
        let base = try startConsole(sites: [controlFile])
        let admin = ConsoleClient(base: base, folder: tmp.path)
        XCTAssertEqual(admin.login("admin", "admin-password-1").status, 303)
        XCTAssertEqual(rowState(admin.get("/").body, "sample"), "frozen")
        XCTAssertTrue(admin.get("/metrics").body.contains("sitevault_frozen_writers{site=\"sample\"} 1"))
        let page = admin.get("/sites/sample").body
        XCTAssertTrue(page.contains("id=\"action-thaw\""), "a thaw button while the freeze record exists")
        XCTAssertEqual(admin.post("/sites/sample/actions/thaw", ["csrf": admin.csrf() ?? ""]).status, 303)
        _ = waitFor("the thaw") { appState() != "T" && !FileManager.default.fileExists(atPath: site + "/state/freeze.json") }
        XCTAssertNotEqual(rowState(admin.get("/").body, "sample"), "frozen")
        XCTAssertTrue(try messageIDs().contains(1002), "thawed (message 1002)")
    }

    /// After five wrong passwords from one address, even the right one is refused for a while.
    func testLoginAttemptsAreLimited() throws {
        try makeSite()
        try setPassword("admin", "admin-password-1")
        let base = try startConsole(sites: [controlFile])
        let guesser = ConsoleClient(base: base, folder: tmp.path)
        for i in 0..<5 { XCTAssertEqual(guesser.login("admin", "guess-\(i)").status, 401, "attempt \(i)") }
        let t0 = Date()
        let refused = guesser.login("admin", "admin-password-1")
        XCTAssertEqual(refused.status, 429, refused.body)
        XCTAssertGreaterThanOrEqual(Date().timeIntervalSince(t0), 0.9, "a refused attempt is also slowed down")
        XCTAssertTrue(refused.body.contains("Too many failed logins"))
        XCTAssertTrue(refused.headers.contains("Retry-After"), refused.headers)
        XCTAssertEqual(guesser.get("/").status, 303, "not logged in")
    }

    /// A login form posted without its token (from another site) is refused.
    func testLoginFormNeedsItsToken() throws {
        try makeSite()
        try setPassword("admin", "admin-password-1")
        let base = try startConsole(sites: [controlFile])
        let c = ConsoleClient(base: base, folder: tmp.path)
        XCTAssertEqual(c.post("/login", ["user": "admin", "password": "admin-password-1"]).status, 403)
        XCTAssertEqual(c.get("/").status, 303)
    }
}
