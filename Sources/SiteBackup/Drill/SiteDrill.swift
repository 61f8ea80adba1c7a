#if canImport(Glibc)
import Glibc
#endif
import Foundation
import SiteSystem
import VaultCore
import VaultFileSystem
import VaultRepository
import VaultRestorer

/// How a drill is run.
public struct DrillOptions: Sendable {
    public var snapshot = "latest"
    public var hostname: String
    public var clock: VaultClock = SystemClock()
    public var echo = MessageEcho()
    /// Leave the sandbox in place for inspection (scratch databases are still dropped).
    public var keepSandbox = false
    /// Read the repositories without taking a lock (`--no-lock`).
    public var noLock = false
    public init(hostname: String) { self.hostname = hostname }
}

/// `sitevault site drill`: proves a snapshot can bring the site back. It restores every component
/// into a sandbox (files and SQLite copies into a scratch folder, PostgreSQL dumps into scratch
/// databases, a base backup into a temporary cluster on a free port), checks each (checksums of
/// every restored file against the snapshot, SQLite integrity_check, the configured SQL check),
/// runs the optional user command against the sandbox, times every step, and removes the sandbox.
/// Nothing in production is started, stopped or written.
public final class SiteDrill: @unchecked Sendable {
    // @unchecked: `report` is guarded by `mutex` (the two lanes add steps concurrently).
    public let config: SiteConfig
    public let options: DrillOptions
    public let runID: String
    public let recorder: RunRecorder
    let store: StatusStore?
    private let mutex = Mutex()
    private var report: DrillReport
    private var cleanups: [(String, () -> Void)] = []
    private var databaseEnv: [String: String] = [:]
    /// Set by `abort`: the run's own ending (which would see its children killed) records nothing.
    private var aborted = false
    /// Whether `abort` was called (its caller reports and exits; the run's own ending stays silent).
    public var wasAborted: Bool { mutex.withLock { aborted } }
    /// The main repository, kept open for the run log.
    private var mainRepository: Repository?
    let sandbox: String

    public init(config: SiteConfig, options: DrillOptions) {
        self.config = config
        self.options = options
        runID = Hex.encode((0..<8).map { _ in UInt8.random(in: 0...255) })
        store = try? StatusStore(stateDir: config.stateDir)
        recorder = RunRecorder(site: config.site, runID: runID, store: store, clock: options.clock, echo: options.echo, utc: config.timeZone == .utc)
        sandbox = config.drillSandbox + "/" + runID
        report = DrillReport(site: config.site, runID: runID, hostname: options.hostname, started: options.clock.now(), sandbox: sandbox)
    }

    public var currentReport: DrillReport { mutex.withLock { report } }

    public func run() async -> DrillReport {
        let start = monotonicSeconds()
        var lock: RunLock?
        do {
            lock = try RunLock(stateDir: config.stateDir, name: "drill.lock", what: "drill")
            try await perform()
        } catch {
            let msg = (error as? VaultError)?.message ?? (error as? RunFailure)?.message ?? "\(error)"
            mutex.withLock { report.failure = report.failure ?? msg }
            if !report.steps.contains(where: { $0.result == "failed" }) { recorder.emit(.drillStepFailed, msg) }
        }
        let c0 = monotonicSeconds()
        cleanUp()
        _ = lock
        mutex.withLock {
            report.cleanupSeconds = monotonicSeconds() - c0
            report.totalSeconds = monotonicSeconds() - start
            report.result = report.failure == nil && report.steps.allSatisfy { $0.result == "ok" } ? "passed" : "failed"
            if report.result == "failed" && report.failure == nil {
                let bad = report.steps.first { $0.result == "failed" }!
                report.failure = "\(bad.component.map { "\($0): " } ?? "")\(bad.name): \(bad.detail)"
            }
        }
        finish()
        return currentReport
    }

    /// SIGTERM / SIGINT: the scratch databases and temporary cluster go, the sandbox too; the
    /// drill is recorded as failed (interrupted). The caller exits.
    public func abort(signal: Int32) -> DrillReport {
        mutex.withLock { aborted = true }
        ChildProcesses.terminateAll()
        cleanUp()
        mutex.withLock {
            report.failure = "interrupted by signal \(signal); the sandbox and scratch databases were removed"
            report.result = "failed"
        }
        let m = recorder.emit(.drillFailed, "recovery drill of site \(config.site) interrupted by signal \(signal)")
        mutex.withLock { report.finished = m.time }
        try? store?.saveDrill(currentReport)
        return currentReport
    }

