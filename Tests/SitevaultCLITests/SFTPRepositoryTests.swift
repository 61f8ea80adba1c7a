import Foundation
import XCTest
import VaultTesting

/// The executable with `--repo sftp:…` against the real OpenSSH server of scripts/test.sh
/// (SITEVAULT_TEST_SFTP_DIR; see scripts/sftp-server.sh), reached through SITEVAULT_SFTP_COMMAND.
final class SFTPRepositoryTests: CLITestCase {
    var serverDir: String!
    var sftpEnv: [String: String] { ["SITEVAULT_SFTP_COMMAND": "ssh -F \(serverDir!)/ssh_config svtest -s sftp"] }

    override func setUpWithError() throws {
        guard let d = ProcessInfo.processInfo.environment["SITEVAULT_TEST_SFTP_DIR"], !d.isEmpty else {
            throw XCTSkip("SITEVAULT_TEST_SFTP_DIR is not set (scripts/test.sh starts an SFTP server)")
        }
        serverDir = d
        try super.setUpWithError()
    }

    private func remoteFolder() -> String { serverDir + "/repos/cli-" + UUID().uuidString.prefix(8).lowercased() }

    func testInitBackupRestoreCheckThroughSFTP() throws {
        let folder = remoteFolder()
        let location = "sftp:svtest:" + folder
        let r0 = try sv(["init"], env: sftpEnv, repo: location)
        XCTAssertEqual(r0.status, 0, "\(r0)")
        XCTAssertTrue(FileManager.default.fileExists(atPath: folder + "/config"), "the repository is on the server's disk")
        XCTAssertTrue(FileManager.default.fileExists(atPath: folder + "/data/ff"), "the layout has data/00…ff")

        let src = try randomTree("src", seed: 13, maxFileSize: 3 << 20, filesPerDir: 8, depth: 3)
        let expected = TreeComparison.describe(src)
        let b = try sv(["backup", "--json", src], env: sftpEnv, repo: location)
        XCTAssertEqual(b.status, 0, "\(b)")
        let id = ((b.json as? [String: Any])?["snapshot"] as? String) ?? ""
        XCTAssertFalse(id.isEmpty, "\(b)")
        XCTAssertFalse(packs(repo: folder).isEmpty, "packs were written to the server")

        let target = dir.sub("restored")
        let r = try sv(["restore", id, "--target", target], env: sftpEnv, repo: location)
        XCTAssertEqual(r.status, 0, "\(r)")
        XCTAssertEqual(TreeComparison.differences(expected, TreeComparison.describe(target + normalized(src))), [])

        let c = try sv(["check", "--read-data", "--json"], env: sftpEnv, repo: location)
        XCTAssertEqual(c.status, 0, "\(c)")
        // A second backup of the same tree adds nothing new; forget + prune work remotely.
        let b2 = try sv(["backup", "--json", src], env: sftpEnv, repo: location)
        XCTAssertEqual(b2.status, 0, "\(b2)")
        let p = try sv(["forget", "--keep-last", "1", "--prune"], env: sftpEnv, repo: location)
        XCTAssertEqual(p.status, 0, "\(p)")
        let c2 = try sv(["check", "--read-data"], env: sftpEnv, repo: location)
        XCTAssertEqual(c2.status, 0, "\(c2)")
        let leftovers = try FileManager.default.subpathsOfDirectory(atPath: folder).filter { $0.contains("/.tmp-") || $0.hasPrefix(".tmp-") }
        XCTAssertEqual(leftovers, [], "temporary files left on the server")
    }

    /// The SSH sessions die (their ssh processes killed) while the backup still has packs open:
    /// those packs are lost with their sessions, so the backup fails clearly and commits nothing;
    /// the repository checks clean, and the next run (new sessions) succeeds.
    func testLostSessionsFailABackupCleanlyAndTheNextRunSucceeds() throws {
        let location = "sftp:svtest:" + remoteFolder()
        XCTAssertEqual(try sv(["init"], env: sftpEnv, repo: location).status, 0)
        let src = try flatTree("src", seed: 7, dirs: 3, files: 10, maxSize: 300_000)
        let gate = dir.sub("gate")
        var e = env(repo: location).merging(sftpEnv) { $1 }
        e["SITEVAULT_TEST_COMMIT_GATE"] = gate
        let run = try CLI.start(["backup", src], env: e)
        defer { try? write(gate, "go"); run.kill9() }
        XCTAssertTrue(waitFor(gate + ".waiting"), "the backup reached its commit, its last packs still open")
        let killed = sshChildren(of: run.process.processIdentifier)
        XCTAssertFalse(killed.isEmpty, "the backup runs ssh")
        for pid in killed { kill(pid, SIGKILL) }
        usleep(300_000)
        try write(gate, "go")
        let res = run.wait()
        XCTAssertEqual(res.status, 1, "\(res)")
        XCTAssertTrue(res.stderr.contains("the SFTP session with svtest ended") && res.stderr.contains("run again"), res.stderr)
        XCTAssertEqual(try snapshotIDs(repo: location, env: sftpEnv), [], "nothing was committed")
        let c = try sv(["check", "--read-data"], env: sftpEnv, repo: location)
        XCTAssertEqual(c.status, 0, "\(c)")
        let again = try sv(["backup", src], env: sftpEnv, repo: location)
        XCTAssertEqual(again.status, 0, "\(again)")
        XCTAssertEqual(try snapshotIDs(repo: location, env: sftpEnv).count, 1)
        let c2 = try sv(["check", "--read-data"], env: sftpEnv, repo: location)
        XCTAssertEqual(c2.status, 0, "\(c2)")
    }

    private func waitFor(_ path: String) -> Bool {
        for _ in 0..<3000 { if FileManager.default.fileExists(atPath: path) { return true }; usleep(20_000) }
        return false
    }

    private func snapshotIDs(repo location: String, env extra: [String: String]) throws -> [String] {
        let r = try sv(["snapshots", "--json"], env: extra, repo: location)
        return ((r.json as? [[String: Any]]) ?? []).compactMap { $0["id"] as? String }
    }

    /// The ssh processes started by `parent` (from /proc).
    private func sshChildren(of parent: Int32) -> [Int32] {
        let all = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return all.compactMap { Int32($0) }.filter { pid in
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { return false }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            return fields.count > 2 && Int32(fields[1]) == parent && stat.contains("(ssh)")
        }
    }

    func testUnknownHostKeyFailsClearlyWithoutPrompting() throws {
        FileManager.default.createFile(atPath: dir.sub("known_hosts-empty"), contents: Data())
        let cfg = try String(contentsOfFile: serverDir + "/ssh_config", encoding: .utf8)
            .replacingOccurrences(of: serverDir + "/known_hosts", with: dir.sub("known_hosts-empty"))
        try write(dir.sub("ssh_config"), cfg)
        let env = ["SITEVAULT_SFTP_COMMAND": "ssh -F \(dir.sub("ssh_config")) svtest -s sftp"]
        let r = try sv(["init"], env: env, repo: "sftp:svtest:" + remoteFolder())
        XCTAssertNotEqual(r.status, 0, "\(r)")
        XCTAssertTrue(r.stderr.contains("host key of svtest is not known"), r.stderr)
    }

    func testMissingRepositoryIsExitTen() throws {
        let r = try sv(["snapshots"], env: sftpEnv, repo: "sftp:svtest:" + remoteFolder())
        XCTAssertEqual(r.status, 10, "\(r)")
    }
}
