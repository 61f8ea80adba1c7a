import VaultCore

/// The staleness alarm: raised once (status message 2080 and the failure alert channels) when the
/// site's newest good snapshot is older than its retention window, cleared (1600) when a good run lands.
public enum SiteStaleness {
    /// Checks the site; returns the new alarm state. `raised` is the state before the check.
    public static func check(_ config: SiteConfig, store: StatusStore, raised: Bool, options: SiteRunOptions) -> Bool {
        guard let s = try? SiteStatusReport.compute(config: config, store: store, now: options.clock.now()) else { return raised }
        let recorder = RunRecorder(site: config.site, runID: "service", store: store, clock: options.clock, echo: options.echo,
                                   utc: config.timeZone == .utc)
        if s.stale && !raised {
            let age = s.ageSeconds.map { "is \(TimeText.age($0)) old" } ?? "does not exist"
            let m = recorder.emit(.staleAlarmRaised, "the newest good snapshot of site \(config.site) \(age), more than the retention window of \(DurationText.format(config.schedule.retentionWindow)): changes older than the window may not be recoverable")
            var r = RunReport(site: config.site, runID: "stale", hostname: options.hostname, started: m.time)
            r.result = "stale"
            r.failureMessage = m.text
            r.snapshot = s.lastSuccessSnapshot
            Alerts.send(config: config, report: r, message: m, recorder: recorder)
            return true
        }
        if !s.stale && raised {
            recorder.emit(.staleAlarmCleared, "a good snapshot (\(s.lastSuccessSnapshot?.prefix(12) ?? "?")) landed: the staleness alarm of site \(config.site) is cleared")
            return false
        }
        return raised
    }
}
