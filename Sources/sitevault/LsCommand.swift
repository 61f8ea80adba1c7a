import ArgumentParser
import VaultCore
import VaultFileSystem
import VaultRepository

struct LsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ls", abstract: "List the files of a snapshot.")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var lockOptions: ReadLockOptions
    @Argument(help: "Snapshot id (or prefix) or 'latest'.") var snapshot: String
    @Argument(help: "Path inside the snapshot to list (default: everything).") var path: String?
    @Flag(name: .shortAndLong, help: "Show mode, size and modification time.") var long = false

    struct Entry: Encodable { var path: String; var type: String; var mode: String; var size: UInt64; var mtime: String; var uid: UInt32; var gid: UInt32 }

    func run() async throws {
        let ctx = Context(global)
        try await runReporting(ctx.output) {
            let repo = try ctx.openRepository()
            try repo.loadIndex()
            let snap = try repo.findSnapshot(snapshot)
            guard let root = snap.snapshot.treeID else { throw VaultError(.corrupt, "snapshot \(snap.id.short) has no tree") }
            var tree = root
            var prefix = ""
            var entries: [Entry] = []
            if let path {
                for comp in FilePath(path).absolute().components {
                    guard let n = try repo.loadTree(tree).nodes.first(where: { $0.name == comp }) else {
                        throw VaultError(.notFound, "\(path) is not in snapshot \(snap.id.short)")
                    }
                    prefix += "/" + n.displayName
                    guard let sub = n.subtree else { entries.append(entry(n, prefix)); tree = .zero; break }
                    tree = sub
                }
            }
            if tree != .zero { try walk(repo, tree, prefix, &entries) }
            ctx.output.emit(entries)
            for e in entries {
                ctx.output.line(long ? "\(e.mode) \(String(e.uid).padding(toLength: 5, withPad: " ", startingAt: 0)) \(String(e.size).padding(toLength: 12, withPad: " ", startingAt: 0)) \(e.mtime) \(e.path)" : e.path)
            }
            return Exit.success
        }
    }

    func entry(_ n: Node, _ path: String) -> Entry {
        Entry(path: path, type: n.type.name, mode: String(n.mode, radix: 8), size: n.size, mtime: Timestamp(nanoseconds: n.mtime).iso8601, uid: n.uid, gid: n.gid)
    }

    func walk(_ repo: Repository, _ id: ID, _ prefix: String, _ out: inout [Entry]) throws {
        for n in try repo.loadTree(id).nodes {
            let p = prefix + "/" + n.displayName
            out.append(entry(n, p))
            if let s = n.subtree { try walk(repo, s, p, &out) }
        }
    }
}
