import Foundation
import VaultTesting
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// `sitevault site drill` on the sample site: a good snapshot passes, with every step timed and the
/// sandbox removed; a snapshot whose database copy is corrupt fails precisely; the user command
/// probes the sandbox; a failed drill alerts.
final class SiteDrillTests: RecoveryTestCase {
    static let writerSection = "[[writer]]\nname = \"app\"\nkind = \"signal\"\npid_file = \"run/sampleapp.pid\"\ncomponents = [\"data\"]\n"

    var drillFolder: String { site + "/state/drill" }

    /// Removes the sample's [[writer]] table (up to the blank line that ends it).
    func removeWriterBlock() throws {
        let s = try String(contentsOfFile: controlFile, encoding: .utf8)
        guard let a = s.range(of: SiteDrillTests.writerSection) else { XCTFail("no writer in the control file"); return }
        let end = s.range(of: "\n\n", range: a.upperBound..<s.endIndex)?.lowerBound ?? s.endIndex
        try (String(s[..<a.lowerBound]) + String(s[end...])).write(toFile: controlFile, atomically: true, encoding: .utf8)
    }

    func steps(_ report: [String: Any]) -> [[String: Any]] { report["steps"] as? [[String: Any]] ?? [] }

    func stepKey(_ s: [String: Any]) -> String { "\(s["component"] as? String ?? "-")/\(s["name"] as? String ?? "?")" }

    func failedSteps(_ report: [String: Any]) -> [String] {
        steps(report).filter { $0["result"] as? String != "ok" }.map(stepKey)
    }

    func writeScript(_ name: String, _ body: String) throws -> String {
        let path = tmp.path + "/" + name
        try write(path, "#!/bin/sh\n" + body + "\n")
        chmod(path, 0o755)
        return path
    }

