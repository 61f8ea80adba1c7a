import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import VaultCore

/// One HTTP exchange with an S3 server: status, headers (names lower-cased) and body.
struct S3Response {
    var status: Int
    var headers: [String: String]
    var body: Data
}

/// Signed requests to one bucket of one S3 server, path-style (`http://host:port/bucket/key`) or
/// virtual-host–style (`http://bucket.host:port/key`, `S3Config.virtualHostStyle`), through
/// Foundation's `URLSession` (libcurl underneath: keep-alive, TLS with the system's CA certificates;
/// Foundation on Linux offers no way to add a CA file). Synchronous: each call blocks its
/// thread until the reply is complete, so concurrency comes from the callers' threads; the session
/// keeps up to `maxConnections` connections to the host.
final class S3Client: @unchecked Sendable {
    // @unchecked: every stored property is immutable; URLSession is thread-safe.
    let config: S3Config
    private let session: URLSession
    private let signer: S3Signer
    /// `http://host:port`, and the `host` header that is signed (curl sends the same).
    let origin: String
    private let hostHeader: String

    init(_ config: S3Config) {
        self.config = config
        let loc = config.location
        signer = S3Signer(accessKey: config.credentials.accessKey, secretKey: config.credentials.secretKey, region: config.region)
        let defaultPort = loc.secure ? 443 : 80
        let bare = loc.host.contains(":") && !loc.host.hasPrefix("[") ? "[\(loc.host)]" : loc.host
        let host = config.virtualHostStyle ? loc.bucket + "." + bare : bare
        hostHeader = host + (loc.port.map { $0 == defaultPort ? "" : ":\($0)" } ?? "")
        origin = (loc.secure ? "https://" : "http://") + hostHeader
        let c = URLSessionConfiguration.ephemeral
        c.httpMaximumConnectionsPerHost = config.maxConnections
        c.timeoutIntervalForRequest = config.timeout
        c.timeoutIntervalForResource = max(config.timeout * 20, 3600)
        c.requestCachePolicy = .reloadIgnoringLocalCacheData
        c.urlCache = nil
        c.httpCookieStorage = nil
        c.httpShouldSetCookies = false
        session = URLSession(configuration: c)
    }

    deinit { session.finishTasksAndInvalidate() }

    /// The path of `key` in the bucket, URI-encoded: `/bucket/key` path-style (`/bucket` for the
    /// bucket itself), `/key` virtual-host–style (`/` for the bucket).
    func path(_ key: String?) -> String {
        let k = key.map { S3Signer.uriEncode($0, slash: false) }
        if config.virtualHostStyle { return "/" + (k ?? "") }
        return "/" + S3Signer.uriEncode(config.location.bucket, slash: true) + (k.map { "/" + $0 } ?? "")
    }

    /// Sends one signed request and returns the reply, whatever its status. Throws `.transient` when
    /// no reply came (refused or reset connection, timeout) and `.io` for a TLS failure.
    func send(_ method: String, key: String?, query: [(String, String)] = [], headers: [String: String] = [:],
              body: Data? = nil, payloadHash: String? = nil) throws -> S3Response {
        let req = try request(method, key: key, query: query, headers: headers, body: body, payloadHash: payloadHash)
        let box = ReplyBox()
        let done = DispatchSemaphore(value: 0)
        let task = session.dataTask(with: req) { data, response, error in
            box.data = data; box.response = response; box.error = error
            done.signal()
        }
        task.resume()
        done.wait()
        if let error = box.error { throw transportError(error, method: method, key: key) }
        guard let http = box.response as? HTTPURLResponse else {
            throw VaultError(.transient, "S3 server at \(origin) sent no HTTP reply to \(method) \(path(key))")
        }
        var h: [String: String] = [:]
        for (k, v) in http.allHeaderFields { if let k = k as? String, let v = v as? String { h[k.lowercased()] = v } }
        return S3Response(status: http.statusCode, headers: h, body: box.data ?? Data())
    }

    /// The signed request, not sent: URL, method, headers with the signature, body.
    func request(_ method: String, key: String?, query: [(String, String)] = [], headers: [String: String] = [:],
                 body: Data? = nil, payloadHash: String? = nil) throws -> URLRequest {
        let hash = payloadHash ?? body.map { b in b.withUnsafeBytes { S3Signer.sha256Hex($0) } } ?? S3Signer.emptyPayloadHash
        let amzDate = Self.amzDate(config.wallClock())
        var signed = headers
        signed["host"] = hostHeader
        signed["x-amz-date"] = amzDate
        signed["x-amz-content-sha256"] = hash
        let p = path(key)
        let auth = signer.authorization(method: method, path: p, query: query, headers: signed, payloadHash: hash, amzDate: amzDate)
        let q = S3Signer.canonicalQuery(query)
        guard let url = URL(string: origin + p + (q.isEmpty ? "" : "?" + q)) else {
            throw VaultError(.invalidArgument, "cannot make a URL of \(origin + p)")
        }
        var req = URLRequest(url: url, cachePolicy: .reloadIgnoringLocalCacheData, timeoutInterval: config.timeout)
        req.httpMethod = method
        for (k, v) in signed where k != "host" { req.setValue(v, forHTTPHeaderField: k) }
        req.setValue(auth, forHTTPHeaderField: "Authorization")
        if let body {
            req.httpBody = body
            if headers["content-type"] == nil { req.setValue("application/octet-stream", forHTTPHeaderField: "Content-Type") }
        }
        return req
    }

    private func transportError(_ error: Error, method: String, key: String?) -> VaultError {
        let what = "\(method) \(config.location.bucket)/\(key ?? "")"
        if let u = error as? URLError {
            switch u.code {
            case .serverCertificateUntrusted, .serverCertificateHasBadDate, .serverCertificateHasUnknownRoot,
                 .serverCertificateNotYetValid, .secureConnectionFailed, .clientCertificateRejected:
                return VaultError(.io, "TLS with the S3 server at \(origin) failed for \(what): check the server's certificate "
                                  + "(a private CA must be added to this machine's CA certificates: update-ca-certificates)", cause: error)
            case .badURL, .unsupportedURL:
                return VaultError(.invalidArgument, "bad S3 URL for \(what) at \(origin)", cause: error)
            case .timedOut:
                return VaultError(.transient, "the S3 server at \(origin) did not answer \(what) within \(Int(config.timeout)) s",
                                  cause: error)
            case .cannotConnectToHost, .cannotFindHost, .dnsLookupFailed, .notConnectedToInternet:
                return VaultError(.transient, "cannot connect to the S3 server at \(origin) (\(what)): is it running and reachable?",
                                  context: ["unreachable": origin], cause: error)
            default: break
            }
        }
        return VaultError(.transient, "the connection to the S3 server at \(origin) failed during \(what)", cause: error)
    }

    /// `20150830T123600Z` for Unix seconds `t`.
    static func amzDate(_ t: Double) -> String {
        var time = time_t(t)
        var tm = tm()
        gmtime_r(&time, &tm)
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(tm.tm_year + 1900)\(two(tm.tm_mon + 1))\(two(tm.tm_mday))T\(two(tm.tm_hour))\(two(tm.tm_min))\(two(tm.tm_sec))Z"
    }
}

/// Where a request's completion handler leaves the reply for the waiting thread.
private final class ReplyBox: @unchecked Sendable {
    // @unchecked: written once by the completion handler before the semaphore is signalled, read after the wait.
    var data: Data?
    var response: URLResponse?
    var error: Error?
}
