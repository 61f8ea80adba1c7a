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

/// Called when a run returns after its abort began: the signal handler reports and exits, so the
/// normal ending must not print or exit first.
func waitForAbortToExit() -> Never {
    while true { pause() }
}
