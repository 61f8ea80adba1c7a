#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch
import VaultCore

/// A started child, for callers that read its standard output themselves (e.g. a chunker reading
/// a database dump from `stdoutFD`). Standard error is captured and standard input fed on
/// background threads; a reaper thread collects the exit status as soon as the child ends, and a
/// watchdog enforces `Command.timeout`.
///
/// Read `stdoutFD` to end of file, then call `wait()`. If you stop early, call `terminate()`
/// (or just `wait()`, which closes `stdoutFD` so a child still writing gets SIGPIPE). A handle
/// dropped without `wait()` terminates and reaps the child in its deinit.
public final class RunningProcess: @unchecked Sendable {
    // @unchecked: `result` and `stdoutClosed` are guarded by `waitLock`; the threads only touch `shared`.
    /// The child's process id, also the id of its process group.
    public let pid: pid_t
    /// The command that was started.
    public let command: Command
    /// The read end of the child's standard output. Owned by this handle: `wait()` closes it.
    public let stdoutFD: Int32
    /// The write end of the child's standard input when it was spawned with `spawnStreamingStdin`
    /// (nil otherwise). The caller writes to it and must close it (end of input).
    public let stdinFD: Int32?
    /// Becomes readable (end of file) once the child has been reaped.
    let exitFD: Int32
    let runner: ProcessRunner
    let start: Double
    private let shared: Shared
    private var threads: [BackgroundThread] = []
    private var watchdog: BackgroundThread?
    private let waitLock = Mutex()
    private var result: ProcessResult?
    private var stdoutClosed = false

    /// What the background threads share with the handle.
    final class Shared: @unchecked Sendable {
        // @unchecked: the vars are guarded by `mutex`, or written by one thread before it is joined.
        let mutex = Mutex()
        let pid: pid_t
        var reaped = false
        var status: Int32?
        var reapedAt = 0.0
        var timedOut = false
        var stderr: TailBuffer
        let exited = DispatchGroup()   // left once the child is reaped
        let finished = DispatchGroup() // left when wait() has collected everything

        init(pid: pid_t, stderrLimit: Int) {
            self.pid = pid
            stderr = TailBuffer(limit: stderrLimit)
            exited.enter(); finished.enter()
        }

        /// Signals the child's process group, unless the child was reaped already.
        func signalGroup(_ sig: Int32) {
            mutex.withLock { if !reaped { _ = kill(-pid, sig) } }
        }

        var isReaped: Bool { mutex.withLock { reaped } }
    }

    init(_ spawned: Spawner.Spawned, command: Command, stdin: [UInt8]?, runner: ProcessRunner, start: Double,
         streamStdin: Bool = false) throws {
        pid = spawned.pid
        self.command = command
        stdoutFD = spawned.stdout
        stdinFD = streamStdin ? spawned.stdin : nil
        self.runner = runner
        self.start = start
        let shared = Shared(pid: spawned.pid, stderrLimit: runner.stderrLimit)
        self.shared = shared
        let exitPipe: (read: Int32, write: Int32)
        do {
            exitPipe = try LibcExtras.cloexecPipe()
        } catch {
            Self.killAndReap(spawned)
            throw error
        }
        exitFD = exitPipe.read
        let pid = spawned.pid
        do {
            threads.append(try BackgroundThread {
                Self.reap(pid, shared: shared)
                close(exitPipe.write)
                shared.exited.leave()
            })
        } catch {
            Self.killAndReap(spawned)
            close(exitPipe.read); close(exitPipe.write)
            throw error
        }
        // From here the reaper owns the child; a failure only needs to kill it and wait.
        var unowned = [spawned.stderr] + (spawned.stdin.map { [$0] } ?? [])  // fds no thread owns yet
        do {
            let stderrFD = spawned.stderr, exitFD = exitPipe.read, linger = runner.exitLinger, name = command.name
            let stderrLimit = runner.stderrLimit
            threads.append(try BackgroundThread {
                defer { close(stderrFD) }
                var tail = TailBuffer(limit: stderrLimit)
                _ = try? PipeIO.drain(stderrFD, exitFD: exitFD, linger: linger, what: "'\(name)'") { tail.append($0) }
                shared.mutex.withLock { shared.stderr = tail }
            })
            unowned.removeAll { $0 == stderrFD }
            if let stdinFD = spawned.stdin, streamStdin {
                unowned.removeAll { $0 == stdinFD }
            } else if let stdinFD = spawned.stdin {
                let data = stdin ?? []
                threads.append(try BackgroundThread { PipeIO.feed(stdinFD, data: data, exitFD: exitFD) })
                unowned.removeAll { $0 == stdinFD }
            }
            if let timeout = command.timeout {
                let grace = runner.killGrace
                watchdog = try BackgroundThread {
                    guard shared.exited.wait(timeout: Self.after(timeout)) == .timedOut else { return }
                    shared.mutex.withLock { shared.timedOut = true }
                    _ = kill(-pid, SIGTERM)
                    _ = shared.finished.wait(timeout: Self.after(grace))
                    // The group id cannot be reused while any member lives, so this only reaches
                    // leftovers of this command (or nobody).
                    _ = kill(-pid, SIGKILL)
                }
            }
        } catch {
            for fd in unowned { close(fd) }
            shared.signalGroup(SIGKILL)
            _ = wait()
            throw error
        }
    }

