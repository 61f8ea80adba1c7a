/// How many runs (backups and drills) the service lets go at once: on the whole machine, and into
/// one repository. Runs of one site never overlap whatever the limits (one at a time per site).
public struct ServiceLimits: Sendable, Equatable {
    /// Runs at once on this machine (`sitevault service --max-parallel`).
    public var parallel: Int
    /// Runs at once whose main repository is the same location (`--max-per-repository`). Backups
    /// of several sites share the repository's lock; a prune waits for them (or they for it).
    public var perRepository: Int

    public init(parallel: Int = 2, perRepository: Int = 2) {
        self.parallel = max(1, parallel); self.perRepository = max(1, perRepository)
    }
}
