#if canImport(Glibc)
import Glibc
#endif
import Foundation
import SiteSystem
import VaultCore
import VaultFileSystem
import VaultRepository
import VaultArchiver
import VaultRestorer

/// `sitevault site recover`: turns a site snapshot back into the site, in its original places or
/// relocated under a target folder.
///
/// Order: everything is restored into work folders beside its destination first (the
/// application keeps running meanwhile); then the writers stop the application, the paths are
/// checked for processes still holding them (refused without `force`), the copies are swapped in
/// (what they replace moves to side folders, databases are renamed aside), the databases are
/// replayed, and the writers start the application again. What was replaced is removed only when
/// everything succeeded.
public final class SiteRecovery: @unchecked Sendable {
    // @unchecked: used from one task at a time.
    public let config: SiteConfig
    public let options: RecoveryOptions
    public let runID: String
    public let recorder: RunRecorder
    var report: RecoveryReport
    let freezes: FreezeGuard
    var archive: SiteArchive!
    var items: [Item] = []
    /// Set by `abort`: the run's own ending (which would see its children killed) records nothing.
    private var aborted = false
    private let abortLock = Mutex()
    /// Whether `abort` was called (its caller reports and exits; the run's own ending stays silent).
    public var wasAborted: Bool { abortLock.withLock { aborted } }

    /// One component being recovered.
    final class Item {
        let report: ComponentReport
        let config: ComponentConfig?
        var out: ComponentRecovery
        var staged: [StagedPath] = []
        /// What each staged path must hold after the swap (checked once everything is in place).
        var expected: [(destination: String, repo: Repository, node: Node)] = []
        /// Files beside a staged path that go to its side folder too (an SQLite database's -wal, -shm).
        var aside: [(Int, String)] = []
        var postgres: (PostgresRestore, PostgresRestore.Contents)?
        var renamed: [(original: String, side: String)] = []
        var commandRestore: (argv: [String], node: Node)?
        /// Databases restored under a staging name, renamed into place at the swap (name, staged name).
        var stagedDatabases: [(name: String, staged: String)] = []
        /// A physical base backup recovered in place: the cluster to stop, swap and start.
        var cluster: ClusterPlan?
        /// A PostgreSQL component whose server is not up yet: prepared again once the cluster of
        /// the same site has been started.
        var deferred = false
        let started = monotonicSeconds()
        var failed: Bool { out.result == "failed" }
        /// The side folders holding what this component's paths replaced so far.
        var sideFolders: [String] { Array(Set(staged.filter(\.replaced).map(\.sideDir))).sorted() }
        /// Everything it replaced so far: side folders and databases renamed aside.
        var keptAside: [String] { sideFolders + renamed.map(\.side) }
        init(_ r: ComponentReport, _ c: ComponentConfig?) {
            report = r; config = c
            out = ComponentRecovery(name: r.name, kind: r.kind)
        }
        /// Marks the component failed with the error's message (the other components go on).
        func fail(_ error: Error, step: String) {
            out.result = "failed"
            out.detail = "\(step): " + ((error as? VaultError)?.message ?? (error as? RecoveryRefusal)?.message ?? "\(error)")
        }
    }

    /// A drill passes its own recorder and run id: the recovery's messages belong to the drill.
    public init(config: SiteConfig, options: RecoveryOptions, recorder: RunRecorder? = nil, runID: String? = nil) {
        self.config = config
        self.options = options
        self.runID = runID ?? Hex.encode((0..<8).map { _ in UInt8.random(in: 0...255) })
        let store = recorder == nil ? try? StatusStore(stateDir: config.stateDir) : nil
        self.recorder = recorder ?? RunRecorder(site: config.site, runID: self.runID, store: store, clock: options.clock, echo: options.echo,
                                                utc: config.timeZone == .utc)
        freezes = FreezeGuard(stateDir: config.stateDir, runID: self.runID, clock: options.clock)
        // --target / is the original places.
        report = RecoveryReport(site: config.site, runID: self.runID, target: options.target.map { FilePath($0).absolute().description }.flatMap { $0 == "/" ? nil : $0 },
                                dryRun: options.dryRun, database: options.database?.rawValue ?? "restore")
    }

