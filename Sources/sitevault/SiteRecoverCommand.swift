import ArgumentParser
#if canImport(Glibc)
import Glibc
#endif
import Foundation
import SiteBackup
import VaultCore
import VaultRepository
import VaultStorage
import VaultFileSystem

struct SiteRecoverCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recover",
        abstract: "Turn a site snapshot back into the site: files, configuration, databases and install media.",
        discussion: """
        Every component is first restored into a work folder beside its destination (the application keeps \
        running meanwhile). Then each [[writer]] of the recovered components stops the application, the paths \
        are checked for processes still using them (refused unless --force), the restored copies are swapped in \
        (what they replace moves to a side folder .sitevault-replaced-RUN beside it; a PostgreSQL database is \
        renamed to NAME_replaced_RUN), the databases are replayed, and the writers start the application again. \
        The replaced copies are removed only once everything succeeded (kept with --keep-replaced, and always \
        kept on failure).

        Databases (--database): restore replays the snapshot's copy or dump (the default); use-existing checks \
        that the database already there answers (recovered by other means) and records its version; new \
        creates an empty database from the schema part of the dump; skip leaves databases alone. With --target, \
        PostgreSQL servers are left alone unless --database is given: the dumps are written as files under the \
        target instead.

        Captured settings (command outputs) are written to STATE/recovered-settings/COMPONENT (or under \
        --target); install media is restored and its recorded version printed, to reinstall that version first.

        When the machine is gone: `sitevault site recover --repo R --site-from-snapshot --target /` reads the \
        control file kept inside the snapshot (the password from --password-file or SITEVAULT_PASSWORD_FILE).

        SIGTERM or SIGINT starts the application again at once and keeps what was already replaced in \
        the side folders (exit 130).

        Order: computed from the components. A physical PostgreSQL cluster comes first: it is extracted \
        beside its recorded data directory (owned by the cluster's user, mode 0700), the server still running \
        there is stopped, the directories are swapped, and the server is started again (by the component's \
        writer, or pg_ctl as the cluster's user with the options it last started with) and waited for. Folders \
        come before the paths inside them (a data folder before the SQLite database it holds); a path of a \
        component that this recovery leaves alone (not selected, --database skip) is carried over from the \
        replaced folder into the restored one. Then the logical dumps are replayed into the running server. \
        After the swap every restored path is compared with the snapshot. Owners and modes come back as \
        recorded (SQLite files and their folders too).

        A component that fails does not stop the others: each is reported with its result, and the exit code \
        says partial. A dry run reports every component's plan and every problem it finds. Values of \
        secret-looking settings (password, secret, key, token…) are redacted in the configuration diffs \
        unless --show-secrets.

        At the end, each writer whose application is not running (a signal writer's process is gone) runs its \
        start command, then the control file's [recovery] probe runs until it passes or probe_timeout ends: \
        the recovery is good only when the probe passes.

        Exit codes: 0 recovered (or dry run without problems), 1 failed (nothing came back; replaced copies \
        kept, see the messages), 3 partial (some components failed, or a dry run found problems), 10 \
        repository missing, 11 locked, 12 wrong password, 24 a backup or recovery of the site is running, \
        27 refused before anything was replaced (application running without --force, unknown component), \
        28 everything restored but the health probe failed, 78 invalid control file, 130 interrupted.
        """
    )
    @OptionGroup var options: SiteOptions

    @Option(name: .long, help: "Snapshot id (or prefix), backup run id, or 'latest'.")
    var snapshot = "latest"

    @Option(name: .long, help: "Restore under DIR (the same layout, relocated) instead of the original places.")
    var target: String?

    @Option(name: .long, parsing: .singleValue, help: "Only these components (comma-separated or repeated).")
    var components: [String] = []

    @Option(name: .long, help: "restore (default), use-existing, new or skip.")
    var database: String?

    @Option(name: .long, parsing: .singleValue, help: "Restore a database under another name: OLD=NEW, or NEW for a component with one database.")
    var databaseName: [String] = []

    @Flag(name: .long, help: "Show what would change (diffs of configuration files and settings) and change nothing.")
    var dryRun = false

    @Flag(name: .long, help: "Replace paths even while a process uses them.")
    var force = false

    @Flag(name: .long, help: "Dry run: show the values of secret-looking settings in configuration diffs.")
    var showSecrets = false

    @Option(name: .long, help: "Put a physical PostgreSQL cluster into DIR instead of its recorded data directory.")
    var dataDirectory: String?

    @Flag(name: .long, help: "Do not run the control file's [recovery] probe.")
    var noProbe = false

    @Flag(name: .long, help: "Do not run the writers' start commands: an application that is not running stays stopped.")
    var noStart = false

    @OptionGroup var lockOptions: ReadLockOptions

    @Flag(name: .long, help: "Keep the replaced files and databases after a successful recovery.")
    var keepReplaced = false

    @Option(name: .long, help: "Recover from this copy target ([[copy]] repository = NAME) instead of the main repository.")
    var from: String?

    @Option(name: .long, help: "Repository to recover from without a control file (with --site-from-snapshot).")
    var repo: String?

    @Flag(name: .long, help: "Use the control file kept inside the snapshot (the machine is gone); needs --repo.")
    var siteFromSnapshot = false

    @Option(name: .long, help: "With --site-from-snapshot: the site's name, when the repository holds several sites.")
    var siteName: String?

    @Option(name: .long, help: "With --repo: file holding the repository password (default: $SITEVAULT_PASSWORD_FILE, then $SITEVAULT_PASSWORD).")
    var passwordFile: String?

    func validate() throws {
        if from != nil && repo != nil { throw ValidationError("--from names a copy target of the control file; with --repo, give the copy's folder to --repo instead") }
        if siteFromSnapshot != (repo != nil) { throw ValidationError("--site-from-snapshot and --repo go together: recover from a repository alone, with the control file kept in the snapshot") }
        if let d = database, DatabaseMode(rawValue: d) == nil { throw ValidationError("--database must be restore, use-existing, new or skip") }
    }

    func run() async throws {
        let out = options.output
        let (host, _) = hostAndUser()
        var opts = RecoveryOptions(hostname: host)
        opts.snapshot = snapshot
        opts.target = target
        let comps = components.flatMap { $0.split(separator: ",").map(String.init) }
        opts.components = comps.isEmpty ? nil : comps
        opts.database = database.flatMap(DatabaseMode.init(rawValue:))
        for n in databaseName {
            let parts = n.split(separator: "=", maxSplits: 1).map(String.init)
            if parts.count == 2 { opts.databaseNames[parts[0]] = parts[1] } else { opts.databaseNames["*"] = n }
        }
        opts.dryRun = dryRun
        opts.force = force
        opts.showSecrets = showSecrets
        opts.dataDirectory = dataDirectory.map { FilePath($0).absolute().description }
        opts.noProbe = noProbe
        opts.noStart = noStart
        opts.keepReplaced = keepReplaced
        opts.noLock = lockOptions.noLock
        opts.echo = MessageEcho(enabled: true, verbose: !options.quiet)
        let config: SiteConfig
        if let repo {
            do {
                (config, opts.password) = try configFromSnapshot(repo: repo)
            } catch let e as ControlFileError {
                out.warn(e, prefix: "the control file kept in the snapshot is not usable: ")
                throw ExitCodeError(SiteExit.controlFile)
            } catch let e as VaultError {
                if options.json { out.emit(["error": ["code": e.code.rawValue, "message": e.exactDescription]]) }
                out.warn("error: " + e.description)
                throw ExitCodeError(Exit.code(for: e))
            }
        } else {
            config = try fromCopy(try options.load(checkPaths: false, refusing: "nothing was recovered"))
        }
        let recovery = SiteRecovery(config: config, options: opts)
        let report = await runInterruptible(json: options.json, run: { await recovery.run() }, abort: { recovery.abort(signal: $0) },
                                            wasAborted: { recovery.wasAborted }, exitCode: { _ in Exit.interrupted })
        out.emit(report)
        if !options.json && !options.quiet { printSummary(report) }
        switch report.result {
        case "recovered": return
        case "dry-run": if !report.problems.isEmpty { throw ExitCodeError(Exit.partial) }
        case "partial": throw ExitCodeError(Exit.partial)
        case "probe-failed": throw ExitCodeError(28)
        case "refused": throw ExitCodeError(report.message?.contains("is active") == true ? 24 : 27)
        default:
            switch report.errorCode {
            case "repositoryNotFound"?: throw ExitCodeError(Exit.noRepository)
            case "wrongPassword"?: throw ExitCodeError(Exit.wrongPassword)
            case "locked"?: throw ExitCodeError(Exit.locked)
            default: throw ExitCodeError(Exit.failure)
            }
        }
    }

    /// The control file reading from the copy target of `--from`, if given.
    func fromCopy(_ config: SiteConfig) throws -> SiteConfig {
        guard let from else { return config }
        do { return try config.readingFromCopy(from) } catch let e as VaultError {
            options.output.warn("error: " + e.description + " (nothing was recovered)")
            throw ExitCodeError(Exit.failure)
        }
    }

    /// The control file kept inside the newest (or chosen) snapshot of the site, pointed at `repo`.
    func configFromSnapshot(repo path: String) throws -> (SiteConfig, [UInt8]) {
        var global = try GlobalOptions.parse([])
        global.repo = path
        global.passwordFile = passwordFile
        let ctx = Context(global)
        let password = try ctx.password()
        let repository = try ctx.openRepository()
        try repository.loadIndex()
        let sites = Set(try repository.snapshots().flatMap { $0.snapshot.tags.filter { $0.hasPrefix("site=") }.map { String($0.dropFirst(5)) } })
        let site: String
        if let siteName { site = siteName } else {
            guard sites.count == 1 else {
                throw VaultError(.invalidArgument, sites.isEmpty ? "repository \(path) holds no site snapshot" : "repository \(path) holds several sites (\(sites.sorted().joined(separator: ", "))): choose one with --site-name")
            }
            site = sites.first!
        }
        let snap = try SiteSnapshots.find(repository, site: site, ref: snapshot)
        var config = try snap.storedConfig()
        config.destinations["main"]?.path = FilePath(path).absolute().description
        return (config, password)
    }

    func printSummary(_ r: RecoveryReport) {
        printLine("site \(r.site): \(r.result)\(r.snapshot.isEmpty ? "" : " from snapshot \(r.snapshot.prefix(12))")\(r.target.map { " under \($0)" } ?? "")")
        for c in r.components {
            let dest = c.destinations.isEmpty ? "" : " → " + c.destinations.joined(separator: ", ")
            printLine("  \(c.name.padding(toLength: 12, withPad: " ", startingAt: 0)) \(c.action.padding(toLength: 14, withPad: " ", startingAt: 0)) \(c.result)\(c.version.map { ", version \($0)" } ?? "")\(dest)")
            if let d = c.detail { printLine("      \(d)") }
            if let d = c.diff { for l in d.split(separator: "\n", omittingEmptySubsequences: false) { printLine("      " + l) } }
        }
        if !r.writers.isEmpty { printLine("  writers stopped and started again: \(r.writers.joined(separator: ", "))") }
        if !r.started.isEmpty { printLine("  applications started: \(r.started.joined(separator: ", "))") }
        if let p = r.probe { printLine("  health probe \(p.result) (\(p.attempts) attempt(s), \(String(format: "%.1f", p.seconds)) s): \(p.detail)") }
        for w in r.warnings { printLine("  warning: " + w) }
        if !r.problems.isEmpty { printLine("  problems:"); for p in r.problems { printLine("    - " + p) } }
        if !r.kept.isEmpty { printLine("  replaced copies kept in: \(r.kept.joined(separator: ", "))") }
        if let m = r.message { printLine("  \(r.result == "refused" ? "refused" : "error"): \(m)") }
    }
}
