#if canImport(Glibc)
import Glibc
#endif
import Foundation
import SiteSystem
import VaultCore
import VaultFileSystem
import VaultRepository
import VaultStorage

/// How a run is carried out (who runs it, with which clock, where messages are echoed).
public struct SiteRunOptions: Sendable {
    public var hostname: String
    public var username: String
    public var clock: VaultClock = SystemClock()
    public var echo = MessageEcho()
    /// Seconds to wait for a repository lock held by someone else.
    public var retryLock: Double = 0
    /// How destination stores are opened (rate limits, debug log, retries).
    public var storeOptions = StoreOptions()
    /// Called as each repository's commit starts, before its lock is confirmed (a test seam).
    public var beforeCommit: (@Sendable () throws -> Void)?
    public init(hostname: String, username: String) { self.hostname = hostname; self.username = username }
}

/// One run of a site's backup task (`sitevault site backup`): checks everything that can be checked,
/// freezes the writers around the consistent copies (each writer only while its own components are
/// copied, or all at once under `consistency = "site"`), stores every component, commits one
/// snapshot per destination, writes the run log, runs the after-backup hook and sends alerts.
/// Never leaves a writer frozen, never touches an earlier snapshot.
public final class SiteBackupTask: @unchecked Sendable {
    // @unchecked: `report` is guarded by `gate` once the run may be aborted from a signal handler.
    public let config: SiteConfig
    public let options: SiteRunOptions
    public let runID: String
    public let recorder: RunRecorder
    let store: StatusStore?
    let freezes: FreezeGuard
    private let gate = Mutex()
    private var report: RunReport
    /// The opened repositories: written by the run, read by `abort` on the signal queue too.
    var destinations: [String: OpenDestination] { destinationsLock.withLock { openDestinations } }
    private var openDestinations: [String: OpenDestination] = [:]
    private let destinationsLock = Mutex()
    private var aborted = false
    private var finished = false
    private var componentBackup: ComponentBackup?
    /// Set once the run lock is held: only then may the run touch the staging folder.
    private var ownsRun = false
    /// When the run started, on the monotonic clock.
    private let monoStart = monotonicSeconds()

    public init(config: SiteConfig, options: SiteRunOptions) {
        self.config = config
        self.options = options
        runID = Hex.encode((0..<8).map { _ in UInt8.random(in: 0...255) })
        do { store = try StatusStore(stateDir: config.stateDir) } catch {
            store = nil
            writeStderr("<3>sitevault[\(config.site)]: cannot open the status store in \(config.stateDir): \(error); this run's status messages go to standard error only\n")
        }
        recorder = RunRecorder(site: config.site, runID: runID, store: store, clock: options.clock, echo: options.echo,
                               utc: config.timeZone == .utc)
        freezes = FreezeGuard(stateDir: config.stateDir, runID: runID, clock: options.clock)
        report = RunReport(site: config.site, runID: runID, hostname: options.hostname, started: options.clock.now())
        report.controlFilePath = config.file
        report.consistency = config.consistency
    }

    /// Runs the whole task. Never throws: the report says how it went (`result`, `failure`).
    public func run() async -> RunReport {
        let start = monotonicSeconds()
        recorder.emit(.runStarted, "backup of site \(config.site) started on \(options.hostname) (run \(runID), control file \(config.file))")
        saveReport()
        var runLock: RunLock?
        do {
            runLock = try RunLock(stateDir: config.stateDir)
            gate.withLock { ownsRun = true }
            markInterruptedRuns()
            try thawStaleFreeze()
            for w in config.warnings { recorder.emit(.controlFileWarning, w) }
            try await perform()
        } catch let f as RunFailure {
            fail(f)
        } catch let e as VaultError {
            fail(RunFailure(e.code == .noSpace ? .destinationFull : .repository, e.message))
        } catch {
            fail(RunFailure(.repository, "\(error)"))
        }
        // Whatever happened above, nothing stays frozen.
        thawEverything()
        gate.withLock { report.durationSeconds = monotonicSeconds() - start }
        finish()
        _ = runLock
        return gate.withLock { report }
    }

    /// Whether `abort` was called (its caller reports and exits; the run's own ending must not).
    public var wasAborted: Bool { gate.withLock { aborted } }

    /// The report as it stands (for a caller that was interrupted).
    public var currentReport: RunReport { gate.withLock { report } }

