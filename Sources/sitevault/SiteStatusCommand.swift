import ArgumentParser
import Foundation
import SiteBackup
import VaultCore

struct SiteStatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show the site's last run, the age of its newest good snapshot and each component's result.",
        discussion: "Exit code: 0 healthy, 1 warning (partial snapshot, hook failed), 2 unhealthy (last run failed, newest good snapshot older than the retention window, never backed up, or writers left frozen; a failed last recovery drill, a failed last copy to a [[copy]] target or a copy older than the window are warnings), 3 unknown (the status store cannot be read). Usable as a monitoring check (Nagios convention)."
    )
    @OptionGroup var options: SiteOptions

    func run() async throws {
        let config = try options.load()
        let out = options.output
        var s: SiteStatusReport
        do {
            let store = try StatusStore(stateDir: config.stateDir)
            let now = SystemClock().now()
            s = try SiteStatusReport.compute(config: config, store: store, now: now)
            s.addCopyTargets(config: config, store: store, now: now)
        } catch let e as VaultError {
            out.warn("error: cannot read the status store in \(config.stateDir): \(e.message)")
            throw ExitCodeError(3)
        }
        out.emit(s)
        let utc = config.timeZone == .utc
        out.line("site \(s.site): \(s.health.uppercased())")
        for r in s.reasons { out.line("  ! \(r)") }
        if let l = s.lastRun {
            out.line("  last run        \(TimeText.full(l.started, utc: utc)): \(l.result)\(l.failure.map { " (\($0.rawValue))" } ?? "")\(l.durationSeconds > 0 ? String(format: " in %.1f s", l.durationSeconds) : "")")
            if let m = l.failureMessage { out.line("                  \(m)") }
        } else { out.line("  last run        never") }
        if let t = s.lastSuccess {
            out.line("  newest good     \(TimeText.full(t, utc: utc)), snapshot \(s.lastSuccessSnapshot?.prefix(12) ?? "?"), \(TimeText.age(s.ageSeconds ?? 0)) old")
        } else { out.line("  newest good     none") }
        out.line("  window          \(DurationText.format(s.retentionWindowSeconds)) (time zone \(s.timeZone))")
        out.line("  schedule        \(s.schedule ?? "none (run `sitevault site backup` from cron, a timer or the service)")")
        if let l = s.nextRunLocal, let u = s.nextRunUTC { out.line("  next run        \(s.timeZone == "UTC" ? u : "\(l) (\(u))")") }
        if let f = s.freezeWindowSeconds, f > 0 { out.line(String(format: "  freeze window   %.3f s", f)) }
        if let d = s.lastDrill {
            let timing = (d.recoverySeconds.map { String(format: ", recovery %.1f s", $0) } ?? "") + (d.backupSeconds.map { String(format: " (backup %.1f s", $0) + (d.ratio.map { String(format: ", %.2f×)", $0) } ?? ")") } ?? "")
            out.line("  last drill      \(TimeText.full(d.time, utc: utc)): \(d.result)\(timing), snapshot \(d.snapshot?.prefix(12) ?? "?")")
            if let f = d.failure { out.line("                  \(f)") }
        } else { out.line("  last drill      never (`sitevault site drill` proves a snapshot restores)") }
        if let l = s.nextDrillLocal, let u = s.nextDrillUTC { out.line("  next drill      \(s.timeZone == "UTC" ? u : "\(l) (\(u))")") }
        for c in s.copies ?? [] {
            let newest = c.newest.map { "\(String($0.prefix(12))), \(TimeText.age(c.ageSeconds ?? 0)) old" } ?? "none"
            out.line("  copy \(c.target.padding(toLength: 10, withPad: " ", startingAt: 0)) newest \(newest)" +
                     (c.lastCopy.map { ", last copy \($0)" } ?? "") + (c.error.map { " (cannot read it now: \($0))" } ?? ""))
        }
        for c in s.components {
            out.line("  \(c.name.padding(toLength: 14, withPad: " ", startingAt: 0))  \(c.result.padding(toLength: 8, withPad: " ", startingAt: 0)) \(Bytes.text(c.bytes))\(c.version.map { ", version \($0)" } ?? "")\(c.check.map { ", check \($0)" } ?? "")\(c.message.map { " — \($0)" } ?? "")")
        }
        switch s.health {
        case "healthy": return
        case "warning": throw ExitCodeError(1)
        default: throw ExitCodeError(2)
        }
    }
}