    deinit {
        if waitLock.withLock({ result == nil }) {
            terminate()
            _ = wait()
        }
    }

    /// Whether the child has ended (and was reaped).
    public var hasExited: Bool { shared.isReaped }

    /// Sends SIGTERM to the child's process group, then SIGKILL if the child has not ended within
    /// the runner's grace period. Blocks up to that period. Does nothing once the child was reaped.
    public func terminate() {
        shared.signalGroup(SIGTERM)
        if shared.exited.wait(timeout: Self.after(runner.killGrace)) == .timedOut {
            shared.signalGroup(SIGKILL)
        }
    }

    /// Closes `stdoutFD`, waits for the child to end and its standard error to be drained, and
    /// returns how it ended (`stdout` is empty: the caller read it). Safe to call more than once.
    public func wait() -> ProcessResult {
        waitLock.withLock {
            if let result { return result }
            if !stdoutClosed { close(stdoutFD); stdoutClosed = true }
            for t in threads { t.join() }
            shared.finished.leave()
            watchdog?.join()
            close(exitFD)
            let (status, reapedAt, timedOut, stderr) = shared.mutex.withLock {
                (shared.status, shared.reapedAt, shared.timedOut, shared.stderr)
            }
            var r = ProcessResult(command: command.name, exitCode: nil, signal: nil, stderr: stderr.bytes,
                                  stderrTruncated: stderr.truncated, timedOut: timedOut, timeout: command.timeout,
                                  duration: max(0, reapedAt - start))
            if let status {
                let low = status & 0x7f
                if low == 0 { r.exitCode = (status >> 8) & 0xff } else { r.signal = low }
            }
            result = r
            return r
        }
    }

    /// Waits for the child (it is a zombie first, so its process group stays reserved while
    /// `signalGroup` may still target it), then reaps it under the lock.
    static func reap(_ pid: pid_t, shared: Shared) {
        var info = siginfo_t()
        while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) != 0 && errno == EINTR {}
        let now = monotonicSeconds()
        shared.mutex.withLock {
            var status: Int32 = 0
            var rc: pid_t
            repeat { rc = waitpid(pid, &status, 0) } while rc < 0 && errno == EINTR
            // rc < 0 (ECHILD) means someone else reaped it (SIGCHLD ignored): the status is unknown.
            shared.status = rc == pid ? status : nil
            shared.reaped = true
            shared.reapedAt = now
        }
    }

    /// The dispatch time `seconds` from now (negative: now; huge or NaN: never).
    static func after(_ seconds: Double) -> DispatchTime {
        guard seconds.isFinite, seconds < 1e9 else { return .distantFuture }
        return .now() + .nanoseconds(Int(max(0, seconds) * 1e9))
    }

    /// Kills and reaps a child synchronously and closes its pipes (set-up failed half-way).
    static func killAndReap(_ s: Spawner.Spawned) {
        _ = kill(-s.pid, SIGKILL)
        var status: Int32 = 0
        while waitpid(s.pid, &status, 0) < 0 && errno == EINTR {}
        for fd in [s.stdout, s.stderr] + (s.stdin.map { [$0] } ?? []) { close(fd) }
    }
}
