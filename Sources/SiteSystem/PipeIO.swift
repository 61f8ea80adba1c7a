#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import VaultCore

/// The loops that move bytes through a child's pipes. Each also watches `exitFD`, which becomes
/// readable once the child has been reaped, so a descendant that keeps a pipe open (a daemon
/// started by a hook) cannot hold the caller forever.
enum PipeIO {
    static let chunkSize = 256 * 1024

    /// Reads `fd` to end of file, handing each chunk to `sink`. Once the child has exited, it
    /// keeps reading only while data arrives within `linger` seconds of the previous chunk.
    /// Returns false when it gave up before end of file. Rethrows what `sink` throws.
    @discardableResult
    static func drain(_ fd: Int32, exitFD: Int32, linger: Double, what: String,
                      sink: (UnsafeRawBufferPointer) throws -> Void) throws -> Bool {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunkSize, alignment: 16)
        defer { buffer.deallocate() }
        var exited = false
        let lingerMillis = linger.isFinite ? Int32(min(max(0, linger), 86_400) * 1000) : -1
        while true {
            var fds = [pollfd(fd: fd, events: Int16(POLLIN), revents: 0),
                       pollfd(fd: exitFD, events: Int16(POLLIN), revents: 0)]
            let count: nfds_t = exited ? 1 : 2
            let timeout: Int32 = exited ? lingerMillis : -1
            let n = poll(&fds, count, timeout)
            if n < 0 {
                if errno == EINTR { continue }
                throw VaultError.posix("cannot wait for output of", path: what, errno: errno)
            }
            if n == 0 { return false }  // exited and silent for `linger`: a descendant holds the pipe.
            if !exited && fds[1].revents != 0 { exited = true }
            guard fds[0].revents != 0 else { continue }
            let r = read(fd, buffer.baseAddress!, buffer.count)
            if r == 0 { return true }
            if r < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                throw VaultError.posix("cannot read output of", path: what, errno: errno)
            }
            try sink(UnsafeRawBufferPointer(rebasing: buffer[0..<r]))
        }
    }

    /// Writes `data` to `fd` (a pipe to the child's standard input), then closes `fd`. Stops
    /// quietly when the child closes its end (EPIPE) or has exited; SIGPIPE is blocked on the
    /// calling thread, which should be a dedicated one.
    static func feed(_ fd: Int32, data: [UInt8], exitFD: Int32) {
        defer { close(fd) }
        var block = sigset_t()
        sigemptyset(&block)
        sigaddset(&block, SIGPIPE)
        pthread_sigmask(SIG_BLOCK, &block, nil)
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        var offset = 0
        data.withUnsafeBytes { bytes in
            while offset < bytes.count {
                var fds = [pollfd(fd: fd, events: Int16(POLLOUT), revents: 0),
                           pollfd(fd: exitFD, events: Int16(POLLIN), revents: 0)]
                let n = poll(&fds, 2, -1)
                if n < 0 { if errno == EINTR { continue }; return }
                if fds[0].revents & Int16(POLLOUT) != 0 {
                    let w = write(fd, bytes.baseAddress! + offset, min(bytes.count - offset, chunkSize))
                    if w > 0 { offset += w; continue }
                    if w < 0 && (errno == EINTR || errno == EAGAIN) { continue }
                    return  // EPIPE or another error: the child does not want the rest.
                }
                if fds[0].revents != 0 || fds[1].revents != 0 { return }  // reader gone, or child exited.
            }
        }
    }
}
