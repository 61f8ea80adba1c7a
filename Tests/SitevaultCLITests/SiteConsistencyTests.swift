import Foundation
import VaultTesting
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// `consistency = "site"`: one freeze window around every consistent copy, always thawed.
final class SiteConsistencyTests: SiteTestCase {
    /// The sample site (writer "app" pauses the application for "data") plus a `command` writer
    /// "scripts" for the SQLite database, whose freeze and thaw append to run/order.log.
    /// `freeze` is extra shell run by its freeze command.
    func makeTwoWriterSite(consistency: String?, freeze: String = "", components: String = "\"database\"") throws {
        try makeSite()
        if let consistency { try replaceInControlFile("state_dir = \"state\"\n", "state_dir = \"state\"\nconsistency = \"\(consistency)\"\n") }
        let log = site + "/run/order.log"
        try appendToControlFile("""

        [[writer]]
        name = "scripts"
        kind = "command"
        freeze = ["sh", "-c", "echo freeze scripts >> \(log); \(freeze)"]
        thaw = ["sh", "-c", "echo thaw scripts >> \(log); [ -d \(site!)/srv/data.away ] && mv \(site!)/srv/data.away \(site!)/srv/data; true"]
        components = [\(components)]

        """)
    }

    struct Interval { var from: Int64; var to: Int64 }

    func freezes(_ r: CLI.Result) -> [String: Interval] {
        var out: [String: Interval] = [:]
        for f in json(r)["freezes"] as? [[String: Any]] ?? [] {
            guard let name = f["writer"] as? String, let a = nanos(f["frozenAt"]), let b = nanos(f["thawedAt"]) else { continue }
            out[name] = Interval(from: a, to: b)
        }
        return out
    }

    func copies(_ r: CLI.Result) -> [String: Interval] {
        var out: [String: Interval] = [:]
        for c in json(r)["components"] as? [[String: Any]] ?? [] {
            guard let name = c["name"] as? String, let a = nanos(c["copyStarted"]), let b = nanos(c["copyFinished"]) else { continue }
            out[name] = Interval(from: a, to: b)
        }
        return out
    }

    /// A Timestamp in the JSON report (an object with "nanoseconds", or a bare number).
    func nanos(_ v: Any?) -> Int64? {
        if let n = v as? NSNumber { return n.int64Value }
        if let o = v as? [String: Any], let n = o["nanoseconds"] as? NSNumber { return n.int64Value }
        return nil
    }

    func testSiteWindowCoversEveryCopy() throws {
        try makeTwoWriterSite(consistency: "site")
        let r = try siteRun("backup", "--json")
        XCTAssertEqual(r.status, 0, "\(r)")
        XCTAssertEqual(json(r)["consistency"] as? String, "site")
        let f = freezes(r), c = copies(r)
        let app = try XCTUnwrap(f["app"], "\(json(r)["freezes"] ?? "")"), scripts = try XCTUnwrap(f["scripts"])
        // Frozen in file order, thawed in reverse: the intervals nest into one window.
        XCTAssertLessThanOrEqual(app.from, scripts.from, "app freezes first")
        XCTAssertLessThanOrEqual(scripts.to, app.to, "app thaws last")
        let windowStart = max(app.from, scripts.from), windowEnd = min(app.to, scripts.to)
        XCTAssertLessThan(windowStart, windowEnd, "both writers are frozen at once")
        for name in ["data", "database"] {
            let copy = try XCTUnwrap(c[name], "copy times of \(name): \(json(r)["components"] ?? "")")
            XCTAssertGreaterThanOrEqual(copy.from, windowStart, "\(name) is copied after every writer froze")
            XCTAssertLessThanOrEqual(copy.to, windowEnd, "\(name) is copied before any writer thaws")
        }
        let order = try String(contentsOfFile: site + "/run/order.log", encoding: .utf8)
        XCTAssertEqual(order, "freeze scripts\nthaw scripts\n")
        let ids = try messageIDs(run: json(r)["runID"] as? String)
        XCTAssertEqual(ids.filter { $0 == 1200 }.count, 2)
        XCTAssertEqual(ids.filter { $0 == 1201 }.count, 2)
        let lastThaw = try messages(run: json(r)["runID"] as? String).last { $0["id"] as? Int == 1201 }
        XCTAssertTrue((lastThaw?["text"] as? String ?? "").contains("site-wide freeze window of 2 writers"), "\(lastThaw ?? [:])")
        XCTAssertNotEqual(appState(), "T", "the application runs again")
    }

    /// The same site writer by writer: the two freezes do not overlap (the default, for contrast).
    func testComponentConsistencyFreezesOneWriterAtATime() throws {
        try makeTwoWriterSite(consistency: nil)
        let r = try siteRun("backup", "--json")
        XCTAssertEqual(r.status, 0, "\(r)")
        XCTAssertEqual(json(r)["consistency"] as? String, "component")
        let f = freezes(r)
        let app = try XCTUnwrap(f["app"]), scripts = try XCTUnwrap(f["scripts"])
        XCTAssertLessThanOrEqual(app.to, scripts.from, "app thawed before scripts froze")
    }

