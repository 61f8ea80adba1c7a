#if canImport(Glibc)
import Glibc
#endif
import VaultCore

/// The replies of one session and the reader thread that fills them.
final class SFTPInbox: @unchecked Sendable {
    // @unchecked: every mutable field is touched only inside `monitor.withLock`.
    private let monitor = Monitor()
    private let process: SSHProcess
    private let server: String
    private let ioTimeout: Double
    private var replies: [UInt32: SFTPReply] = [:]
    private var ignored: Set<UInt32> = []
    private var outstanding = 0
    private var version: [UInt8]?
    private var started = false
    private var dead: VaultError?
    private var nextID: UInt32 = 1
    private var lastActivity = monotonicSeconds()
    private var stderrTail: [UInt8] = []
    private var finishing: Double?

    init(process: SSHProcess, server: String, ioTimeout: Double) {
        self.process = process; self.server = server; self.ioTimeout = ioTimeout
        outstanding = 1   // the VERSION reply
    }

    var isDead: Bool { monitor.withLock { dead != nil } }

    func startReader() {
        let box = Unmanaged.passRetained(self)
        var thread = pthread_t()
        var attr = pthread_attr_t()
        pthread_attr_init(&attr)
        pthread_attr_setdetachstate(&attr, Int32(PTHREAD_CREATE_DETACHED))
        defer { pthread_attr_destroy(&attr) }
        let rc = pthread_create(&thread, &attr, { raw in
            let inbox = Unmanaged<SFTPInbox>.fromOpaque(raw!).takeRetainedValue()
            inbox.readLoop()
            return nil
        }, box.toOpaque())
        if rc != 0 {
            box.release()
            kill(process.pid, SIGKILL)
            _ = process.reap()
            monitor.withLock { dead = VaultError(.io, "cannot start a thread for the SFTP session with \(server)") }
        }
    }

    func allocate() throws -> UInt32 {
        try monitor.withLock {
            if let dead { throw dead }
            if outstanding == 0 { lastActivity = monotonicSeconds() }
            outstanding += 1
            defer { nextID = nextID == UInt32.max ? 1 : nextID + 1 }
            return nextID
        }
    }

    func wait(_ id: UInt32) throws -> SFTPReply {
        try monitor.withLock {
            while true {
                if let r = replies.removeValue(forKey: id) { return r }
                if let dead { throw dead }
                monitor.wait()
            }
        }
    }

    func waitVersion() throws -> [UInt8] {
        try monitor.withLock {
            while true {
                if let version { return version }
                if let dead { throw dead }
                monitor.wait()
            }
        }
    }

    func ignore(_ id: UInt32) {
        monitor.withLock { if replies.removeValue(forKey: id) == nil { ignored.insert(id) } }
    }

    /// The error for a failed send: what the reader recorded when ssh ended (with ssh's own message),
    /// waiting a moment for it; else the session is killed and a plain "lost" error returned.
    func lost(_ message: String) -> VaultError {
        for _ in 0..<40 {
            if let dead = monitor.withLock({ dead }) { return dead }
            usleep(50_000)
        }
        return monitor.withLock {
            if dead == nil { kill(process.pid, SIGKILL) }
            return dead ?? VaultError(.transient, message, context: ["server": server])
        }
    }

    /// Closes the session: ssh sees the end of its input and exits; the reader reaps it (and kills
    /// it if it lingers for 10 s).
    func finish(input: Int32) {
        monitor.withLock { finishing = monotonicSeconds() }
        shutdown(input, Int32(SHUT_WR))
        close(input)
    }

