import Foundation
import SiteBackup
import VaultCore

/// The Prometheus text exposition format (version 0.0.4), written by hand: HELP and TYPE once
/// per metric, then its samples.
struct MetricsText {
    private var families: [(name: String, help: String, type: String, samples: [String])] = []

    mutating func gauge(_ name: String, _ help: String, _ samples: [([(String, String)], Double)]) {
        families.append((name, help, "gauge", samples.map { labels, value in
            let l = labels.isEmpty ? "" : "{" + labels.map { "\($0.0)=\"\(MetricsText.escape($0.1))\"" }.joined(separator: ",") + "}"
            return "\(name)\(l) \(MetricsText.number(value))"
        }))
    }

    var text: String {
        var out = ""
        for f in families where !f.samples.isEmpty {
            out += "# HELP \(f.name) \(f.help)\n# TYPE \(f.name) \(f.type)\n"
            for s in f.samples { out += s + "\n" }
        }
        return out
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(of: "\n", with: "\\n")
    }

    static func number(_ v: Double) -> String {
        if v.isNaN { return "NaN" }
        if v.isInfinite { return v > 0 ? "+Inf" : "-Inf" }
        if v == v.rounded() && abs(v) < 1e15 { return String(Int64(v)) }
        return String(format: "%.6f", v)
    }

    /// Every metric of every site.
    static func render(_ views: [SiteView]) -> String {
        var m = MetricsText()
        func per(_ f: (SiteView, SiteStatusReport) -> Double?) -> [([(String, String)], Double)] {
            views.compactMap { v in v.status.flatMap { st in f(v, st).map { ([("site", v.name)], $0) } } }
        }
        func perComponent(_ f: (ComponentReport) -> Double) -> [([(String, String)], Double)] {
            views.flatMap { v in (v.status?.lastRun?.components ?? []).map { c in ([("site", v.name), ("component", c.name)], f(c)) } }
        }
        m.gauge("sitevault_status_readable", "1 when the site's status store could be read", views.map { ([("site", $0.name)], $0.status == nil ? 0 : 1) })
        m.gauge("sitevault_last_success_timestamp_seconds", "Time of the newest good snapshot (Unix seconds)", per { $1.lastSuccess?.seconds })
        m.gauge("sitevault_last_run_timestamp_seconds", "Start of the last backup run (Unix seconds)", per { $1.lastRun?.started.seconds })
        m.gauge("sitevault_last_run_success", "1 when the last run succeeded, 0 when it failed, was aborted or is partial",
                per { _, st in st.lastRun.map { $0.result == "succeeded" ? 1 : 0 } })
        m.gauge("sitevault_last_run_result", "The last run's result as a label (value always 1)",
                views.compactMap { v in v.status?.lastRun.map { ([("site", v.name), ("result", $0.result)], 1) } })
        m.gauge("sitevault_last_run_duration_seconds", "Duration of the last run", per { $1.lastRun?.durationSeconds })
        m.gauge("sitevault_last_run_bytes_read", "Bytes read by the last run (all components)",
                per { _, st in st.lastRun.map { Double($0.components.reduce(UInt64(0)) { $0 + $1.bytes }) } })
        m.gauge("sitevault_last_run_bytes_added", "Bytes added to the repository by the last run (after deduplication)",
                per { _, st in st.lastRun.map { Double($0.components.reduce(UInt64(0)) { $0 + $1.bytesAdded }) } })
        m.gauge("sitevault_freeze_window_seconds", "How long the site was frozen in the last run", per { $1.freezeWindowSeconds })
        m.gauge("sitevault_component_success", "1 when the component was stored fully in the last run", perComponent { $0.result == "ok" ? 1 : 0 })
        m.gauge("sitevault_component_bytes_read", "Bytes the component read in the last run", perComponent { Double($0.bytes) })
        m.gauge("sitevault_component_bytes_added", "Bytes the component added in the last run", perComponent { Double($0.bytesAdded) })
        m.gauge("sitevault_component_duration_seconds", "The component's time in the last run", perComponent { $0.durationSeconds })
        m.gauge("sitevault_snapshots", "Snapshots of the site in its main repository as recorded by the service (kept by the last retention run, plus later ones)",
                views.compactMap { v in (try? v.service.store.snapshotCount()).map { ([("site", v.name)], Double($0)) } })
        m.gauge("sitevault_repository_size_bytes",
                "Stored bytes of the repository (all its sites) as the site's newest committing run counted them, after its retention's prune",
                views.flatMap { v in (v.status?.repositorySizes ?? [:]).sorted { $0.key < $1.key }.map { ([("site", v.name), ("repository", $0.key)], Double($0.value)) } })
        m.gauge("sitevault_newest_snapshot_age_seconds", "Age of the newest good snapshot", per { $1.ageSeconds })
        m.gauge("sitevault_retention_window_seconds", "The site's retention window (older newest snapshot: stale)", per { $1.retentionWindowSeconds })
        m.gauge("sitevault_stale", "1 when the newest good snapshot is older than the retention window (or there is none)", per { $1.stale ? 1 : 0 })
        m.gauge("sitevault_staleness_alarm", "1 while the service's staleness alarm stands (message 2080 not yet cleared)", per { $1.alarm ? 1 : 0 })
        m.gauge("sitevault_frozen_writers", "Writers left frozen by an interrupted run (thaw them)", per { Double($1.frozenWriters.count) })
        m.gauge("sitevault_last_drill_timestamp_seconds", "Time of the last recovery drill", per { $1.lastDrill?.time.seconds })
        m.gauge("sitevault_last_drill_success", "1 when the last recovery drill passed", per { _, st in st.lastDrill.map { $0.result == "passed" ? 1 : 0 } })
        m.gauge("sitevault_last_drill_recovery_seconds", "Measured recovery time of the last drill", per { $1.lastDrill?.recoverySeconds })
        m.gauge("sitevault_running", "1 while a backup, drill or thaw of the site runs", views.map { ([("site", $0.name)], $0.service.running == nil ? 0 : 1) })
        m.gauge("sitevault_next_run_timestamp_seconds", "Next scheduled backup (Unix seconds)",
                views.compactMap { v in v.service.nextRun.map { ([("site", v.name)], $0.seconds) } })
        return m.text
    }
}
