import SiteBackup
import VaultCore

/// Work the service runs for a site: a backup, a recovery drill, or undoing a freeze left behind.
public enum ServiceWorkKind: String, Sendable, Codable, CaseIterable {
    case backup, drill, thaw
}

/// What the service is running right now.
public struct ServiceWork: Sendable {
    public var site: String
    public var kind: ServiceWorkKind
    public var started: Timestamp
    /// The backup's run id (nil for drills and thaws: theirs are made inside the task).
    public var runID: String?
}

/// Work asked for outside the schedule (the console's "run now" buttons).
public struct ServiceRequest: Sendable {
    public var site: String
    public var kind: ServiceWorkKind
    /// Who asked (the console user), for the status message.
    public var by: String
    public var requested: Timestamp
}

/// A read-only view of one site as the service holds it, for the console and the metrics.
public struct ServiceSiteState: Sendable {
    public var file: String
    public var config: SiteConfig
    public var store: StatusStore
    /// The next scheduled backup and drill (nil without a schedule).
    public var nextRun: Timestamp?
    public var nextDrill: Timestamp?
    /// The staleness alarm as the service last checked it.
    public var alarm: Bool
    /// What runs for this site right now, and what is waiting in the queue.
    public var running: ServiceWork?
    public var queued: [ServiceRequest]
}

extension BackupService {
    /// Every site, in the order of the control files given, with what runs now and what is queued.
    /// Safe to call from any thread; the values are copies.
    public func state() -> [ServiceSiteState] {
        mutex.withLock {
            sites.indices.map { i in
                let s = sites[i]
                return ServiceSiteState(file: s.file, config: s.config, store: s.store,
                                        nextRun: s.next.nanoseconds == .max ? nil : s.next,
                                        nextDrill: s.nextDrill.nanoseconds == .max ? nil : s.nextDrill,
                                        alarm: s.alarm, running: work[i],
                                        queued: requests.filter { $0.site == s.config.site })
            }
        }
    }

    /// Queues a backup, drill or thaw of `site` to run as soon as the site is free and a slot of the
    /// service's limits is. Returns false when the site is unknown or the same work is already
    /// queued (asking twice runs it once).
    @discardableResult
    public func request(site: String, _ kind: ServiceWorkKind, by: String) -> Bool {
        let queued = mutex.withLock { () -> Bool in
            guard sites.contains(where: { $0.config.site == site }),
                  !requests.contains(where: { $0.site == site && $0.kind == kind }) else { return false }
            requests.append(ServiceRequest(site: site, kind: kind, by: by, requested: options.clock.now()))
            return true
        }
        if queued { wake.signal() }
        return queued
    }

    /// Records that an operator saw the staleness alarm (message 1601). The alarm itself stands
    /// until a good run lands; acknowledging only says someone is on it.
    public func acknowledgeAlarm(site: String, by: String) -> Bool {
        guard let s = mutex.withLock({ sites.first { $0.config.site == site } }) else { return false }
        note(s, .alarmAcknowledged, "the staleness alarm was acknowledged by \(by) in the console")
        return true
    }

    /// Runs one request of the console for site `i` (a job of the service: within its limits,
    /// never beside another run of the same site).
    func runRequested(_ i: Int, _ req: ServiceRequest) {
        let s = mutex.withLock { sites[i] }
        note(s, .consoleRequest, "\(req.kind.rawValue) requested by \(req.by) in the console")
        switch req.kind {
        case .backup: runSite(i)
        case .drill: runDrill(i)
        case .thaw:
            mutex.withLock { work[i] = ServiceWork(site: s.config.site, kind: .thaw, started: options.clock.now(), runID: nil) }
            runThaw(s)
            mutex.withLock { work[i] = nil }
        }
    }

    func runThaw(_ s: Site) {
        do {
            let r = try SiteThaw.run(config: s.config, options: options)
            if r.thawed.isEmpty && r.failed.isEmpty { note(s, .consoleRequest, "thaw: no freeze record, nothing to thaw") }
        } catch {
            note(s, .staleFreezeThawFailed, "thaw requested in the console failed: \((error as? VaultError)?.message ?? "\(error)")")
        }
    }

    /// A status message of the console's doing (run id "console").
    func note(_ s: Site, _ id: MessageID, _ text: String) {
        let r = RunRecorder(site: s.config.site, runID: "console", store: s.store, clock: options.clock, echo: options.echo,
                            utc: s.config.timeZone == .utc)
        r.emit(id, text)
    }
}
