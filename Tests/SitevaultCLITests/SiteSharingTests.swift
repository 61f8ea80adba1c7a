import Foundation
import VaultTesting
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Two sites, two control files, one repository: each site's snapshots are its own (`site forget`
/// never touches the other's), `sitevault sites` lists both, and install media both sites hold is
/// stored once (`stats`).
final class SiteSharingTests: SiteTestCase {
    var second: String { site + "/second.toml" }

    /// A second site in the same repository, holding the same install media as the sample site.
    func writeSecondSite() throws {
        try """
        site = "second"
        time_zone = "UTC"
        state_dir = "state2"

        [repository]
        path = "backup/repo"
        password_file = "backup/password"

        [retention]
        keep_last = 1

        [[component]]
        name = "media"
        kind = "install-media"
        paths = ["opt/sampleapp"]
        version = "1.4.2"
        """.write(toFile: second, atomically: true, encoding: .utf8)
    }

    func sites() throws -> [[String: Any]] {
        let r = try repoRun(["sites", "--json"])
        XCTAssertEqual(r.status, 0, "\(r)")
        return r.json as? [[String: Any]] ?? []
    }

    func snapshots(of name: String) throws -> [String] {
        let r = try repoRun(["snapshots", "--json", "--tag", "site=\(name)"])
        return (r.json as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
    }

    func testTwoSitesShareOneRepository() throws {
        try makeSite()
        try writeSecondSite()
        for control in [controlFile, second, controlFile, second, second] {
            let r = try siteRun("backup", "--json", control: control)
            XCTAssertEqual(r.status, 0, "\(r)")
        }
        let sampleBefore = try snapshots(of: "sample")
        XCTAssertEqual(sampleBefore.count, 2)
        XCTAssertEqual(try snapshots(of: "second").count, 3)

        // `site forget` of the second site keeps its newest only and leaves the sample site's alone.
        let f = try siteRun("forget", "--json", "--prune", control: second)
        XCTAssertEqual(f.status, 0, "\(f)")
        XCTAssertEqual(try snapshots(of: "second").count, 1)
        XCTAssertEqual(try snapshots(of: "sample"), sampleBefore, "another site's snapshots are never touched")
        for d in json(f)["decisions"] as? [[String: Any]] ?? [] {
            XCTAssertFalse(sampleBefore.contains(d["id"] as? String ?? ""), "the plan names only the site's own snapshots")
        }
        XCTAssertEqual(try repoRun(["check", "--read-data"]).status, 0)

        // A drill of the sample site is recorded in the repository.
        let drill = try siteRun("drill", "--json")
        XCTAssertEqual(drill.status, 0, "\(drill)")

        let list = try sites()
        XCTAssertEqual(list.compactMap { $0["site"] as? String }, ["sample", "second"])
        let sample = list.first { $0["site"] as? String == "sample" }
        XCTAssertEqual(sample?["snapshots"] as? Int, 2)
        XCTAssertEqual(sample?["newest"] as? String, sampleBefore.last)
        XCTAssertGreaterThan(sample?["size"] as? Int ?? 0, 0)
        XCTAssertEqual((sample?["lastDrill"] as? [String: Any])?["result"] as? String, "passed")
        XCTAssertNil(list.first { $0["site"] as? String == "second" }?["lastDrill"])
        XCTAssertTrue(try repoRun(["sites"]).stdout.contains("second"))

        // The install media both sites hold is stored once.
        let stats = try repoRun(["stats", "--json"])
        XCTAssertEqual(stats.status, 0, "\(stats)")
        let groups = (json(stats)["sites"] as? [String: Any])?["groups"] as? [[String: Any]] ?? []
        XCTAssertEqual(groups.compactMap { $0["name"] as? String }, ["sample", "second"])
        let media = try FileManager.default.attributesOfItem(atPath: site + "/opt/sampleapp/sampleapp.py")[.size] as? Int ?? 0
        let shared = (json(stats)["sites"] as? [String: Any])?["sharedSize"] as? Int ?? 0
        XCTAssertGreaterThanOrEqual(shared, media, "the media's content is used by both sites: \(stats.stdout)")
        let secondGroup = groups.first { $0["name"] as? String == "second" }
        // The second site's own bytes are only its control file and manifest (.sitevault/).
        XCTAssertLessThan(secondGroup?["exclusiveSize"] as? Int ?? .max, secondGroup?["sharedSize"] as? Int ?? 0, "\(stats.stdout)")
        XCTAssertTrue(try repoRun(["stats"]).stdout.contains("stored once"))
    }
}
