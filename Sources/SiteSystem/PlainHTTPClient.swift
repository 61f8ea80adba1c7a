#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import VaultCore

/// HTTP/1.1 over a plain TCP socket (http:// URLs): one POST, `Connection: close`, everything
/// bounded by one deadline (except name resolution, which getaddrinfo does not let us bound).
enum PlainHTTPClient {
    /// The most of a response we read; webhook answers are small.
    static let maxResponse = 1 << 20

    static func post(_ url: HTTPURL, request: [UInt8], timeout: Double) throws -> (status: Int, body: [UInt8]) {
        let deadline = monotonicSeconds() + timeout
        let fd = try connect(url, deadline: deadline, timeout: timeout)
        defer { close(fd) }
        try sendAll(fd, request, url: url, deadline: deadline, timeout: timeout)
        return try receive(fd, url: url, deadline: deadline, timeout: timeout)
    }

    static func failure(_ url: HTTPURL, _ what: String, code: VaultError.Code = .io) -> VaultError {
        VaultError(code, "cannot post to \(url.redacted): \(what)", context: ["url": url.redacted, "endpoint": url.endpoint])
    }

    static func timedOut(_ url: HTTPURL, _ phase: String, _ timeout: Double) -> VaultError {
        failure(url, "timed out after \(ProcessResult.seconds(timeout)) \(phase) \(url.endpoint)")
    }

    /// Milliseconds left until `deadline`, for poll.
    static func remainingMillis(_ deadline: Double) -> Int32 {
        Int32(max(0, min(Double(Int32.max), (deadline - monotonicSeconds()) * 1000)).rounded(.up))
    }

    /// Waits for `events` on `fd`; false on timeout.
    static func waitFor(_ fd: Int32, _ events: Int32, deadline: Double) throws -> Bool {
        while true {
            var p = pollfd(fd: fd, events: Int16(events), revents: 0)
            let n = poll(&p, 1, remainingMillis(deadline))
            if n > 0 { return true }
            if n == 0 { return false }
            if errno != EINTR { throw VaultError.posix("cannot poll", path: "socket", errno: errno) }
        }
    }

    /// Connects to the first address of the host that accepts, each attempt bounded by the deadline.
    static func connect(_ url: HTTPURL, deadline: Double, timeout: Double) throws -> Int32 {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_NUMERICSERV
        var list: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(url.host, String(url.port), &hints, &list)
        guard rc == 0, let first = list else {
            let reason = rc == EAI_SYSTEM ? String(cString: strerror(errno)) : String(cString: gai_strerror(rc))
            throw failure(url, "cannot resolve host '\(url.host)': \(reason)")
        }
        defer { freeaddrinfo(first) }
        var lastError: Int32 = ECONNREFUSED
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let ai = cursor {
            cursor = ai.pointee.ai_next
            let fd = socket(ai.pointee.ai_family, ai.pointee.ai_socktype | Int32(SOCK_CLOEXEC.rawValue), ai.pointee.ai_protocol)
            if fd < 0 { lastError = errno; continue }
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            if Glibc.connect(fd, ai.pointee.ai_addr, ai.pointee.ai_addrlen) == 0 { return fd }
            var err = errno
            if err == EINPROGRESS || err == EINTR {
                guard try waitFor(fd, POLLOUT, deadline: deadline) else {
                    close(fd)
                    throw timedOut(url, "connecting to", timeout)
                }
                var soErr: Int32 = 0
                var len = socklen_t(MemoryLayout<Int32>.size)
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &soErr, &len)
                if soErr == 0 { return fd }
                err = soErr
            }
            close(fd)
            lastError = err
        }
        throw failure(url, "cannot connect to \(url.endpoint): \(String(cString: strerror(lastError)))")
    }

    static func sendAll(_ fd: Int32, _ bytes: [UInt8], url: HTTPURL, deadline: Double, timeout: Double) throws {
        var offset = 0
        try bytes.withUnsafeBytes { buf in
            while offset < buf.count {
                let n = send(fd, buf.baseAddress! + offset, buf.count - offset, Int32(MSG_NOSIGNAL))
                if n > 0 { offset += n; continue }
                if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
                    guard try waitFor(fd, POLLOUT, deadline: deadline) else { throw timedOut(url, "sending to", timeout) }
                    continue
                }
                throw failure(url, "sending to \(url.endpoint) failed: \(String(cString: strerror(errno)))")
            }
        }
    }

    /// Reads until the response is complete (by its framing) or the server closes the connection.
    static func receive(_ fd: Int32, url: HTTPURL, deadline: Double, timeout: Double) throws -> (status: Int, body: [UInt8]) {
        var data: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            guard try waitFor(fd, POLLIN, deadline: deadline) else { throw timedOut(url, "waiting for the response of", timeout) }
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
            if n < 0 {
                if errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR { continue }
                // A reset after a complete response still counts as that response.
                let reason = String(cString: strerror(errno))
                if let r = try? HTTPResponseParser.parse(data[...], atEOF: true), !data.isEmpty { return r }
                throw failure(url, "reading the response from \(url.endpoint) failed: \(reason)")
            }
            let eof = n == 0
            data += chunk[0..<n]
            let full = data.count >= maxResponse
            do {
                if let r = try HTTPResponseParser.parse(data[...], atEOF: eof || full) { return r }
            } catch let e as VaultError {
                throw failure(url, e.message, code: e.code)
            }
        }
    }
}
