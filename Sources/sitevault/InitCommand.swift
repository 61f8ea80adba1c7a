import ArgumentParser
import SiteBackup
import VaultCore
import VaultRepository
import VaultStorage

struct InitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "init", abstract: "Create a new repository.",
        discussion: "Creates the folder if needed; refuses a folder that already holds a repository. The password is asked twice on a terminal.")
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let ctx = Context(global)
        try await runReporting(ctx.output) {
            let path = try ctx.repositoryPath
            let repo = try Repository.initialize(store: try ctx.openStore(), password: try ctx.password(confirm: true), kdf: ctx.kdf,
                                                 clock: ctx.clock, hostname: ctx.hostname, username: ctx.username,
                                                 extraKinds: [.logs])
            ctx.output.emit(["id": repo.config.id, "repository": path, "key": repo.keyName])
            ctx.output.line("created repository \(repo.config.id.prefix(8)) at \(path)")
            ctx.output.line("keep the password safe: without it the data cannot be read back")
            return Exit.success
        }
    }
}
