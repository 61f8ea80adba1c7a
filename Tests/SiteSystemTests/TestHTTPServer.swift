#if canImport(Glibc)
import Glibc
#endif
@testable import SiteSystem
import VaultCore

/// A one-thread HTTP server on a loopback port that records each request and answers it with the
/// next canned response (nil: read the request, then never answer).
final class TestHTTPServer: @unchecked Sendable {
    // @unchecked: `received` is guarded by `mutex`.
    struct Request {
        var method: String
        var target: String
        var version: String
        var headers: [String: String]  // lower-cased names
        var body: [UInt8]
    }

    let port: Int
    let host: String
    private let listener: Int32
    private var thread: BackgroundThread?
    private let mutex = Mutex()
    private var received: [Request] = []

    /// Binds to 127.0.0.1 (or ::1) on a free port; nil when that address family is unavailable.
    init?(ipv6: Bool = false) {
        let family = ipv6 ? AF_INET6 : AF_INET
        let fd = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return nil }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var ok: Int32
        if ipv6 {
            var a = sockaddr_in6()
            a.sin6_family = sa_family_t(AF_INET6)
            a.sin6_addr = in6addr_loopback
            ok = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) } }
        } else {
            var a = sockaddr_in()
            a.sin_family = sa_family_t(AF_INET)
            a.sin_addr.s_addr = inet_addr("127.0.0.1")
            ok = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        }
        guard ok == 0, listen(fd, 8) == 0 else { close(fd); return nil }
        var storage = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        let portBE: UInt16 = withUnsafePointer(to: &storage) { p in
            ipv6 ? p.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee.sin6_port }
                 : p.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_port }
        }
        listener = fd
        port = Int(UInt16(bigEndian: portBE))
        host = ipv6 ? "[::1]" : "127.0.0.1"
    }

    /// A free loopback port with nobody listening on it.
    static func unusedPort() -> Int {
        let s = TestHTTPServer()!
        let p = s.port
        s.stop()
        return p
    }

    var baseURL: String { "http://\(host):\(port)" }

    /// Serves one connection per response, in order, on a background thread.
    func start(_ responses: [String?]) {
        let listener = self.listener
        thread = try! BackgroundThread { [self] in
            for response in responses {
                let conn = accept(listener, nil, nil)
                if conn < 0 { return }
                var tv = timeval(tv_sec: 10, tv_usec: 0)
                setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
                if let request = Self.readRequest(conn) { mutex.withLock { received.append(request) } }
                if let response {
                    let bytes = Array(response.utf8)
                    _ = send(conn, bytes, bytes.count, Int32(MSG_NOSIGNAL))
                } else {
                    var p = pollfd(fd: conn, events: Int16(POLLIN), revents: 0)
                    _ = poll(&p, 1, 10_000)  // until the client gives up
                }
                close(conn)
            }
        }
    }

    var requests: [Request] { mutex.withLock { received } }

    func stop() {
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
        thread?.join()
    }

    static func readRequest(_ fd: Int32) -> Request? {
        var data: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        var headEnd: Int?
        var contentLength = 0
        while true {
            if let h = headEnd, data.count >= h + contentLength { break }
            let n = recv(fd, &buf, buf.count, 0)
            if n <= 0 { break }
            data += buf[0..<n]
            if headEnd == nil, let (end, start) = HTTPResponseParser.findHeadEnd(data[...]) {
                _ = end
                headEnd = start
                let head = String(decoding: data[0..<start], as: UTF8.self).lowercased()
                if let line = head.split(separator: "\r\n").first(where: { $0.hasPrefix("content-length:") }) {
                    contentLength = Int(line.dropFirst("content-length:".count).filter { $0 != " " }) ?? 0
                }
            }
        }
        guard let start = headEnd else { return nil }
        let lines = String(decoding: data[0..<start], as: UTF8.self).split(separator: "\r\n")
        let first = lines[0].split(separator: " ")
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = String(line[line.index(after: colon)...].drop { $0 == " " })
        }
        return Request(method: String(first[0]), target: String(first[1]), version: String(first[2]),
                       headers: headers, body: Array(data[start...]))
    }
}
