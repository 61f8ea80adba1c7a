import Foundation
import XCTest
import VaultCore
import VaultStorage
import VaultTesting

/// `SFTPStore` against a real OpenSSH server started by scripts/test.sh (scripts/sftp-server.sh):
/// SITEVAULT_TEST_SFTP_DIR is the server's folder (ssh_config with the `svtest` alias, keys, repos/).
final class SFTPStoreTests: XCTestCase {
    var serverDir: String!
    var base: String { serverDir + "/repos" }
    var command: String { "ssh -F \(serverDir!)/ssh_config svtest -s sftp" }

    override func setUpWithError() throws {
        guard let d = ProcessInfo.processInfo.environment["SITEVAULT_TEST_SFTP_DIR"], !d.isEmpty else {
            throw XCTSkip("SITEVAULT_TEST_SFTP_DIR is not set (scripts/test.sh starts an SFTP server)")
        }
        serverDir = d
    }

    private func freshPath() -> String { base + "/t-" + Hex.encode((0..<6).map { _ in UInt8.random(in: 0...255) }) }

    private func store(_ path: String, command: String? = nil) throws -> SFTPStore {
        guard case .sftp(let l) = try StoreLocation.parse("sftp:svtest:" + path) else { throw XCTSkip("not sftp") }
        return try SFTPStore(l, command: try SSHCommand.parse(command ?? self.command))
    }

    func testContract() throws {
        XCTAssertEqual(StoreContract.run { try self.store(self.freshPath()) }, [])
    }

    /// The factory's stack: SITEVAULT_SFTP_COMMAND's value in the options, retries and logging around it.
    func testContractThroughFactory() throws {
        var options = StoreOptions()
        options.sftpCommand = command
        let failures = StoreContract.run(largeSize: 4 << 20) { try StoreFactory.open("sftp:svtest:" + self.freshPath(), options: options) }
        XCTAssertEqual(failures, [])
    }