    private func perform() async throws {
        // 1. Everything that can be checked before freezing.
        let used = Set(config.components.map(\.repository)).union(["main"])
        for name in used.sorted() {
            let d = config.destinations[name]!
            let opened = try OpenDestination(d, site: config.site, hostname: options.hostname, username: options.username,
                                             tags: ["site=\(config.site)", "run=\(runID)"], clock: options.clock,
                                             retryLock: options.retryLock, storeOptions: options.storeOptions,
                                             beforeCommit: options.beforeCommit)
            destinationsLock.withLock { openDestinations[name] = opened }
        }
        try checkComponents()
        for w in config.writers {
            do { try WriterActions.preflight(w) } catch let e as VaultError { throw RunFailure(.freezeFailed, e.message) }
        }
        try checkFrozenFileSystems()
        try checkStagingSpace()
        let hookState = Hook.check(config.hooks.afterBackup)
        if case .refused(let why) = hookState { recorder.emit(.hookRefused, why) }
        recorder.emit(.preflightPassed, "checked: \(used.count) repositor\(used.count == 1 ? "y" : "ies") open and writable, \(config.components.count) components, \(config.writers.count) writers; nothing frozen yet")

        // 2. Consistent copies, under one freeze window per writer or one for the whole site.
        let backup = ComponentBackup(config: config, recorder: recorder, clock: options.clock)
        gate.withLock { componentBackup = backup }
        var stored = try await takeConsistentCopies(backup)
        gate.withLock { report.freezes = freezes.freezeReports }

        // 3. Store every component (from its copy, or live when it has no writer).
        for c in config.components where stored[c.name] == nil {
            try checkNotAborted()
            stored[c.name] = await backup.store(c, into: destinations[c.repository]!, writer: config.writer(for: c.name)?.name)
        }
        let reports = config.components.map { stored[$0.name]!.1 }
        gate.withLock { report.components = reports }
        let failedComponents = reports.filter { $0.result == "failed" }
        if let full = reports.first(where: { $0.result == "failed" && ($0.message ?? "").contains("No space left") }) {
            throw RunFailure(.destinationFull, "component \(full.name): \(full.message ?? "")", component: full.name)
        }
        if config.atomic && !failedComponents.isEmpty {
            throw RunFailure(.componentFailed, "component\(failedComponents.count == 1 ? "" : "s") \(failedComponents.map(\.name).joined(separator: ", ")) failed and atomic = true: nothing was committed", component: failedComponents[0].name)
        }

        // 4. Commit: other destinations first, then the main one, whose manifest names them all.
        try commit(stored: stored)
        // The repositories' sizes, from the indexes already in memory (for /metrics: no listing).
        let sizes = destinations.mapValues { $0.repository.index.storedBytes }
        gate.withLock { report.repositorySizes = sizes }

        // 5. The after-backup hook, after a fully successful run only.
        let result = gate.withLock { report.components.allSatisfy { $0.result == "ok" } ? "succeeded" : "partial" }
        if result == "succeeded", case .allowed(let path) = hookState {
            let outcome = Hook.run(path, report: currentReport, config: config, recorder: recorder, timeout: config.hooks.timeout)
            gate.withLock { report.hook = outcome }
        } else if case .refused = hookState { gate.withLock { report.hook = "refused" } }
        // 6. Copies to the [[copy]] targets: a failure is recorded and alerted, never fails the run.
        if !config.copies.isEmpty {
            let sources = destinations.sorted { $0.key < $1.key }.map { (name: $0.key, repository: $0.value.repository) }
            let copies = SiteCopies.run(config: config, sources: sources, options: options, recorder: recorder)
            gate.withLock { report.copies = copies }
        }
        gate.withLock { report.result = result }
    }