struct SiteMessagesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "messages",
        abstract: "List the site's status messages (IDs in docs/status-messages.md), oldest first."
    )
    @OptionGroup var options: SiteOptions

    @Option(name: .long, help: "Only messages newer than this: a duration (\"2h\", \"7d\") or a time (2026-11-25T02:00:00Z).")
    var since: String?

    @Option(name: .long, help: "Only the messages of this run id.")
    var run: String?

    @Option(name: .long, help: "At most this many (the newest).")
    var limit = 200

    func run() async throws {
        let config = try options.load()
        let out = options.output
        var from: Timestamp?
        if let since {
            if let d = DurationText.parse(since) { from = SystemClock().now().adding(seconds: -d) } else if let t = parseISO(since) { from = t } else {
                throw ValidationError("--since: use a duration such as 2h or 7d, or a time such as 2026-11-25T02:00:00Z")
            }
        }
        let msgs = try StatusStore(stateDir: config.stateDir).messages(since: from, runID: run, limit: limit)
        struct Item: Encodable { var time: String; var id: Int; var severity: String; var run: String; var component: String?; var text: String }
        out.emit(msgs.map { Item(time: $0.time.iso8601, id: $0.id, severity: $0.severity.rawValue, run: $0.runID, component: $0.component, text: $0.text) })
        let utc = config.timeZone == .utc
        for m in msgs {
            out.line("\(TimeText.full(m.time, utc: utc))  \(m.id)  \(m.severity.rawValue.padding(toLength: 7, withPad: " ", startingAt: 0)) \(m.component.map { "[\($0)] " } ?? "")\(m.text)")
        }
    }

    /// 2026-11-25T02:00:00Z (UTC only).
    func parseISO(_ s: String) -> Timestamp? {
        let f = ISO8601DateFormatter()
        return f.date(from: s).map { Timestamp(seconds: $0.timeIntervalSince1970) }
    }
}

struct SiteShowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Show what a site snapshot holds: per component kind, paths, version, sizes, duration, writer, result."
    )
    @OptionGroup var options: SiteOptions

    @Argument(help: "Snapshot id (or prefix), run id, or latest.")
    var snapshot = "latest"

    func run() async throws {
        let config = try options.load()
        let out = options.output
        try await runReporting(out) {
            let repo = try SiteSnapshots.open(config.mainDestination)
            let s = try SiteSnapshots.find(repo, site: config.site, ref: snapshot)
            let m = s.manifest
            struct Shown: Encodable { var id: String; var time: String; var partial: Bool; var hostname: String; var manifest: RunReport }
            out.emit(Shown(id: s.id.hex, time: s.snapshot.time.iso8601, partial: s.snapshot.partial, hostname: s.snapshot.hostname, manifest: m))
            let utc = config.timeZone == .utc
            out.line("snapshot \(s.id.hex) of site \(m.site)\(s.snapshot.partial ? " (partial)" : "")")
            out.line("  taken     \(TimeText.full(s.snapshot.time, utc: utc)) on \(s.snapshot.hostname), run \(m.runID)")
            for (n, id) in m.snapshots.sorted(by: { $0.key < $1.key }) { out.line("  part      repository \(n): \(id.prefix(12))") }
            for f in m.freezes { out.line(String(format: "  frozen    %@ (%@) %.3f s: %@", f.writer, f.kind.rawValue, f.seconds ?? 0, f.components.joined(separator: ", "))) }
            for c in m.components {
                out.line("  component \(c.name) [\(c.kind.rawValue)\(c.engine.map { "/\($0)" } ?? "")] \(c.result) in repository \(c.repository)")
                for p in c.paths { out.line("            \(p)") }
                out.line("            \(c.files) files, \(Bytes.text(c.bytes)), \(Bytes.text(c.bytesAdded)) new, \(String(format: "%.2f", c.durationSeconds)) s\(c.writer.map { ", writer \($0)" } ?? "")")
                if let v = c.version { out.line("            version \(v)") }
                if let k = c.check { out.line("            check \(k)") }
                if let s = c.settings { out.line("            settings \(s.keys.sorted().joined(separator: ", "))") }
                if let msg = c.message { out.line("            \(msg)") }
            }
            return 0
        }
    }
}

struct SiteThawCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "thaw",
        abstract: "Thaw writers left frozen by an interrupted run (the next backup does this too, first thing).",
        discussion: "Refuses while a run of the site is active (it would thaw under it); exit 0 when nothing is or remains frozen, 25 when a thaw failed."
    )
    @OptionGroup var options: SiteOptions

    func run() async throws {
        // Paths are not checked: thawing must work on a site whose files are gone.
        let config = try options.load(checkPaths: false, refusing: "nothing was thawed")
        let out = options.output
        let (host, user) = hostAndUser()
        var opts = SiteRunOptions(hostname: host, username: user)
        opts.echo = MessageEcho(enabled: true, verbose: !options.quiet)
        let result: SiteThaw.Result
        do { result = try SiteThaw.run(config: config, options: opts) } catch let f as RunFailure {
            out.warn("error: " + f.message)
            throw ExitCodeError(f.kind == .alreadyRunning ? 24 : 25)
        }
        out.emit(result)
        if result.thawed.isEmpty && result.failed.isEmpty { out.line("nothing was frozen") }
        for w in result.thawed { out.line("thawed \(w)") }
        for f in result.failed { out.warn("could not thaw \(f)") }
        if !result.failed.isEmpty { throw ExitCodeError(25) }
    }
}
