import Foundation
import VaultCore
import VaultStorage

/// A real S3 server started for the tests by `scripts/s3-servers.sh` (through `scripts/test.sh`),
/// found from the environment: SITEVAULT_TEST_S3_SEAWEEDFS or SITEVAULT_TEST_S3_RGW (the endpoint,
/// `http://127.0.0.1:PORT`), SITEVAULT_TEST_S3_ACCESS_KEY and SITEVAULT_TEST_S3_SECRET_KEY.
public struct S3TestServer: Sendable {
    public enum Kind: String, Sendable { case seaweedfs = "SEAWEEDFS", rgw = "RGW" }
    public var endpoint: String
    public var accessKey: String
    public var secretKey: String

    public init(endpoint: String, accessKey: String, secretKey: String) {
        self.endpoint = endpoint; self.accessKey = accessKey; self.secretKey = secretKey
    }

    /// The server of `kind`, or nil when the variables are not set (tests then skip, with the reason).
    public static func find(_ kind: Kind) -> S3TestServer? {
        let env = ProcessInfo.processInfo.environment
        guard let e = env["SITEVAULT_TEST_S3_\(kind.rawValue)"], !e.isEmpty,
              let a = env["SITEVAULT_TEST_S3_ACCESS_KEY"], let s = env["SITEVAULT_TEST_S3_SECRET_KEY"] else { return nil }
        return S3TestServer(endpoint: e, accessKey: a, secretKey: s)
    }

    /// Why a test was skipped when `find` gave nil.
    public static func skipReason(_ kind: Kind) -> String {
        "SITEVAULT_TEST_S3_\(kind.rawValue) is not set: run the tests with scripts/test.sh, or start the servers with "
            + "scripts/s3-servers.sh start DIR and source DIR/env"
    }

    /// The credentials as AWS_* variables (what the executable reads).
    public var environment: [String: String] { ["AWS_ACCESS_KEY_ID": accessKey, "AWS_SECRET_ACCESS_KEY": secretKey] }

    /// A fresh bucket name (lower-case, 3–63 characters), unique to this run.
    public static func freshBucket(_ stem: String) -> String {
        "sv-\(stem)-" + Hex.encode((0..<6).map { _ in UInt8.random(in: 0...255) })
    }

    /// `s3:http://127.0.0.1:PORT/bucket/prefix`.
    public func location(bucket: String, prefix: String = "") -> String {
        "s3:" + endpoint + "/" + bucket + (prefix.isEmpty ? "" : "/" + prefix)
    }

    /// The store of `bucket/prefix` through the factory (with its retrying wrapper).
    public func open(bucket: String, prefix: String = "", options: StoreOptions = StoreOptions()) throws -> BlobStore {
        var o = options
        o.environment = environment
        return try StoreFactory.open(location(bucket: bucket, prefix: prefix), options: o)
    }
}
