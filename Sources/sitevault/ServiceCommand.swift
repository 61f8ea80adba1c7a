import ArgumentParser
import Dispatch
import Foundation
import SiteBackup
import SiteConsole
import SiteService
import VaultCore
#if canImport(Glibc)
import Glibc
#endif

struct ServiceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "service",
        abstract: "Run the backup service: each site on its schedule, retention after each good run, staleness alarm, recovery drills.",
        discussion: """
        Runs in the foreground (systemd runs it as a simple service). SIGTERM or SIGINT ends it cleanly: \
        a running backup is interrupted, its writers thawed, nothing half-committed. SIGHUP reloads the \
        control files; a file that no longer validates is rejected (status message 2081) and the previous \
        one stays in force. A run missed while the service was down runs once at start-up. Refuses to \
        start when a control file or password file is writable by everyone. A site with a [drill] schedule \
        also gets its recovery drill on that schedule (after any backup due at the same time); a failed drill \
        alerts like a failed backup. Several sites run at the same time (--max-parallel on the machine, \
        --max-per-repository into one repository); the runs of one site never overlap.

        --listen HOST:PORT (or SITEVAULT_CONSOLE_LISTEN) also serves the web console and /metrics from this \
        process (loopback by default; see docs/console.md). Its users are set with `sitevault console passwd`. \
        --tls-cert FILE --tls-key FILE (or SITEVAULT_CONSOLE_TLS_CERT / SITEVAULT_CONSOLE_TLS_KEY) serve it over \
        HTTPS; both files are checked before anything starts (the key must match and not be readable by others).
        """
    )
    @Option(name: .long, help: "A site's control file (repeat for several sites).") var site: [String] = []
    @Flag(name: [.short, .long], help: "Print only warnings and errors.") var quiet = false
    @Option(name: .long, help: "Seconds a scheduled run waits for a repository lock held by a prune (default 600).") var retryLock: Double = 600
    @Option(name: .long, help: "Runs (backups and drills) at the same time on this machine (default 2; 1 runs the sites one after another).") var maxParallel = 2
    @Option(name: .long, help: "Runs at the same time into one repository (default 2).") var maxPerRepository = 2
    @Option(name: .long, help: "Serve the web console and /metrics on HOST:PORT (e.g. 127.0.0.1:8080; default: $SITEVAULT_CONSOLE_LISTEN, else none).")
    var listen: String?
    @Option(name: .long, help: "The console's state folder (users, metrics token; default /var/lib/sitevault/console as root).")
    var consoleDir: String?
    @Option(name: .long, help: "Serve the console over HTTPS with this certificate (PEM, chain after it; default: $SITEVAULT_CONSOLE_TLS_CERT).")
    var tlsCert: String?
    @Option(name: .long, help: "The private key of --tls-cert (PEM, unencrypted, not readable by others; default: $SITEVAULT_CONSOLE_TLS_KEY).")
    var tlsKey: String?

    func run() async throws {
        guard !site.isEmpty else { throw ValidationError("give at least one --site FILE") }
        let (host, user) = hostAndUser()
        var opts = SiteRunOptions(hostname: host, username: user)
        opts.echo = MessageEcho(enabled: true, verbose: !quiet)
        // A scheduled run waits for a prune (an exclusive lock, possibly from another host) to end.
        opts.retryLock = retryLock
        opts.storeOptions = storeOptions(ProcessInfo.processInfo.environment)
        guard maxParallel >= 1, maxPerRepository >= 1 else { throw ValidationError("--max-parallel and --max-per-repository must be at least 1") }
        // The console's address and TLS files are checked first: a mistake there starts nothing.
        let consoleSettings = try self.consoleSettings()
        let service = BackupService(files: site, options: opts, limits: ServiceLimits(parallel: maxParallel, perRepository: maxPerRepository))
        do { try service.start() } catch let e as ControlFileError {
            Output(json: false, quiet: false).warn(e)
            throw ExitCodeError(SiteExit.controlFile)
        } catch let e as VaultError {
            Output(json: false, quiet: false).warn("error: " + e.message)
            throw ExitCodeError(Exit.failure)
        }
        let console = consoleSettings.map { startConsole(service, $0) }
        let sources = [Int32(SIGTERM), Int32(SIGINT), Int32(SIGHUP)].map { (sig: Int32) -> DispatchSourceSignal in
            signal(sig, SIG_IGN)
            let src = DispatchSource.makeSignalSource(signal: sig, queue: DispatchQueue(label: "service-signal-\(sig)"))
            src.setEventHandler { if sig == SIGHUP { service.requestReload() } else { service.requestStop(signal: sig) } }
            src.resume()
            return src
        }
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            Thread.detachNewThread { service.run(); c.resume() }
        }
        sources.forEach { $0.cancel() }
        if let console {
            console.task.cancel()
            await console.task.value
            if console.failed.withLock({ $0 }) { throw ExitCodeError(Exit.failure) }
        }
    }

    /// The console's settings when --listen (or SITEVAULT_CONSOLE_LISTEN) asks for it, with its TLS
    /// certificate and key loaded and checked; nil without --listen.
    func consoleSettings() throws -> ConsoleSettings? {
        let env = ProcessInfo.processInfo.environment
        let cert = tlsCert ?? env["SITEVAULT_CONSOLE_TLS_CERT"].flatMap { $0.isEmpty ? nil : $0 }
        let key = tlsKey ?? env["SITEVAULT_CONSOLE_TLS_KEY"].flatMap { $0.isEmpty ? nil : $0 }
        guard let listen = listen ?? env["SITEVAULT_CONSOLE_LISTEN"], !listen.isEmpty else {
            if cert != nil || key != nil { throw ValidationError("--tls-cert and --tls-key are for the console: give --listen HOST:PORT too") }
            return nil
        }
        var settings = ConsoleSettings(stateDir: consoleDir ?? ConsoleSettings.defaultStateDir(env: env))
        do { (settings.host, settings.port) = try ConsoleSettings.parseListen(listen) } catch let e as VaultError {
            throw ValidationError(e.message)
        }
        switch (cert, key) {
        case (nil, nil): break
        case let (cert?, key?):
            do { settings.tls = try ConsoleTLS.load(certificate: cert, key: key) } catch let e as VaultError {
                Output(json: false, quiet: false).warn("error: \(e.message) (the service does not start)")
                throw ExitCodeError(Exit.failure)
            }
        default: throw ValidationError("give both --tls-cert and --tls-key: the certificate and its private key")
        }
        return settings
    }

    /// Starts the console beside the service's loop. A console that cannot listen stops the
    /// service: the operator asked for it.
    func startConsole(_ service: BackupService, _ settings: ConsoleSettings) -> (task: Task<Void, Never>, failed: LockedFlag) {
        let out = Output(json: false, quiet: false)
        if (try? ConsoleUsers.load(stateDir: settings.stateDir))?.users.isEmpty ?? true {
            out.warn("warning: the console has no user yet: run `sitevault console passwd --user NAME --console-dir \(settings.stateDir)`")
        }
        if let warning = settings.plainTextWarning { out.warn(warning) }
        let failed = LockedFlag()
        let console = Console(source: service, settings: settings)
        let listen = "\(settings.host):\(settings.port)"
        let task = Task {
            do {
                try await console.run { address in out.warn("console listening on \(address)") }
            } catch is CancellationError {
            } catch {
                out.warn("error: the web console cannot listen on \(listen): \(error); the service stops")
                failed.withLock { $0 = true }
                service.requestStop(signal: SIGTERM)
            }
        }
        return (task, failed)
    }
}

/// A flag set by one task and read by another.
final class LockedFlag: @unchecked Sendable {
    // @unchecked: `value` is guarded by `mutex`.
    private let mutex = Mutex()
    private var value = false
    func withLock<T>(_ body: (inout Bool) -> T) -> T { mutex.withLock { body(&value) } }
}
