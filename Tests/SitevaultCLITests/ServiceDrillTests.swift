import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// `sitevault service` runs recovery drills on their own schedule, and `site status` shows the last one.
final class ServiceDrillTests: SiteTestCase {
    func testServiceRunsDrillsOnTheirSchedule() throws {
        try makeSite()
        try replaceInControlFile("calendar = \"daily 02:00\"", "calendar = \"every 1s\"")
        // The drill's own command checks the restored data folder is in the sandbox.
        try appendToControlFile("""
            [drill]
            schedule = "every 3s"
            command = ["/bin/sh", "-c", "test -d \\"$SITEVAULT_SANDBOX\(site!)/srv/data\\" && test -n \\"$SITEVAULT_DRILL_SQLITE_DATABASE\\""]
            """)
        let service = try CLI.start(["service", "--site", controlFile])
        let end = Date().addingTimeInterval(90)
        while Date() < end, (try? messageIDs().filter { $0 == 1911 }.count) ?? 0 < 2 { usleep(200_000) }
        kill(service.pid, SIGTERM)
        let r = service.wait(timeout: 120)
        XCTAssertEqual(r.status, 0, "\(r)")
        let ids = try messageIDs()
        XCTAssertGreaterThanOrEqual(ids.filter { $0 == 1911 }.count, 2, "drills passed on their schedule: \(ids)")
        XCTAssertFalse(ids.contains(2911), "no drill failed")
        XCTAssertTrue(try messages().contains { ($0["text"] as? String)?.contains("drills \"every 3s\"") == true }, "the service announces the drill schedule")
        let status = try siteRun("status", "--json")
        let json = try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any]
        let drill = json?["lastDrill"] as? [String: Any]
        XCTAssertEqual(drill?["result"] as? String, "passed", status.stdout)
        XCTAssertGreaterThan(drill?["recoverySeconds"] as? Double ?? 0, 0)
        XCTAssertNotNil(json?["nextDrillUTC"] as? String)
        let text = try siteRun("status")
        XCTAssertTrue(text.stdout.contains("last drill") && text.stdout.contains("passed"), text.stdout)
        // Every sandbox was removed.
        let left = (try? FileManager.default.contentsOfDirectory(atPath: site + "/state/drill")) ?? []
        XCTAssertEqual(left, [], "drill sandboxes are removed")
    }
}