    /// Files are where `LocalStore` puts them (data/xx/), not world-readable, and no temporary is left.
    func testLayoutMatchesLocalStore() throws {
        let path = freshPath()
        let s = try store(path)
        try s.createLayout()
        let name = String(repeating: "ab", count: 32)
        try s.save(Handle(.data, name), bytes: [1, 2, 3])
        try s.save(Handle(.config, ""), bytes: [4])
        let local = LocalStore(root: path)
        XCTAssertEqual(try local.load(Handle(.data, name)), [1, 2, 3])
        XCTAssertEqual(try local.load(Handle(.config, "")), [4])
        let attrs = try FileManager.default.attributesOfItem(atPath: path + "/data/ab/" + name)
        XCTAssertEqual(((attrs[.posixPermissions] as? NSNumber)?.intValue ?? 0o777) & 0o077, 0, "world- or group-readable pack")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: path + "/data/ab").filter { $0.hasPrefix(".") }
        XCTAssertEqual(leftovers, [])
        XCTAssertThrowsError(try s.createLayout()) { XCTAssertEqual(($0 as? VaultError)?.code, .repositoryExists) }
        XCTAssertNotNil(try s.checkWritable(), "statvfs@openssh.com gives the free space")
        try s.checkReachable()
    }

    /// Ranged reads of packs reuse open handles; a removed or replaced pack is never read through an old one.
    func testCachedPackHandlesFollowRemoveAndReplace() throws {
        let s = try store(freshPath())
        try s.createLayout()
        let h = Handle(.data, String(repeating: "5e", count: 32))
        try s.save(h, bytes: [1, 2, 3, 4])
        XCTAssertEqual(try s.load(h, offset: 1, length: 2), [2, 3])
        XCTAssertEqual(try s.load(h, offset: 2, length: 2), [3, 4], "a second read through the cached handle")
        try s.save(h, bytes: [9, 8, 7, 6])
        XCTAssertEqual(try s.load(h, offset: 1, length: 2), [8, 7], "the replaced file is read")
        try s.remove(h)
        XCTAssertThrowsError(try s.load(h, offset: 0, length: 1)) { XCTAssertEqual(StoreErrorClass.of($0), .notFound, "\($0)") }
        let p = try s.createPending(.data)
        try [UInt8]([5, 5]).withUnsafeBytes { try p.append($0) }
        try p.commit(as: h)
        XCTAssertEqual(try s.load(h, offset: 0, length: 2), [5, 5])
    }

    func testStaleTemporariesAreRemoved() throws {
        let path = freshPath()
        let s = try store(path)
        try s.createLayout()
        let p = try s.createPending(.data)
        try [1, 2, 3].withUnsafeBytes { try p.append($0) }
        _ = p   // left unfinished, like a crashed backup
        XCTAssertEqual(try s.removeStaleTemporaries(olderThan: 3600, now: Date().timeIntervalSince1970), 0, "too young")
        XCTAssertEqual(try s.removeStaleTemporaries(olderThan: -10, now: Date().timeIntervalSince1970), 1)
        p.discard()
    }

    /// A full disk on the server (the 8 MiB tmpfs of scripts/sftp-server.sh) is `.noSpace`, named, and
    /// leaves no temporary file behind.
    func testFullDiskIsNoSpace() throws {
        let small = serverDir + "/small"
        let mounts = (try? String(contentsOfFile: "/proc/mounts", encoding: .utf8)) ?? ""
        guard mounts.contains(" \(small) ") else { throw XCTSkip("no small disk at \(small) (mounting a tmpfs was refused)") }
        let path = small + "/repo-" + Hex.encode((0..<4).map { _ in UInt8.random(in: 0...255) })
        let s = try store(path)
        try s.createLayout()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let big = [UInt8](repeating: 7, count: 12 << 20)
        XCTAssertThrowsError(try s.save(Handle(.data, CStoreName.big), bytes: big)) { e in
            XCTAssertEqual((e as? VaultError)?.code, .noSpace, "\(e)")
            XCTAssertTrue("\(e)".contains("disk is full"), "\(e)")
        }
        let p = try s.createPending(.data)
        XCTAssertThrowsError(try {
            for _ in 0..<12 { try big.withUnsafeBytes { try p.append(UnsafeRawBufferPointer(rebasing: $0[0..<(1 << 20)])) } }
            try p.commit(as: Handle(.data, CStoreName.big))
        }()) { e in XCTAssertEqual((e as? VaultError)?.code, .noSpace, "\(e)") }
        let left = try FileManager.default.subpathsOfDirectory(atPath: path).filter { $0.contains(".tmp-") }
        XCTAssertEqual(left, [], "temporary files left on the full disk")
        try s.save(Handle(.keys, "small"), bytes: [1, 2, 3])   // room again once the failed writes are gone
        XCTAssertEqual(try s.load(Handle(.keys, "small")), [1, 2, 3])
    }

    private enum CStoreName { static let big = String(repeating: "cd", count: 32) }

    func testMissingRepositoryFolderIsNotFound() throws {
        let s = try store(base + "/no-such-repository")
        XCTAssertThrowsError(try s.checkReachable()) { e in
            XCTAssertEqual((e as? VaultError)?.code, .notFound)
            XCTAssertTrue("\(e)".contains("does not exist on"), "\(e)")
        }
        XCTAssertThrowsError(try s.load(Handle(.config, ""))) { XCTAssertEqual(StoreErrorClass.of($0), .notFound) }
    }

    /// An ssh config like the test one but with `change` applied, written next to it.
    private func config(_ name: String, _ change: (String) -> String) throws -> String {
        let original = try String(contentsOfFile: serverDir + "/ssh_config", encoding: .utf8)
        let path = serverDir + "/ssh_config-" + name
        try change(original).write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func testUnknownHostKeyIsNamedAndNeverPrompts() throws {
        FileManager.default.createFile(atPath: serverDir + "/known_hosts-empty", contents: Data())
        let cfg = try config("empty-known-hosts") { $0.replacingOccurrences(of: "/known_hosts", with: "/known_hosts-empty") }
        let s = try store(base, command: "ssh -F \(cfg) svtest -s sftp")
        XCTAssertThrowsError(try s.checkReachable()) { e in
            XCTAssertEqual((e as? VaultError)?.code, .io)
            XCTAssertEqual(StoreErrorClass.of(e), .permanent)
            XCTAssertTrue("\(e)".contains("host key of svtest is not known"), "\(e)")
            XCTAssertTrue("\(e)".contains("known_hosts"), "\(e)")
        }
    }

    func testRefusedKeyIsNamed() throws {
        let cfg = try config("unknown-key") { $0.replacingOccurrences(of: "/client_ed25519", with: "/unknown_ed25519") }
        let s = try store(base, command: "ssh -F \(cfg) svtest -s sftp")
        XCTAssertThrowsError(try s.stat(Handle(.config, ""))) { e in
            XCTAssertEqual((e as? VaultError)?.code, .io)
            XCTAssertTrue("\(e)".contains("refused to log in"), "\(e)")
            XCTAssertTrue("\(e)".contains("authorized_keys"), "\(e)")
        }
    }

    func testServerDownIsTransientAndNamed() throws {
        let port = FreePort.pick()
        let s = try store(base, command: "ssh -F \(serverDir!)/ssh_config -p \(port) svtest -s sftp")
        XCTAssertThrowsError(try s.checkReachable()) { e in
            XCTAssertEqual(StoreErrorClass.of(e), .transient)
            XCTAssertTrue("\(e)".contains("cannot reach the SFTP server"), "\(e)")
        }
    }

    func testMissingCommandIsNamed() throws {
        let s = try store(base, command: "/nonexistent/ssh -s sftp")
        XCTAssertThrowsError(try s.checkReachable()) { e in
            XCTAssertTrue("\(e)".contains("cannot start the SFTP command"), "\(e)")
        }
    }

    /// A session that dies (its ssh killed) is replaced by a new one at the next call.
    func testLostSessionReconnects() throws {
        let path = freshPath()
        let s = try SFTPStore(try sftpLocation(path), command: try SSHCommand.parse(command), sessions: 1)
        try s.createLayout()
        try s.save(Handle(.keys, "k"), bytes: [1])
        let before = try sshChildren()
        XCTAssertEqual(before.count, 1, "one session: \(before)")
        for pid in before { kill(pid, SIGKILL) }
        usleep(300_000)
        XCTAssertEqual(try s.load(Handle(.keys, "k")), [1], "a new session after the lost one")
        let after = try sshChildren()
        XCTAssertEqual(after.count, 1)
        XCTAssertNotEqual(after, before, "the killed session was replaced")
    }

    private func sftpLocation(_ path: String) throws -> StoreLocation.SFTPLocation {
        guard case .sftp(let l) = try StoreLocation.parse("sftp:svtest:" + path) else { throw XCTSkip("not sftp") }
        return l
    }

    /// Our own ssh children (by parent pid, from /proc).
    private func sshChildren() throws -> [pid_t] {
        let me = getpid()
        return try FileManager.default.contentsOfDirectory(atPath: "/proc").compactMap { Int32($0) }.filter { pid in
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { return false }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            return fields.count > 2 && Int32(fields[1]) == me && stat.contains("(ssh)")
        }
    }
}

