import Foundation
import XCTest

/// `[drill] start` / `probe`: the drill starts the recovered application from its sandbox and
/// probes it, as `site recover` starts and probes the real one; the time counts as recovery time,
/// the application is stopped at the end, and a start or probe that fails fails the drill.
extension SiteDrillTests {
    /// Processes whose command line mentions `text` (the sandbox), other than `ps` itself.
    func processes(mentioning text: String) -> [String] {
        let procs = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return procs.compactMap { pid -> String? in
            guard Int(pid) != nil, let raw = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return nil }
            let cmd = String(decoding: raw.map { $0 == 0 ? 32 : $0 }, as: UTF8.self)
            return cmd.contains(text) ? "\(pid): \(cmd)" : nil
        }
    }

    func testDrillStartsTheApplicationFromTheSandboxAndProbesIt() throws {
        try makeSite(writesPerSecond: 50)
        XCTAssertTrue(waitForAppWrites(beyond: 20))
        _ = try backupSite()
        let productionPid = try XCTUnwrap(appPid)
        // The probe leaves a mark only the sandbox's copy of the application could have made.
        try replaceInControlFile("probe = [\"sh\", \"-c\", 'test -s", "probe = [\"sh\", \"-c\", 'cat \"$SITEVAULT_SANDBOX/drill.conf\" > \(tmp.path)/probed.conf; test -s")

        let r = try siteRun("drill", "--json")
        XCTAssertEqual(r.status, 0, "\(r.stdout.suffix(1500)) \(r.stderr.suffix(800))")
        let report = json(r)
        XCTAssertEqual(report["result"] as? String, "passed")
        let byKey = Dictionary(steps(report).map { (stepKey($0), $0) }, uniquingKeysWith: { a, _ in a })
        XCTAssertEqual(byKey["-/start"]?["result"] as? String, "ok", "\(steps(report))")
        XCTAssertEqual(byKey["-/probe"]?["result"] as? String, "ok", "\(steps(report))")
        XCTAssertTrue((byKey["-/probe"]?["detail"] as? String ?? "").contains("passed after"), "\(byKey["-/probe"] ?? [:])")
        // The checks ran before the application could change the restored files.
        let keys = steps(report).map(stepKey)
        XCTAssertLessThan(try XCTUnwrap(keys.firstIndex(of: "database/checksums")), try XCTUnwrap(keys.firstIndex(of: "-/start")))
        // Start and probe are part of the recovery time.
        let start = try XCTUnwrap(report["startSeconds"] as? Double)
        let recovery = try XCTUnwrap(report["recoverySeconds"] as? Double)
        XCTAssertGreaterThan(start, 0)
        XCTAssertGreaterThan(recovery, start)
        // The copy ran against the sandbox's paths, and it is stopped: nothing runs from the sandbox.
        let sandbox = try XCTUnwrap(report["sandbox"] as? String)
        let probed = text(tmp.path + "/probed.conf") ?? ""
        XCTAssertTrue(probed.contains("database = \(sandbox)\(site!)/srv/shop.db"), probed)
        XCTAssertFalse(probed.contains("database = \(site!)/srv"), probed)
        XCTAssertEqual(processes(mentioning: sandbox), [])
        XCTAssertFalse(exists(sandbox))
        // Production untouched.
        XCTAssertEqual(appPid, productionPid)
        XCTAssertTrue(isSampleApp(productionPid))
    }

    func testDrillFailsWhenTheSandboxApplicationNeverAnswers() throws {
        try makeSite(writesPerSecond: 20)
        _ = try backupSite()
        let start = try XCTUnwrap(drillTable().split(separator: "\n").first { $0.hasPrefix("start = ") })
        try replaceDrillTable("[drill]\n\(start)\nprobe = [\"sh\", \"-c\", \"echo not ready >&2; exit 7\"]\nprobe_timeout = \"2s\"\n")

        let r = try siteRun("drill", "--json")
        XCTAssertNotEqual(r.status, 0)
        let report = json(r)
        XCTAssertEqual(report["result"] as? String, "failed")
        XCTAssertEqual(failedSteps(report), ["-/probe"], "\(steps(report))")
        let failure = report["failure"] as? String ?? ""
        XCTAssertTrue(failure.contains("health probe failed") && failure.contains("not ready"), failure)
        let sandbox = try XCTUnwrap(report["sandbox"] as? String)
        XCTAssertEqual(processes(mentioning: sandbox), [], "the application started from the sandbox is stopped")
        XCTAssertFalse(exists(sandbox))
    }

    func testDrillFailsWhenTheApplicationCannotStart() throws {
        try makeSite(writesPerSecond: 20)
        _ = try backupSite()
        try replaceDrillTable("[drill]\nstart = [\"sh\", \"-c\", \"echo port 8080 already in use >&2; exit 3\"]\n")

        let r = try siteRun("drill", "--json")
        XCTAssertNotEqual(r.status, 0)
        let report = json(r)
        XCTAssertEqual(failedSteps(report), ["-/start"], "\(steps(report))")
        let failure = report["failure"] as? String ?? ""
        XCTAssertTrue(failure.contains("exited with status 3") && failure.contains("already in use"), failure)
    }

    /// The sample's [drill] table (the last one of its control file).
    func drillTable() throws -> String {
        let s = try String(contentsOfFile: controlFile, encoding: .utf8)
        guard let a = s.range(of: "[drill]\n") else { XCTFail("the sample has a [drill] table"); return "" }
        return String(s[a.upperBound...])
    }

    func replaceDrillTable(_ table: String) throws {
        let s = try String(contentsOfFile: controlFile, encoding: .utf8)
        guard let a = s.range(of: "[drill]\n") else { return XCTFail("the sample has a [drill] table") }
        try (String(s[..<a.lowerBound]) + table).write(toFile: controlFile, atomically: true, encoding: .utf8)
    }
}
