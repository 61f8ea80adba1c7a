import VaultCore

/// Something that runs commands: `ProcessRunner`, or a fake in the tests of code that uses one.
public protocol CommandRunning: Sendable {
    /// Runs `command` to the end and returns its bounded output; see `ProcessRunner.run`.
    func run(_ command: Command, stdin: [UInt8]?) throws -> ProcessResult
    /// Runs `command`, handing its standard output to `onStdout`; see `ProcessRunner.runStreaming`.
    func runStreaming(_ command: Command, stdin: [UInt8]?,
                      onStdout: (UnsafeRawBufferPointer) throws -> Void) throws -> ProcessResult
}

/// Runs commands with posix_spawn (not Foundation.Process): each child gets its own process
/// group, default signal dispositions, an empty signal mask, /dev/null or a pipe on standard
/// input, pipes on standard output and error, and no other descriptor of ours.
///
/// Both output pipes are drained concurrently, standard input is fed from its own thread (a child
/// that does not read it cannot block us, and EPIPE is ignored), and every child is reaped.
public struct ProcessRunner: CommandRunning {
    /// How much of standard output `run` keeps (the first bytes).
    public var stdoutLimit: Int
    /// How much of standard error is kept (the last bytes).
    public var stderrLimit: Int
    /// Seconds between SIGTERM and SIGKILL when a command times out or is terminated.
    public var killGrace: Double
    /// Seconds of silence after the child exited before we stop reading pipes that a descendant
    /// (say a daemon started by a hook) still holds open.
    public var exitLinger: Double

    public init(stdoutLimit: Int = 1 << 20, stderrLimit: Int = 64 << 10, killGrace: Double = 2, exitLinger: Double = 1) {
        self.stdoutLimit = stdoutLimit
        self.stderrLimit = stderrLimit
        self.killGrace = killGrace
        self.exitLinger = exitLinger
    }

    /// Runs `command` to the end, feeding it `stdin` (nil gives it /dev/null), and returns how it
    /// ended with the first `stdoutLimit` bytes of its output and the last `stderrLimit` of its
    /// errors. Throws only when the command cannot be started ("cannot run 'foo': No such file or
    /// directory"); a failing command is a result: check `succeeded` or call `check()`.
    public func run(_ command: Command, stdin: [UInt8]? = nil) throws -> ProcessResult {
        var out = HeadBuffer(limit: stdoutLimit)
        var result = try runStreaming(command, stdin: stdin) { out.append($0) }
        result.stdout = out.bytes
        result.stdoutTruncated = out.truncated
        return result
    }

    /// Runs `command`, handing each piece of its standard output to `onStdout` as it arrives
    /// (nothing is buffered: suited to multi-gigabyte dumps), and returns how it ended with the
    /// end of its standard error. If `onStdout` throws, the child's process group is terminated
    /// (SIGTERM, then SIGKILL after `killGrace`) and reaped, and the error is rethrown.
    public func runStreaming(_ command: Command, stdin: [UInt8]? = nil,
                             onStdout: (UnsafeRawBufferPointer) throws -> Void) throws -> ProcessResult {
        let process = try spawn(command, stdin: stdin)
        do {
            try PipeIO.drain(process.stdoutFD, exitFD: process.exitFD, linger: exitLinger,
                             what: "'\(command.name)'", sink: onStdout)
        } catch {
            process.terminate()
            _ = process.wait()
            throw error
        }
        return process.wait()
    }

    /// Starts `command` with a pipe on its standard input that the caller writes to
    /// (`RunningProcess.stdinFD`, close it to end the input). Writes after the child has stopped
    /// reading fail with EPIPE (SIGPIPE is ignored by the sitevault executable).
    public func spawnStreamingStdin(_ command: Command) throws -> RunningProcess {
        let start = monotonicSeconds()
        let spawned = try Spawner.spawn(command, withStdin: true)
        return try RunningProcess(spawned, command: command, stdin: nil, runner: self, start: start, streamStdin: true)
    }

    /// Starts `command` and returns a handle whose `stdoutFD` the caller reads; see `RunningProcess`.
    public func spawn(_ command: Command, stdin: [UInt8]? = nil) throws -> RunningProcess {
        let start = monotonicSeconds()
        let spawned = try Spawner.spawn(command, withStdin: stdin != nil)
        return try RunningProcess(spawned, command: command, stdin: stdin, runner: self, start: start)
    }
}
