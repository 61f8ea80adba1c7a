#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Foundation
import SiteBackup
import VaultCore

/// `sitevault service`: runs each site's backup on its schedule, applies its retention after each
/// good run, raises the staleness alarm, reloads control files on SIGHUP and stops cleanly on
/// SIGTERM (a running backup is interrupted with its writers thawed, nothing half-committed).
/// Runs of one site never overlap (the site's run lock), and a run missed while the service was
/// down runs once at start-up.
public final class BackupService: @unchecked Sendable {
    // @unchecked: `sites`, `current`, `work`, `requests`, `stopping` and `reloading` are guarded by `mutex`.
    struct Site {
        var file: String
        var config: SiteConfig
        var store: StatusStore
        var next: Timestamp
        var alarm = false
        /// The next recovery drill ([drill] schedule), .max without one.
        var nextDrill = Timestamp(nanoseconds: .max)
    }

    let files: [String]
    let options: SiteRunOptions
    let mutex = Mutex()
    let wake = DispatchSemaphore(value: 0)
    var sites: [Site] = []
    var current: SiteBackupTask?
    /// What runs right now (backup, drill or thaw), for the console.
    var work: ServiceWork?
    /// Work asked for outside the schedule (the console's buttons), run in order before due runs.
    var requests: [ServiceRequest] = []
    var stopping = false
    private var reloading = false

    public init(files: [String], options: SiteRunOptions) {
        self.files = files; self.options = options
    }

    /// Loads every control file and checks the files that must not be writable by others.
    /// Throws (nothing starts) on the first problem.
    public func start() throws {
        var loaded: [Site] = []
        for f in files {
            let c = try ControlFile.load(path: f)
            try BackupService.checkOwnership(c)
            let store = try StatusStore(stateDir: c.stateDir)
            // The alarm state survives restarts: a standing alarm is not raised (alerted) again.
            loaded.append(Site(file: f, config: c, store: store, next: firstRun(c, store: store), alarm: (try? store.staleAlarmRaised()) ?? false,
                               nextDrill: firstDrill(c, store: store)))
        }
        mutex.withLock { sites = loaded }
        for s in loaded { announce(s, .serviceStarted, "service started for site \(s.config.site)") }
    }

    /// Control file and password files writable by others would let anyone change what runs as root.
    static func checkOwnership(_ c: SiteConfig) throws {
        try ControlFile.checkFilePermissions(c, refusing: "the service refuses to start")
    }

    func zone(_ c: SiteConfig) -> ScheduleZone { ScheduleZone(c.timeZone) }

    /// Now when a run was missed (catch-up, once), else the next scheduled time.
    func firstRun(_ c: SiteConfig, store: StatusStore) -> Timestamp {
        firstSlot(c.schedule.calendar, last: (try? store.runs(limit: 1))?.first?.started, c)
    }

    /// Like backups: a drill missed while the service was down runs once at start-up.
    func firstDrill(_ c: SiteConfig, store: StatusStore) -> Timestamp {
        firstSlot(c.drill.schedule, last: (try? store.drills(limit: 1))?.first?.started, c)
    }

    /// Never done: wait for the first slot. A slot missed since `last`: once, now. No schedule: never.
    func firstSlot(_ schedule: Schedule?, last: Timestamp?, _ c: SiteConfig) -> Timestamp {
        let now = options.clock.now()
        if let sched = schedule, let last, sched.isDue(lastRun: last, now: now, zone: zone(c)) { return now }
        return nextSlot(schedule, c)
    }

    /// The schedule's next time after now (.max without a schedule).
    func nextSlot(_ schedule: Schedule?, _ c: SiteConfig) -> Timestamp {
        schedule.map { $0.nextRun(after: options.clock.now(), zone: zone(c)) } ?? Timestamp(nanoseconds: .max)
    }

    func announce(_ s: Site, _ id: MessageID, _ text: String) {
        let r = RunRecorder(site: s.config.site, runID: "service", store: s.store, clock: options.clock, echo: options.echo,
                            utc: s.config.timeZone == .utc)
        var extra = ""
        if let sched = s.config.schedule.calendar, s.next.nanoseconds != .max {
            let d = sched.describe(next: s.next, zone: zone(s.config))
            extra = "; schedule \"\(sched.text)\", next run \(d.local) (\(d.utc))"
        }
        if let sched = s.config.drill.schedule, s.nextDrill.nanoseconds != .max {
            let d = sched.describe(next: s.nextDrill, zone: zone(s.config))
            extra += "; drills \"\(sched.text)\", next drill \(d.local) (\(d.utc))"
        }
        r.emit(id, text + extra)
    }

    /// SIGTERM / SIGINT: interrupts a running backup (thawing its writers) and ends the loop.
    public func requestStop(signal: Int32) {
        let task = mutex.withLock { () -> SiteBackupTask? in stopping = true; return current }
        if let task { _ = task.abort(signal: signal) }
        wake.signal()
    }

    /// SIGHUP: reload every control file at the next turn of the loop.
    public func requestReload() {
        mutex.withLock { reloading = true }
        wake.signal()
    }