    var target: String? { report.target }
    /// Nested staged paths made so far (each gets its own numbered work folder).
    private var nestedCount = 0
    /// A drill's scratch databases (original name → scratch name) and temporary clusters.
    let drillDatabases = DrillScratch()

    /// Where a destination is staged: beside it, or, when it lies inside another destination of
    /// this recovery (a database in a data folder), in the outermost one's work folder.
    func stagedPath(for dest: String) -> StagedPath {
        // Only this lane's items (files, SQLite, clusters): the dump lane runs at the same time.
        let outer = items.filter { !Self.inDumpLane($0.report) && !$0.failed }.flatMap(\.staged)
            .filter { $0.destination != dest && StagedPath.isInside(dest, $0.destination) }
            .min { $0.destination.count < $1.destination.count }
        guard let outer else { return StagedPath(destination: dest, runID: runID) }
        nestedCount += 1
        return StagedPath(destination: dest, nestedIn: outer, index: nestedCount, runID: runID)
    }

    /// Where a path of the site goes (normalised first: with a target, nothing lands outside it).
    func destination(_ path: String) -> String {
        let p = FilePath("/" + path).absolute().description
        guard let target else { return p }
        return p == "/" ? target : (target == "/" ? "" : target) + p
    }

    func mode(for c: ComponentReport) -> DatabaseMode {
        if options.drill != nil { return .restore }
        if let m = options.database { return m }
        if target != nil && c.engine != "sqlite" { return .skip }
        return .restore
    }

    public func run() async -> RecoveryReport {
        let start = monotonicSeconds()
        var lock: RunLock?
        do {
            // No backup of the site may start (and freeze the application) while it is being
            // recovered. A drill touches no production path: it holds its own drill lock.
            if options.drill == nil { lock = try RunLock(stateDir: config.stateDir, what: "backup or recovery") }
            try await perform()
        } catch let e as RunFailure {
            report.result = "refused"; report.message = e.message
            recorder.emit(.recoveryRefused, e.message)
        } catch let e as RecoveryRefusal {
            report.result = "refused"; report.message = e.message
            recorder.emit(.recoveryRefused, e.message)
        } catch {
            report.result = "failed"
            report.message = (error as? VaultError)?.message ?? "\(error)"
            report.errorCode = (error as? VaultError)?.code.rawValue
            recorder.emit(.recoveryStepFailed, report.message!)
        }
        if report.result == "refused" {
            for item in items where item.out.result == "ok" { item.out.action = "not replaced"; item.out.result = "skipped" }
        }
        startWriters()
        if report.result == "running" {
            // A partial recovery leaves the application stopped: started on a missing database it
            // could create an empty one, or serve half a site.
            let why = items.contains(where: \.failed) ? "the recovery is partial; start them once the failed components are recovered"
                : options.components != nil ? "only some components were recovered (--components); start them by hand" : nil
            if let why {
                if target == nil && !config.writers.filter({ $0.start != nil }).isEmpty {
                    recorder.emit(.recoveryStep, "applications not started and not probed: \(why)")
                }
            } else {
                startApplications()
                runProbe()
            }
            settleResult()
        }
        cleanUpReplaced()
        for item in items { item.out.seconds = item.out.seconds == 0 ? monotonicSeconds() - item.started : item.out.seconds }
        report.components = items.map(\.out)
        report.problems = items.filter(\.failed).map { "\($0.report.name): \($0.out.detail ?? "failed")" } + report.problems
        report.durationSeconds = monotonicSeconds() - start
        finish()
        // A drill goes on reading (its checks) under the same repository locks; it releases them.
        if options.drill == nil { archive?.release() }
        _ = lock
        return report
    }

    /// recovered (everything back and the probe passed), partial (some components failed), failed
    /// (none came back), probe-failed (everything restored, but the application does not answer).
    private func settleResult() {
        let bad = items.filter(\.failed)
        if !bad.isEmpty {
            report.result = bad.count == items.count ? "failed" : "partial"
            report.message = "\(bad.count) of \(items.count) components failed: " + bad.map { "\($0.report.name) (\($0.out.detail ?? "failed"))" }.joined(separator: "; ")
        } else if let p = report.probe, p.result != "passed" {
            report.result = "probe-failed"
            report.message = "every component was restored, but the health probe failed: \(p.detail)"
        } else {
            report.result = "recovered"
        }
    }