    /// One copy fails inside the window (the second writer's freeze moves the data folder away):
    /// every writer is still thawed, in reverse order, and nothing is committed.
    func testFailedCopyInsideTheWindowThawsEveryWriter() throws {
        try makeTwoWriterSite(consistency: "site", freeze: "mv \(site!)/srv/data \(site!)/srv/data.away")
        let r = try siteRun("backup", "--json")
        XCTAssertEqual(r.status, 23, "\(r)")
        XCTAssertEqual(json(r)["failure"] as? String, "component-failed")
        XCTAssertTrue((json(r)["failureMessage"] as? String ?? "").contains("site-wide freeze window"), "\(json(r)["failureMessage"] ?? "")")
        let f = freezes(r)
        XCTAssertEqual(Set(f.keys), ["app", "scripts"], "both writers froze and thawed: \(json(r)["freezes"] ?? "")")
        XCTAssertLessThanOrEqual(f["scripts"]!.to, f["app"]!.to, "thawed in reverse order")
        XCTAssertEqual(try String(contentsOfFile: site + "/run/order.log", encoding: .utf8), "freeze scripts\nthaw scripts\n")
        XCTAssertTrue(FileManager.default.fileExists(atPath: site + "/srv/data"), "the thaw command ran")
        XCTAssertNotEqual(appState(), "T", "the application was thawed")
        XCTAssertFalse(FileManager.default.fileExists(atPath: site + "/state/freeze.json"), "nothing is recorded as frozen")
        XCTAssertEqual(try snapshotCount(), 0)
        let before = appWrites()
        XCTAssertTrue(waitForAppWrites(beyond: before), "the application works again")
    }

    /// The second writer's freeze fails: the first one, already frozen, thaws; nothing is copied.
    func testFailedFreezeThawsTheWritersAlreadyFrozen() throws {
        try makeTwoWriterSite(consistency: "site", freeze: "exit 3")
        let r = try siteRun("backup", "--json")
        XCTAssertEqual(r.status, 22, "\(r)")
        XCTAssertEqual(json(r)["failure"] as? String, "freeze-failed")
        let f = freezes(r)
        XCTAssertEqual(Array(f.keys), ["app"], "only app froze, and it thawed: \(json(r)["freezes"] ?? "")")
        XCTAssertNotEqual(appState(), "T", "the application was thawed")
        XCTAssertEqual(copies(r).count, 0, "no copy was made")
        XCTAssertFalse(FileManager.default.fileExists(atPath: site + "/state/freeze.json"))
        XCTAssertEqual(try snapshotCount(), 0)
    }

    /// SIGTERM while the window is open (a dump streamed inside it waits): both writers thaw.
    func testSigtermInsideTheWindowThawsEveryWriter() throws {
        try makeTwoWriterSite(consistency: "site", components: "\"database\", \"slow\"")
        try appendDumpComponent("slow", script: "touch \(site!)/run/dumping; exec sleep 60")
        let run = try startSite("backup", "--json")
        XCTAssertTrue(waitForFile(site + "/run/dumping"), "the dump runs inside the window")
        XCTAssertEqual(appState(), "T", "the application is stopped while the window is open")
        kill(run.pid, SIGTERM)
        let r = run.wait(timeout: 30)
        XCTAssertEqual(r.status, 130, "\(r)")
        XCTAssertNotEqual(appState(), "T", "SIGTERM thawed the application")
        XCTAssertEqual(try String(contentsOfFile: site + "/run/order.log", encoding: .utf8), "freeze scripts\nthaw scripts\n")
        XCTAssertFalse(FileManager.default.fileExists(atPath: site + "/state/freeze.json"))
        XCTAssertEqual(try snapshotCount(), 0, "nothing committed")
    }

    /// `site validate` names the file, line and column of a bad value, and reports the mode.
    func testValidateRejectsABadValueAtItsPosition() throws {
        try makeTwoWriterSite(consistency: "sitewide")
        let bad = try CLI.run(["validate", "--site", controlFile])
        XCTAssertEqual(bad.status, 78, "\(bad)")
        XCTAssertTrue(bad.stderr.contains("\(controlFile):5:15: consistency must be \"component\""), bad.stderr)
        try replaceInControlFile("consistency = \"sitewide\"", "consistency = \"site\"")
        try appendDumpComponent("cache", script: "echo cache")
        let good = try CLI.run(["validate", "--json", "--site", controlFile])
        XCTAssertEqual(good.status, 0, "\(good)")
        XCTAssertEqual(json(good)["consistency"] as? String, "site")
        let warnings = json(good)["warnings"] as? [String] ?? []
        XCTAssertTrue(warnings.contains { $0.contains("component 'cache' is a dump command's output") }, "\(warnings)")
    }
}
