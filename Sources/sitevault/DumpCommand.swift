import ArgumentParser
import VaultCore
import VaultFileSystem
import VaultRepository
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
    @Argument(help: "Snapshot id (or prefix) or 'latest'.") var snapshot: String
    @Argument(help: "Path of a file inside the snapshot (as `sitevault ls` shows it).") var path: String

    func run() async throws {
        let ctx = Context(global)
        try await runReporting(Output(json: false, quiet: true)) {
            let repo = try ctx.openRepository()
            try repo.loadIndex()
            let lock = try ctx.lock(repo, exclusive: false, operation: "dump")
            defer { lock.release() }
            let snap = try repo.findSnapshot(snapshot)
            guard var tree = snap.snapshot.treeID else { throw VaultError(.corrupt, "snapshot \(snap.id.short) has no tree") }
            var node: Node?
            let comps = FilePath(path).absolute().components
            for (i, comp) in comps.enumerated() {
                guard let n = try repo.loadTree(tree).nodes.first(where: { $0.name == comp }) else {
                    throw VaultError(.notFound, "\(path) is not in snapshot \(snap.id.short)")
                }
                if i == comps.count - 1 { node = n } else {
                    guard let sub = n.subtree else { throw VaultError(.notFound, "\(path) is not in snapshot \(snap.id.short)") }
                    tree = sub
                }
            }
            guard let file = node, file.type == .file else {
                throw VaultError(.invalidArgument, "\(path) is not a file in snapshot \(snap.id.short): use `sitevault restore --include` for folders")
            }
            for id in file.content {
                let bytes = try repo.loadBlob(id)
                var off = 0
                while off < bytes.count {
                    let n = bytes.withUnsafeBytes { write(1, $0.baseAddress! + off, $0.count - off) }
                    if n < 0 {
                        if errno == EINTR { continue }
                        throw VaultError.posix("cannot write to standard output", path: "stdout", errno: errno)
                    }
                    off += n
                }
            }
            return Exit.success
        }
    }
}
