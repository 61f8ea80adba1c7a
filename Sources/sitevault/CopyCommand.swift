import ArgumentParser
import Foundation
import VaultCore
import VaultMaintenance
import VaultRepository

struct CopyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "copy",
        abstract: "Copy snapshots from another repository (--from-repo) into this one (--repo).",
        discussion: """
        Without snapshot ids, --site or --tag, every snapshot is copied. A snapshot already copied (the target holds one with \
        the same original id) is not copied again, so the command can simply be run again after an interruption. The source \
        is only read. When both repositories share their chunker parameters (`init --copy-chunker-params --from-repo`), only \
        the blobs the target lacks are transferred, without compressing again; otherwise files are chunked again.
        """)
    @OptionGroup var global: GlobalOptions
    @OptionGroup var from: FromRepositoryOptions
    @Argument(help: "Source snapshot ids (or unique prefixes, or `latest`).") var snapshots: [String] = []
    @Option(name: .long, help: "Only the snapshots of this site (tag site=NAME).") var site: String?
    @Option(name: .long, help: "Only the snapshots with this tag.") var tag: [String] = []
    @Flag(name: .long, help: "Show what would be copied, write nothing.") var dryRun = false

    func run() async throws {
        let ctx = Context(global)
        try await runReporting(ctx.output) {
            let source = try from.open(ctx)
            let target = try ctx.openRepository()
            let sourceAccess = try RepositoryLock.acquireForReading(source, operation: "copy", hostname: ctx.hostname,
                                                                    username: ctx.username, wait: global.retryLock, noLock: false)
            defer { sourceAccess.lock?.release() }
            if let w = sourceAccess.warning { ctx.output.warn("warning: source repository: " + w) }
            let lock = dryRun ? nil : try ctx.lock(target, exclusive: false, operation: "copy")
            defer { lock?.release() }
            let chosen = try select(source)
            let progress = CopyProgressBox()
            let copier = Copier(source: source, target: target, targetLock: lock, progress: { progress.set($0) })
            let report = try await ctx.output.withProgress({ progress.text }) { try copier.run(chosen, dryRun: dryRun) }
            printReport(ctx.output, report)
            ctx.output.emit(report)
            return Exit.success
        }
    }

    private func select(_ source: Repository) throws -> [(id: ID, snapshot: Snapshot)] {
        var list: [(id: ID, snapshot: Snapshot)]
        if snapshots.isEmpty {
            list = try source.snapshots()
        } else {
            list = try snapshots.map { try source.findSnapshot($0) }
        }
        let tags = tag + (site.map { ["site=\($0)"] } ?? [])
        list = list.filter { s in tags.allSatisfy { s.snapshot.tags.contains($0) } }
        if list.isEmpty && (!snapshots.isEmpty || !tags.isEmpty) {
            throw VaultError(.notFound, "no snapshot of the source matches \(tags.joined(separator: ", ")): " +
                             "see `sitevault snapshots` on the source repository (nothing was copied)")
        }
        return list
    }

    private func printReport(_ out: Output, _ r: CopyReport) {
        for s in r.snapshots {
            let target = s.target.map { " -> " + String($0.prefix(8)) } ?? ""
            out.line("\(s.result.padding(toLength: 10, withPad: " ", startingAt: 0)) \(s.source.prefix(8))\(target)  \(s.time.iso8601)")
        }
        let verb = r.dryRun ? "would copy" : "copied"
        out.line("\(verb) \(r.dryRun ? r.snapshots.filter { $0.result == "would-copy" }.count : r.copiedCount) snapshot(s), " +
                 "\(r.presentCount) already present; \(r.blobsCopied) blob(s), \(Bytes.text(r.bytesCopied)) added " +
                 "(\(Bytes.text(r.bytesStored)) stored)\(r.rechunked ? ", files chunked again (different chunker parameters)" : "")")
    }
}

/// The latest progress of a copy, read by the progress line.
final class CopyProgressBox: @unchecked Sendable {
    // @unchecked: `value` is guarded by `mutex`.
    private let mutex = Mutex()
    private var value = CopyProgress()
    func set(_ p: CopyProgress) { mutex.withLock { value = p } }
    var text: String {
        let p = mutex.withLock { value }
        return "snapshot \(p.snapshot)/\(p.snapshots), \(p.blobsDone)/\(p.blobsTotal) blobs, \(Bytes.text(p.bytesDone))"
    }
}
