import ArgumentParser
import VaultCore
import VaultMaintenance
import VaultRepository

struct PruneCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "prune", abstract: "Remove data no snapshot uses.",
        discussion: """
        Takes an exclusive lock, and confirms it is still its own before each deleting phase. Crash-safe: new index and \
        repacked data are written before anything is deleted. A pack in no index is deleted only once its header proves \
        that no snapshot uses its blobs; one holding used blobs is indexed again, one whose header cannot be read is kept. \
        Refuses to run (exit 4) while an index file is damaged: run `sitevault repair index` first.
        """)
    @OptionGroup var global: GlobalOptions
    @Flag(name: .long, help: "Show what would be removed, remove nothing.") var dryRun = false

    func run() async throws {
        let ctx = Context(global)
        try await runReporting(ctx.output) {
            let repo = try ctx.openRepository()
            let lock = try ctx.lock(repo, exclusive: true, operation: "prune")
            defer { lock.release() }
            let report = try Pruner(repository: repo, lock: lock).run(dryRun: dryRun)
            ctx.output.emit(report)
            printPrune(ctx.output, report)
            return Exit.success
        }
    }
}

func printPrune(_ out: Output, _ r: PruneReport) {
    out.line("\(r.dryRun ? "would remove" : "removed") \(r.packsRemoved) pack(s) and \(r.unreferencedPacksRemoved) unreferenced pack(s), repacked \(r.packsRepacked), kept \(r.packsKept)")
    out.line("\(r.dryRun ? "would free" : "freed") \(Bytes.text(r.bytesRemoved)) (\(r.blobsRemoved) blob(s))")
    if r.packsReindexed > 0 {
        out.line("\(r.dryRun ? "would index" : "indexed") again \(r.packsReindexed) pack(s) that were in no index but hold data snapshots use")
    }
    for p in r.unreadablePacksKept {
        out.warn("warning: data/\(p.prefix(2))/\(p) is in no index and its header cannot be read: kept (see `sitevault check`)")
    }
}
