#if canImport(Glibc)
import Glibc
#endif
import SiteSystem
import VaultCore
import VaultRepository

/// A physical PostgreSQL base backup recovered in place: the data directory is extracted beside
/// the recorded one (owned by the cluster's user, mode 0700, server pid and recovery signal files
/// removed), the running server of the old directory is stopped, the directories are swapped, and
/// the server is started again (by the component's writer, or pg_ctl as the cluster's user with
/// the options it was started with) and waited for until it accepts connections.
struct ClusterPlan {
    var dataDirectory: String
    var bin: String
    var owner: FileOwner
    /// Options for `pg_ctl -o` (from postmaster.opts: the port and socket folders it had).
    var options: String?
}

extension SiteRecovery {
    func prepareClusterInPlace(_ item: Item, contents: PostgresRestore.Contents, repo: Repository, mode: DatabaseMode) async throws {
        guard mode == .restore else {
            throw VaultError(.invalidArgument, "a physical base backup can only be restored whole (--database \(mode.rawValue) does not apply); use --database skip to leave the cluster alone")
        }
        guard let dest = options.dataDirectory ?? item.report.cluster?.dataDirectory else {
            throw VaultError(.invalidArgument, "the snapshot does not record the cluster's data directory (it was made by an older sitevault): give --data-directory DIR, or --target DIR to extract it elsewhere")
        }
        let settings = item.config?.postgres ?? PostgresSettings()
        let bin = try PostgresClient.binaries(settings.binDir)
        guard let owner = item.report.cluster?.owner ?? Self.postgresUser() else {
            throw VaultError(.notFound, "the cluster's owner is not recorded and there is no 'postgres' user on this machine: install PostgreSQL first")
        }
        item.out.destinations = [dest]
        item.out.version = item.report.version
        let plan = ClusterPlan(dataDirectory: dest, bin: bin, owner: owner, options: item.report.cluster?.options.map(Self.serverOptions))
        let running = Self.serverPid(dest) != nil
        if options.dryRun {
            item.out.diff = "base backup (\(Bytes.text(contents.baseBackup!.size))) would be extracted as \(dest) (owner \(owner.description)); "
                + (running ? "the server running there now would be stopped and its directory moved aside; " : "no server runs there now; ")
                + "then started with \(startDescription(item, plan))"
            return
        }
        let staged = stagedPath(for: dest)
        StagingCopy.remove(staged.staged)
        try makeFolder(staged.staged, mode: 0o700)
        try extractBaseBackup(contents.baseBackup!, repo: repo, into: staged.staged, timeout: item.config?.timeout ?? 3600)
        let removed = try Self.prepareDataDirectory(staged.staged, owner: owner)
        item.staged = [staged]
        item.cluster = plan
        item.out.files = 1; item.out.bytes = contents.baseBackup!.size
        item.out.detail = "data directory extracted for \(dest), owner \(owner.description)\(removed.isEmpty ? "" : "; removed \(removed.joined(separator: ", ")) (the cluster starts as a primary)")"
    }

    /// Streams a base backup's tar from the repository into `tar -x` in `dir`.
    func extractBaseBackup(_ node: Node, repo: Repository, into dir: String, timeout: Double) throws {
        let (r, _) = try SnapshotFeed.run(Command(["tar", "-x", "-C", dir], timeout: timeout), repo: repo, node: node, label: "tar -x")
        guard r.succeeded else { throw VaultError(.io, "extracting the base backup into \(dir): \(r.summary)") }
    }

    /// Owner, mode and the files a restored data directory must not keep.
    static func prepareDataDirectory(_ dir: String, owner: FileOwner) throws -> [String] {
        var removed: [String] = []
        for f in ["postmaster.pid", "postmaster.opts", "standby.signal", "recovery.signal"] where StagedPath.exists(dir + "/" + f) {
            unlink(dir + "/" + f)
            if f.hasSuffix(".signal") { removed.append(f) }
        }
        let ids = owner.localIDs
        let r = try ProcessRunner().run(Command(["chown", "-R", "--no-dereference", "\(ids.uid):\(ids.gid)", dir], timeout: 3600))
        guard r.succeeded else { throw VaultError(.io, "chown of the restored data directory \(dir): \(r.summary)") }
        guard chmod(dir, 0o700) == 0 else { throw VaultError.posix("cannot set mode 700 on", path: dir, errno: errno) }
        return removed
    }

    /// The server process of a data directory, from its postmaster.pid, when it runs.
    static func serverPid(_ dir: String) -> pid_t? {
        guard let bytes = try? ControlFile.readWholeFile(dir + "/postmaster.pid"),
              let first = String(decoding: bytes, as: UTF8.self).split(separator: "\n").first, let pid = pid_t(first), pid > 1,
              kill(pid, 0) == 0 || errno == EPERM else { return nil }
        return pid
    }

    static func postgresUser() -> FileOwner? {
        guard let pw = getpwnam("postgres") else { return nil }
        return FileOwner(uid: pw.pointee.pw_uid, gid: pw.pointee.pw_gid, mode: 0o700, user: "postgres",
                         group: getgrgid(pw.pointee.pw_gid).map { String(cString: $0.pointee.gr_name) })
    }

