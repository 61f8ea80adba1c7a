import ArgumentParser
import SiteBackup
import VaultCore
import VaultMaintenance
import VaultRepository

struct ForgetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "forget", abstract: "Remove snapshots by id or by a retention policy.",
        discussion: "Policies apply per host and set of paths; the newest snapshot of each group is always kept. Data is freed by `prune` (or --prune).")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Snapshot ids to remove (instead of a policy).") var ids: [String] = []
    @Option(name: .long, help: "Keep the last N snapshots.") var keepLast = 0
    @Option(name: .long, help: "Keep the newest snapshot of each of the last N hours.") var keepHourly = 0
    @Option(name: .long, help: "Keep the newest snapshot of each of the last N days.") var keepDaily = 0
    @Option(name: .long, help: "Keep the newest snapshot of each of the last N weeks.") var keepWeekly = 0
    @Option(name: .long, help: "Keep the newest snapshot of each of the last N months.") var keepMonthly = 0
    @Option(name: .long, help: "Keep the newest snapshot of each of the last N years.") var keepYearly = 0
    @Option(name: .long, help: "Keep every snapshot within this duration of the newest (e.g. 7d, 12h, 2w).") var keepWithin: String?
    @Flag(name: .long, help: "Show what would be removed, remove nothing.") var dryRun = false
    @Flag(name: .long, help: "Run prune afterwards.") var prune = false

    struct Item: Encodable { var id: String; var time: String; var keep: Bool; var reasons: [String] }

    func run() async throws {
        let ctx = Context(global)
        try await runReporting(ctx.output) {
            var policy = RetentionPolicy()
            policy.keepLast = keepLast; policy.keepHourly = keepHourly; policy.keepDaily = keepDaily
            policy.keepWeekly = keepWeekly; policy.keepMonthly = keepMonthly; policy.keepYearly = keepYearly
            if let keepWithin { policy.keepWithinSeconds = try parseDuration(keepWithin) }
            guard !policy.isEmpty || !ids.isEmpty else {
                throw VaultError(.invalidArgument, "forget needs snapshot ids or at least one --keep-* policy (nothing was removed)")
            }
            let repo = try ctx.openRepository()
            let lock = try ctx.lock(repo, exclusive: prune, operation: "forget")
            defer { lock.release() }
            var items: [Item] = []
            if !ids.isEmpty {
                for ref in ids {
                    let s = try repo.findSnapshot(ref)
                    items.append(Item(id: s.id.hex, time: s.snapshot.time.iso8601, keep: false, reasons: ["named"]))
                }
            } else {
                items = policy.apply(try repo.snapshots()).map { Item(id: $0.id.hex, time: $0.snapshot.time.iso8601, keep: $0.keep, reasons: $0.reasons) }
            }
            for i in items { ctx.output.line("\(i.keep ? "keep  " : "remove") \(i.id.prefix(8))  \(i.time)  \(i.reasons.joined(separator: ","))") }
            let gone = items.filter { !$0.keep }
            if !dryRun { for i in gone { try repo.removeSnapshot(ID(hex: i.id)!) } }
            ctx.output.line("\(dryRun ? "would remove" : "removed") \(gone.count) snapshot(s), kept \(items.count - gone.count)")
            var pruneReport: PruneReport?
            if prune {
                pruneReport = try Pruner(repository: repo, lock: lock).run(dryRun: dryRun)
                printPrune(ctx.output, pruneReport!)
            }
            ctx.output.emit(ForgetJSON(snapshots: items, prune: pruneReport))
            return Exit.success
        }
    }
}

struct ForgetJSON: Encodable { var snapshots: [ForgetCommand.Item]; var prune: PruneReport? }

/// Parses "90s", "30m", "12h", "7d", "2w", "1y" (combinations like "1d12h" too).
func parseDuration(_ s: String) throws -> Double {
    guard let d = DurationText.parse(s), d > 0 else {
        throw VaultError(.invalidArgument, "bad duration \"\(s)\": use a number and a unit s, m, h, d, w or y, e.g. 7d, 12h, 2w")
    }
    return d
}
