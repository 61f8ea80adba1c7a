import ArgumentParser
import VaultCore
import VaultRepository

struct UnlockCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "unlock", abstract: "Remove stale locks.",
        discussion: """
        Removes the locks that are stale: refreshed more than 30 minutes ago, or held on this host by a process that no \
        longer runs. Live locks are kept and named. A lock whose time is ahead of this host's clock (another host's \
        clock is fast) or whose process id was reused by another program is not stale: --remove-all removes every \
        lock, live ones included — only when you are sure no sitevault process uses the repository (an operation whose \
        lock was removed fails before it commits anything).
        """)
    @OptionGroup var global: GlobalOptions
    @Flag(name: .long, help: "Remove every lock, live ones included.") var removeAll = false
    @Flag(name: .long, help: "Show which locks would be removed, remove nothing.") var dryRun = false

    func run() async throws {
        let ctx = Context(global)
        try await runReporting(ctx.output) {
            let repo = try ctx.openRepository()
            if removeAll && !dryRun {
                ctx.output.warn("warning: --remove-all removes live locks too; an operation still running loses its lock and fails before committing")
            }
            let report = try RepositoryLock.removeLocks(repo, hostname: ctx.hostname, all: removeAll, dryRun: dryRun)
            ctx.output.emit(report)
            for r in report.removed {
                ctx.output.line("\(dryRun ? "would remove" : "removed") \(r.file): \(r.holder ?? "unreadable lock"): \(r.reason)")
            }
            for k in report.kept { ctx.output.line("kept \(k.file): \(k.holder ?? "unreadable lock"): \(k.reason)") }
            ctx.output.line("\(report.removed.count) lock(s) \(dryRun ? "would be " : "")removed, \(report.kept.count) kept" +
                            (report.kept.isEmpty || removeAll ? "" : " (--remove-all removes them too)"))
            return Exit.success
        }
    }
}
