import ArgumentParser
import VaultCore
import VaultMaintenance
import VaultRepository

struct RepairSnapshotsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "snapshots",
        abstract: "Rewrite snapshots that use missing or damaged data into new snapshots without it.",
        discussion: """
        A file with a missing or damaged content blob is dropped (never truncated); a folder whose listing is missing \
        becomes an empty folder. The new snapshot keeps the original's time, host, paths and tags, gets the tag \
        'repaired', and records the original's id and every path left out (shown by `snapshots --json` as "repair"). \
        The originals are kept unless --forget is given. Data is damaged when it is in no index and no pack, when its \
        pack is missing or its header does not list it, or — with --read-data — when it does not authenticate. Run \
        `sitevault repair index` first if check reports index damage. Exit 0 when every damaged snapshot was rewritten, \
        4 when some could not be (their root folder listing is missing).
        """)
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Snapshot ids (or prefixes) to repair (default: every snapshot).") var snapshots: [String] = []
    @Flag(name: .long, help: "Report what would be removed, write nothing.") var dryRun = false
    @Flag(name: .long, help: "Remove each original once its repaired snapshot is saved.") var forget = false
    @Flag(name: .long, help: "Also read every blob the snapshots use and treat those that do not authenticate as damaged.")
    var readData = false

    func run() async throws {
        let ctx = Context(global)
        try await runReporting(ctx.output) {
            let repo = try ctx.openRepository()
            let lock = try ctx.lock(repo, exclusive: false, operation: "repair snapshots")
            defer { lock.release() }
            let only = snapshots.isEmpty ? nil : try snapshots.map { try repo.findSnapshot($0).id }
            let repairer = SnapshotRepairer(repository: repo, lock: lock)
            repairer.readData = readData
            let report = try repairer.run(only: only, dryRun: dryRun, forget: forget)
            ctx.output.emit(report)
            for u in report.unreadableSnapshots { ctx.output.warn("warning: \(u) cannot be read: left as is (`sitevault forget` removes it)") }
            for r in report.repaired {
                if let e = r.error { ctx.output.warn("snapshot \(r.original.prefix(8)): \(e)"); continue }
                let to = r.replacement.map { " -> new snapshot \($0.prefix(8))" } ?? ""
                ctx.output.line("snapshot \(r.original.prefix(8))\(to)\(r.originalForgotten ? " (original removed)" : ""):")
                for p in r.removed { ctx.output.line("  \(dryRun ? "would remove" : "removed") \(p.path): \(p.reason)") }
            }
            let fixed = report.repaired.filter { $0.error == nil }.count
            ctx.output.line("checked \(report.snapshotsChecked) snapshot(s); \(fixed) \(dryRun ? "would be" : "were") rewritten" +
                            (forget || dryRun ? "" : "; the originals are kept (pass --forget to remove them)"))
            return report.repaired.contains { $0.error != nil } ? Exit.damaged : Exit.success
        }
    }
}
