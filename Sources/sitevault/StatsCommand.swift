import ArgumentParser
import VaultCore
import VaultMaintenance
import VaultRepository

struct StatsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "stats", abstract: "Show repository sizes, deduplication and compression.")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var lockOptions: ReadLockOptions

    func run() async throws {
        let ctx = Context(global)
        try await runReporting(ctx.output) {
            let repo = try ctx.openRepository()
            try repo.loadIndex()
            let s = try RepositoryStats.compute(repo)
            let sites = try GroupStats.compute(repo, tagPrefix: "site=")
            ctx.output.emit(StatsJSON(stats: s, sites: sites))
            ctx.output.line("snapshots:          \(s.snapshots)")
            ctx.output.line("restore size:       \(Bytes.text(s.restoreSize)) (all snapshots)")
            ctx.output.line("unique data:        \(Bytes.text(s.uniqueSize)) in \(s.blobs) blobs (\(s.treeBlobs) trees)")
            ctx.output.line("stored:             \(Bytes.text(s.storedSize)) in \(s.packs) packs")
            ctx.output.line(String(format: "compression ratio:  %.2fx   dedup ratio: %.2fx", s.compressionRatio, s.dedupRatio))
            if !sites.groups.isEmpty {
                ctx.output.line("sites:              \(sites.groups.count); data used by several sites: \(Bytes.text(sites.sharedSize)), " +
                                "stored once (saves \(Bytes.text(sites.savedSize)))")
                for g in sites.groups {
                    ctx.output.line("  \(g.name.padding(toLength: 16, withPad: " ", startingAt: 0)) \(g.snapshots) snapshot(s), uses " +
                                    "\(Bytes.text(g.referencedSize)): \(Bytes.text(g.exclusiveSize)) its own, \(Bytes.text(g.sharedSize)) shared")
                }
            }
            return Exit.success
        }
    }
}

/// `stats --json`: the repository's totals, plus `sites` (deduplication across sites).
struct StatsJSON: Encodable {
    var stats: RepositoryStats
    var sites: GroupStats
    func encode(to encoder: Encoder) throws {
        try stats.encode(to: encoder)
        var c = encoder.container(keyedBy: K.self)
        try c.encode(sites, forKey: .sites)
    }
    enum K: String, CodingKey { case sites }
}
