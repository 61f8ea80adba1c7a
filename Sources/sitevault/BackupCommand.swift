import ArgumentParser
import VaultArchiver
import VaultCore
import VaultRepository

struct BackupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "backup", abstract: "Back up files and folders into a new snapshot.",
        discussion: """
        Unchanged files (same inode, size, mtime and ctime as in the parent snapshot: the latest one of the same host and paths) \
        are not read again. Files that cannot be read are reported and skipped; the snapshot is still saved, marked partial, \
        and the exit code is 3. A file that changes while it is read (size, mtime or ctime) is read once more; when it \
        changes again it is stored as read the second time, named in a warning and in the snapshot's changedFiles, \
        the snapshot is marked partial and the exit code is 3. Holes in sparse files are not read.
        """)
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Files or folders to back up.") var paths: [String]
    @Option(name: .long, help: "Tag the snapshot (repeatable).") var tag: [String] = []
    @Option(name: .long, help: "Exclude a glob pattern: without '/' it matches names anywhere, with '/' the absolute path (repeatable).") var exclude: [String] = []
    @Option(name: .long, help: "Host name recorded in the snapshot (default: this machine's).") var host: String?
    @Option(name: .long, help: "Parent snapshot for change detection (default: latest of same host and paths).") var parent: String?

    func run() async throws {
        let ctx = Context(global)
        try await runReporting(ctx.output) {
            let repo = try ctx.openRepository()
            let lock = try ctx.lock(repo, exclusive: false, operation: "backup")
            defer { lock.release() }
            try repo.loadIndex()
            var opts = BackupOptions(paths: paths, hostname: host ?? ctx.hostname, username: ctx.username)
            opts.tags = tag; opts.excludes = exclude; opts.lock = lock
            opts.beforeCommit = ctx.testCommitGate()
            opts.afterReadPass = ctx.testReadGate()
            if let parent { opts.parent = try repo.findSnapshot(parent).id }
            let progress = BackupProgress()
            let result = try await ctx.output.withProgress({
                let p = progress.snapshot
                return "\(p.files) files, \(Bytes.text(p.bytes)) read, \(p.errors) errors  \(p.current.suffix(50))"
            }) { try await Archiver(repository: repo, options: opts, progress: progress).run() }
            for e in result.errors { ctx.output.warn(TerminalText.escape("cannot back up \(e.path): \(e.message)")) }
            for path in result.changedFiles {
                ctx.output.warn(TerminalText.escape("\(path) changed while it was read, twice: it is stored as read the second time and may be "
                                                    + "inconsistent; back it up again when nothing writes to it (or freeze its writer)"))
            }
            let s = result.snapshot.summary ?? BackupSummary()
            ctx.output.emit(BackupJSON(snapshot: result.id.hex, summary: s, errors: result.errors.map { ["path": $0.path, "message": $0.message] },
                                       changed: result.changedFiles))
            ctx.output.line("files: \(s.filesNew) new, \(s.filesChanged) changed, \(s.filesUnmodified) unmodified; \(s.dirs) folders")
            ctx.output.line("added \(Bytes.text(s.bytesAdded)) (\(Bytes.text(s.bytesStored)) stored) in \(s.packsWritten) pack(s), processed \(Bytes.text(s.bytesProcessed)) in \(String(format: "%.2f", s.durationSeconds)) s")
            var notes: [String] = []
            if !result.errors.isEmpty { notes.append("\(result.errors.count) item(s) could not be read") }
            if !result.changedFiles.isEmpty { notes.append("\(result.changedFiles.count) file(s) changed while read") }
            ctx.output.line("snapshot \(result.id.short) saved" + (notes.isEmpty ? "" : " (partial: " + notes.joined(separator: ", ") + ")"))
            return result.snapshot.partial ? Exit.partial : Exit.success
        }
    }
}

struct BackupJSON: Encodable {
    var snapshot: String
    var summary: BackupSummary
    var errors: [[String: String]]
    /// Files that changed while read, twice in a row (stored as read the second time).
    var changed: [String]
}