    private func readLoop() {
        var buffer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 256 * 1024)
        var errOpen = true
        while true {
            var fds = [pollfd(fd: process.output, events: Int16(POLLIN), revents: 0),
                       pollfd(fd: errOpen ? process.errors : -1, events: Int16(POLLIN), revents: 0)]
            let n = poll(&fds, 2, 1000)
            if n < 0 && errno != EINTR { break }
            if fds[1].revents != 0 {
                let got = chunk.withUnsafeMutableBytes { read(process.errors, $0.baseAddress!, 8192) }
                if got > 0 { keepStderr(chunk[0..<got]) } else if got == 0 || errno != EINTR { errOpen = false }
            }
            if fds[0].revents != 0 {
                let got = chunk.withUnsafeMutableBytes { recv(process.output, $0.baseAddress!, $0.count, 0) }
                if got == 0 || (got < 0 && errno != EINTR && errno != EAGAIN) { break }
                if got > 0 {
                    buffer.append(contentsOf: chunk[0..<got])
                    if !deliverPackets(&buffer) { kill(process.pid, SIGKILL); break }
                }
            }
            checkTimeouts()
        }
        // Standard error until ssh closes it (bounded: ssh exits soon after its output ends).
        var deadline = monotonicSeconds() + 5
        while errOpen && monotonicSeconds() < deadline {
            var fd = pollfd(fd: process.errors, events: Int16(POLLIN), revents: 0)
            if poll(&fd, 1, 500) > 0 {
                let got = chunk.withUnsafeMutableBytes { read(process.errors, $0.baseAddress!, 8192) }
                if got > 0 { keepStderr(chunk[0..<got]) } else { errOpen = false }
            } else if monitor.withLock({ finishing != nil }) { deadline = 0 }
        }
        kill(process.pid, SIGKILL)
        let status = process.reap()
        close(process.output)
        close(process.errors)
        monitor.withLock {
            if dead == nil {
                dead = SFTPConnectError.make(stderr: String(decoding: stderrTail, as: UTF8.self), status: status,
                                             server: server, started: started)
            }
            monitor.broadcast()
        }
    }

    private func keepStderr(_ bytes: ArraySlice<UInt8>) {
        monitor.withLock {
            stderrTail += bytes
            if stderrTail.count > 8192 { stderrTail.removeFirst(stderrTail.count - 8192) }
        }
    }

    /// Hands every complete packet in `buffer` to its waiter; false on a malformed packet.
    private func deliverPackets(_ buffer: inout [UInt8]) -> Bool {
        var start = 0
        var got: [(UInt32, SFTPReply)] = []
        var versionBody: [UInt8]?
        while buffer.count - start >= 4 {
            let len = Int(buffer[start]) << 24 | Int(buffer[start + 1]) << 16 | Int(buffer[start + 2]) << 8 | Int(buffer[start + 3])
            guard len >= 1, len <= 1 << 20 else { return false }
            guard buffer.count - start - 4 >= len else { break }
            let type = buffer[start + 4]
            if type == SFTP.version {
                versionBody = Array(buffer[(start + 5)..<(start + 4 + len)])
            } else {
                guard len >= 5 else { return false }
                let p = start + 5
                let id = UInt32(buffer[p]) << 24 | UInt32(buffer[p + 1]) << 16 | UInt32(buffer[p + 2]) << 8 | UInt32(buffer[p + 3])
                got.append((id, SFTPReply(type: type, body: Array(buffer[(p + 4)..<(start + 4 + len)]))))
            }
            start += 4 + len
        }
        if start > 0 { buffer.removeFirst(start) }
        guard versionBody != nil || !got.isEmpty else { return true }
        monitor.withLock {
            lastActivity = monotonicSeconds()
            if let versionBody { version = versionBody; started = true; outstanding -= 1 }
            for (id, reply) in got {
                outstanding -= 1
                if ignored.remove(id) == nil { replies[id] = reply }
            }
            monitor.broadcast()
        }
        return true
    }

    private func checkTimeouts() {
        let now = monotonicSeconds()
        monitor.withLock {
            if let f = finishing, now - f > 10 { kill(process.pid, SIGKILL); return }
            guard dead == nil, outstanding > 0, now - lastActivity > ioTimeout else { return }
            dead = VaultError(.transient, "the SFTP server \(server) did not answer for \(Int(ioTimeout)) seconds; "
                              + "the session was closed", context: ["server": server])
            kill(process.pid, SIGKILL)
            monitor.broadcast()
        }
    }
}