    private func perform() async throws {
        // Recovery time counts from opening the repository: finding the snapshot is part of it.
        let t0 = monotonicSeconds()
        let archive = try SiteArchive(config: config, ref: options.snapshot, operation: "site drill", hostname: options.hostname,
                                      clock: options.clock, noLock: options.noLock,
                                      onIndexWarning: { [recorder] in recorder.emit(.repositoryIndexDamaged, $0) })
        defer { archive.release() }
        for w in archive.lockWarnings { recorder.emit(.readingWithoutLock, w) }
        mutex.withLock { mainRepository = archive.main }
        let m = archive.manifest
        mutex.withLock {
            report.snapshot = archive.snapshot.id.hex
            report.snapshotTime = m.snapshotTime ?? archive.snapshot.snapshot.time
            report.backupRun = m.runID
            // The manifest is written before the run ends: its backup took from its start to the commit.
            report.backupSeconds = m.durationSeconds > 0 ? m.durationSeconds : (m.snapshotTime ?? archive.snapshot.snapshot.time).seconds - m.started.seconds
        }
        guard !StagedPath.exists(sandbox) else { throw VaultError(.targetNotEmpty, "drill sandbox \(sandbox) exists already") }
        try makeFolder(sandbox)
        recorder.emit(.drillStarted, "recovery drill of site \(config.site): snapshot \(archive.snapshot.id.short) (backup run \(m.runID)) restored into \(sandbox)")
        let components = m.components.filter { $0.result != "skipped" }
        let databases = components.filter { $0.engine == "postgresql" }
        let files = components.filter { $0.engine != "postgresql" }
        // Two lanes at once: PostgreSQL restores work mostly in the server, file restores in here.
        async let dbLane: Void = runLane(databases, archive)
        async let fileLane: Void = runLane(files, archive)
        _ = await (dbLane, fileLane)
        mutex.withLock { report.recoverySeconds = monotonicSeconds() - t0 }
        if let argv = config.drill.command, !currentReport.steps.contains(where: { $0.result == "failed" }) {
            let c0 = monotonicSeconds()
            var env = mutex.withLock { databaseEnv }
            env["SITEVAULT_SANDBOX"] = sandbox
            env["SITEVAULT_SITE"] = config.site
            env["SITEVAULT_SNAPSHOT"] = archive.snapshot.id.hex
            var cmd = Command(argv, extraEnvironment: env, timeout: config.drill.timeout)
            cmd.workingDirectory = sandbox
            await step(nil, "command") {
                let r = try ProcessRunner().run(cmd)
                guard r.succeeded else {
                    let err = r.stderrText.split(separator: "\n").last.map(String.init) ?? ""
                    throw VaultError(.io, "\(argv.joined(separator: " ")) \(r.summary)\(err.isEmpty ? "" : ": \(err)")")
                }
                return "\(argv[0]) exited 0"
            }
            mutex.withLock { report.commandSeconds = monotonicSeconds() - c0 }
        }
    }

    private func runLane(_ comps: [ComponentReport], _ archive: SiteArchive) async {
        for c in comps {
            do {
                try await drill(c, archive)
            } catch {
                record(DrillStep(component: c.name, name: "open", seconds: 0, result: "failed", detail: (error as? VaultError)?.message ?? "\(error)"))
            }
        }
    }

    /// Runs one timed step; a thrown error fails it with its message.
    @discardableResult
    private func step(_ component: String?, _ name: String, _ body: () async throws -> String) async -> Bool {
        let s = monotonicSeconds()
        do {
            let detail = try await body()
            record(DrillStep(component: component, name: name, seconds: monotonicSeconds() - s, result: "ok", detail: detail))
            return true
        } catch {
            record(DrillStep(component: component, name: name, seconds: monotonicSeconds() - s, result: "failed",
                             detail: (error as? VaultError)?.message ?? "\(error)"))
            return false
        }
    }

    private func record(_ s: DrillStep) {
        mutex.withLock { report.steps.append(s) }
        let text = "\(s.name): \(s.detail) (\(formatSeconds(s.seconds)))"
        recorder.emit(s.result == "ok" ? .drillStepPassed : .drillStepFailed, component: s.component, text)
    }

    /// What the user command gets in its environment (both lanes add to it). Without `replacing`,
    /// the first database's connection wins.
    private func setEnv(_ values: [String: String], replacing: Bool = true) {
        mutex.withLock {
            if !replacing && databaseEnv["PGDATABASE"] != nil { return }
            databaseEnv.merge(values) { _, new in new }
        }
    }

    /// Scratch databases dropped, temporary cluster stopped (newest first), sandbox removed. Each
    /// cleanup runs once, whether the drill ends or is interrupted.
    private func cleanUp() {
        let undo = mutex.withLock { () -> [(String, () -> Void)] in defer { cleanups = [] }; return cleanups }
        for (_, u) in undo.reversed() { u() }
        if !options.keepSandbox { StagingCopy.remove(sandbox) }
    }

