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
        // The recovery itself, as `site recover` does it, into the sandbox: same order, nested
        // paths, owners and modes, checks in place; dumps into scratch databases, a base backup
        // started as a temporary cluster. Its time is the site's measured recovery time.
        let t0 = monotonicSeconds()
        guard !StagedPath.exists(sandbox) else { throw VaultError(.targetNotEmpty, "drill sandbox \(sandbox) exists already") }
        try makeFolder(sandbox)
        var ro = RecoveryOptions(hostname: options.hostname)
        ro.snapshot = options.snapshot
        ro.target = sandbox
        ro.clock = options.clock
        ro.echo = options.echo
        ro.noLock = options.noLock
        ro.drill = .init(scratchPrefix: "sitevault_drill_\(runID.prefix(8))_")
        let recovery = SiteRecovery(config: config, options: ro, recorder: recorder, runID: runID)
        addCleanup("scratch databases and temporary clusters") { recovery.drillDatabases.cleanUp() }
        recorder.emit(.drillStarted, "recovery drill of site \(config.site): snapshot \(options.snapshot) recovered into \(sandbox) the way site recover does it")
        let recovered = await recovery.run()
        guard let archive = recovery.archive else { throw VaultError(.io, recovered.message ?? "the snapshot could not be opened") }
        defer { archive.release() }
        let m = archive.manifest
        mutex.withLock {
            mainRepository = archive.main
            report.snapshot = archive.snapshot.id.hex
            report.snapshotTime = m.snapshotTime ?? archive.snapshot.snapshot.time
            report.backupRun = m.runID
            // The manifest is written before the run ends: its backup took from its start to the commit.
            report.backupSeconds = m.durationSeconds > 0 ? m.durationSeconds : (m.snapshotTime ?? archive.snapshot.snapshot.time).seconds - m.started.seconds
        }
        for c in recovered.components {
            let what = c.detail ?? "\(c.files) files, \(Bytes.text(c.bytes)) to \(c.destinations.joined(separator: ", "))"
            record(DrillStep(component: c.name, name: "recover", seconds: c.seconds, result: c.result == "ok" ? "ok" : "failed", detail: what))
        }
        if recovered.components.isEmpty || recovered.result == "refused" {
            throw VaultError(.io, recovered.message ?? "nothing was recovered")
        }
        let recoverySeconds = monotonicSeconds() - t0
        mutex.withLock { report.recoverySeconds = recoverySeconds }
        // Then the checks: every restored byte against the snapshot, each database's own check
        // (before the application runs and changes the files).
        let c0 = monotonicSeconds()
        for c in recovered.components where c.result == "ok" {
            guard let r = archive.report(c.name) else { continue }
            await check(r, archive, recovery)
        }
        mutex.withLock { report.checkSeconds = monotonicSeconds() - c0 }
        // The application started from the sandbox and probed, as recovery starts and probes it:
        // that time belongs to the recovery time.
        let env = sandboxEnvironment(recovered.components, archive, recovery)
        if let start = config.drill.start, !currentReport.steps.contains(where: { $0.result == "failed" }) {
            let a0 = monotonicSeconds()
            await startApplication(start, environment: env)
            let startSeconds = monotonicSeconds() - a0
            mutex.withLock { report.startSeconds = startSeconds; report.recoverySeconds = recoverySeconds + startSeconds }
        }
        if let argv = config.drill.command, !currentReport.steps.contains(where: { $0.result == "failed" }) {
            let c0 = monotonicSeconds()
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

    /// Runs one timed step; a thrown error fails it with its message.
    @discardableResult
    func step(_ component: String?, _ name: String, _ body: () async throws -> String) async -> Bool {
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

    func record(_ s: DrillStep) {
        mutex.withLock { report.steps.append(s) }
        let text = "\(s.name): \(s.detail) (\(formatSeconds(s.seconds)))"
        recorder.emit(s.result == "ok" ? .drillStepPassed : .drillStepFailed, component: s.component, text)
    }

    /// Scratch databases dropped, temporary cluster stopped (newest first), sandbox removed. Each
    /// cleanup runs once, whether the drill ends or is interrupted.
    private func cleanUp() {
        let undo = mutex.withLock { () -> [(String, () -> Void)] in defer { cleanups = [] }; return cleanups }
        for (_, u) in undo.reversed() { u() }
        if !options.keepSandbox { StagingCopy.remove(sandbox) }
    }

    func addCleanup(_ what: String, _ undo: @escaping () -> Void) { mutex.withLock { cleanups.append((what, undo)) } }

    func envName(_ s: String) -> String {
        String(s.uppercased().map { $0.isLetter || $0.isNumber ? $0 : "_" })
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
