import Foundation
import VaultCore

/// How an `S3Store` reaches its bucket.
public struct S3Config: Sendable {
    public var location: StoreLocation.S3Location
    public var credentials: S3Credentials
    /// The signing region (AWS_DEFAULT_REGION / AWS_REGION, default us-east-1).
    public var region: String
    /// Seconds a request may wait for the server without any progress before it fails as transient.
    public var timeout: Double
    /// Connections kept open to the server: as many requests can be in flight.
    public var maxConnections: Int
    /// Virtual-host–style requests (`bucket.host/key`) instead of path-style (`host/bucket/key`):
    /// SITEVAULT_S3_URL_STYLE or the control file's `s3_url_style` ("virtual" or "path", the default).
    public var virtualHostStyle = false
    /// Reads that restore and check keep in flight (SITEVAULT_S3_READS, default 8; at most `maxConnections`).
    public var concurrentReads = 8
    /// Objects larger than this are uploaded in parts of `partSize`, several parts at once.
    public var multipartThreshold: Int
    public var partSize: Int
    /// Unix seconds now, for request dates.
    public var wallClock: @Sendable () -> Double

    public init(location: StoreLocation.S3Location, credentials: S3Credentials, region: String = "us-east-1",
                timeout: Double = 60, maxConnections: Int = 16, multipartThreshold: Int = 32 << 20, partSize: Int = 16 << 20,
                wallClock: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 }) {
        self.location = location; self.credentials = credentials; self.region = region; self.timeout = timeout
        self.maxConnections = maxConnections; self.multipartThreshold = multipartThreshold
        self.partSize = max(5 << 20, partSize); self.wallClock = wallClock
    }

    /// The configuration of `location` from the environment: credentials (see `S3Credentials.resolve`),
    /// the region from AWS_DEFAULT_REGION or AWS_REGION, the timeout from SITEVAULT_S3_TIMEOUT (seconds), reads in flight from SITEVAULT_S3_READS.
    public static func fromEnvironment(_ location: StoreLocation.S3Location, environment env: [String: String],
                                       credentialsFile: String? = nil, urlStyle: String? = nil) throws -> S3Config {
        let creds = try S3Credentials.resolve(environment: env, file: credentialsFile)
        let region = [env["AWS_DEFAULT_REGION"], env["AWS_REGION"]].compactMap { $0 }.first { !$0.isEmpty } ?? "us-east-1"
        var c = S3Config(location: location, credentials: creds, region: region)
        if let t = env["SITEVAULT_S3_TIMEOUT"] {
            guard let v = Double(t), v > 0 else {
                throw VaultError(.invalidArgument, "SITEVAULT_S3_TIMEOUT must be a positive number of seconds, not \"\(t)\"")
            }
            c.timeout = v
        }
        if let style = urlStyle ?? env["SITEVAULT_S3_URL_STYLE"].flatMap({ $0.isEmpty ? nil : $0 }) {
            c.virtualHostStyle = try virtualHostStyle(style, location: location)
        }
        if let t = env["SITEVAULT_S3_READS"] {
            guard let v = Int(t), v > 0, v <= 64 else {
                throw VaultError(.invalidArgument, "SITEVAULT_S3_READS must be a number of requests from 1 to 64, not \"\(t)\"")
            }
            c.concurrentReads = v
            c.maxConnections = max(c.maxConnections, v)
        }
        return c
    }

    /// Whether `style` ("path" or "virtual") asks for virtual-host–style requests; a virtual host
    /// needs a DNS name for the server (the bucket becomes its first label) and a bucket name that
    /// is a valid DNS label.
    public static func virtualHostStyle(_ style: String, location: StoreLocation.S3Location) throws -> Bool {
        switch style {
        case "path": return false
        case "virtual":
            let host = location.host
            let isAddress = host.contains(":") || host.split(separator: ".").allSatisfy { !$0.isEmpty && $0.allSatisfy(\.isNumber) }
            guard !isAddress else {
                throw VaultError(.invalidArgument, "virtual-host S3 URLs need a server name, not the address \(host): "
                                 + "use s3_url_style = \"path\" (or SITEVAULT_S3_URL_STYLE=path)")
            }
            let bucket = location.bucket
            guard !bucket.contains("."), bucket.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" }) else {
                throw VaultError(.invalidArgument, "the bucket name \"\(bucket)\" cannot be a host name label for a virtual-host S3 URL: "
                                 + "use path-style URLs")
            }
            return true
        default:
            throw VaultError(.invalidArgument, "the S3 URL style must be \"path\" or \"virtual\", not \"\(style)\"")
        }
    }
}
