import ArgumentParser
#if canImport(Glibc)
import Glibc
#endif

@_silgen_name("mallopt") private func c_mallopt(_ param: Int32, _ value: Int32) -> Int32

@main
struct Sitevault: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sitevault",
        abstract: "Deduplicated, compressed, encrypted backups of server sites.",
        discussion: """
        The repository is chosen with --repo or SITEVAULT_REPOSITORY; the password comes from \
        --password-file, SITEVAULT_PASSWORD_FILE or SITEVAULT_PASSWORD (or a prompt on a terminal) \
        and is never printed or logged.

        Exit codes: 0 success, 1 failure, 3 backup or restore incomplete (some files unreadable), \
        4 damage found (check; prune on a damaged index; repair snapshots that could not rewrite one), \
        10 no repository, 11 repository locked (see `sitevault unlock`) or own lock lost, 12 wrong password, \
        13 restore target not empty, 14 unsupported repository version, 64 bad usage, 130 interrupted.

        Damaged repository: `sitevault check` says what is wrong, `sitevault repair index` rebuilds the index, \
        `sitevault repair snapshots` rewrites snapshots without their lost files. Read-only or full repository: \
        reading commands go on without a lock (with a warning), or pass --no-lock.
        """,
        version: "sitevault 0.3.0 (repository format 1)",
        subcommands: [InitCommand.self, BackupCommand.self, SnapshotsCommand.self, LsCommand.self, RestoreCommand.self, DumpCommand.self,
                      DiffCommand.self, CheckCommand.self, RepairCommand.self, ForgetCommand.self, PruneCommand.self, UnlockCommand.self,
                      KeyCommand.self, StatsCommand.self, CopyCommand.self, SitesCommand.self,
                      SiteCommand.self, AlertCommand.self, ValidateCommand.self, ServiceCommand.self, ConsoleCommand.self, InstallServiceCommand.self]
    )

    static func main() async {
        // Large per-chunk buffers would otherwise be mmapped and unmapped on every allocation
        // (glibc's default threshold), which costs several times the encryption speed.
        _ = c_mallopt(-3 /* M_MMAP_THRESHOLD */, 64 << 20)
        _ = c_mallopt(-1 /* M_TRIM_THRESHOLD */, 128 << 20)
        // Few arenas: per-thread arenas multiply peak memory for no speed gain on a few cores.
        _ = c_mallopt(-8 /* M_ARENA_MAX */, 2)
        signal(SIGPIPE, SIG_IGN)
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }
}
