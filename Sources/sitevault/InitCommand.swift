import ArgumentParser
import SiteBackup
import VaultCore
import VaultCrypto
import VaultRepository
import VaultStorage

struct InitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "init", abstract: "Create a new repository.",
        discussion: "Creates the folder if needed; refuses a folder that already holds a repository. The password is asked twice on a terminal.")
    @OptionGroup var global: GlobalOptions
    @Flag(name: .long, help: ArgumentHelp("Use the chunker parameters of --from-repo, so `copy` between them moves blobs as they are.",
        discussion: "The new repository gets the source's chunker seed and blob-id key and its own encryption key and password."))
    var copyChunkerParams = false
    @OptionGroup var from: FromRepositoryOptions

    func run() async throws {
        let ctx = Context(global)
        try await runReporting(ctx.output) {
            let path = try ctx.repositoryPath
            if !copyChunkerParams && (from.fromRepo != nil || from.fromPasswordFile != nil) {
                throw VaultError(.invalidArgument, "--from-repo is used only with --copy-chunker-params (nothing was created)")
            }
            let master = copyChunkerParams ? try from.open(ctx).key.withFreshEncryptionKey() : MasterKey.random()
            let repo = try Repository.initialize(store: try ctx.openStore(), password: try ctx.password(confirm: true), kdf: ctx.kdf,
                                                 clock: ctx.clock, hostname: ctx.hostname, username: ctx.username,
                                                 extraKinds: [.logs], master: master)
            ctx.output.emit(["id": repo.config.id, "repository": path, "key": repo.keyName])
            ctx.output.line("created repository \(repo.config.id.prefix(8)) at \(path)")
            ctx.output.line("keep the password safe: without it the data cannot be read back")
            return Exit.success
        }
    }
}
