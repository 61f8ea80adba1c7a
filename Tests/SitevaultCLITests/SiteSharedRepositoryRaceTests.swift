import Foundation
import VaultTesting
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Three sites back up into one repository at the same moment, ten times: without `--retry-lock`
/// none waits for another (shared locks); in two rounds a `prune` starts with them and it waits for
/// them or they for it (`--retry-lock`). Then `check --read-data` is clean and every one of the
/// thirty snapshots restores, the newest of each site equal to its source.
final class SiteSharedRepositoryRaceTests: SiteTestCase {
    func bytes(_ path: String, _ count: Int, _ rng: inout SeededRandom) throws {
        try Data((0..<count).map { _ in UInt8(truncatingIfNeeded: rng.next()) }).write(to: URL(fileURLWithPath: path))
    }

    func writeSite(_ name: String) throws -> (control: String, data: String) {
        let data = site + "/srv/\(name)"
        var rng = SeededRandom(seed: UInt64(name.utf8.reduce(7) { $0 &* 31 &+ UInt64($1) }))
        for d in 0..<4 {
            let folder = data + "/d\(d)"
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            for f in 0..<12 { try bytes(folder + "/f\(f).bin", Int(rng.next() % 48_000), &rng) }
        }
        let control = site + "/\(name).toml"
        try """
        site = "\(name)"
        time_zone = "UTC"
        state_dir = "state-\(name)"

        [repository]
        path = "backup/repo"
        password_file = "backup/password"

        [[component]]
        name = "files"
        kind = "folders"
        paths = ["srv/\(name)"]

        [[component]]
        name = "media"
        kind = "install-media"
        paths = ["opt/sampleapp"]
        version = "1.4.2"
        """.write(toFile: control, atomically: true, encoding: .utf8)
        return (control, data)
    }

    func testThreeSitesBackUpTogetherTenTimes() throws {
        try makeSite(writesPerSecond: 50)
        let alpha = try writeSite("alpha"), beta = try writeSite("beta")
        let controls = [controlFile, alpha.control, beta.control]
        var rng = SeededRandom(seed: 99)
        var overlapping = 0
        for round in 1...10 {
            // Each round changes some data of both file sites (the sample application writes by itself).
            for data in [alpha.data, beta.data] {
                try bytes(data + "/d\(round % 4)/r\(round).bin", 20_000 + Int(rng.next() % 20_000), &rng)
            }
            let withPrune = round == 4 || round == 8
            let wait = withPrune ? ["--retry-lock", "120"] : []
            let runs = try controls.map { try CLI.start(["site", "backup", "--json", "--site", $0] + wait) }
            let prune = withPrune
                ? try CLI.start(["prune", "--retry-lock", "120"], env: ["SITEVAULT_REPOSITORY": repo, "SITEVAULT_PASSWORD_FILE": passwordFile])
                : nil
            let results = runs.map { $0.wait(timeout: 300) }
            for (control, r) in zip(controls, results) {
                XCTAssertEqual(r.status, 0, "round \(round), \(control): \(r.stdout.suffix(600)) \(r.stderr.suffix(600))")
                XCTAssertEqual((r.json as? [String: Any])?["result"] as? String, "succeeded", "round \(round), \(control)")
            }
            if let prune {
                let p = prune.wait(timeout: 300)
                XCTAssertEqual(p.status, 0, "round \(round): prune beside three backups: \(p)")
            }
            // Side by side: in a round without prune, all three were running at one moment.
            if !withPrune {
                let spans = results.compactMap { r -> (Int64, Int64)? in
                    guard let o = r.json as? [String: Any], let a = o["started"] as? Int64, let b = o["finished"] as? Int64 else { return nil }
                    return (a, b)
                }
                XCTAssertEqual(spans.count, 3, "round \(round): every run reports when it started and finished")
                if spans.count == 3, spans.map(\.0).max()! < spans.map(\.1).min()! { overlapping += 1 }
            }
        }
        XCTAssertGreaterThan(overlapping, 0, "in at least one round the three backups ran at the same time")

        // Ten snapshots per site, a clean repository, every snapshot restores.
        let all = try repoRun(["snapshots", "--json"])
        let list = all.json as? [[String: Any]] ?? []
        XCTAssertEqual(list.count, 30, "\(all.stdout.prefix(400))")
        for name in ["sample", "alpha", "beta"] {
            XCTAssertEqual(list.filter { ($0["tags"] as? [String] ?? []).contains("site=\(name)") }.count, 10, name)
        }
        let check = try repoRun(["check", "--read-data"])
        XCTAssertEqual(check.status, 0, "\(check)")
        for (i, s) in list.enumerated() {
            let id = try XCTUnwrap(s["id"] as? String)
            let target = tmp.path + "/restore-\(i)"
            let r = try repoRun(["restore", id, "--target", target])
            XCTAssertEqual(r.status, 0, "snapshot \(id): \(r)")
        }
        // The newest snapshot of each file site is its source, byte for byte (component "files"
        // holds its paths under files/).
        for (name, data) in [("alpha", alpha.data), ("beta", beta.data)] {
            let newest = try XCTUnwrap(list.filter { ($0["tags"] as? [String] ?? []).contains("site=\(name)") }
                .max { ($0["time"] as? Int64 ?? 0) < ($1["time"] as? Int64 ?? 0) }?["id"] as? String)
            let target = tmp.path + "/latest-\(name)"
            let r = try repoRun(["restore", newest, "--target", target])
            XCTAssertEqual(r.status, 0, "\(r)")
            let diff = TreeComparison.differences(TreeComparison.describe(data, withDirTimes: false),
                                                  TreeComparison.describe(target + "/files/files" + data, withDirTimes: false))
            XCTAssertEqual(diff, [], name)
        }
    }
}