    func testDrillPassesOnAGoodSnapshotAndLeavesProductionAlone() throws {
        try makeSite(writesPerSecond: 100)
        XCTAssertTrue(waitForAppWrites(beyond: 40))
        let backup = try backupSite()
        let snapshot = try XCTUnwrap(backup["snapshot"] as? String)
        let pid = try XCTUnwrap(appPid)
        let conf = text(confPath)

        let r = try siteRun("drill", "--json")
        XCTAssertEqual(r.status, 0, "\(r)")
        let report = json(r)
        XCTAssertEqual(report["result"] as? String, "passed")
        XCTAssertNil(report["failure"])
        XCTAssertEqual(report["snapshot"] as? String, snapshot)
        XCTAssertEqual(report["backupRun"] as? String, backup["runID"] as? String)
        // Every component restored and checked, each step timed.
        let keys = steps(report).map(stepKey)
        for k in ["database/recover", "database/checksums", "database/integrity_check", "config/recover", "config/checksums",
                  "data/recover", "data/checksums", "media/recover", "media/checksums"] {
            XCTAssertTrue(keys.contains(k), "step \(k) ran: \(keys)")
        }
        for s in steps(report) {
            XCTAssertEqual(s["result"] as? String, "ok", "\(s)")
            let secs = try XCTUnwrap(s["seconds"] as? Double, "\(s)")
            XCTAssertGreaterThanOrEqual(secs, 0)
            XCTAssertFalse((s["detail"] as? String ?? "").isEmpty, "\(s)")
        }
        XCTAssertTrue(steps(report).contains { stepKey($0) == "database/integrity_check" && ($0["detail"] as? String ?? "").contains("integrity_check ok") })
        let recovery = try XCTUnwrap(report["recoverySeconds"] as? Double, "the recovery time is measured")
        XCTAssertGreaterThan(recovery, 0)
        XCTAssertLessThanOrEqual(recovery, report["totalSeconds"] as? Double ?? 0)
        XCTAssertGreaterThan(report["backupSeconds"] as? Double ?? 0, 0, "the backup time of the snapshot is reported beside the recovery time: \(r.stdout.prefix(600))")

        // The sandbox is gone; production was not touched.
        let sandbox = try XCTUnwrap(report["sandbox"] as? String)
        XCTAssertTrue(sandbox.hasPrefix(drillFolder + "/"), sandbox)
        XCTAssertFalse(exists(sandbox), "the sandbox is removed")
        XCTAssertEqual((try? FileManager.default.contentsOfDirectory(atPath: drillFolder)) ?? [], [])
        XCTAssertEqual(appPid, pid)
        XCTAssertTrue(isSampleApp(pid))
        XCTAssertNotEqual(appState(), "T")
        XCTAssertEqual(text(confPath), conf)
        XCTAssertEqual(recoveryLeftovers(), [])

        // Status messages of the drill run.
        let ids = try runMessageIDs(report)
        XCTAssertEqual(ids.first, 1040, "\(ids)")
        XCTAssertEqual(ids.filter { $0 == 1041 }.count, steps(report).count, "one message per passed step: \(ids)")
        XCTAssertTrue(ids.contains(1911), "\(ids)")
        XCTAssertFalse(ids.contains(2092) || ids.contains(2911), "\(ids)")
        let passed = try messages(run: report["runID"] as? String).first { $0["id"] as? Int == 1911 }
        XCTAssertTrue((passed?["text"] as? String ?? "").contains("passed"), "\(String(describing: passed))")

        // The drill log, in the state folder and in the repository.
        let runID = try XCTUnwrap(report["runID"] as? String)
        let local = try FileManager.default.contentsOfDirectory(atPath: site + "/state/logs").filter { $0.contains("drill") && $0.contains(runID) }
        XCTAssertEqual(local.count, 1, "drill log in STATE/logs")
        if let name = local.first {
            let log = text(site + "/state/logs/" + name) ?? ""
            XCTAssertTrue(log.contains("result:    passed"), log)
            XCTAssertTrue(log.contains("integrity_check"), log)
            XCTAssertTrue(exists(repo + "/logs/" + name), "the drill log is kept in the repository too")
        }

        // `site status` shows the last drill: result and measured recovery time.
        let status = json(try siteRun("status", "--json"))
        let last = try XCTUnwrap(status["lastDrill"] as? [String: Any], "\(status)")
        XCTAssertEqual(last["result"] as? String, "passed", "\(last)")
        XCTAssertEqual(last["runID"] as? String, runID, "\(last)")
        XCTAssertEqual(last["snapshot"] as? String, snapshot, "\(last)")
        XCTAssertEqual(last["recoverySeconds"] as? Double ?? -1, recovery, accuracy: 1e-6, "\(last)")
        XCTAssertEqual(last["backupSeconds"] as? Double ?? -1, report["backupSeconds"] as? Double ?? -2, accuracy: 1e-6, "\(last)")
        let statusText = try siteRun("status")
        XCTAssertTrue(statusText.stdout.contains("last drill") && statusText.stdout.contains("passed, recovery "), statusText.stdout)

        // The readable report.
        let textRun = try siteRun("drill")
        XCTAssertEqual(textRun.status, 0, "\(textRun)")
        XCTAssertTrue(textRun.stdout.contains("drill passed"), textRun.stdout)
        XCTAssertTrue(textRun.stdout.contains("recovery time"), textRun.stdout)
        XCTAssertEqual((try? FileManager.default.contentsOfDirectory(atPath: drillFolder)) ?? [], [])
    }