    private func commit(stored: [String: (Node?, ComponentReport)]) throws {
        let order = destinations.keys.sorted { a, b in a == "main" ? false : (b == "main" ? true : a < b) }
        for name in order {
            try checkNotAborted()
            let dest = destinations[name]!
            let comps = config.components.filter { $0.repository == name }
            var nodes = comps.compactMap { stored[$0.name]?.0 }
            var manifest = currentReport
            manifest.result = "committed"
            // The main manifest names every component of the run, wherever it is stored (its
            // `repository` says where): recovery and drills read the site from it.
            manifest.components = (name == "main" ? config.components : comps).compactMap { stored[$0.name]?.1 }
            let arch = dest.archiver
            let time = options.clock.now()
            let meta = [
                try arch.saveBytes(name: Array("site.toml".utf8), bytes: Array(config.text.utf8), time: time),
                try arch.saveBytes(name: Array("manifest.json".utf8), bytes: Array(try JSONEncoder.sorted.encode(manifest)), time: time),
            ]
            let metaFolder = ComponentBackup(config: config, recorder: recorder, clock: options.clock)
            nodes.append(metaFolder.folderNode(".sitevault", try arch.saveTree(nodes: meta), mode: 0o700))
            let root = try arch.saveTree(nodes: nodes)
            let partial = comps.contains { stored[$0.name]?.1.result != "ok" }
            let paths = comps.flatMap { $0.kind == .database ? ($0.databasePath.map { [$0] } ?? []) : $0.paths }.sorted()
            let result: BackupResultCommit
            do {
                result = try gate.withLock { () throws -> BackupResultCommit in
                    guard !aborted else { throw RunFailure(.aborted, "interrupted before the commit") }
                    let r = try arch.commit(tree: root, paths: paths.isEmpty ? ["/"] : paths, parent: dest.parentID, started: monoStart, partial: partial)
                    report.snapshots[name] = r.id.hex
                    if name == "main" { report.snapshot = r.id.hex; report.snapshotTime = r.snapshot.time }
                    return BackupResultCommit(id: r.id, time: r.snapshot.time)
                }
            } catch let e as VaultError {
                throw RunFailure(e.code == .noSpace ? .destinationFull : .commitFailed,
                                 "repository \(name): the snapshot could not be committed: \(e.message) (earlier snapshots are untouched)")
            }
            recorder.emit(.snapshotCommitted, "snapshot \(result.id.hex.prefix(12)) committed to repository \(name) (\(dest.config.path))\(partial ? ", marked partial" : "")", at: result.time)
        }
    }

    struct BackupResultCommit { var id: ID; var time: Timestamp }

    private func checkNotAborted() throws {
        if gate.withLock({ aborted }) { throw RunFailure(.aborted, "the run was interrupted") }
    }

    /// Everything a component needs that can be checked without freezing.
    private func checkComponents() throws {
        for c in config.components {
            if c.kind == .database && c.engine == .sqlite {
                do {
                    let db = try SQLiteDatabase(path: c.databasePath!, readOnly: true)
                    _ = try db.query("SELECT count(*) FROM sqlite_master")
                } catch let e as VaultError {
                    throw RunFailure(.componentUnavailable, "database \(c.databasePath!) cannot be read: \(e.message)", component: c.name)
                }
            } else if c.kind == .database && c.engine == .postgresql {
                do {
                    let info = try PostgresClient(c.postgres!, component: c.name, stateDir: config.stateDir).inspect()
                    if info.databases.isEmpty { throw VaultError(.notFound, "no database to back up on the server") }
                } catch let e as VaultError {
                    throw RunFailure(.componentUnavailable, e.message, component: c.name)
                }
            } else if c.kind == .database, let argv = c.dumpCommand, Executable.find(argv[0]) == nil {
                throw RunFailure(.componentUnavailable, "dump command '\(argv[0])' not found", component: c.name)
            }
            for p in c.paths where access(p, F_OK) != 0 {
                throw RunFailure(.componentUnavailable, "\(p) does not exist (\(String(cString: strerror(errno))))", component: c.name)
            }
        }
    }

    /// fsfreeze blocks every write to its file system: sitevault's own state, staging copies and
    /// repositories must live elsewhere, or the run would wait on itself for ever.
    private func checkFrozenFileSystems() throws {
        for w in config.writers where w.kind == .fsfreeze {
            var m = stat()
            guard stat(w.mount!, &m) == 0 else { throw RunFailure(.freezeFailed, "writer \(w.name): mount point \(w.mount!) does not exist") }
            var ours = [("state folder", config.stateDir), ("staging folder", config.stagingDir)]
            ours += destinations.values.map { ("repository \($0.config.name)", $0.config.path) }
            for (what, path) in ours {
                var st = stat()
                if stat(path, &st) == 0 && st.st_dev == m.st_dev {
                    throw RunFailure(.freezeFailed, "writer \(w.name) would freeze \(w.mount!), which also holds the \(what) \(path): sitevault could not write while frozen; move it to another file system")
                }
            }
        }
    }

