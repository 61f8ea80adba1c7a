import ArgumentParser
import VaultCore
import VaultRepository
import VaultRestorer

struct RestoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "restore", abstract: "Restore a snapshot into a folder.",
        discussion: "Files are restored under TARGET with their full original path (TARGET/srv/app/…). Every block is authenticated while reading. The target must be empty unless --overwrite is given; nothing is ever written outside it.")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var lockOptions: ReadLockOptions
    @Argument(help: "Snapshot id (or prefix) or 'latest'.") var snapshot: String
    @Option(name: .long, help: "Folder to restore into.") var target: String
    @Option(name: .long, help: "Restore only this path of the snapshot (repeatable).") var include: [String] = []
    @Flag(name: .long, help: "Allow a target that is not empty; files there are replaced.") var overwrite = false

    struct ResultJSON: Encodable { var snapshot: String; var target: String; var files: Int; var dirs: Int; var bytes: UInt64; var errors: [[String: String]] }

    func run() async throws {
        let ctx = Context(global)
        try await runReporting(ctx.output) {
            let repo = try ctx.openRepository()
            let lock = try ctx.readAccess(repo, operation: "restore", lockOptions)
            defer { lock.release() }
            try repo.loadIndex()
            let snap = try repo.findSnapshot(snapshot)
            guard let tree = snap.snapshot.treeID else { throw VaultError(.corrupt, "snapshot \(snap.id.short) has no tree") }
            var opts = RestoreOptions(target: target)
            opts.includes = include; opts.overwrite = overwrite
            opts.afterFolderCreated = testRestoreGate(ctx.env)
            let progress = RestoreProgress()
            let result = try await ctx.output.withProgress({
                let p = progress.snapshot
                return "\(p.files) files, \(Bytes.text(p.bytes)) restored"
            }) { try await Restorer(repository: repo, tree: tree, options: opts, progress: progress).run() }
            for e in result.errors { ctx.output.warn(TerminalText.escape("cannot restore \(e.path): \(e.message)")) }
            ctx.output.emit(ResultJSON(snapshot: snap.id.hex, target: target, files: result.files, dirs: result.dirs, bytes: result.bytes,
                                       errors: result.errors.map { ["path": $0.path, "message": $0.message] }))
            ctx.output.line("restored snapshot \(snap.id.short) to \(target): \(result.files) files, \(result.dirs) folders, \(Bytes.text(result.bytes))" +
                            (result.errors.isEmpty ? "" : "; \(result.errors.count) error(s)"))
            return result.errors.isEmpty ? Exit.success : Exit.partial
        }
    }
}
