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
            ctx.output.emit(s)
            ctx.output.line("snapshots:          \(s.snapshots)")
            ctx.output.line("restore size:       \(Bytes.text(s.restoreSize)) (all snapshots)")
            ctx.output.line("unique data:        \(Bytes.text(s.uniqueSize)) in \(s.blobs) blobs (\(s.treeBlobs) trees)")
            ctx.output.line("stored:             \(Bytes.text(s.storedSize)) in \(s.packs) packs")
            ctx.output.line(String(format: "compression ratio:  %.2fx   dedup ratio: %.2fx", s.compressionRatio, s.dedupRatio))
            return Exit.success
        }
    }
}
