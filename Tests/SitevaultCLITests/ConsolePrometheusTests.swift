import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// A real Prometheus (Debian's `prometheus`) scrapes the console's /metrics with the shipped rules
/// file loaded; the values and the alerts are read back through its HTTP API.
final class ConsolePrometheusTests: ConsoleTestCase {
    var prometheusPid: Int32?

    override func tearDown() {
        if let p = prometheusPid { kill(p, SIGTERM); for _ in 0..<100 where kill(p, 0) == 0 { usleep(50_000) }; kill(p, SIGKILL) }
        super.tearDown()
    }

    func testPrometheusScrapesTheMetricsAndLoadsTheRules() throws {
        try requireTool("/usr/bin/prometheus")
        try makeSite()
        let broken = try addSite("broken", repository: "backup/missing")
        XCTAssertEqual(try siteRun("backup").status, 0)
        XCTAssertNotEqual(try siteRun("backup", control: broken).status, 0, "the broken site's run fails")
        let base = try startConsole(sites: [controlFile, broken])
        let target = base.replacingOccurrences(of: "http://", with: "").replacingOccurrences(of: "/", with: "")
        let rules = sourceRoot + "/packaging/prometheus/sitevault.rules.yml"
        let dir = tmp.path + "/prometheus"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        // The shipped rules file passes promtool (Debian's prometheus package brings it).
        try requireTool("/usr/bin/promtool")
        XCTAssertEqual(shell("/usr/bin/promtool check rules '\(rules)' > '\(dir)/promtool.log' 2>&1"), 0,
                       (try? String(contentsOfFile: dir + "/promtool.log", encoding: .utf8)) ?? "")
        try """
        global:
          scrape_interval: 1s
          evaluation_interval: 1s
        rule_files: ["\(rules)"]
        scrape_configs:
          - job_name: sitevault
            static_configs:
              - targets: ["\(target)"]
        """.write(toFile: dir + "/prometheus.yml", atomically: true, encoding: .utf8)
        let port = freePort()
        // Started through SiteSystem's runner (Foundation's Process would wait for the daemon), by a
        // shell that returns at once: output to a file, the pid to another.
        let started = PostgresCluster.sh("""
            cd '\(dir)' || exit 1; /usr/bin/prometheus --config.file=prometheus.yml --storage.tsdb.path=data \
            --web.listen-address=127.0.0.1:\(port) > prometheus.log 2>&1 < /dev/null & echo $! > prometheus.pid
            """)
        XCTAssertEqual(started.status, 0, started.output)
        prometheusPid = Int32((try String(contentsOfFile: dir + "/prometheus.pid", encoding: .utf8)).trimmingCharacters(in: .whitespacesAndNewlines))
        let api = ConsoleClient(base: "http://127.0.0.1:\(port)", folder: tmp.path)
        func query(_ q: String) -> String? {
            let r = api.get("/api/v1/query?query=" + (q.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""))
            guard r.status == 200, let o = try? JSONSerialization.jsonObject(with: Data(r.body.utf8)) as? [String: Any],
                  let result = (o["data"] as? [String: Any])?["result"] as? [[String: Any]],
                  let value = result.first?["value"] as? [Any] else { return nil }
            return value.last as? String
        }
        let log = { (try? String(contentsOfFile: dir + "/prometheus.log", encoding: .utf8)) ?? "" }
        _ = waitFor("Prometheus to scrape the console", timeout: 90) { query("sitevault_last_run_success{site=\"sample\"}") != nil }
        XCTAssertEqual(query("sitevault_last_run_success{site=\"sample\"}"), "1", log())
        XCTAssertEqual(query("sitevault_last_run_success{site=\"broken\"}"), "0")
        XCTAssertEqual(query("sitevault_component_success{site=\"sample\",component=\"database\"}"), "1")
        XCTAssertEqual(query("up{job=\"sitevault\"}"), "1")
        let size = Double(query("sitevault_repository_size_bytes{site=\"sample\",repository=\"main\"}") ?? "") ?? 0
        XCTAssertGreaterThan(size, 0, "the run recorded its repository's size")
        let age = Double(query("time() - sitevault_last_success_timestamp_seconds{site=\"sample\"}") ?? "") ?? -1
        XCTAssertTrue(age >= 0 && age < 600, "the last success is recent: \(age)")

        // The rules file is loaded and its alerts evaluate: the broken site's backup alert is pending.
        let rulesReply = api.get("/api/v1/rules")
        XCTAssertTrue(rulesReply.body.contains("\"SitevaultBackupFailed\"") && rulesReply.body.contains("\"SitevaultSiteStale\""),
                      rulesReply.body)
        _ = waitFor("the SitevaultBackupFailed alert", timeout: 60) {
            let a = api.get("/api/v1/alerts").body
            return a.contains("\"alertname\":\"SitevaultBackupFailed\"") && a.contains("\"site\":\"broken\"")
        }
        let alerts = api.get("/api/v1/alerts").body
        XCTAssertFalse(alerts.contains("\"site\":\"sample\""), "the healthy site raises no alert: \(alerts)")
    }
}
