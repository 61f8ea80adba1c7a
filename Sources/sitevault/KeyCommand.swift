import ArgumentParser
import VaultCore
import VaultRepository

struct KeyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "key", abstract: "Manage the repository's passwords.",
        subcommands: [Add.self, List.self, Remove.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "add", abstract: "Add a password (a new key file).")
        @OptionGroup var global: GlobalOptions
        @Option(name: .long, help: "File holding the new password (default: $SITEVAULT_NEW_PASSWORD_FILE, or a prompt).") var newPasswordFile: String?
        func run() async throws {
            let ctx = Context(global)
            try await runReporting(ctx.output) {
                let repo = try ctx.openRepository()
                let newPassword: [UInt8]
                if let f = newPasswordFile ?? ctx.env["SITEVAULT_NEW_PASSWORD_FILE"] { newPassword = try Password.fromFile(f) }
                else { newPassword = try Password.prompt("New password: ", confirm: true) }
                let name = try repo.addKey(password: newPassword, kdf: ctx.kdf, hostname: ctx.hostname, username: ctx.username)
                ctx.output.emit(["id": name])
                ctx.output.line("added key \(name.prefix(8))")
                return Exit.success
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List key files (the current one is marked *).")
        @OptionGroup var global: GlobalOptions
        struct Item: Encodable { var id: String; var current: Bool; var created: String; var host: String; var user: String; var kdf: String }
        func run() async throws {
            let ctx = Context(global)
            try await runReporting(ctx.output) {
                let repo = try ctx.openRepository()
                let items = try repo.listKeys().map { k in
                    Item(id: k.name, current: k.name == repo.keyName, created: k.key.created.iso8601, host: k.key.hostname, user: k.key.username,
                         kdf: "\(k.key.kdf.algorithm) N=\(k.key.kdf.n) r=\(k.key.kdf.r) p=\(k.key.kdf.p)")
                }.sorted { $0.created < $1.created }
                ctx.output.emit(items)
                for i in items { ctx.output.line("\(i.current ? "*" : " ") \(i.id.prefix(8))  \(i.created)  \(i.user)@\(i.host)  \(i.kdf)") }
                return Exit.success
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "remove", abstract: "Remove a key file (not the one in use).")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Key id or prefix.") var id: String
        func run() async throws {
            let ctx = Context(global)
            try await runReporting(ctx.output) {
                let repo = try ctx.openRepository()
                let name = try repo.removeKey(id)
                ctx.output.emit(["removed": name])
                ctx.output.line("removed key \(name.prefix(8))")
                return Exit.success
            }
        }
    }
}
