import Foundation
import VaultTesting
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// The other writer kinds against real processes and file systems, and the staging space check.
final class SiteWriterTests: SiteTestCase {
    /// A `service` writer with stop/start commands: the application is stopped for the copy and
    /// started again (a new process), and keeps its data.
    func testServiceWriterStopsAndStartsTheApplication() throws {
        try makeSite()
        let py = site + "/opt/sampleapp/sampleapp.py", conf = site + "/etc/sampleapp.conf", pidf = site + "/run/sampleapp.pid"
        try removeSampleStartCommand()
        try replaceInControlFile("kind = \"signal\"\npid_file = \"run/sampleapp.pid\"\ncomponents = [\"data\"]", """
        kind = "service"
        stop = ["sh", "-c", "kill $(cat \(pidf)); while [ -e \(pidf) ]; do sleep 0.05; done; touch \(site!)/run/stopped"]
        start = ["sh", "-c", "setsid python3 \(py) --config \(conf) >> \(site!)/run/app.log 2>&1 < /dev/null & while [ ! -s \(pidf) ]; do sleep 0.05; done"]
        components = ["data", "database"]
        """)
        let before = appPid
        let r = try siteRun("backup", "--json")
        XCTAssertEqual(r.status, 0, "\(r)")
        XCTAssertTrue(FileManager.default.fileExists(atPath: site + "/run/stopped"), "the stop command ran")
        let after = try XCTUnwrap(appPid, "the application was started again")
        XCTAssertNotEqual(after, before, "a new process runs the application")
        XCTAssertEqual(kill(after, 0), 0)
        let freeze = (json(r)["freezes"] as? [[String: Any]])?.first
        XCTAssertEqual(freeze?["kind"] as? String, "service")
        XCTAssertEqual(Set(freeze?["components"] as? [String] ?? []), ["data", "database"])
        let w = appWrites()
        XCTAssertTrue(waitForAppWrites(beyond: w), "the restarted application writes again")
    }

    func mountLoopExt4(_ name: String, sizeMB: Int) throws -> String {
        let img = tmp.path + "/\(name).img", mnt = site + "/" + name
        try FileManager.default.createDirectory(atPath: mnt, withIntermediateDirectories: true)
        guard geteuid() == 0, shell("truncate -s \(sizeMB)M '\(img)' && mkfs.ext4 -q -F '\(img)' && mount -o loop '\(img)' '\(mnt)'") == 0 else {
            throw XCTSkip("needs root and loop devices to mount an ext4 image")
        }
        addTeardownBlock { _ = self.shell("fsfreeze -u '\(mnt)' 2>/dev/null; umount -l '\(mnt)'") }
        return mnt
    }

    /// fsfreeze on a real ext4 file system: frozen for the copy, writable again afterwards.
    func testFsfreezeWriter() throws {
        try makeSite()
        let mnt = try mountLoopExt4("uploads", sizeMB: 32)
        try Data(repeating: 7, count: 1 << 20).write(to: URL(fileURLWithPath: mnt + "/upload.bin"))
        try appendToControlFile("""
        [[component]]
        name = "uploads"
        kind = "folders"
        paths = ["uploads"]
        exclude = ["lost+found"]

        [[writer]]
        name = "uploads-fs"
        kind = "fsfreeze"
        mount = "uploads"
        components = ["uploads"]
        """)
        let r = try siteRun("backup", "--json")
        XCTAssertEqual(r.status, 0, "\(r)")
        let freezes = json(r)["freezes"] as? [[String: Any]] ?? []
        XCTAssertTrue(freezes.contains { $0["writer"] as? String == "uploads-fs" && ($0["seconds"] as? Double ?? 0) > 0 }, "\(freezes)")
        XCTAssertEqual(shell("timeout 5 touch '\(mnt)/after'"), 0, "the file system is thawed")
        let target = tmp.path + "/r"
        XCTAssertEqual(try repoRun(["restore", json(r)["snapshot"] as? String ?? "", "--target", target]).status, 0)
        XCTAssertEqual(FileManager.default.contents(atPath: target + "/uploads/files" + mnt + "/upload.bin")?.count, 1 << 20)
    }

    /// Freezing the file system that holds sitevault's own state would hang the run: refused before freezing.
    func testFsfreezeOfOurOwnFileSystemIsRefused() throws {
        try makeSite()
        let mnt = try mountLoopExt4("uploads", sizeMB: 16)
        try replaceInControlFile("state_dir = \"state\"", "state_dir = \"uploads/state\"")
        try appendToControlFile("[[writer]]\nname = \"fs\"\nkind = \"fsfreeze\"\nmount = \"uploads\"\ncomponents = [\"config\"]")
        let r = try siteRun("backup", "--json")
        XCTAssertEqual(r.status, 22, "\(r)")
        XCTAssertTrue(r.stderr.contains("also holds the state folder"), r.stderr)
        XCTAssertEqual(shell("timeout 5 touch '\(mnt)/after'"), 0, "never frozen")
    }

    /// The staging copies must fit: checked before anything is frozen.
    func testStagingSpaceIsCheckedBeforeFreezing() throws {
        try makeSite()
        let mnt = tmp.path + "/small-staging"
        try FileManager.default.createDirectory(atPath: mnt, withIntermediateDirectories: true)
        guard geteuid() == 0, shell("mount -t tmpfs -o size=4m tmpfs '\(mnt)'") == 0 else { throw XCTSkip("needs root to mount a tmpfs") }
        addTeardownBlock { _ = self.shell("umount -l '\(mnt)'") }
        try Data(repeating: 1, count: 12 << 20).write(to: URL(fileURLWithPath: site + "/srv/data/big.bin"))
        try replaceInControlFile("state_dir = \"state\"", "state_dir = \"state\"\nstaging_dir = \"\(mnt)/staging\"")
        let r = try siteRun("backup", "--json")
        XCTAssertEqual(r.status, 21, "\(r)")
        XCTAssertEqual(json(r)["failure"] as? String, "staging-space")
        let ids = try messageIDs(run: json(r)["runID"] as? String)
        XCTAssertTrue(ids.contains(2016), "\(ids)")
        XCTAssertFalse(ids.contains(1200), "nothing frozen: \(ids)")
        XCTAssertNotEqual(appState(), "T")
    }
}