    private func addCleanup(_ what: String, _ undo: @escaping () -> Void) { mutex.withLock { cleanups.append((what, undo)) } }

    private func drill(_ c: ComponentReport, _ archive: SiteArchive) async throws {
        let (repo, tree) = try archive.component(c.name)
        let dir = sandbox + "/" + c.name
        if c.engine == "postgresql" {
            try await drillPostgres(c, repo: repo, tree: tree, dir: dir)
            return
        }
        guard await step(c.name, "restore", {
            let r = try await Restorer(repository: repo, tree: tree, options: RestoreOptions(target: dir)).run()
            if !r.errors.isEmpty { throw VaultError(.io, "\(r.errors.count) error(s) restoring into the sandbox, first: \(r.errors[0].path): \(r.errors[0].message)") }
            return "\(r.files) files, \(Bytes.text(r.bytes)) restored into \(dir)"
        }) else { return }
        await step(c.name, "checksums") {
            let v = try await RestoreVerifier(repository: repo).verify(tree: tree, at: FilePath(dir))
            if v.mismatchCount > 0 {
                throw VaultError(.corrupt, "\(v.mismatchCount) restored file(s) differ from the snapshot: \(v.mismatches.prefix(3).joined(separator: "; "))")
            }
            return "\(v.files) files, \(Bytes.text(v.bytes)) read back, every chunk matches the snapshot"
        }
        if c.engine == "sqlite", let path = c.paths.first {
            let copy = dir + "/" + StagedPath.base(path)
            await step(c.name, "integrity_check") {
                let db = try SQLiteDatabase(path: copy, readOnly: true)
                let result = try db.integrityCheck(quick: false)
                guard result == "ok" else { throw VaultError(.corrupt, "PRAGMA integrity_check on the restored copy of \(path) found: \(result)") }
                let tables = try db.tableCount()
                return "PRAGMA integrity_check ok on the restored copy of \(path) (\(tables) tables)"
            }
            setEnv(["SITEVAULT_DRILL_SQLITE_\(envName(c.name))": copy])
        }
    }

    func envName(_ s: String) -> String {
        String(s.uppercased().map { $0.isLetter || $0.isNumber ? $0 : "_" })
    }

