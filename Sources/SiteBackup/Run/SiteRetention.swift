import VaultCore
import VaultMaintenance
import VaultRepository

/// Applies the site's `[retention]` policy to its snapshots in each of its repositories (the
/// service does this after each good run; `sitevault site forget` does it by hand). All of a
/// site's snapshots in a repository form one group, whatever their paths; the newest snapshot and
/// the newest *good* (not partial) one are always kept. Prune runs under an exclusive lock, so it
/// never overlaps a backup of the same repository: it waits for the backup's lock or gives up.
public enum SiteRetention {
    public struct Decision: Sendable, Codable {
        public var repository: String
        public var id: String
        public var time: Timestamp
        public var keep: Bool
        public var reasons: [String]
    }

    public struct Report: Sendable, Codable {
        public var decisions: [Decision] = []
        public var removed = 0
        public var prune: [String: PruneReport] = [:]
        public var dryRun = false
        /// Stored bytes of each pruned repository afterwards (`MasterIndex.storedBytes` of the
        /// index prune reloads at its end), by repository name.
        public var repositorySizes: [String: UInt64] = [:]
        public var bytesReclaimed: UInt64 { prune.values.reduce(0) { $0 + $1.bytesRemoved } }
    }

    static func policy(_ r: RetentionConfig, utc: Bool) -> RetentionPolicy {
        var p = RetentionPolicy()
        p.keepLast = r.keepLast; p.keepHourly = r.keepHourly; p.keepDaily = r.keepDaily
        p.keepWeekly = r.keepWeekly; p.keepMonthly = r.keepMonthly; p.keepYearly = r.keepYearly
        p.keepWithinSeconds = r.keepWithin
        p.utc = utc
        return p
    }

    /// What the policy keeps and removes in one repository.
    public static func plan(_ config: SiteConfig, repository name: String, repo: Repository) throws -> [Decision] {
        try plan(config, retention: retention(config, for: name), repository: name, repo: repo)
    }

    /// The policy for a repository: a copy target's own keys, else the site's `[retention]`.
    static func retention(_ config: SiteConfig, for name: String) -> RetentionConfig {
        config.copies.first { $0.repository == name }?.retention ?? config.retention
    }

    static func plan(_ config: SiteConfig, retention: RetentionConfig, repository name: String, repo: Repository) throws -> [Decision] {
        let snaps = try SiteSnapshots.list(repo, site: config.site)
        guard !snaps.isEmpty else { return [] }
        // One group per site: the policy groups by host and paths, so give them all the same.
        let grouped = snaps.map { s -> (id: ID, snapshot: Snapshot) in
            var copy = s.snapshot
            copy.paths = ["site=\(config.site)"]
            return (s.id, copy)
        }
        var decisions = policy(retention, utc: config.timeZone == .utc).apply(grouped)
        if let newestGood = snaps.last(where: { !$0.snapshot.partial })?.id,
           let i = decisions.firstIndex(where: { $0.id == newestGood }), !decisions[i].keep {
            decisions[i].keep = true
            decisions[i].reasons.append("newest good")
        }
        return decisions.map { Decision(repository: name, id: $0.id.hex, time: $0.snapshot.time, keep: $0.keep, reasons: $0.reasons) }
    }

    /// Forgets what the policy does not keep, then (with `prune`) removes the data nothing references.
    public static func apply(_ config: SiteConfig, options: SiteRunOptions, dryRun: Bool, prune: Bool) throws -> Report {
        // Repositories the backup writes follow [retention]; each copy target its own keep_* keys.
        let copyTargets = config.copies.filter { !$0.retention.isEmpty }.map(\.repository)
        let names = (config.retention.isEmpty ? [] : config.backupRepositories) + copyTargets.filter { !config.backupRepositories.contains($0) }
        guard !names.isEmpty else {
            throw VaultError(.invalidArgument, "\(config.file) has no [retention] policy (nor keep_* keys in a [[copy]]): nothing would be kept or removed")
        }
        var report = Report()
        report.dryRun = dryRun
        for name in names {
            let d = config.destinations[name]!
            let repo = try SiteSnapshots.open(d, clock: options.clock, storeOptions: options.storeOptions)
            let lock = try RepositoryLock.acquire(repo, exclusive: prune && !dryRun, operation: "site forget \(config.site)",
                                                  hostname: options.hostname, username: options.username, wait: options.retryLock)
            defer { lock.release() }
            let decisions = try plan(config, repository: name, repo: repo)
            report.decisions += decisions
            for gone in decisions where !gone.keep {
                if !dryRun { try repo.removeSnapshot(ID(hex: gone.id)!) }
                report.removed += 1
            }
            if prune {
                try lock.ensureHeld()
                report.prune[name] = try Pruner(repository: repo, lock: lock).run(dryRun: dryRun)
                if !dryRun { report.repositorySizes[name] = repo.index.storedBytes }
            }
        }
        return report
    }
}
