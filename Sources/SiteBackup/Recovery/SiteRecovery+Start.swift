#if canImport(Glibc)
import Glibc
#endif
import SiteSystem
import VaultCore

/// The end of a recovery in place: applications that no writer started again (they were not
/// running, or the disaster took them) are started by their writer's `start` command, then the
/// control file's health probe decides whether the site is back.
extension SiteRecovery {
    /// Runs the `start` command of every writer of a recovered component whose application is not
    /// running now (a signal writer's process is gone; a service or command writer that this
    /// recovery did not stop and start itself).
    func startApplications() {
        guard target == nil, !options.noStart else { return }
        let recovered = Set(items.filter { !$0.failed }.map(\.report.name))
        for w in config.writers where !w.components.filter(recovered.contains).isEmpty && !report.writers.contains(w.name) && !report.started.contains(w.name) {
            guard let argv = w.start ?? (w.kind == .service ? w.unit.map { ["systemctl", "start", $0] } : nil) else {
                if w.kind == .signal && (try? WriterActions.preflight(w)) == nil {
                    let m = "writer \(w.name): the application is not running and the writer has no start command: start it by hand (or add start = [...] to the writer)"
                    report.warnings.append(m)
                    recorder.emit(.recoveryWarning, m)
                }
                continue
            }
            if w.kind == .signal, (try? WriterActions.preflight(w)) != nil { continue }
            do {
                try WriterActions.run(w, argv, "start")
                if w.kind == .signal { try waitForPid(w) }
                report.started.append(w.name)
                recorder.emit(.recoveryStep, "writer \(w.name) started the application: \(argv.joined(separator: " "))")
            } catch {
                let m = (error as? VaultError)?.message ?? "\(error)"
                report.problems.append("writer \(w.name): \(m)")
                recorder.emit(.recoveryStepFailed, "writer \(w.name) could not start the application: \(m)")
            }
        }
    }

    /// A start command returns before the application has written its pid file: wait for it.
    private func waitForPid(_ w: WriterConfig) throws {
        let deadline = monotonicSeconds() + min(w.timeout, 60)
        while (try? WriterActions.preflight(w)) == nil {
            if monotonicSeconds() > deadline {
                throw VaultError(.io, "writer '\(w.name)': after the start command, no running process in \(w.pidFile ?? "the pid file") within \(Int(min(w.timeout, 60))) s")
            }
            usleep(100_000)
        }
    }

    /// `[recovery] probe`: run until it exits 0 or its timeout passes. Not run under --target
    /// (the application there is not the one started) nor when the operator said --no-probe.
    func runProbe() {
        guard let argv = config.recovery.probe, target == nil, !options.noProbe else { return }
        guard items.contains(where: { !$0.failed }) else { return }
        let p = HealthProbe.run(argv, timeout: config.recovery.probeTimeout)
        report.probe = p
        if p.result == "passed" {
            recorder.emit(.recoveryStep, "health probe passed after \(p.attempts) attempt(s), \(formatSeconds(p.seconds)): \(argv.joined(separator: " "))")
        } else {
            recorder.emit(.recoveryStepFailed, "health probe failed for \(formatSeconds(p.seconds)) (\(p.attempts) attempts): \(p.detail); the restored files are in place and what they replaced is kept")
        }
    }
}
