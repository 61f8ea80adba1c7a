import SiteSystem
import VaultCore

/// The application started from the sandbox (`[drill] start`, `stop`, `probe`): what `site recover`
/// does with the writers' start commands and `[recovery] probe`, done against the recovered copy,
/// so that the drill's recovery time includes the start and the probe as the real one does.
extension SiteDrill {
    /// What the start command, the probe and the drill command get in their environment: the
    /// sandbox, the site, the snapshot and where each recovered database is (the first database's
    /// connection in PGHOST/PGPORT/PGUSER/PGDATABASE).
    func sandboxEnvironment(_ recovered: [ComponentRecovery], _ archive: SiteArchive, _ recovery: SiteRecovery) -> [String: String] {
        var env = ["SITEVAULT_SANDBOX": sandbox, "SITEVAULT_SITE": config.site, "SITEVAULT_SNAPSHOT": archive.snapshot.id.hex]
        func connect(_ values: [String: String]) { if env["PGDATABASE"] == nil { env.merge(values) { _, new in new } } }
        for ok in recovered where ok.result == "ok" {
            guard let c = archive.report(ok.name) else { continue }
            switch c.engine {
            case "sqlite":
                if let path = c.paths.first { env["SITEVAULT_DRILL_SQLITE_\(envName(c.name))"] = recovery.destination(path) }
            case "postgresql":
                let settings = config.components.first { $0.name == c.name }?.postgres ?? PostgresSettings()
                if let cluster = recovery.drillDatabases.runningClusters.first {
                    connect(["PGHOST": cluster.socketDir, "PGPORT": "\(cluster.port)", "PGUSER": settings.user, "PGDATABASE": settings.verifyDatabase])
                } else {
                    for (original, scratch) in recovery.drillDatabases.databases {
                        env["SITEVAULT_DRILL_DB_\(envName(original))"] = scratch
                        connect(["PGHOST": settings.host, "PGPORT": "\(settings.port)", "PGUSER": settings.user, "PGDATABASE": scratch])
                    }
                }
            default: break
            }
        }
        return env
    }

    /// Starts `[drill] start` in the background (stopped at the end of the drill, after `stop`),
    /// then runs `[drill] probe` until it passes: two timed steps, "start" and "probe".
    func startApplication(_ argv: [String], environment env: [String: String]) async {
        var cmd = Command(argv, extraEnvironment: env)
        cmd.workingDirectory = sandbox
        var app: BackgroundProcess?
        let started = await step(nil, "start") {
            let p = try BackgroundProcess(cmd)
            app = p
            addCleanup("the application started from the sandbox") { [config, sandbox] in
                if let stop = config.drill.stop {
                    var s = Command(stop, extraEnvironment: env, timeout: 60)
                    s.workingDirectory = sandbox
                    _ = try? ProcessRunner().run(s)
                }
                p.stop()
            }
            // A foreground server keeps running; a start command that daemonizes exits 0 at once.
            // With a probe, the probe decides (and notices an early failure); without one, a
            // start that fails at once is caught in its first second.
            let deadline = monotonicSeconds() + (config.drill.probe == nil ? 1 : 0.05)
            while !p.hasExited && monotonicSeconds() < deadline { try await Task.sleep(nanoseconds: 50_000_000) }
            if p.hasExited {
                let r = p.stop()
                guard r.succeeded else { throw VaultError(.io, "\(argv.joined(separator: " ")) \(r.summary)\(Self.lastLine(r.stderrText))") }
                return "\(argv[0]) exited 0 (the application runs in the background)"
            }
            return "\(argv[0]) running from the sandbox (process \(p.pid))"
        }
        guard started, let probe = config.drill.probe, let app else { return }
        await step(nil, "probe") {
            let r = HealthProbe.run(probe, timeout: config.drill.probeTimeout, environment: env, workingDirectory: sandbox) {
                guard app.hasExited else { return nil }
                let r = app.stop()
                return r.succeeded ? nil : "the application started from the sandbox ended: \(r.summary)\(Self.lastLine(r.stderrText))"
            }
            guard r.result == "passed" else {
                throw VaultError(.io, "health probe failed for \(formatSeconds(r.seconds)) (\(r.attempts) attempts): \(r.detail)")
            }
            return "passed after \(r.attempts) attempt(s): \(probe.joined(separator: " "))"
        }
    }

    static func lastLine(_ text: String) -> String {
        text.split(separator: "\n").last.map { ": " + String($0.prefix(300)) } ?? ""
    }
}
