import ArgumentParser
import Dispatch
import Foundation
import SiteBackup
import VaultCore
#if canImport(Glibc)
import Glibc
#endif

struct SiteBackupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Run the site's backup task once: check, freeze, copy, thaw, store, commit, hook, alert.",
        discussion: """
        Status messages go to standard error as the run goes (journald-style <N> priorities when not on a \
        terminal) and into the status store; the run log is written into each repository's logs/ folder. \
        SIGTERM or SIGINT thaws every frozen writer at once and ends the run without committing. \
        See `sitevault site --help` for the exit codes.
        """
    )
    @OptionGroup var options: SiteOptions

    @Option(name: .long, help: "Seconds to wait for a repository lock held by another process (default 0).")
    var retryLock: Double = 0

    func run() async throws {
        let config = try options.load(refusing: "the backup was not run")
        let (host, user) = hostAndUser()
        var opts = SiteRunOptions(hostname: host, username: user)
        opts.retryLock = retryLock
        opts.beforeCommit = testCommitGate(ProcessInfo.processInfo.environment)
        opts.storeOptions = storeOptions(ProcessInfo.processInfo.environment)
        opts.echo = MessageEcho(enabled: true, verbose: !options.quiet)
        let task = SiteBackupTask(config: config, options: opts)
        let out = options.output
        // SIGTERM / SIGINT: thaw now, record, exit. The handler runs on its own queue while the run goes on.
        let report = await runInterruptible(json: options.json, run: { await task.run() }, abort: { task.abort(signal: $0) },
                                            wasAborted: { task.wasAborted }, exitCode: { SiteExit.code(for: $0) })
        out.emit(report)
        if !options.json && !options.quiet { printSummary(report, config: config) }
        let code = SiteExit.code(for: report)
        if code != 0 { throw ExitCodeError(code) }
    }

    func printSummary(_ r: RunReport, config: SiteConfig) {
        let utc = config.timeZone == .utc
        printLine("site \(r.site): \(r.result)\(r.failure.map { " (\($0.rawValue))" } ?? "")")
        if let s = r.snapshot { printLine("  snapshot   \(s.prefix(12)) at \(r.snapshotTime.map { TimeText.full($0, utc: utc) } ?? "?")") }
        for (n, s) in r.snapshots.sorted(by: { $0.key < $1.key }) where n != "main" { printLine("  snapshot   \(s.prefix(12)) in repository \(n)") }
        for f in r.freezes { printLine("  frozen     \(f.writer): \(String(format: "%.3f", f.seconds ?? 0)) s") }
        if r.consistency == .site && !r.freezes.isEmpty {
            printLine("  window     site-wide, \(r.freezes.count) writer\(r.freezes.count == 1 ? "" : "s"): \(String(format: "%.3f", r.freezeWindowSeconds)) s")
        }
        for c in r.components {
            printLine("  \(c.name.padding(toLength: 12, withPad: " ", startingAt: 0)) \(c.result.padding(toLength: 8, withPad: " ", startingAt: 0)) \(Bytes.text(c.bytes))\(c.version.map { ", version \($0)" } ?? "")\(c.check.map { ", check \($0)" } ?? "")\(c.message.map { " — \($0)" } ?? "")")
        }
        if let m = r.failureMessage { printLine("  error: \(m)") }
    }
}
