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
/// Several sites run at the same time, within `ServiceLimits` (on the machine and per repository);
/// runs of one site never overlap (one job per site, and the site's run lock), and a run missed
/// while the service was down runs once at start-up.
public final class BackupService: @unchecked Sendable {
    // @unchecked: `sites`, `current`, `busy`, `work`, `requests`, `stopping` and `reloading` are guarded by `mutex`.
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
    let limits: ServiceLimits
    let mutex = Mutex()
    let wake = DispatchSemaphore(value: 0)
    var sites: [Site] = []
    /// The backups running now, by site index (a SIGTERM interrupts each).
    var current: [Int: SiteBackupTask] = [:]
    /// Sites with a job (backup, drill or thaw) running now, and the repository each one uses.
    var busy: [Int: String] = [:]
    /// What runs right now for each busy site (backup, drill or thaw), for the console.
    var work: [Int: ServiceWork] = [:]
    /// Work asked for outside the schedule (the console's buttons), started before due runs.
    var requests: [ServiceRequest] = []
    /// Left by each job when it ends: the loop waits for all of them before it returns.
    let jobs = DispatchGroup()
    var stopping = false
    private var reloading = false

    public init(files: [String], options: SiteRunOptions, limits: ServiceLimits = ServiceLimits()) {
        self.files = files; self.options = options; self.limits = limits
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

    /// SIGTERM / SIGINT: interrupts the running backups (thawing their writers) and ends the loop.
    public func requestStop(signal: Int32) {
        let tasks = mutex.withLock { () -> [SiteBackupTask] in stopping = true; return Array(current.values) }
        for task in tasks { _ = task.abort(signal: signal) }
        wake.signal()
    }

    /// SIGHUP: reload every control file at the next turn of the loop.
    public func requestReload() {
        mutex.withLock { reloading = true }
        wake.signal()
    }

    /// The loop; returns when asked to stop (after the jobs still running have ended).
    public func run() {
        while !mutex.withLock({ stopping }) {
            if mutex.withLock({ () -> Bool in defer { reloading = false }; return reloading }) { reload() }
            startDueJobs()
            for i in mutex.withLock({ sites.indices }) {
                let s = mutex.withLock { sites[i] }
                let raised = SiteStaleness.check(s.config, store: s.store, raised: s.alarm, options: options)
                mutex.withLock { sites[i].alarm = raised }
            }
            let next = mutex.withLock { sites.indices.filter { busy[$0] == nil }.flatMap { [sites[$0].next, sites[$0].nextDrill] }.min() }
                ?? Timestamp(nanoseconds: .max)
            let wait = min(60, max(0.05, Double(next.nanoseconds - options.clock.now().nanoseconds) / 1e9))
            _ = wake.wait(timeout: .now() + wait)
        }
        jobs.wait()
        for s in mutex.withLock({ sites }) { announce(s, .serviceStopping, "service stopping for site \(s.config.site)") }
    }

    /// Starts the console's requests (oldest first), then every due backup, then every due drill
    /// (a site's backup before its drill due at the same time), oldest due first, as far as the
    /// limits allow; the rest wait for a job to end.
    func startDueJobs() {
        let now = options.clock.now()
        let due: [(Int, ServiceWorkKind, ServiceRequest?)] = mutex.withLock {
            let asked = requests.compactMap { r in sites.firstIndex { $0.config.site == r.site }.map { ($0, r.kind, Optional(r)) } }
            let backups = sites.indices.filter { sites[$0].next <= now }.sorted { sites[$0].next < sites[$1].next }.map { ($0, ServiceWorkKind.backup, ServiceRequest?.none) }
            let drills = sites.indices.filter { sites[$0].nextDrill <= now }.sorted { sites[$0].nextDrill < sites[$1].nextDrill }.map { ($0, ServiceWorkKind.drill, ServiceRequest?.none) }
            return asked + backups + drills
        }
        for (i, kind, request) in due {
            let started: Bool = mutex.withLock {
                guard !stopping, busy[i] == nil, busy.count < limits.parallel else { return false }
                let repo = sites[i].config.mainDestination.path
                guard busy.values.filter({ $0 == repo }).count < limits.perRepository else { return false }
                busy[i] = repo
                if let request { requests.removeAll { $0.site == request.site && $0.kind == request.kind } }
                return true
            }
            guard started else { continue }
            jobs.enter()
            DispatchQueue.global().async { [self] in
                if let request { runRequested(i, request) } else if kind == .drill { runDrill(i) } else { runSite(i) }
                mutex.withLock { busy[i] = nil; work[i] = nil }
                jobs.leave()
                wake.signal()
            }
        }
    }

    func runSite(_ i: Int) {
        let s = mutex.withLock { sites[i] }
        let task = SiteBackupTask(config: s.config, options: options)
        mutex.withLock { current[i] = task; work[i] = ServiceWork(site: s.config.site, kind: .backup, started: options.clock.now(), runID: task.runID) }
        let r = waitFor { await task.run() }
        mutex.withLock { current[i] = nil; work[i] = nil }
        if r.result == "succeeded", !(s.config.retention.isEmpty && s.config.copies.allSatisfy { $0.retention.isEmpty }), !mutex.withLock({ stopping }) {
            applyRetention(s, after: r.runID)
        }
        // The schedule in force now: a SIGHUP during the run may have reloaded the control file.
        let inForce = mutex.withLock { sites[i].config }
        let next = nextSlot(inForce.schedule.calendar, inForce)
        mutex.withLock { sites[i].next = next }
    }

    /// Runs the site's recovery drill (a failed one alerts, like a failed backup) and schedules the next.
    func runDrill(_ i: Int) {
        let s = mutex.withLock { sites[i] }
        var opts = DrillOptions(hostname: options.hostname)
        opts.clock = options.clock
        opts.echo = options.echo
        let drill = SiteDrill(config: s.config, options: opts)
        mutex.withLock { work[i] = ServiceWork(site: s.config.site, kind: .drill, started: options.clock.now(), runID: nil) }
        _ = waitFor { await drill.run() }
        mutex.withLock { work[i] = nil }
        let inForce = mutex.withLock { sites[i].config }
        let next = nextSlot(inForce.drill.schedule, inForce)
        mutex.withLock { sites[i].nextDrill = next }
    }

    /// Applies the site's retention after the good run `runID`, whose recorded repository sizes
    /// then become the pruned ones.
    func applyRetention(_ s: Site, after runID: String) {
        var opts = options
        opts.retryLock = 60
        let recorder = RunRecorder(site: s.config.site, runID: "service", store: s.store, clock: options.clock, echo: options.echo,
                                   utc: s.config.timeZone == .utc)
        do {
            let r = try SiteRetention.apply(s.config, options: opts, dryRun: false, prune: true)
            recorder.emit(.retentionApplied, "retention applied: \(r.removed) snapshot(s) removed, \(r.decisions.count - r.removed) kept, \(r.bytesReclaimed) bytes reclaimed")
            if !r.repositorySizes.isEmpty, var run = try? s.store.run(id: runID) {
                run.repositorySizes = (run.repositorySizes ?? [:]).merging(r.repositorySizes) { _, pruned in pruned }
                try? s.store.save(run)
            }
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