    func testDrillFailsPreciselyOnACorruptDatabaseCopy() throws {
        try makeSite(writesPerSecond: 200)
        XCTAssertTrue(waitForAppWrites(beyond: 150))
        let good = try XCTUnwrap(try backupSite()["snapshot"] as? String)
        // The application stops; its database gets damaged pages (the 100-byte header is kept).
        stopAppCleanly()
        let damage = runTool(["python3", "-c", """
            import os, sys
            p = sys.argv[1]
            n = os.path.getsize(p)
            assert n >= 3 * 4096, n
            with open(p, "r+b") as f:
                for page in range(1, n // 4096):
                    f.seek(page * 4096 + 100); f.write(b"\\xff" * 200)
            """, dbPath])
        XCTAssertEqual(damage.status, 0, damage.out)
        let check = runTool(["python3", "-c", "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('PRAGMA integrity_check').fetchone()[0])", dbPath])
        XCTAssertNotEqual(check.out.trimmingCharacters(in: .whitespacesAndNewlines), "ok", "the damage is real: \(check.out)")
        // The stopped application's writer would refuse the backup: it goes.
        try removeWriterBlock()
        let bad = try siteRun("backup", "--json")
        XCTAssertEqual(bad.status, 3, "the backup stores the damaged copy and is partial: \(bad)")
        let badSnapshot = try XCTUnwrap(json(bad)["snapshot"] as? String)
        XCTAssertEqual(component(json(bad), "database")?["result"] as? String, "failed")

        let r = try siteRun("drill", "--snapshot", badSnapshot, "--json")
        XCTAssertEqual(r.status, 1, "\(r)")
        let report = json(r)
        XCTAssertEqual(report["result"] as? String, "failed")
        XCTAssertEqual(report["snapshot"] as? String, badSnapshot)
        XCTAssertEqual(failedSteps(report), ["database/recover"], "only the recovery of the database fails (its copy fails integrity_check)")
        let failure = report["failure"] as? String ?? ""
        XCTAssertTrue(failure.hasPrefix("database: recover:") && failure.contains("integrity_check"), failure)
        XCTAssertTrue(failure.contains(dbPath), "the failure names the database: \(failure)")
        XCTAssertTrue(failure.contains("page"), "what integrity_check found is shown: \(failure)")
        let ids = try runMessageIDs(report)
        XCTAssertTrue(ids.contains(2092), "\(ids)")
        XCTAssertTrue(ids.contains(2911), "\(ids)")
        XCTAssertFalse(ids.contains(1911), "\(ids)")
        let stepMessage = try messages(run: report["runID"] as? String).first { $0["id"] as? Int == 2092 }
        XCTAssertEqual(stepMessage?["component"] as? String, "database", "\(String(describing: stepMessage))")
        XCTAssertTrue((stepMessage?["text"] as? String ?? "").contains("integrity_check"), "\(String(describing: stepMessage))")
        XCTAssertTrue(r.stderr.contains("integrity_check"), r.stderr)
        XCTAssertFalse(exists(report["sandbox"] as? String ?? "/"), "the sandbox is removed after a failed drill too")
        let last = json(try siteRun("status", "--json"))["lastDrill"] as? [String: Any]
        XCTAssertEqual(last?["result"] as? String, "failed", "\(String(describing: last))")
        XCTAssertTrue((last?["failure"] as? String ?? "").contains("integrity_check"), "\(String(describing: last))")

        // The earlier snapshot still passes: the failure belongs to the damaged copy.
        let earlier = try siteRun("drill", "--snapshot", good, "--json")
        XCTAssertEqual(earlier.status, 0, "\(earlier)")
        XCTAssertEqual(json(earlier)["result"] as? String, "passed")
    }

