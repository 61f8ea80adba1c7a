import ArgumentParser
import VaultCore
import VaultRepository
import VaultRestorer
#if canImport(Glibc)
import Glibc
#endif

struct DumpCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dump",
        abstract: "Write one file of a snapshot to standard output (e.g. a database dump straight into pg_restore).",
        discussion: """
        Example: sitevault dump latest /orders/orders.dump | pg_restore -d orders
        Every byte is authenticated as it is read; a damaged blob ends the command with exit 4 \
        (whatever was written before stays written: check the exit status of the pipeline).
        """
    )
    @OptionGroup var global: GlobalOptions
    @OptionGroup var lockOptions: ReadLockOptions
    @Argument(help: "Snapshot id (or prefix) or 'latest'.") var snapshot: String
    @Argument(help: "Path of a file inside the snapshot (as `sitevault ls` shows it).") var path: String

    func run() async throws {
        let ctx = Context(global)
        try await runReporting(Output(json: false, quiet: true)) {
            let repo = try ctx.openRepository()
            try repo.loadIndex()
            let lock = try ctx.readAccess(repo, operation: "dump", lockOptions)
            defer { lock.release() }
            let snap = try repo.findSnapshot(snapshot)
            guard let tree = snap.snapshot.treeID else { throw VaultError(.corrupt, "snapshot \(snap.id.short) has no tree") }
            guard let file = try SnapshotFile.node(repo, tree: tree, path: path) else {
                throw VaultError(.notFound, "\(path) is not in snapshot \(snap.id.short)")
            }
            guard file.type == .file else {
                throw VaultError(.invalidArgument, "\(path) is not a file in snapshot \(snap.id.short): use `sitevault restore --include` for folders")
            }
            try SnapshotFile.write(repo, node: file, to: 1, label: "standard output")
            return Exit.success
        }
    }
}
