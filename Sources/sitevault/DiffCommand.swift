import ArgumentParser
import VaultCore
import VaultMaintenance
import VaultRepository

struct DiffCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "diff", abstract: "Show what changed between two snapshots.",
        discussion: "Lines start with + (added), - (removed), M (content changed), U (metadata changed) or T (type changed).")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var lockOptions: ReadLockOptions
    @Argument(help: "Older snapshot.") var a: String
    @Argument(help: "Newer snapshot.") var b: String

    func run() async throws {
        let ctx = Context(global)
        try await runReporting(ctx.output) {
            let repo = try ctx.openRepository()
            try repo.loadIndex()
            let sa = try repo.findSnapshot(a), sb = try repo.findSnapshot(b)
            guard let ta = sa.snapshot.treeID, let tb = sb.snapshot.treeID else { throw VaultError(.corrupt, "snapshot without tree") }
            let entries = try Differ(repository: repo).diff(ta, tb)
            ctx.output.emit(entries)
            for e in entries { ctx.output.line("\(e.change)  \(e.path)") }
            let counts = Dictionary(grouping: entries, by: \.change).mapValues(\.count)
            ctx.output.line("\(counts["+"] ?? 0) added, \(counts["-"] ?? 0) removed, \(counts["M"] ?? 0) changed, \(counts["U"] ?? 0) metadata only")
            return Exit.success
        }
    }
}
