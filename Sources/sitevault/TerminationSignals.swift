import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// SIGTERM and SIGINT handled on a queue of their own while the command goes on: `handler` puts
/// things back (thaws writers, drops scratch databases) and exits. Cancel the sources once the
/// command is done.
func onTerminationSignals(_ handler: @escaping @Sendable (Int32) -> Void) -> [DispatchSourceSignal] {
    [Int32(SIGTERM), Int32(SIGINT)].map { (sig: Int32) -> DispatchSourceSignal in
        signal(sig, SIG_IGN)
        let src = DispatchSource.makeSignalSource(signal: sig, queue: DispatchQueue(label: "signal-\(sig)"))
        src.setEventHandler { handler(sig) }
        src.resume()
        return src
    }
}

/// Runs a site task (backup, recovery, drill) with SIGTERM/SIGINT wired to its `abort`, which puts
/// things back; the handler prints the aborted report (with --json) and exits with `exitCode`. A
/// run that returns once the abort began waits for the handler's exit instead of ending first.
func runInterruptible<R: Encodable & Sendable>(json: Bool, run: () async -> R, abort: @escaping @Sendable (Int32) -> R,
                                    wasAborted: () -> Bool, exitCode: @escaping @Sendable (R) -> Int32) async -> R {
    let handlers = onTerminationSignals { sig in
        let r = abort(sig)
        if json { Output(json: true, quiet: true).emit(r) }
        Glibc.exit(exitCode(r))
    }
    let r = await run()
    if wasAborted() { while true { pause() } }
    handlers.forEach { $0.cancel() }
    return r
}
