import Foundation
import XCTest
import VaultTesting
#if canImport(Glibc)
import Glibc
#endif

/// --json output is one valid JSON document on stdout; forget + prune keep exactly what the policy says.
final class JSONAndForgetTests: CLITestCase {
    func parse(_ res: CLI.Result, _ what: String, file: StaticString = #filePath, line: UInt = #line) -> Any? {
        XCTAssertEqual(res.status, 0, "\(what): \(res)", file: file, line: line)
        do {
            return try JSONSerialization.jsonObject(with: res.stdoutData, options: [])
        } catch {
            XCTFail("\(what) --json is not valid JSON (\(error)): \(res.stdout)", file: file, line: line)
            return nil
        }
    }

    func testJSONOutputsParse() throws {
        let initRes = try sv(["init", "--json"])
        let i = parse(initRes, "init") as? [String: Any]
        XCTAssertNotNil(i?["id"], initRes.stdout)
        let src = try randomTree("src", seed: 41, maxFileSize: 300_000)
        try write(src + "/quote\"and\\backslash", "json escaping")
        for n in 0..<3 {
            try write(src + "/gen", "generation \(n)")
            let b = parse(try sv(["backup", "--json", src]), "backup") as? [String: Any]
            XCTAssertEqual((b?["snapshot"] as? String)?.count, 64)
            XCTAssertNotNil(b?["summary"] as? [String: Any])
            XCTAssertEqual((b?["errors"] as? [Any])?.count, 0)
        }
        let snaps = parse(try sv(["snapshots", "--json"]), "snapshots") as? [[String: Any]]
        XCTAssertEqual(snaps?.count, 3)
        XCTAssertNotNil(snaps?.first?["time_utc"] as? String)

        let check = parse(try sv(["check", "--json", "--read-data"]), "check") as? [String: Any]
        XCTAssertEqual((check?["problems"] as? [Any])?.count, 0)
        XCTAssertEqual(check?["snapshotsChecked"] as? Int, 3)

        let dataBefore = packs()
        let forget = parse(try sv(["forget", "--json", "--dry-run", "--keep-last", "1"]), "forget --dry-run") as? [String: Any]
        let decisions = forget?["snapshots"] as? [[String: Any]]
        XCTAssertEqual(decisions?.count, 3)
        XCTAssertEqual(decisions?.filter { $0["keep"] as? Bool == false }.count, 2)
        XCTAssertEqual(try snapshotIDs().count, 3, "dry run removes nothing")

        let forgetPrune = parse(try sv(["forget", "--json", "--dry-run", "--keep-last", "1", "--prune"]), "forget --dry-run --prune") as? [String: Any]
        XCTAssertNotNil(forgetPrune?["prune"] as? [String: Any], "forget --prune --json includes the prune report")

        let prune = parse(try sv(["prune", "--json", "--dry-run"]), "prune --dry-run") as? [String: Any]
        XCTAssertEqual(prune?["dryRun"] as? Bool, true)
        XCTAssertEqual(packs(), dataBefore, "dry runs delete nothing")

        XCTAssertNotNil(parse(try sv(["ls", "--json", "latest"]), "ls") as? [Any])
        XCTAssertNotNil(parse(try sv(["stats", "--json"]), "stats") as? [String: Any])
        XCTAssertNotNil(parse(try sv(["key", "list", "--json"]), "key list") as? [Any])
        let ids = try snapshotIDs()
        XCTAssertNotNil(parse(try sv(["diff", "--json", ids[0], ids[2]]), "diff") as? [Any])
        let restore = parse(try sv(["restore", "--json", "latest", "--target", dir.sub("r")]), "restore") as? [String: Any]
        XCTAssertGreaterThan(restore?["files"] as? Int ?? 0, 0)
        let realPrune = parse(try sv(["prune", "--json"]), "prune") as? [String: Any]
        XCTAssertEqual(realPrune?["dryRun"] as? Bool, false)

        // Errors in --json mode: stdout is still JSON (an error object), the exit code is the documented one.
        let missing = try CLI.run(["snapshots", "--json"], env: env(repo: dir.sub("nope")))
        XCTAssertEqual(missing.status, 10)
        let err = (try? JSONSerialization.jsonObject(with: missing.stdoutData)) as? [String: Any]
        XCTAssertNotNil(err?["error"], "error as JSON: \(missing)")
    }

    func testForgetKeepLastThenPrune() throws {
        try initRepo()
        let src = try flatTree("src", seed: 55, dirs: 4, files: 25, maxSize: 60_000)
        var ids: [String] = []
        var descs: [[TreeComparison.Entry]] = []
        for n in 0..<5 {
            if n > 0 { try mutate(src, seed: UInt64(100 + n), every: 3) }
            try write(src + "/generation", "\(n)")
            ids.append(try backup([src]))
            descs.append(TreeComparison.describe(src))
        }
        XCTAssertEqual(Set(try snapshotIDs()), Set(ids))
        let dataBefore = packs().values.reduce(0, +)

        let res = try sv(["forget", "--json", "--keep-last", "2"])
        XCTAssertEqual(res.status, 0, "\(res)")
        let decisions = ((res.json as? [String: Any])?["snapshots"] as? [[String: Any]]) ?? []
        XCTAssertEqual(Set(decisions.filter { $0["keep"] as? Bool == false }.compactMap { $0["id"] as? String }), Set(ids[0..<3]))
        XCTAssertEqual(Set(try snapshotIDs()), Set(ids[3...]), "exactly the two newest remain")

        let prune = try sv(["prune", "--json"])
        XCTAssertEqual(prune.status, 0, "\(prune)")
        let report = prune.json as? [String: Any]
        XCTAssertGreaterThan(report?["bytesRemoved"] as? Int ?? 0, 0, prune.stdout)
        let dataAfter = packs().values.reduce(0, +)
        XCTAssertLessThan(dataAfter, dataBefore, "prune freed space")

        let c = try check(readData: true)
        XCTAssertEqual(c.status, 0, "\(c.result)")
        XCTAssertEqual(items(c.report, "problems").count, 0)
        XCTAssertEqual(items(c.report, "warnings").count, 0, "\(c.report)")
        XCTAssertEqual(c.report["snapshotsChecked"] as? Int, 2)
        for k in 3..<5 { try assertRestores(ids[k], source: src, expected: descs[k], label: "snapshot \(k)") }

        // A second prune has nothing left to do.
        let again = try sv(["prune", "--json"])
        XCTAssertEqual(again.status, 0)
        XCTAssertEqual((again.json as? [String: Any])?["bytesRemoved"] as? Int, 0, again.stdout)
        XCTAssertEqual(packs().values.reduce(0, +), dataAfter)
    }

    func testForgetWithoutPolicyRemovesNothing() throws {
        try initRepo()
        let src = dir.sub("s"); mkdir(src)
        try write(src + "/f", "x")
        let id = try backup([src])
        let res = try sv(["forget"])
        XCTAssertNotEqual(res.status, 0, "\(res)")
        XCTAssertEqual(try snapshotIDs(), [id])
        // Forget by id prefix.
        try expect(0, ["forget", String(id.prefix(10))])
        XCTAssertEqual(try snapshotIDs(), [])
    }
}