    /// The staging folder must hold every copy taken while frozen (plus SQLite copies).
    private func checkStagingSpace() throws {
        do { try makeFolder(config.stagingDir) } catch let e as VaultError {
            throw RunFailure(.destinationUnwritable, "staging folder: \(e.message)")
        }
        // Folder copies are kept between runs (only their changes are copied while frozen);
        // anything else there (database copies, components gone from the control file) goes.
        let kept = Set(config.components.filter { ComponentBackup.canStage($0) && $0.kind != .database && (config.writer(for: $0.name)?.staging ?? false) }.map(\.name))
        for name in (try? FileSystem.list(FilePath(config.stagingDir))) ?? [] where !kept.contains(String(decoding: name, as: UTF8.self)) {
            StagingCopy.remove(FilePath(config.stagingDir).appending(name))
        }
        var need: UInt64 = 0
        for c in config.components where ComponentBackup.canStage(c) {
            let w = config.writer(for: c.name)
            if (w?.staging ?? false) || (c.kind == .database && c.engine == .sqlite) {
                let size = ComponentBackup.stagingSize(c)
                let already = kept.contains(c.name) ? StagingCopy.size(of: config.stagingDir + "/" + c.name) : 0
                need += size > already ? size - already : 0
            }
        }
        guard need > 0, let free = freeSpace(config.stagingDir) else { return }
        let margin = need / 20 + (16 << 20)
        if free < need + margin {
            throw RunFailure(.stagingSpace, "the staging folder \(config.stagingDir) has \(Bytes.text(free)) free but the consistent copies need about \(Bytes.text(need + margin)): free space there or set staging_dir to a larger file system")
        }
    }

    /// Runs still "running" in the store while we hold the run lock died without finishing
    /// (kill -9, power loss): record them as interrupted so status does not call them healthy.
    private func markInterruptedRuns() {
        guard let store, let stale = try? store.runs(limit: 20, result: ["running"]) else { return }
        for var r in stale where r.runID != runID {
            r.result = "failed"
            r.failure = .aborted
            r.failureMessage = "the run ended without finishing (killed or the machine stopped); nothing was committed by it unless its snapshot is listed"
            try? store.save(r)
        }
    }

    /// A freeze record left by a run that died (kill -9, power loss): thaw those writers first.
    private func thawStaleFreeze() throws {
        let loaded: FreezeRecord?
        do { loaded = try FreezeRecord.load(stateDir: config.stateDir) } catch let e as VaultError {
            recorder.emit(.staleFreezeThawFailed, e.message)
            throw RunFailure(.thawFailed, e.message)
        }
        guard let record = loaded else { return }
        var failures: [String] = []
        for w in record.writers.reversed() {
            do {
                try WriterActions.thaw(w)
                recorder.emit(.staleFreezeThawed, "writer \(w.name) was left frozen by run \(record.runID) (process \(record.pid), frozen since \(TimeText.full(record.since, utc: config.timeZone == .utc))): thawed it before starting")
            } catch {
                failures.append("\(w.name): \((error as? VaultError)?.message ?? "\(error)")")
            }
        }
        if !failures.isEmpty {
            recorder.emit(.staleFreezeThawFailed, "a freeze left by run \(record.runID) could not be undone: \(failures.joined(separator: "; "))")
            throw RunFailure(.thawFailed, "writers left frozen by an interrupted run could not be thawed: \(failures.joined(separator: "; "))")
        }
        try FreezeRecord.clear(stateDir: config.stateDir)
    }

    private func thawEverything(abort: Bool = false) {
        let (thawed, failed) = freezes.thawAll(abort: abort)
        for t in thawed { recorder.emit(.writerThawed, "writer \(t.writer) thawed after \(formatSeconds(t.seconds ?? 0)) frozen (run ending)", at: t.thawedAt) }
        for (name, e) in failed {
            recorder.emit(.thawFailed, "writer \(name) could not thaw: \((e as? VaultError)?.message ?? "\(e)"); run `sitevault site thaw --site \(config.file)`")
            gate.withLock { if report.failure == nil || report.failure == .componentFailed { report.failure = .thawFailed; report.result = "failed" } }
        }
        gate.withLock { report.freezes = freezes.freezeReports }
    }

    private func fail(_ f: RunFailure) {
        gate.withLock {
            report.result = f.kind == .aborted ? "aborted" : "failed"
            report.failure = f.kind
            report.failureMessage = f.message
        }
        recorder.emit(f.kind.messageID, component: f.component, f.message)
    }

    /// Called from a signal handler (SIGTERM/SIGINT): thaws at once, records the abort and
    /// releases the repository locks. The caller then exits; nothing was committed unless the
    /// commit had already finished.
    public func abort(signal: Int32) -> RunReport {
        let already = gate.withLock { () -> Bool in defer { aborted = true }; return aborted || finished }
        if already { return currentReport }
        thawEverything(abort: true)
        gate.withLock { componentBackup }?.terminateChildren()
        fail(RunFailure(.aborted, "interrupted by signal \(signal); writers thawed, no snapshot committed for this run"))
        finish()
        for d in destinations.values { d.lock.release() }
        return currentReport
    }

