import ArgumentParser
import SiteBackup
import VaultCore
import VaultRepository

struct SitesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "sites",
        abstract: "List the sites whose snapshots a repository holds: newest snapshot, size, last drill.",
        discussion: "Several sites may share one repository (each snapshot is tagged site=NAME); `sitevault stats` shows what they share. Takes no lock.")
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let ctx = Context(global)
        try await runReporting(ctx.output) {
            let repo = try ctx.openRepository()
            try repo.loadIndex()
            let sites = try RepositorySites.list(repo)
            ctx.output.emit(sites)
            ctx.output.line("Site            Snapshots  Newest        Time                  Size       Last drill")
            for s in sites {
                let drill = s.lastDrill.map { "\($0.started) \($0.result ?? "?")" } ?? "none recorded"
                let count = "\(s.snapshots)" + (s.copied > 0 ? " (\(s.copied) copied)" : "")
                ctx.output.line("\(s.site.padding(toLength: 15, withPad: " ", startingAt: 0)) \(count.padding(toLength: 10, withPad: " ", startingAt: 0)) " +
                                "\(s.newest.prefix(12))  \(s.newestTime.iso8601)  " +
                                "\((s.size.map { Bytes.text($0) } ?? "?").padding(toLength: 9, withPad: " ", startingAt: 0))  \(drill)" +
                                (s.partial ? "  (newest is partial)" : ""))
            }
            ctx.output.line("\(sites.count) site(s)")
            return Exit.success
        }
    }
}
