import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// `sitevault service` with several sites: they run at the same time within `--max-parallel`, and
/// `--max-per-repository 1` makes sites of one repository take turns.
final class ServiceConcurrencyTests: SiteTestCase {
    /// Three sites in one repository, each backup taking at least 3 s (a dump that sleeps).
    func makeSites() throws -> [String] {
        let body = """
        [schedule]
        calendar = "every 1s"

        [[component]]
        name = "slow"
        kind = "database"
        engine = "command"
        dump_command = ["sh", "-c", "sleep 3; echo dumped"]

        """
        try makeBareSite("one", body: body)
        var files = [controlFile]
        for name in ["two", "three"] {
            let s = try String(contentsOfFile: controlFile, encoding: .utf8)
                .replacingOccurrences(of: "site = \"one\"", with: "site = \"\(name)\"")
                .replacingOccurrences(of: "state_dir = \"state\"", with: "state_dir = \"state-\(name)\"")
            let f = site + "/\(name).toml"
            try s.write(toFile: f, atomically: true, encoding: .utf8)
            files.append(f)
        }
        return files
    }

    /// Each finished backup run of a site as (first message, last message) in Unix seconds.
    func runSpans(_ control: String) throws -> [(Double, Double)] {
        let r = try CLI.run(["site", "messages", "--json", "--limit", "10000", "--site", control])
        XCTAssertEqual(r.status, 0, "\(r)")
        let iso = ISO8601DateFormatter()
        var spans: [String: (Double, Double)] = [:]
        var finished = Set<String>()
        for m in r.json as? [[String: Any]] ?? [] {
            guard let run = m["run"] as? String, run != "service", let t = (m["time"] as? String).flatMap(iso.date(from:)) else { continue }
            let s = t.timeIntervalSince1970
            spans[run] = spans[run].map { (min($0.0, s), max($0.1, s)) } ?? (s, s)
            if m["id"] as? Int == 1900 { finished.insert(run) }
        }
        return spans.filter { finished.contains($0.key) }.map(\.value)
    }

    /// Runs the service on `files` until every site has finished `runs` backups.
    func serve(_ files: [String], _ extra: [String], runs: Int) throws {
        let service = try CLI.start(["service"] + files.flatMap { ["--site", $0] } + extra)
        let end = Date().addingTimeInterval(120)
        while Date() < end, try files.contains(where: { try runSpans($0).count < runs }) { usleep(500_000) }
        kill(service.pid, SIGTERM)
        let r = service.wait(timeout: 60)
        XCTAssertEqual(r.status, 0, "\(r)")
    }

    /// How many pairs of runs of different sites overlapped in time.
    func overlaps(_ files: [String]) throws -> Int {
        let spans = try files.map { try runSpans($0) }
        var n = 0
        for a in spans.indices { for b in spans.indices where b > a {
            for x in spans[a] { for y in spans[b] where max(x.0, y.0) < min(x.1, y.1) { n += 1 } }
        } }
        return n
    }

    func testSitesRunTogetherWithinTheLimits() throws {
        let files = try makeSites()
        try serve(files, ["--max-parallel", "3", "--max-per-repository", "3"], runs: 1)
        XCTAssertGreaterThan(try overlaps(files), 0, "three sites, three slots: their backups ran at the same time")
        XCTAssertEqual(try repoRun(["check"]).status, 0)
    }

    func testOneRunPerRepositoryMakesSitesTakeTurns() throws {
        let files = try makeSites()
        try serve(files, ["--max-parallel", "3", "--max-per-repository", "1"], runs: 1)
        for f in files { XCTAssertGreaterThanOrEqual(try runSpans(f).count, 1, f) }
        XCTAssertEqual(try overlaps(files), 0, "one run at a time into the shared repository")
    }
}