    /// Final message, run log, stored report, alerts, staging cleanup.
    private func finish() {
        let alreadyDone = gate.withLock { () -> Bool in defer { finished = true }; return finished }
        if alreadyDone { return }
        let r = gate.withLock { () -> RunReport in report.finished = options.clock.now(); return report }
        let final: StatusMessage
        switch r.result {
        case "succeeded":
            final = recorder.emit(.runSucceeded, "backup of site \(config.site) succeeded: snapshot \(r.snapshot?.prefix(12) ?? "?"), \(r.components.count) components, frozen \(formatSeconds(r.freezeWindowSeconds))")
        case "partial":
            let bad = r.components.filter { $0.result != "ok" }.map { "\($0.name) (\($0.result))" }.joined(separator: ", ")
            final = recorder.emit(.runSucceededPartially, "backup of site \(config.site) committed snapshot \(r.snapshot?.prefix(12) ?? "?") marked partial: \(bad)")
        default:
            final = recorder.emit(.runFailed, "backup of site \(config.site) \(r.result == "aborted" ? "was interrupted" : "failed") (\(r.failure?.rawValue ?? "error")): \(r.failureMessage ?? "")")
        }
        gate.withLock { report.finished = final.time }
        saveReport()
        writeRunLog(final: final)
        Alerts.send(config: config, report: currentReport, message: final, recorder: recorder)
        if gate.withLock({ ownsRun }) {
            // Database copies go; folder copies stay for the next run (see StagingCopy).
            for c in config.components where c.kind == .database { StagingCopy.remove(config.stagingDir + "/" + c.name) }
        }
        for d in destinations.values { d.lock.release() }
    }

    private func saveReport() {
        do { try store?.save(currentReport) } catch {
            writeStderr("<3>sitevault[\(config.site)]: cannot save the run report in \(config.stateDir): \(error)\n")
        }
    }

    /// The run log goes into each destination reached (next to the data it describes) and into
    /// the state folder (so a run that could not reach its destination still has one).
    private func writeRunLog(final: StatusMessage) {
        let r = currentReport
        let utc = config.timeZone == .utc
        var header = [
            "sitevault run log",
            "site:      \(config.site)",
            "run:       \(runID)",
            "host:      \(options.hostname)",
            "control:   \(config.file)",
            "started:   \(TimeText.full(r.started, utc: utc))",
            "finished:  \(TimeText.full(r.finished ?? final.time, utc: utc))",
            "result:    \(r.result)\(r.failure.map { " (\($0.rawValue))" } ?? "")",
        ]
        if let s = r.snapshot { header.append("snapshot:  \(s)") }
        for (n, s) in r.snapshots.sorted(by: { $0.key < $1.key }) { header.append("  \(n): \(s)") }
        for c in r.copies ?? [] {
            header.append("copy \(c.target): \(c.result), \(c.copied) copied, \(c.present) already there" +
                          (c.message.map { " — \($0)" } ?? ""))
        }
        if !r.freezes.isEmpty { header.append("frozen:    " + r.freezes.map { "\($0.writer) \(formatSeconds($0.seconds ?? 0))" }.joined(separator: ", ")) }
        for c in r.components {
            header.append("component \(c.name) [\(c.kind.rawValue)]: \(c.result), \(c.files) files, \(Bytes.text(c.bytes))\(c.version.map { ", version \($0)" } ?? "")\(c.check.map { ", check \($0)" } ?? "")")
        }
        let text = recorder.logText(header: header)
        let name = "\(config.site)-\(TimeText.compact(r.started))-\(runID).log"
        for d in destinations.values {
            do { try d.repository.store.save(.init(.logs, name), bytes: Array(text.utf8)) } catch {
                recorder.emit(.destinationUnwritable, "cannot write the run log into \(d.config.path): \(error)")
            }
        }
        try? makeFolder(config.stateDir + "/logs")
        try? writeFileAtomically(config.stateDir + "/logs/" + name, Array(text.utf8))
        if !destinations.isEmpty {
            recorder.emit(.runLogWritten, "run log \(name) written to \(destinations.values.map { $0.config.path + "/logs" }.sorted().joined(separator: ", "))")
        }
    }
}
