import ArgumentParser
#if canImport(Glibc)
import Glibc
#endif
import Foundation
import SiteBackup
import VaultCore

struct SiteDrillCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "drill",
        abstract: "Prove a snapshot brings the site back: restore it into a sandbox, check every component, time it.",
        discussion: """
        Files and SQLite copies are restored into a scratch folder ([drill] sandbox, default STATE/drill) and \
        read back against the snapshot's checksums; SQLite copies get PRAGMA integrity_check; PostgreSQL dumps \
        are restored into scratch databases on the configured server (then the component's verify_sql runs in \
        them); a physical base backup is started as a temporary cluster on a free port. The optional \
        [drill] command then runs with SITEVAULT_SANDBOX, PGHOST/PGPORT/PGDATABASE (the scratch database) and \
        SITEVAULT_DRILL_DB_<NAME> / SITEVAULT_DRILL_SQLITE_<COMPONENT> in its environment, e.g. to start the \
        application against the sandbox and probe it. Nothing in production is stopped, started or written. \
        Each step is timed; the report (--json, and the text in STATE/logs and the repository's logs/) gives \
        the measured recovery time next to the time of the backup that made the snapshot. The sandbox and the \
        scratch databases are removed at the end. A failed drill alerts like a failed backup.

        SIGTERM or SIGINT drops the scratch databases, stops a temporary cluster and removes the sandbox \
        (exit 130).

        Exit codes: 0 passed, 1 failed (the report names the component, the step and what it found), \
        24 another drill of the site is running, 78 invalid control file, 130 interrupted.
        """
    )
    @OptionGroup var options: SiteOptions

    @Option(name: .long, help: "Snapshot id (or prefix), backup run id, or 'latest'.")
    var snapshot = "latest"

    @Flag(name: .long, help: "Leave the restored sandbox in place for inspection (scratch databases are still dropped).")
    var keepSandbox = false

    @Option(name: .long, help: "Drill on this copy target ([[copy]] repository = NAME) instead of the main repository.")
    var from: String?

    @OptionGroup var lockOptions: ReadLockOptions

    func run() async throws {
        var config = try options.load(checkPaths: false, refusing: "the drill was not run")
        if let from {
            do { config = try config.readingFromCopy(from) } catch let e as VaultError {
                options.output.warn("error: " + e.description + " (the drill was not run)")
                throw ExitCodeError(Exit.failure)
            }
        }
        let (host, _) = hostAndUser()
        var opts = DrillOptions(hostname: host)
        opts.snapshot = snapshot
        opts.keepSandbox = keepSandbox
        opts.noLock = lockOptions.noLock
        opts.echo = MessageEcho(enabled: true, verbose: !options.quiet)
        let drill = SiteDrill(config: config, options: opts)
        let r = await runInterruptible(json: options.json, run: { await drill.run() }, abort: { drill.abort(signal: $0) },
                                       wasAborted: { drill.wasAborted }, exitCode: { _ in Exit.interrupted })
        let out = options.output
        out.emit(r)
        if !options.json && !options.quiet { DrillText.print(r) }
        if r.result != "passed" { throw ExitCodeError(r.failure?.contains("drill of this site is active") == true ? 24 : Exit.failure) }
    }
}

enum DrillText {
    static func print(_ r: DrillReport) {
        printLine("site \(r.site): drill \(r.result)\(r.snapshot.map { " on snapshot \($0.prefix(12))" } ?? "")")
        for s in r.steps {
            printLine("  \((s.component ?? "-").padding(toLength: 12, withPad: " ", startingAt: 0)) \(s.name.padding(toLength: 22, withPad: " ", startingAt: 0)) \(s.result.padding(toLength: 6, withPad: " ", startingAt: 0)) \(String(format: "%7.2f s", s.seconds))  \(s.detail)")
        }
        if let rec = r.recoverySeconds {
            printLine("  recovery time \(String(format: "%.2f", rec)) s" + (r.backupSeconds.map { String(format: ", backup of the snapshot %.2f s", $0) } ?? "") + (r.ratio.map { String(format: " (%.2f×)", $0) } ?? ""))
        }
        if let f = r.failure { printLine("  failed: \(f)") }
    }
}
