import Foundation
import ArgumentParser
import VaultCore
import VaultRepository
import VaultStorage

/// The source repository of `copy` and `init --copy-chunker-params` (restic's convention).
struct FromRepositoryOptions: ParsableArguments {
    @Option(name: .long, help: "Source repository (default: $SITEVAULT_FROM_REPOSITORY).")
    var fromRepo: String?

    @Option(name: .long, help: "File holding the source repository's password (default: $SITEVAULT_FROM_PASSWORD_FILE, then $SITEVAULT_FROM_PASSWORD).")
    var fromPasswordFile: String?

    func path(_ ctx: Context) throws -> String {
        guard let r = fromRepo ?? ctx.env["SITEVAULT_FROM_REPOSITORY"], !r.isEmpty else {
            throw VaultError(.invalidArgument, "no source repository given: pass --from-repo PATH or set SITEVAULT_FROM_REPOSITORY")
        }
        return r
    }

    func password(_ ctx: Context) throws -> [UInt8] {
        if let f = fromPasswordFile ?? ctx.env["SITEVAULT_FROM_PASSWORD_FILE"] { return try Password.fromFile(f) }
        if let p = ctx.env["SITEVAULT_FROM_PASSWORD"] { return Array(p.utf8) }
        if isatty(0) == 1 { return try Password.prompt("Source repository password: ", confirm: false) }
        throw VaultError(.invalidArgument, "no password for the source repository: use --from-password-file, " +
                         "SITEVAULT_FROM_PASSWORD_FILE or SITEVAULT_FROM_PASSWORD")
    }

    /// Opens the source repository (its config is checked before the password is asked for).
    func open(_ ctx: Context) throws -> Repository {
        let store = try StoreFactory.open(try path(ctx), options: ctx.storeOptions)
        let config = try Repository.readConfig(store)
        let repo = try Repository.open(store: store, config: config, password: try password(ctx), clock: ctx.clock)
        let out = ctx.output
        repo.setWarningHandler { out.warn("warning: source repository: " + $0) }
        return repo
    }
}
