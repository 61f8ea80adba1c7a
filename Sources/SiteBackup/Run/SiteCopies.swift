import VaultCore
import VaultMaintenance
import VaultRepository

/// How copying a run's snapshots to one copy target went (part of the run report).
public struct CopyOutcome: Sendable, Codable {
    /// The `[repositories.NAME]` of the copy target.
    public var target: String
    public var path: String
    /// "ok" or "failed".
    public var result: String
    public var copied = 0
    /// Snapshots of the site already in the target.
    public var present = 0
    public var bytesAdded: UInt64 = 0
    public var message: String?
    /// The newest snapshot of the site in the target after the copy, and its time.
    public var newest: String?
    public var newestTime: Timestamp?
}

/// Copies the site's snapshots into each `[[copy]]` target after a good run (everything missing,
/// so a run after a failed copy catches up). A failure is recorded (message 2041, alert) and never
/// fails or undoes the backup. The sources are the run's own repositories, still locked by the run.
public enum SiteCopies {
    /// `sources`: repository name → the open repository the run committed to.
    public static func run(config: SiteConfig, sources: [(name: String, repository: Repository)], options: SiteRunOptions,
                           recorder: RunRecorder) -> [CopyOutcome] {
        config.copies.map { copy(to: $0, config: config, sources: sources, options: options, recorder: recorder) }
    }

    static func copy(to target: CopyTargetConfig, config: SiteConfig, sources: [(name: String, repository: Repository)],
                     options: SiteRunOptions, recorder: RunRecorder) -> CopyOutcome {
        let d = config.destinations[target.repository]!
        var outcome = CopyOutcome(target: d.name, path: d.path, result: "failed")
        recorder.emit(.copyStarted, "copy of site \(config.site)'s snapshots to repository \(d.name) (\(d.path)) started")
        do {
            let repo = try SiteSnapshots.open(d, clock: options.clock)
            let lock = try RepositoryLock.acquire(repo, exclusive: false, operation: "copy site \(config.site)", hostname: options.hostname,
                                                  username: options.username, wait: options.retryLock)
            defer { lock.release() }
            for source in sources where source.name != d.name {
                let snapshots = try SiteSnapshots.list(source.repository, site: config.site)
                let r = try Copier(source: source.repository, target: repo, targetLock: lock).run(snapshots, dryRun: false)
                outcome.copied += r.copiedCount
                outcome.present += r.presentCount
                outcome.bytesAdded += r.bytesStored
            }
            let newest = try SiteSnapshots.list(repo, site: config.site).last
            outcome.newest = newest?.id.hex
            outcome.newestTime = newest?.snapshot.time
            outcome.result = "ok"
            recorder.emit(.copySucceeded, "copied \(outcome.copied) snapshot(s) of site \(config.site) to repository \(d.name) " +
                          "(\(outcome.present) already there, \(Bytes.text(outcome.bytesAdded)) added); newest there: " +
                          "\(outcome.newest.map { String($0.prefix(12)) } ?? "none")")
        } catch {
            let why = (error as? VaultError)?.message ?? "\(error)"
            outcome.message = why
            recorder.emit(.copyFailed, "copy of site \(config.site) to repository \(d.name) (\(d.path)) failed: \(why). The backup itself " +
                          "is committed; the next run copies everything missing (or run `sitevault copy --repo \(d.path) --from-repo " +
                          "\(config.mainDestination.path) --site \(config.site)`)")
        }
        return outcome
    }
}
