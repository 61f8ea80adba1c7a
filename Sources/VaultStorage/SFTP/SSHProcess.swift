#if canImport(Glibc)
import Glibc
#endif
import VaultCore

/// A running `ssh … -s sftp` child: its standard input and output are the two ends of socket pairs
/// (so a write after the child died fails with EPIPE instead of raising SIGPIPE: `MSG_NOSIGNAL`), and
/// its standard error a third pair, kept for messages. The child gets its own process group, so a Ctrl-C
/// at the terminal reaches sitevault, which ends its sessions itself.
struct SSHProcess {
    let pid: pid_t
    /// Ours: requests go out here (the child's standard input).
    let input: Int32
    /// Ours: replies come in here (the child's standard output).
    let output: Int32
    /// Ours: the child's standard error.
    let errors: Int32

    /// Starts `command` (the first word looked up in PATH). Throws `.io` when it cannot be started.
    static func spawn(_ command: SSHCommand) throws -> SSHProcess {
        var inPair: [Int32] = [-1, -1], outPair: [Int32] = [-1, -1], errPipe: [Int32] = [-1, -1]
        let sockType = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        guard socketpair(AF_UNIX, sockType, 0, &inPair) == 0 else { throw spawnError(command, errno) }
        guard socketpair(AF_UNIX, sockType, 0, &outPair) == 0 else {
            let e = errno; inPair.forEach { close($0) }; throw spawnError(command, e)
        }
        guard socketpair(AF_UNIX, sockType, 0, &errPipe) == 0 else {
            let e = errno; (inPair + outPair).forEach { close($0) }; throw spawnError(command, e)
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, inPair[1], 0)
        posix_spawn_file_actions_adddup2(&actions, outPair[1], 1)
        posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        var empty = sigset_t(), defaults = sigset_t()
        sigemptyset(&empty)
        sigemptyset(&defaults)
        sigaddset(&defaults, SIGPIPE)
        sigaddset(&defaults, SIGINT)
        sigaddset(&defaults, SIGTERM)
        posix_spawnattr_setsigmask(&attr, &empty)
        posix_spawnattr_setsigdefault(&attr, &defaults)
        posix_spawnattr_setpgroup(&attr, 0)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP))
        var argv: [UnsafeMutablePointer<CChar>?] = command.arguments.map { strdup($0) }
        argv.append(nil)
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawnp(&pid, command.arguments[0], &actions, &attr, argv, environ)
        close(inPair[1]); close(outPair[1]); close(errPipe[1])
        guard rc == 0 else {
            close(inPair[0]); close(outPair[0]); close(errPipe[0])
            throw spawnError(command, rc)
        }
        return SSHProcess(pid: pid, input: inPair[0], output: outPair[0], errors: errPipe[0])
    }

    private static func spawnError(_ command: SSHCommand, _ e: Int32) -> VaultError {
        let what = command.arguments.first ?? "ssh"
        var msg = "cannot start the SFTP command \(what): \(String(cString: strerror(e)))"
        if e == ENOENT { msg += "; install the OpenSSH client (Debian: apt-get install openssh-client) or set SITEVAULT_SFTP_COMMAND" }
        return VaultError(.io, msg, context: ["command": what])
    }

    /// Sends all of `bytes`; false when the child is gone (EPIPE, ECONNRESET).
    func send(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var off = 0
        while off < bytes.count {
            let n = Glibc.send(input, bytes.baseAddress! + off, bytes.count - off, Int32(MSG_NOSIGNAL))
            if n < 0 { if errno == EINTR { continue }; return false }
            off += n
        }
        return true
    }

    /// Waits for the child and returns its exit status (or 128 + signal).
    func reap() -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 { if errno != EINTR { return -1 } }
        if status & 0x7f == 0 { return (status >> 8) & 0xff }
        return 128 + (status & 0x7f)
    }
}