    /// postmaster.opts holds the server's whole command line; pg_ctl -o wants its options less -D.
    static func serverOptions(_ line: String) -> String {
        var tokens: [String] = []
        var cur = "", quoted = false, any = false
        for ch in line {
            if ch == "\"" { quoted.toggle(); any = true; continue }
            if ch == " " && !quoted { if any { tokens.append(cur) }; cur = ""; any = false; continue }
            cur.append(ch); any = true
        }
        if any { tokens.append(cur) }
        var out: [String] = []
        var i = 1
        while i < tokens.count {
            if tokens[i] == "-D" { i += 2; continue }
            out.append("'" + tokens[i].replacingOccurrences(of: "'", with: "'\\''") + "'")
            i += 1
        }
        return out.joined(separator: " ")
    }

    func clusterCommand(_ plan: ClusterPlan, _ argv: [String], timeout: Double) -> Command {
        let user = plan.owner.user ?? getpwuid(plan.owner.localIDs.uid).map { String(cString: $0.pointee.pw_name) }
        return Command(geteuid() == 0 && user != nil && user != "root" ? ["runuser", "-u", user!, "--"] + argv : argv, timeout: timeout)
    }

    private func startDescription(_ item: Item, _ plan: ClusterPlan) -> String {
        if let w = config.writer(for: item.report.name), w.start != nil || w.unit != nil {
            return "writer \(w.name)'s start command"
        }
        return "pg_ctl -D \(plan.dataDirectory) start as \(plan.owner.user ?? String(plan.owner.uid))\(plan.options.map { " -o \($0)" } ?? "")"
    }

    /// Stops the server still running on the data directory about to be replaced.
    func stopCluster(_ plan: ClusterPlan, _ item: Item) throws {
        guard let pid = Self.serverPid(plan.dataDirectory) else { return }
        let r = try ProcessRunner().run(clusterCommand(plan, [plan.bin + "/pg_ctl", "-D", plan.dataDirectory, "-m", "fast", "-w", "-t", "120", "stop"], timeout: 130))
        guard r.succeeded else {
            throw RecoveryRefusal("the PostgreSQL server (pid \(pid)) on \(plan.dataDirectory) could not be stopped: \(r.summary); nothing was replaced")
        }
        recorder.emit(.recoveryStep, component: item.report.name, "PostgreSQL server (pid \(pid)) on \(plan.dataDirectory) stopped: its data directory is replaced")
    }

    /// Starts the recovered cluster and waits until it accepts connections.
    func startCluster(_ item: Item) throws {
        guard let plan = item.cluster else { return }
        let timeout = min(item.config?.timeout ?? 300, 300)
        let writer = config.writer(for: item.report.name)
        let wasFrozen = writer.map { freezes.isFrozen($0.name) } ?? false
        // A writer that stopped the cluster lets it go first (a service writer's thaw starts it).
        if let w = writer, wasFrozen { _ = try freezes.thaw(w.name) }
        if let w = writer, w.kind == .service || w.start != nil {
            // The writer knows how this cluster is started (systemd unit, pg_ctlcluster, a script).
            if !(w.kind == .service && wasFrozen) { try WriterActions.run(w, w.start ?? ["systemctl", "start", w.unit ?? ""], "start") }
            report.started.append(w.name)
            recorder.emit(.recoveryStep, component: item.report.name, "writer \(w.name) started the recovered cluster")
        } else {
            var template = Array("/tmp/sitevault-pgstart-XXXXXX".utf8CString)
            let fd = mkstemp(&template)
            guard fd >= 0 else { throw VaultError.posix("cannot create a log file", path: "/tmp", errno: errno) }
            let log = String(cString: template)
            let ids = plan.owner.localIDs
            if geteuid() == 0 { fchown(fd, ids.uid, ids.gid) }
            close(fd)
            var argv = [plan.bin + "/pg_ctl", "-D", plan.dataDirectory, "-l", log, "-w", "-t", "\(Int(timeout))"]
            if let o = plan.options, !o.isEmpty { argv += ["-o", o] }
            let r = try ProcessRunner().run(clusterCommand(plan, argv + ["start"], timeout: timeout + 10))
            let text = (try? ControlFile.readWholeFile(log)).map { String(decoding: $0.suffix(800), as: UTF8.self) } ?? ""
            unlink(log)
            guard r.succeeded else { throw VaultError(.io, "the recovered cluster did not start: \(r.summary); server log: \(text)") }
            recorder.emit(.recoveryStep, component: item.report.name, "recovered cluster started: pg_ctl -D \(plan.dataDirectory) as \(plan.owner.user ?? String(plan.owner.uid))")
        }
        // Accepting connections through the component's own settings (the way the site reaches it).
        if let settings = item.config?.postgres {
            let client = try PostgresClient(settings, component: item.report.name, stateDir: config.stateDir)
            let deadline = monotonicSeconds() + timeout
            var last = ""
            while true {
                do { _ = try client.query("SELECT 1"); break } catch {
                    last = (error as? VaultError)?.message ?? "\(error)"
                    if monotonicSeconds() > deadline { throw VaultError(.io, "the recovered cluster does not accept connections on \(client.target) after \(Int(timeout)) s: \(last)") }
                    usleep(300_000)
                }
            }
        }
        item.out.action = "restored"; item.out.result = "ok"
    }
}