final class SSHCommandTests: XCTestCase {
    func testStandardCommand() throws {
        guard case .sftp(let l) = try StoreLocation.parse("sftp://backup@example.org:2222//srv/repo") else { return XCTFail() }
        XCTAssertEqual(try SSHCommand.standard(for: l).arguments,
                       ["ssh", "-p", "2222", "-l", "backup", "-o", "BatchMode=yes", "example.org", "-s", "sftp"])
        guard case .sftp(let m) = try StoreLocation.parse("sftp:-oProxyCommand=x:/srv") else { return XCTFail() }
        XCTAssertThrowsError(try SSHCommand.standard(for: m), "a host read as an option")
    }

    func testSplitting() throws {
        XCTAssertEqual(try SSHCommand.parse("ssh -F '/my dir/cfg' host -s sftp").arguments,
                       ["ssh", "-F", "/my dir/cfg", "host", "-s", "sftp"])
        XCTAssertEqual(try SSHCommand.parse(#"  a "b \"c\" $d" e\ f ''  "#).arguments, ["a", #"b "c" $d"#, "e f", ""])
        XCTAssertEqual(try SSHCommand.parse("ssh h; rm -rf /").arguments, ["ssh", "h;", "rm", "-rf", "/"], "no shell")
        XCTAssertThrowsError(try SSHCommand.parse("ssh 'open"))
        XCTAssertThrowsError(try SSHCommand.parse("   "))
    }
}
