import ArgumentParser
import VaultCore
import VaultMaintenance
import VaultRepository

struct CheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "check", abstract: "Verify the repository's integrity.",
        discussion: """
        Always checks index files, pack headers and every snapshot's trees; --read-data also reads and authenticates every \
        byte. On damage it names the damaged files and the snapshots affected, says which repair applies \
        (`sitevault repair index`, `sitevault repair snapshots`), and exits with 4. A pack in no index is read through its \
        header: one holding data snapshots use is damage (the index lost it; prune re-indexes it), one holding none is \
        only a warning (prune removes it). Reads without writing when the repository is read-only or full (see --no-lock).
        """)
    @OptionGroup var global: GlobalOptions
    @OptionGroup var lockOptions: ReadLockOptions
    @Flag(name: .long, help: "Read and verify every pack file.") var readData = false

    func run() async throws {
        let ctx = Context(global)
        try await runReporting(ctx.output) {
            let repo = try ctx.openRepository()
            let lock = try ctx.readAccess(repo, operation: "check", lockOptions)
            defer { lock.release() }
            let report = try await ctx.output.withProgress({ "checking…" }) { try Checker(repository: repo).run(readData: readData) }
            ctx.output.emit(report)
            for w in report.warnings { ctx.output.line("warning: \(w.file): \(w.message)") }
            for p in report.problems { ctx.output.warn("damage: \(p.file): \(p.message)") }
            if !report.affectedSnapshots.isEmpty {
                ctx.output.warn("snapshots affected: " + report.affectedSnapshots.map { String($0.prefix(8)) }.joined(separator: " "))
            }
            if report.problems.contains(where: { ["index", "pack-unindexed", "pack-header", "pack-missing"].contains($0.kind) }) {
                ctx.output.warn("to rebuild the index from the pack headers: sitevault repair index")
            }
            if !report.affectedSnapshots.isEmpty {
                ctx.output.warn("to rewrite the affected snapshots without their damaged files: sitevault repair snapshots " +
                                "(the originals are kept unless --forget is given)")
            }
            ctx.output.line("checked \(report.snapshotsChecked) snapshot(s), \(report.treesChecked) tree(s), \(report.packsChecked) pack(s)" +
                            (readData ? ", read \(Bytes.text(report.bytesRead)) in \(report.blobsRead) blob(s)" : ""))
            ctx.output.line(report.ok ? "no errors were found" : "the repository is damaged: \(report.problems.count) problem(s)")
            return report.ok ? Exit.success : Exit.damaged
        }
    }
}