    func testDrillCommandProbesTheRestoredApplication() throws {
        try makeSite(writesPerSecond: 100)
        XCTAssertTrue(waitForAppWrites(beyond: 40))
        let snapshot = try XCTUnwrap(try backupSite()["snapshot"] as? String)
        let out = tmp.path + "/probe"
        let probe = try writeScript("probe.sh", """
            set -e
            env | grep '^SITEVAULT_' | sort > '\(out).env'
            test -f "$SITEVAULT_SANDBOX\(confPath)"
            printf 'database = %s\\n' "$SITEVAULT_DRILL_SQLITE_DATABASE" > "$SITEVAULT_SANDBOX/probe.conf"
            python3 "$SITEVAULT_SANDBOX\(mediaScript)" --check "$SITEVAULT_SANDBOX/probe.conf" > '\(out).json'
            """)
        let sandboxRoot = (site as NSString).deletingLastPathComponent + "/drill-sandbox"
        try appendToControlFile("[drill]\ncommand = [\"/bin/sh\", \"\(probe)\"]\ntimeout = \"2m\"\nschedule = \"Sun 04:00\"\nsandbox = \"\(sandboxRoot)\"")
        let status = json(try siteRun("status", "--json"))
        XCTAssertTrue((status["nextDrillUTC"] as? String ?? "").hasSuffix("T04:00:00Z"), "the drill schedule is shown: \(status["nextDrillUTC"] ?? "none")")

        let r = try siteRun("drill", "--json")
        XCTAssertEqual(r.status, 0, "\(r)")
        let report = json(r)
        XCTAssertEqual(report["result"] as? String, "passed")
        XCTAssertTrue((report["sandbox"] as? String ?? "").hasPrefix(sandboxRoot + "/"), "the configured sandbox is used: \(report["sandbox"] ?? "")")
        let command = steps(report).first { $0["name"] as? String == "command" }
        XCTAssertEqual(command?["result"] as? String, "ok", "\(String(describing: command))")
        XCTAssertNil(command?["component"] as? String)
        XCTAssertGreaterThan(report["commandSeconds"] as? Double ?? 0, 0)
        let env = text(out + ".env") ?? ""
        XCTAssertTrue(env.contains("SITEVAULT_SANDBOX=\(report["sandbox"] as? String ?? "?")\n"), env)
        XCTAssertTrue(env.contains("SITEVAULT_SNAPSHOT=\(snapshot)\n"), env)
        XCTAssertTrue(env.contains("SITEVAULT_DRILL_SQLITE_DATABASE=\(report["sandbox"] as? String ?? "?")\(dbPath)\n"), "the sandbox mirrors the site's layout: \(env)")
        // The application itself, pointed at the sandbox's copy, finds it consistent.
        let verdict = (try? JSONSerialization.jsonObject(with: Data((text(out + ".json") ?? "").utf8))) as? [String: Any] ?? [:]
        XCTAssertEqual(verdict["integrity"] as? String, "ok", "\(verdict)")
        XCTAssertEqual(verdict["inconsistent"] as? Int, 0, "\(verdict)")
        XCTAssertGreaterThan(verdict["orders"] as? Int ?? 0, 0, "\(verdict)")
        XCTAssertFalse(exists(report["sandbox"] as? String ?? "/"))

        // A probe that fails fails the drill, with what it said.
        let failing = try writeScript("probe-fails.sh", "echo 'probe: the application did not answer' >&2\nexit 1")
        try replaceInControlFile(probe, failing)
        let f = try siteRun("drill", "--json")
        XCTAssertEqual(f.status, 1, "\(f)")
        let fr = json(f)
        XCTAssertEqual(fr["result"] as? String, "failed")
        XCTAssertEqual(failedSteps(fr), ["-/command"])
        XCTAssertTrue((fr["failure"] as? String ?? "").contains("the application did not answer"), "\(fr["failure"] ?? "")")
        XCTAssertFalse(exists(fr["sandbox"] as? String ?? "/"), "the sandbox is removed")
        XCTAssertTrue(try runMessageIDs(fr).contains(2911))
    }

    func testFailedDrillAlertsLikeAFailedBackup() throws {
        try makeSite()
        let alert = site + "/run/alert.json"
        try appendToControlFile("""
            [alerts]
            command = ["sh", "-c", "cat > \(alert); echo $SITEVAULT_RESULT > \(site!)/run/alert-result"]
            """)
        let snapshot = try XCTUnwrap(try backupSite()["snapshot"] as? String)
        // A passed drill alerts nobody (on_success is off).
        XCTAssertEqual(try siteRun("drill").status, 0)
        XCTAssertFalse(exists(alert), "no alert for a passed drill")

        let failing = try writeScript("probe-fails.sh", "echo 'sandbox probe failed' >&2\nexit 3")
        try appendToControlFile("[drill]\ncommand = [\"\(failing)\"]")
        let r = try siteRun("drill", "--json")
        XCTAssertEqual(r.status, 1, "\(r)")
        XCTAssertTrue(waitForFile(alert, timeout: 10))
        let body = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data((text(alert) ?? "").utf8)) as? [String: Any], text(alert) ?? "")
        XCTAssertEqual(body["result"] as? String, "drill-failed", "\(body)")
        XCTAssertEqual(body["site"] as? String, "sample")
        XCTAssertEqual(body["message_id"] as? Int, 2911)
        XCTAssertEqual(body["snapshot"] as? String, snapshot)
        XCTAssertEqual(body["run_id"] as? String, json(r)["runID"] as? String)
        XCTAssertTrue((body["failure"] as? String ?? "").contains("sandbox probe failed"), "\(body)")
        XCTAssertTrue((body["components"] as? [[String: Any]] ?? []).contains { $0["step"] as? String == "command" && $0["result"] as? String == "failed" }, "\(body)")
        XCTAssertEqual(text(site + "/run/alert-result"), "drill-failed\n")
        XCTAssertTrue(try runMessageIDs(json(r)).contains(1500), "the alert is recorded as sent")
    }
}