    private func drillPostgres(_ c: ComponentReport, repo: Repository, tree: ID, dir: String) async throws {
        let contents = PostgresRestore.contents(try repo.loadTree(tree).nodes)
        let component = config.components.first { $0.name == c.name }
        let timeout = component?.timeout ?? 3600
        if let base = contents.baseBackup {
            try await drillPhysical(c, repo: repo, base: base, dir: dir, settings: component?.postgres ?? PostgresSettings(), timeout: timeout)
            return
        }
        guard let settings = component?.postgres else {
            throw VaultError(.invalidArgument, "the control file has no PostgreSQL settings for component \(c.name): a drill restores its dumps into scratch databases on the configured server")
        }
        let client = try PostgresClient(settings, component: c.name + "-drill", stateDir: config.stateDir)
        let pg = PostgresRestore(client: client, repo: repo, component: c.name, timeout: timeout)
        if let g = contents.globals {
            await step(c.name, "globals") {
                try makeFolder(dir)
                let fd = open(dir + "/globals.sql", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
                guard fd >= 0 else { throw VaultError.posix("cannot create", path: dir + "/globals.sql", errno: errno) }
                defer { close(fd) }
                let n = try SnapshotFile.write(repo, node: g, to: fd, label: dir + "/globals.sql")
                return "globals.sql (\(Bytes.text(n))) restored, every chunk authenticated (roles are not replayed in a drill)"
            }
        }
        for (i, d) in contents.dumps.enumerated() {
            let scratch = "sitevault_drill_\(runID.prefix(8))_\(i)"
            addCleanup("drop \(scratch)") { try? pg.drop(scratch) }
            guard await step(c.name, "pg_restore \(d.database)", {
                try pg.create(scratch)
                try pg.restore(d.node, into: scratch, keepOwners: false)
                return "dump of \(d.database) (\(Bytes.text(d.node.size))) restored into scratch database \(scratch) on \(client.target): \(try pg.tableCount(scratch)) tables"
            }) else { continue }
            await step(c.name, "check \(d.database)") {
                if let sql = settings.verifySQL {
                    try client.expectTrue(sql, database: scratch, place: "on the restored copy of \(d.database)")
                    return "check query true on the restored copy: \(sql)"
                }
                let rows = try client.query("SELECT coalesce(sum(n_live_tup), 0) FROM pg_stat_user_tables", database: scratch).first?.first ?? "?"
                return "restored copy answers (\(rows) rows by the statistics; set verify_sql for a real check)"
            }
            setEnv(["SITEVAULT_DRILL_DB_\(envName(d.database))": scratch])
            setEnv(["PGHOST": settings.host, "PGPORT": "\(settings.port)", "PGUSER": settings.user, "PGDATABASE": scratch], replacing: false)
        }
        // The pgpass file lives as long as the client: through the user command, until cleanup.
        addCleanup("pgpass") { _ = client }
    }

    private func drillPhysical(_ c: ComponentReport, repo: Repository, base: Node, dir: String, settings: PostgresSettings, timeout: Double) async throws {
        let cluster = try TemporaryCluster(sandbox: dir + "/pgdata", bin: try PostgresClient.binaries(settings.binDir))
        addCleanup("stop cluster") { cluster.stop() }
        let data = cluster.dataDir
        guard await step(c.name, "extract base backup", {
            let (r, _) = try SnapshotFeed.run(Command(["tar", "-x", "-C", data], timeout: timeout), repo: repo, node: base, label: "tar -x")
            guard r.succeeded else { throw VaultError(.io, "tar -x of the base backup: \(r.summary)") }
            return "base.tar (\(Bytes.text(base.size))) extracted into \(data)"
        }) else { return }
        guard await step(c.name, "start cluster", {
            try cluster.start(timeout: min(timeout, 600))
            return "restored cluster started on port \(cluster.port) (socket in \(cluster.socketDir)), WAL replayed to a consistent state"
        }) else { return }
        let client = try PostgresClient(cluster.settings(user: settings.user), component: c.name + "-drill", stateDir: config.stateDir)
        let db = settings.verifyDatabase
        await step(c.name, "check") {
            let dbs = try client.query("SELECT count(*) FROM pg_database WHERE NOT datistemplate").first?.first ?? "?"
            if let sql = settings.verifySQL {
                try client.expectTrue(sql, database: db, place: "in \(db)")
                return "\(dbs) databases; check query true in \(db): \(sql)"
            }
            return "\(dbs) databases answer (set verify_sql for a real check)"
        }
        setEnv(["PGHOST": cluster.socketDir, "PGPORT": "\(cluster.port)", "PGUSER": settings.user, "PGDATABASE": db], replacing: false)
    }

    private func finish() {
        if mutex.withLock({ aborted }) { return }
        let r = currentReport
        let utc = config.timeZone == .utc
        let final: StatusMessage
        let timing = "recovery \(formatSeconds(r.recoverySeconds ?? 0))" + (r.backupSeconds.map { ", backup \(formatSeconds($0))" } ?? "") + (r.ratio.map { " (\(String(format: "%.2f", $0))×)" } ?? "")
        if r.result == "passed" {
            final = recorder.emit(.drillPassed, "recovery drill of site \(config.site) passed: snapshot \(r.snapshot?.prefix(12) ?? "?"), \(r.steps.count) steps, \(timing)")
        } else {
            final = recorder.emit(.drillFailed, "recovery drill of site \(config.site) failed: \(r.failure ?? "?")")
        }
        mutex.withLock { report.finished = final.time }
        let done = currentReport
        do { try store?.saveDrill(done) } catch {
            writeStderr("<3>sitevault[\(config.site)]: cannot save the drill report in \(config.stateDir): \(error)\n")
        }
        var header = ["sitevault recovery drill", "site:      \(config.site)", "run:       \(runID)", "host:      \(options.hostname)",
                      "snapshot:  \(done.snapshot ?? "?")", "result:    \(done.result)\(done.failure.map { " (\($0))" } ?? "")",
                      "started:   \(TimeText.full(done.started, utc: utc))", "finished:  \(TimeText.full(final.time, utc: utc))",
                      "recovery:  \(formatSeconds(done.recoverySeconds ?? 0)) (backup of the snapshot: \(done.backupSeconds.map(formatSeconds) ?? "?"))", ""]
        for s in done.steps { header.append("step \(s.component.map { "[\($0)] " } ?? "")\(s.name): \(s.result), \(formatSeconds(s.seconds)): \(s.detail)") }
        let text = recorder.logText(header: header)
        let name = "\(config.site)-drill-\(TimeText.compact(done.started))-\(runID).log"
        try? makeFolder(config.stateDir + "/logs")
        try? writeFileAtomically(config.stateDir + "/logs/" + name, Array(text.utf8))
        if let repo = mutex.withLock({ mainRepository }) ?? (try? SiteSnapshots.open(config.mainDestination, clock: options.clock)) {
            try? repo.store.save(.init(.logs, name), bytes: Array(text.utf8))
        }
        Alerts.send(config: config, drill: done, message: final, recorder: recorder)
    }
}
