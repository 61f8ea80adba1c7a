#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import VaultCore

/// A long-running child kept in the background while other work goes on (an application started
/// against a drill's sandbox): its standard output is drained on a thread (the last 64 KiB of it
/// kept, with its standard error), and `stop()` ends its whole process group. A command that
/// forks a daemon and exits 0 is fine too: `hasExited` tells, `stop()` then only collects it.
public final class BackgroundProcess: @unchecked Sendable {
    // @unchecked: `output` is guarded by `mutex`; `pump` is joined once by `stop()` under `stopLock`.
    private let process: RunningProcess
    private let mutex = Mutex()
    private let stopLock = Mutex()
    private var output: TailBuffer
    private var pump: BackgroundThread?
    private var result: ProcessResult?

    public init(_ command: Command, runner: ProcessRunner = ProcessRunner()) throws {
        process = try runner.spawn(command)
        output = TailBuffer(limit: runner.stderrLimit)
        let fd = process.stdoutFD, exitFD = process.exitFD, linger = runner.exitLinger, name = command.name
        do {
            pump = try BackgroundThread { [self] in
                _ = try? PipeIO.drain(fd, exitFD: exitFD, linger: linger, what: "'\(name)'") { chunk in
                    self.mutex.withLock { self.output.append(chunk) }
                }
            }
        } catch {
            process.terminate()
            _ = process.wait()
            throw error
        }
    }

    /// The child's process id (and process group).
    public var pid: Int32 { process.pid }

    /// Whether the child itself has ended (a daemon it forked may live on).
    public var hasExited: Bool { process.hasExited }

    /// Ends the process group (SIGTERM, then SIGKILL after the runner's grace period) unless the
    /// child ended already, and returns how it ended. Safe to call more than once.
    @discardableResult
    public func stop() -> ProcessResult {
        stopLock.withLock {
            if let result { return result }
            process.terminate()
            pump?.join()
            var r = process.wait()
            let out = mutex.withLock { output.bytes }
            if !out.isEmpty { r.stderr = out + r.stderr }
            result = r
            return r
        }
    }

    /// Its output so far (standard output; standard error is added by `stop()`), as text.
    public var outputText: String { String(decoding: mutex.withLock { output.bytes }, as: UTF8.self) }

    deinit { _ = stop() }
}
