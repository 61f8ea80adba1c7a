import ArgumentParser
import VaultCore
import VaultRepository

struct SnapshotsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "snapshots", abstract: "List snapshots, oldest first.")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var lockOptions: ReadLockOptions
    @Option(name: .long, help: "Only snapshots of this host.") var host: String?
    @Option(name: .long, help: "Only snapshots with this tag.") var tag: String?

    func run() async throws {
        let ctx = Context(global)
        try await runReporting(ctx.output) {
            let repo = try ctx.openRepository()
            let all = try repo.listSnapshots()
            for d in all.damaged { ctx.output.warn("warning: skipping damaged snapshot file: \(d.error.message) (run `sitevault check`)") }
            let list = all.good.filter { (host == nil || $0.snapshot.hostname == host) && (tag == nil || $0.snapshot.tags.contains(tag!)) }
            ctx.output.emit(list.map { SnapshotJSON(id: $0.id.hex, snapshot: $0.snapshot) })
            ctx.output.line("ID        Time                  Host          Tags        Size       Paths")
            for (id, s) in list {
                let size = s.summary.map { Bytes.text($0.bytesProcessed) } ?? "?"
                ctx.output.line("\(id.short)  \(s.time.iso8601)  \(s.hostname.padding(toLength: 12, withPad: " ", startingAt: 0))  \(s.tags.joined(separator: ",").padding(toLength: 10, withPad: " ", startingAt: 0))  \(size.padding(toLength: 9, withPad: " ", startingAt: 0))  \(s.paths.joined(separator: " "))\(s.partial ? "  (partial)" : "")")
            }
            ctx.output.line("\(list.count) snapshot(s)")
            return Exit.success
        }
    }
}

struct SnapshotJSON: Encodable {
    var id: String
    var snapshot: Snapshot
    func encode(to encoder: Encoder) throws {
        try snapshot.encode(to: encoder)
        var c = encoder.container(keyedBy: K.self)
        try c.encode(id, forKey: .id)
        try c.encode(snapshot.time.iso8601, forKey: .timeText)
    }
    enum K: String, CodingKey { case id, timeText = "time_utc" }
}
