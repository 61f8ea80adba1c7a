import ArgumentParser
import VaultCore
import VaultMaintenance
import VaultRepository

struct RepairIndexCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "index", abstract: "Rebuild the index from the pack headers.",
        discussion: """
        Reads the header of every pack, writes new index files, and only once they are durably written removes the old \
        ones. A pack whose header cannot be read keeps the entries a readable old index file gives it; one without any \
        is left on disk, not indexed, and named. Takes an exclusive lock. Use it when check reports a damaged index file \
        or packs that are in no index.
        """)
    @OptionGroup var global: GlobalOptions
    @Flag(name: .long, help: "Read the pack headers and report, write and remove nothing.") var dryRun = false

    func run() async throws {
        let ctx = Context(global)
        try await runReporting(ctx.output) {
            let repo = try ctx.openRepository()
            let lock = try ctx.lock(repo, exclusive: true, operation: "repair index")
            defer { lock.release() }
            let report = try IndexRepairer(repository: repo, lock: lock).run(dryRun: dryRun)
            ctx.output.emit(report)
            for f in report.damagedIndexFiles { ctx.output.line("damaged index file \(f) \(dryRun ? "would be" : "was") replaced") }
            for p in report.packsKeptFromOldIndex {
                ctx.output.warn("warning: \(p.file): header unreadable (\(p.message)); its entries from the old index are kept")
            }
            for p in report.packsUnreadable {
                ctx.output.warn("warning: \(p.file): header unreadable (\(p.message)) and in no readable index: left as is, not indexed")
            }
            ctx.output.line("read \(report.packsRead) pack header(s), \(report.blobsIndexed) blob(s) " +
                            (dryRun ? "would be indexed; \(report.damagedIndexFiles.count) damaged index file(s) would be replaced"
                                    : "indexed in \(report.indexFilesWritten.count) new index file(s); removed \(report.indexFilesRemoved.count) old one(s)"))
            return Exit.success
        }
    }
}
