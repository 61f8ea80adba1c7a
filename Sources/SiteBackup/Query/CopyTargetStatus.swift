import VaultCore
import VaultRepository

/// The newest snapshot of a site in one of its copy targets (`site status`).
public struct CopyTargetStatus: Sendable, Codable {
    public var target: String
    public var path: String
    public var newest: String?
    public var newestTime: Timestamp?
    /// Age of the newest copy, in seconds (nil when the target holds none or cannot be read).
    public var ageSeconds: Double?
    /// How the last copy to this target went ("ok", "failed"; nil when no run copied yet).
    public var lastCopy: String?
    public var lastCopyMessage: String?
    /// Why the target could not be read (then `newest` is what the last copy recorded).
    public var error: String?
}

extension SiteStatusReport {
    /// Opens each copy target (with its password file) to find the site's newest snapshot there,
    /// and turns a stale or failed copy target into a warning.
    public mutating func addCopyTargets(config: SiteConfig, store: StatusStore, now: Timestamp) {
        guard !config.copies.isEmpty else { return }
        let lastCopies = ((try? store.runs(limit: 50)) ?? []).first { $0.copies != nil }?.copies ?? []
        var list: [CopyTargetStatus] = []
        for c in config.copies {
            let d = config.destinations[c.repository]!
            let recorded = lastCopies.first { $0.target == c.repository }
            var t = CopyTargetStatus(target: d.name, path: d.path, lastCopy: recorded?.result, lastCopyMessage: recorded?.message)
            do {
                let repo = try SiteSnapshots.open(d)
                let newest = try SiteSnapshots.list(repo, site: config.site).last
                t.newest = newest?.id.hex
                t.newestTime = newest?.snapshot.time
            } catch {
                t.error = (error as? VaultError)?.message ?? "\(error)"
                t.newest = recorded?.newest
                t.newestTime = recorded?.newestTime
            }
            t.ageSeconds = t.newestTime.map { now.seconds - $0.seconds }
            list.append(t)
            let window = retentionWindowSeconds
            var reason: String?
            if t.lastCopy == "failed" {
                reason = "the last copy to \(d.name) failed: \(t.lastCopyMessage ?? "")"
            } else if let age = t.ageSeconds, age > window {
                reason = "the newest copy in \(d.name) is \(TimeText.age(age)) old, more than the retention window of \(DurationText.format(window))"
            } else if t.newest == nil && lastRun != nil {
                reason = "copy target \(d.name) holds no snapshot of the site\(t.error.map { " (\($0))" } ?? "")"
            }
            if let reason {
                reasons.append(reason)
                if health == "healthy" { health = "warning" }
            }
        }
        copies = list
    }
}