    private func perform() async throws {
        archive = try SiteArchive(config: config, ref: options.snapshot, password: options.password, operation: "site recover",
                                  hostname: options.hostname, clock: options.clock, noLock: options.noLock,
                                  onIndexWarning: { [recorder] in recorder.emit(.repositoryIndexDamaged, $0) })
        for w in archive.lockWarnings { recorder.emit(.readingWithoutLock, w) }
        let snap = archive.snapshot
        report.snapshot = snap.id.hex
        report.snapshotTime = snap.manifest.snapshotTime ?? snap.snapshot.time
        report.backupRun = snap.manifest.runID
        let available = snap.manifest.components.filter { $0.result != "skipped" }
        if let wanted = options.components {
            let unknown = wanted.filter { w in !available.contains { $0.name == w } }
            if !unknown.isEmpty {
                throw RecoveryRefusal("snapshot \(snap.id.short) has no component \(unknown.joined(separator: ", ")) (it has: \(available.map(\.name).joined(separator: ", ")))")
            }
        }
        items = RecoveryOrder.sorted(available.filter { options.components?.contains($0.name) ?? true }.map { r in Item(r, config.components.first { $0.name == r.name }) })
        if options.drill == nil { recorder.emit(.recoveryStarted, "\(options.dryRun ? "dry run of the " : "")recovery of site \(config.site) from snapshot \(snap.id.short) (backup run \(snap.manifest.runID), \(TimeText.full(report.snapshotTime!, utc: config.timeZone == .utc))) \(target.map { "under \($0)" } ?? "to the original places"): \(items.map(\.report.name).joined(separator: ", ")); databases: \(options.database?.rawValue ?? (target == nil ? "restore" : "restore SQLite, PostgreSQL left alone"))") }

        if !options.dryRun { try checkSpace() }
        // 1. Restore into work folders (or, dry run: compare). Nothing in place is touched yet. A
        // component that cannot be prepared fails alone; the others go on.
        // Two lanes at once: PostgreSQL dumps restore mostly in the server, files in here.
        let dumps = items.filter { Self.inDumpLane($0.report) }
        let others = items.filter { !Self.inDumpLane($0.report) }
        async let dumpLane: Void = prepareAll(dumps)
        await prepareAll(others)
        await dumpLane
        if options.dryRun {
            report.result = "dry-run"
            return
        }
        guard items.contains(where: { !$0.failed }) else { return }
        // 2. Stop the application (and a cluster being replaced), then nothing may hold the paths.
        if target == nil { try stopWriters() }
        for item in items where !item.failed { if let plan = item.cluster { try stopCluster(plan, item) } }
        try checkBusy()
        // 3. Swap in, outer paths first (a folder before the databases inside it), then start the
        // recovered clusters, then replay databases into the running servers.
        try swapAll()
        for item in items where !item.failed && item.cluster != nil {
            do { try startCluster(item) } catch { item.fail(error, step: "starting the cluster") }
        }
        for item in items where item.deferred && !item.failed { await prepare(item) }
        for item in items where !item.failed && !item.staged.isEmpty { verifyInPlace(item) }
        for item in items where !item.failed {
            do { try replay(item) } catch {
                item.fail(error, step: "restore")
                item.out.replaced = item.keptAside
                recorder.emit(.recoveryStepFailed, component: item.report.name, "\(item.out.detail!)\(item.out.replaced.isEmpty ? "" : "; what it replaced is kept in \(item.out.replaced.joined(separator: ", "))")")
            }
        }
    }

    /// Logical PostgreSQL dumps are prepared in a lane of their own, beside the files.
    static func inDumpLane(_ r: ComponentReport) -> Bool { r.engine == "postgresql" && r.cluster == nil }

    private func prepareAll(_ list: [Item]) async {
        for item in list { await prepare(item) }
    }

