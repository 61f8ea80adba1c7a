#if canImport(Glibc)
import Glibc
#endif
import SiteSystem
import VaultCore

/// A PostgreSQL server started from a restored base backup, in the drill's sandbox: listening only
/// on a private socket folder, on a free port, with trust authentication on that socket (the
/// sandbox's own pg_hba.conf; the restored one is kept beside as pg_hba.conf.restored). Run as the
/// `postgres` user when sitevault runs as root (the server refuses root); then the data directory
/// is not in the sandbox (whose folders only root may enter) but in a private folder of its own
/// under /var/tmp, removed by `stop()`.
final class TemporaryCluster {
    let dataDir: String
    let bin: String
    /// A private folder (mode 0700) for the socket, and, as root, the data directory.
    let base: String
    let socketDir: String
    let port: Int
    let user: String?
    private(set) var running = false

    init(sandbox: String, bin: String) throws {
        self.bin = bin
        var template = Array("/var/tmp/sitevault-drill-pg-XXXXXX".utf8CString)
        guard mkdtemp(&template) != nil else { throw VaultError.posix("cannot create a folder for the temporary cluster", path: "/var/tmp", errno: errno) }
        base = String(cString: template)
        socketDir = base + "/socket"
        user = geteuid() == 0 ? "postgres" : nil
        dataDir = user == nil ? sandbox : base + "/data"
        try makeFolder(socketDir)
        try makeFolder(dataDir)
        port = TemporaryCluster.freePort()
    }

    static func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
        }
        return ok ? Int(UInt16(bigEndian: addr.sin_port)) : 54329
    }

    func command(_ argv: [String], timeout: Double) -> Command {
        Command(user.map { ["runuser", "-u", $0, "--"] + argv } ?? argv, timeout: timeout)
    }

    /// Prepares the restored folder (permissions, configuration, no recovery from an archive) and starts it.
    func start(timeout: Double) throws {
        chmod(dataDir, 0o700)
        let hba = dataDir + "/pg_hba.conf"
        if access(hba, F_OK) == 0 { _ = rename(hba, hba + ".restored") }
        try writeFileAtomically(hba, Array("local all all trust\n".utf8), mode: 0o600)
        if access(dataDir + "/postgresql.conf", F_OK) != 0 {
            // A Debian cluster keeps its configuration in /etc: the sandbox gets a minimal one.
            try writeFileAtomically(dataDir + "/postgresql.conf", Array("# sitevault drill sandbox\n".utf8), mode: 0o600)
        }
        unlink(dataDir + "/postmaster.pid")
        if let user {
            guard let pw = getpwnam(user) else { throw VaultError(.notFound, "running a temporary PostgreSQL cluster as root needs the '\(user)' user (install postgresql)") }
            let r = try ProcessRunner().run(Command(["chown", "-R", "\(pw.pointee.pw_uid):\(pw.pointee.pw_gid)", base], timeout: 600))
            guard r.succeeded else { throw VaultError(.io, "chown of the sandbox cluster: \(r.summary)") }
        }
        let opts = "-p \(port) -k \(socketDir) -c listen_addresses='' -c archive_mode=off -c hba_file=\(hba) -c config_file=\(dataDir)/postgresql.conf -c data_directory=\(dataDir)"
        let r = try ProcessRunner().run(command([bin + "/pg_ctl", "-D", dataDir, "-o", opts, "-l", socketDir + "/server.log", "-w", "-t", "\(Int(timeout))", "start"], timeout: timeout + 10))
        guard r.succeeded else {
            let log = (try? ControlFile.readWholeFile(socketDir + "/server.log")).map { String(decoding: $0.suffix(600), as: UTF8.self) } ?? ""
            throw VaultError(.io, "the restored cluster did not start: \(r.summary); server log: \(log)")
        }
        running = true
    }

    /// Connection settings for the drill's checks.
    func settings(user: String) -> PostgresSettings {
        var s = PostgresSettings()
        s.host = socketDir; s.port = port; s.user = user; s.binDir = bin
        return s
    }

    func stop() {
        if running {
            _ = try? ProcessRunner().run(command([bin + "/pg_ctl", "-D", dataDir, "-m", "immediate", "-w", "stop"], timeout: 60))
            running = false
        }
        StagingCopy.remove(base)
    }
}