    /// The loop; returns when asked to stop.
    public func run() {
        while !mutex.withLock({ stopping }) {
            if mutex.withLock({ () -> Bool in defer { reloading = false }; return reloading }) { reload() }
            runRequested()
            let now = options.clock.now()
            let due = mutex.withLock { sites.indices.filter { sites[$0].next <= now } }
            for i in due {
                if mutex.withLock({ stopping }) { break }
                runSite(i)
            }
            let drills = mutex.withLock { sites.indices.filter { sites[$0].nextDrill <= options.clock.now() } }
            for i in drills {
                if mutex.withLock({ stopping }) { break }
                runDrill(i)
            }
            for i in mutex.withLock({ sites.indices }) {
                let s = mutex.withLock { sites[i] }
                let raised = SiteStaleness.check(s.config, store: s.store, raised: s.alarm, options: options)
                mutex.withLock { sites[i].alarm = raised }
            }
            let next = mutex.withLock { sites.flatMap { [$0.next, $0.nextDrill] }.min() } ?? Timestamp(nanoseconds: .max)
            let wait = min(60, max(0.05, Double(next.nanoseconds - options.clock.now().nanoseconds) / 1e9))
            _ = wake.wait(timeout: .now() + wait)
        }
        for s in mutex.withLock({ sites }) { announce(s, .serviceStopping, "service stopping for site \(s.config.site)") }
    }

    func runSite(_ i: Int) {
        let s = mutex.withLock { sites[i] }
        let task = SiteBackupTask(config: s.config, options: options)
        mutex.withLock { current = task; work = ServiceWork(site: s.config.site, kind: .backup, started: options.clock.now(), runID: task.runID) }
        let r = waitFor { await task.run() }
        mutex.withLock { current = nil; work = nil }
        if r.result == "succeeded", !(s.config.retention.isEmpty && s.config.copies.allSatisfy { $0.retention.isEmpty }), !mutex.withLock({ stopping }) {
            applyRetention(s)
        }
        let next = nextSlot(s.config.schedule.calendar, s.config)
        mutex.withLock { sites[i].next = next }
    }

    /// Runs the site's recovery drill (a failed one alerts, like a failed backup) and schedules the next.
    func runDrill(_ i: Int) {
        let s = mutex.withLock { sites[i] }
        var opts = DrillOptions(hostname: options.hostname)
        opts.clock = options.clock
        opts.echo = options.echo
        let drill = SiteDrill(config: s.config, options: opts)
        mutex.withLock { work = ServiceWork(site: s.config.site, kind: .drill, started: options.clock.now(), runID: nil) }
        _ = waitFor { await drill.run() }
        mutex.withLock { work = nil }
        let next = nextSlot(s.config.drill.schedule, s.config)
        mutex.withLock { sites[i].nextDrill = next }
    }

    func applyRetention(_ s: Site) {
        var opts = options
        opts.retryLock = 60
        let recorder = RunRecorder(site: s.config.site, runID: "service", store: s.store, clock: options.clock, echo: options.echo,
                                   utc: s.config.timeZone == .utc)
        do {
            let r = try SiteRetention.apply(s.config, options: opts, dryRun: false, prune: true)
            recorder.emit(.retentionApplied, "retention applied: \(r.removed) snapshot(s) removed, \(r.decisions.count - r.removed) kept, \(r.bytesReclaimed) bytes reclaimed")
        } catch {
            recorder.emit(.retentionFailed, "retention not applied: \((error as? VaultError)?.message ?? "\(error)")")
        }
    }

    func reload() {
        for i in mutex.withLock({ sites.indices }) {
            let s = mutex.withLock { sites[i] }
            do {
                let c = try ControlFile.load(path: s.file)
                try BackupService.checkOwnership(c)
                let store = c.stateDir == s.config.stateDir ? s.store : try StatusStore(stateDir: c.stateDir)
                let next = nextSlot(c.schedule.calendar, c)
                let nextDrill = nextSlot(c.drill.schedule, c)
                let updated = Site(file: s.file, config: c, store: store, next: next, alarm: s.alarm, nextDrill: nextDrill)
                mutex.withLock { sites[i] = updated }
                announce(updated, .serviceReloaded, "control file \(s.file) reloaded")
            } catch {
                let why = (error as? ControlFileError)?.description ?? (error as? VaultError)?.message ?? "\(error)"
                announce(s, .reloadRejected, "the reloaded control file was rejected, the previous one stays in force: \(why)")
            }
        }
    }
}

/// Runs an async task to its end from the service's own (non-async) loop thread.
func waitFor<T>(_ body: @escaping @Sendable () async -> T) -> T {
    let box = ResultBox<T>()
    let done = DispatchSemaphore(value: 0)
    Task.detached { box.value = await body(); done.signal() }
    done.wait()
    return box.value!
}

/// The value a detached task hands to a waiting thread.
final class ResultBox<T>: @unchecked Sendable {
    // @unchecked: written by the task before the semaphore is signalled, read after the wait.
    var value: T?
}