    /// Prepares one component; a failure is that component's alone (reported with its problem).
    private func prepare(_ item: Item) async {
        let wasDeferred = item.deferred
        item.deferred = false
        do {
            if item.report.kind == .database { try await prepareDatabase(item) } else { try await prepareFiles(item) }
        } catch {
            // A PostgreSQL server that is down while the site's own cluster is being recovered: retried once it runs.
            // (Only the manifest is read here: the other lane's items may change meanwhile.)
            if !wasDeferred && !options.dryRun && item.report.engine == "postgresql" && items.contains(where: { $0.report.cluster != nil }) {
                item.deferred = true
                item.out.detail = "waits for the recovered cluster to start: \((error as? VaultError)?.message ?? "\(error)")"
                return
            }
            item.fail(error, step: options.dryRun ? "plan" : "preparing")
            recorder.emit(.recoveryStepFailed, component: item.report.name, item.out.detail!)
        }
    }

    /// Processes holding the paths to replace, and sessions in databases to replace: refused
    /// (nothing replaced yet) unless --force.
    private func checkBusy() throws {
        let ready = items.filter { !$0.failed }
        var busy = OpenFiles.users(of: ready.flatMap { $0.staged.map(\.destination) + $0.aside.map(\.1) })
            .map { "process \($0.pid) (\($0.name)) uses \($0.path)" }
        for item in ready { if let (pg, _) = item.postgres, mode(for: item.report) == .restore {
            // The live databases about to be renamed aside (a drill's scratch copies replace nothing).
            for (name, staged) in item.stagedDatabases where staged != name {
                if try pg.exists(name), try pg.sessions(name) > 0 { busy.append("database \(name) has \(try pg.sessions(name)) open session(s)") }
            }
        } }
        report.busy = busy
        if !busy.isEmpty {
            if !options.force {
                throw RecoveryRefusal("the site is in use, nothing was replaced: \(busy.prefix(5).joined(separator: "; "))\(busy.count > 5 ? " (\(busy.count) in all)" : ""); stop the application (or give its [[writer]] a stop command), or pass --force to replace it anyway")
            }
            recorder.emit(.recoveryStep, "--force: replacing paths in use: \(busy.prefix(5).joined(separator: "; "))")
        }
    }

    /// The restored copies sit beside what they replace until the swap: each file system needs
    /// room for the components restored onto it. Checked before anything is written.
    private func checkSpace() throws {
        var need: [UInt64: (bytes: UInt64, path: String)] = [:]
        for item in items where item.report.engine != "postgresql" {
            guard let first = item.report.paths.first else { continue }
            var dir = StagedPath.parent(destination(first))
            while !StagedPath.exists(dir) && dir != "/" { dir = StagedPath.parent(dir) }
            var st = stat()
            guard stat(dir, &st) == 0 else { continue }
            let dev = UInt64(st.st_dev)
            need[dev] = ((need[dev]?.bytes ?? 0) + item.report.bytes, need[dev]?.path ?? dir)
        }
        for (_, n) in need {
            if let free = freeSpace(n.path), free < n.bytes + n.bytes / 20 {
                throw RecoveryRefusal("\(n.path) has \(Bytes.text(free)) free, the recovery needs about \(Bytes.text(n.bytes)) there (restored copies sit beside what they replace until the swap): free space, or recover elsewhere with --target")
            }
        }
    }

    func databaseName(_ original: String, _ item: Item) -> String {
        if let d = options.drill { return drillDatabases.name(for: original, prefix: d.scratchPrefix) }
        return options.databaseNames[original] ?? (item.postgres?.1.dumps.count == 1 ? options.databaseNames["*"] : nil) ?? original
    }

    // MARK: writers

    private func stopWriters() throws {
        let names = Set(items.map(\.report.name))
        for w in config.writers where !w.components.filter(names.contains).isEmpty {
            switch w.kind {
            case .fsfreeze:
                recorder.emit(.recoveryStep, "writer \(w.name) (fsfreeze) is not used to recover: a frozen file system cannot be written; the paths are checked for running processes instead")
                continue
            case .signal:
                if (try? WriterActions.preflight(w)) == nil {
                    recorder.emit(.recoveryStep, "writer \(w.name): the application is not running (\(w.pidFile ?? "")), nothing to stop")
                    continue
                }
            case .service, .command:
                if (try? WriterActions.preflight(w)) == nil {
                    recorder.emit(.recoveryStep, "writer \(w.name): its stop command is not on this machine (the disaster took it, or this recovery brings it back): nothing is stopped; the paths are checked for running processes instead")
                    continue
                }
            }
            do { _ = try freezes.freeze(w, components: w.components) } catch {
                throw RecoveryRefusal("writer \(w.name) could not stop the application: \((error as? VaultError)?.message ?? "\(error)"); nothing was replaced")
            }
            report.writers.append(w.name)
            recorder.emit(.recoveryStep, "writer \(w.name) (\(w.kind.rawValue)) stopped the application for the recovery")
        }
    }

