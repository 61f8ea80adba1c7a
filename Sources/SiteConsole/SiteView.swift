import SiteBackup
import SiteService
import VaultCore

/// The one word the dashboard shows for a site (with a colour, never colour alone).
enum SiteState: String, Sendable {
    case healthy, partial, warning, failed, stale, running = "running now", queued, neverRun = "never run", frozen
}

/// Everything the dashboard row and the metrics need about one site, read once per request from
/// the service's state and the site's status store.
struct SiteView: Sendable {
    var service: ServiceSiteState
    /// nil when the status store could not be read (`error` says why).
    var status: SiteStatusReport?
    var error: String?
    var state: SiteState
    var acknowledged: Bool
    var config: SiteConfig { service.config }
    var name: String { service.config.site }
    var zone: ScheduleZone { ScheduleZone(service.config.timeZone) }

    static func load(_ s: ServiceSiteState, now: Timestamp) -> SiteView {
        do {
            let status = try SiteStatusReport.compute(config: s.config, store: s.store, now: now)
            let ids = [MessageID.alarmAcknowledged, .staleAlarmRaised, .staleAlarmCleared].map(\.rawValue)
            let newest = status.alarm ? try s.store.messages(matching: MessageFilter(ids: ids, limit: 1)).first : nil
            let ack = newest?.id == ids[0]
            return SiteView(service: s, status: status, error: nil, state: state(s, status), acknowledged: ack)
        } catch {
            return SiteView(service: s, status: nil, error: "the status store cannot be read: \((error as? VaultError)?.message ?? "\(error)")",
                            state: s.running != nil ? .running : .failed, acknowledged: false)
        }
    }

    static func state(_ s: ServiceSiteState, _ r: SiteStatusReport) -> SiteState {
        if s.running != nil { return .running }
        if !r.frozenWriters.isEmpty { return .frozen }
        switch r.lastRunResult {
        case nil: return s.queued.isEmpty ? .neverRun : .queued
        case "failed", "aborted": return .failed
        default: break
        }
        if r.stale { return .stale }
        if r.lastRunResult == "partial" { return .partial }
        if !s.queued.isEmpty { return .queued }
        if r.health != "healthy" { return .warning }
        return .healthy
    }

    /// Local time in the site's zone, and UTC.
    func times(_ t: Timestamp) -> (local: String, utc: String) { (zone.rfc3339(t), t.iso8601) }
}