    /// Every writer that stopped the application starts it again (the freeze guard holds exactly
    /// those); `interrupted` when called from `abort`.
    private func startWriters(interrupted: Bool = false) {
        let (thawed, failed) = freezes.thawAll(abort: interrupted)
        for r in thawed {
            recorder.emit(.recoveryStep, "writer \(r.writer) started the application again\(interrupted ? " (the recovery was interrupted)" : "")")
        }
        for (name, e) in failed {
            recorder.emit(.thawFailed, "writer \(name) could not start the application again: \((e as? VaultError)?.message ?? "\(e)"); run `sitevault site thaw --site \(config.file)`")
        }
    }

    /// SIGTERM / SIGINT: the writers start the application again at once; what was already
    /// replaced stays in the side folders (named in the report). The caller exits.
    public func abort(signal: Int32) -> RecoveryReport {
        abortLock.withLock { aborted = true }
        ChildProcesses.terminateAll()
        startWriters(interrupted: true)
        let kept = items.flatMap(\.keptAside)
        var r = report
        r.result = "failed"
        r.message = "interrupted by signal \(signal)"
        r.kept = Array(Set(kept)).sorted()
        r.components = items.map(\.out)
        recorder.emit(.recoveryFailed, "recovery of site \(config.site) interrupted by signal \(signal)\(r.kept.isEmpty ? ": nothing was replaced yet" : "; what was replaced so far is kept in \(r.kept.joined(separator: ", "))")")
        return r
    }

    // MARK: end

    private func finish() {
        if abortLock.withLock({ aborted }) { return }
        // Work folders never outlive the recovery; side folders are kept on failure.
        for item in items { for s in item.staged { StagingCopy.remove(s.work) } }
        // A drill reports its own steps and writes its own log.
        if options.drill != nil { return }
        if report.result != "recovered" && report.result != "dry-run" {
            let kept = items.flatMap(\.keptAside)
            report.kept = Array(Set(report.kept + kept)).sorted()
        }
        let utc = config.timeZone == .utc
        switch report.result {
        case "recovered":
            recorder.emit(.recoverySucceeded, "site \(config.site) recovered from snapshot \(report.snapshot.prefix(12)) in \(formatSeconds(report.durationSeconds)): \(items.map { "\($0.out.name) \($0.out.action)" }.joined(separator: ", "))\(report.kept.isEmpty ? "" : "; replaced copies kept in \(report.kept.joined(separator: ", "))")")
        case "dry-run":
            recorder.emit(.recoverySucceeded, "dry run of the recovery of site \(config.site) from snapshot \(report.snapshot.prefix(12)): nothing was changed")
        default:
            recorder.emit(.recoveryFailed, "recovery of site \(config.site) \(report.result): \(report.message ?? "")\(report.kept.isEmpty ? "" : "; replaced copies kept in \(report.kept.joined(separator: ", "))")")
        }
        let header = ["sitevault recovery log", "site:      \(config.site)", "run:       \(runID)", "snapshot:  \(report.snapshot)",
                      "target:    \(target ?? "original places")", "result:    \(report.result)",
                      "finished:  \(TimeText.full(options.clock.now(), utc: utc))"]
        try? makeFolder(config.stateDir + "/logs")
        try? writeFileAtomically(config.stateDir + "/logs/\(config.site)-recover-\(TimeText.compact(options.clock.now()))-\(runID).log",
                                 Array(recorder.logText(header: header).utf8))
    }
}

/// A recovery stopped before anything was replaced.
struct RecoveryRefusal: Error {
    let message: String
    init(_ m: String) { message = m }
}
