import Foundation
import XCTest
import VaultCore
@testable import VaultStorage
import VaultTesting

/// `S3Store` on the real servers scripts/test.sh starts (SeaweedFS and Ceph RGW): the whole store
/// contract, each check in a fresh prefix of a fresh bucket, and the errors an operator meets.
final class S3StoreTests: XCTestCase {
    func server(_ kind: S3TestServer.Kind) throws -> S3TestServer {
        guard let s = S3TestServer.find(kind) else { throw XCTSkip(S3TestServer.skipReason(kind)) }
        return s
    }

    private func contract(_ kind: S3TestServer.Kind) throws {
        let s = try server(kind)
        let bucket = S3TestServer.freshBucket("contract")
        var n = 0
        // 40 MiB: above the multipart threshold (32 MiB), so the large check goes in three parts.
        let failures = StoreContract.run(largeSize: 40 << 20) {
            n += 1
            return try s.open(bucket: bucket, prefix: "repo-\(n)/nested")
        }
        XCTAssertEqual(failures, [])
    }

    func testContractOnSeaweedFS() throws { try contract(.seaweedfs) }
    func testContractOnCephRGW() throws { try contract(.rgw) }

    /// Pages of 1,000 keys: 2,100 files come back exactly once each.
    func testListingPagesOnSeaweedFS() throws { try listingPages(.seaweedfs) }
    func testListingPagesOnCephRGW() throws { try listingPages(.rgw) }
    func testWrongCredentialsOnSeaweedFS() throws { try wrongCredentials(.seaweedfs) }
    func testWrongCredentialsOnCephRGW() throws { try wrongCredentials(.rgw) }
    func testMissingBucketOnSeaweedFS() throws { try missingBucket(.seaweedfs) }
    func testMissingBucketOnCephRGW() throws { try missingBucket(.rgw) }

    private func listingPages(_ kind: S3TestServer.Kind) throws {
        do {
            let s = try server(kind)
            let store = try s.open(bucket: S3TestServer.freshBucket("pages"), prefix: "p")
            try store.createLayout()
            let names = (0..<2100).map { StoreContract.name($0, "page") }
            DispatchQueue.concurrentPerform(iterations: 8) { w in
                for i in stride(from: w, to: names.count, by: 8) { try? store.save(Handle(.index, names[i]), bytes: [UInt8(i & 255)]) }
            }
            var seen: [String: Int] = [:]
            try store.list(.index) { seen[$0.name, default: 0] += 1; return true }
            XCTAssertEqual(seen.count, 2100, "\(kind)")
            XCTAssertTrue(seen.values.allSatisfy { $0 == 1 }, "\(kind): a file was listed twice")
        }
    }

    private func wrongCredentials(_ kind: S3TestServer.Kind) throws {
        do {
            let s = try server(kind)
            let bucket = S3TestServer.freshBucket("creds")
            try s.open(bucket: bucket).createLayout()
            var badSecret = s; badSecret.secretKey = "not-the-secret"
            assertError(try badSecret.open(bucket: bucket).load(Handle(.config, "")), kind, code: .io,
                        contains: ["SignatureDoesNotMatch", "AWS_SECRET_ACCESS_KEY"], notContaining: "not-the-secret")
            var badKey = s; badKey.accessKey = "NOSUCHKEY123"
            assertError(try badKey.open(bucket: bucket).load(Handle(.config, "")), kind, code: .io,
                        contains: ["InvalidAccessKeyId", "NOSUCHKEY123"], notContaining: s.secretKey)
        }
    }

    private func missingBucket(_ kind: S3TestServer.Kind) throws {
        do {
            let s = try server(kind)
            let bucket = S3TestServer.freshBucket("missing")
            let store = try s.open(bucket: bucket, prefix: "x")
            assertError(try store.checkReachable(), kind, code: .notFound, contains: ["bucket \"\(bucket)\" does not exist"])
            assertError(try store.load(Handle(.config, "")), kind, code: .repositoryNotFound, contains: ["NoSuchBucket", bucket])
            assertError(try store.list(.snapshots), kind, code: .repositoryNotFound, contains: ["NoSuchBucket"])
            // init makes the bucket.
            try store.createLayout()
            try store.checkReachable()
            XCTAssertNil(try store.checkWritable())
            XCTAssertEqual(try store.list(.locks).count, 0, "\(kind): the write probe was left behind")
        }
    }

    /// Nothing listens: the error is transient (so retried) and says what is wrong.
    func testServerDownIsTransientAndClear() throws {
        let port = FreePort.pick()
        var options = StoreOptions(retry: RetryPolicy(maxAttempts: 2, baseDelay: 0.01))
        options.environment = ["AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b"]
        let store = try StoreFactory.open("s3:http://127.0.0.1:\(port)/bucket/prefix", options: options)
        do { _ = try store.load(Handle(.config, "")); XCTFail("load from a stopped server succeeded") } catch let e as VaultError {
            XCTAssertEqual(e.code, .transient, "\(e)")
            XCTAssertTrue(e.message.contains("cannot connect to the S3 server at http://127.0.0.1:\(port)"), "\(e)")
        }
    }

    func testCredentialsFromFileAndEnvironment() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let file = dir.sub("credentials")
        try Data("[default]\naws_access_key_id = DEF\naws_secret_access_key = s1\n\n[profile other]\naws_access_key_id=OTHER\naws_secret_access_key=s2\n"
            .utf8).write(to: URL(fileURLWithPath: file))
        XCTAssertEqual(try S3Credentials.resolve(environment: ["AWS_SHARED_CREDENTIALS_FILE": file]).accessKey, "DEF")
        XCTAssertEqual(try S3Credentials.resolve(environment: ["AWS_SHARED_CREDENTIALS_FILE": file, "AWS_PROFILE": "other"]).accessKey, "OTHER")
        XCTAssertEqual(try S3Credentials.resolve(environment: ["AWS_ACCESS_KEY_ID": "ENV", "AWS_SECRET_ACCESS_KEY": "x",
                                                               "AWS_SHARED_CREDENTIALS_FILE": file]).accessKey, "ENV")
        XCTAssertEqual(try S3Credentials.resolve(environment: ["AWS_ACCESS_KEY_ID": "ENV", "AWS_SECRET_ACCESS_KEY": "x"], file: file)
            .accessKey, "DEF", "the control file's credentials file comes first")
        XCTAssertThrowsError(try S3Credentials.resolve(environment: ["HOME": dir.path])) { e in
            XCTAssertTrue("\(e)".contains("no S3 credentials"), "\(e)")
        }
    }

    private func assertError(_ body: @autoclosure () throws -> Any, _ kind: S3TestServer.Kind, code: VaultError.Code,
                             contains: [String], notContaining secret: String? = nil, line: UInt = #line) {
        do { _ = try body(); XCTFail("\(kind): no error", line: line) } catch let e as VaultError {
            XCTAssertEqual(e.code, code, "\(kind): \(e)", line: line)
            for c in contains { XCTAssertTrue(e.description.contains(c), "\(kind): \(e) does not say \(c)", line: line) }
            if let secret { XCTAssertFalse(e.description.contains(secret), "\(kind): the secret is in the message", line: line) }
        } catch { XCTFail("\(kind): \(error)", line: line) }
    }
}

/// Unfinished multipart uploads (a large save interrupted) are aborted by `removeStaleTemporaries`
/// once old enough, and only under the store's own prefix.
final class S3StaleUploadTests: XCTestCase {
    func testStaleMultipartUploadsAreAbortedOnSeaweedFS() throws { try staleUploads(.seaweedfs) }
    func testStaleMultipartUploadsAreAbortedOnCephRGW() throws { try staleUploads(.rgw) }

    private func staleUploads(_ kind: S3TestServer.Kind) throws {
        guard let s = S3TestServer.find(kind) else { throw XCTSkip(S3TestServer.skipReason(kind)) }
        let bucket = S3TestServer.freshBucket("stale")
        let store = S3Store(try config(s, bucket: bucket, prefix: "mine"))
        let other = S3Store(try config(s, bucket: bucket, prefix: "other"))
        try store.createLayout()
        for (st, key) in [(store, "mine/data/ab/abcd"), (other, "other/data/cd/cdef")] {
            let r = try st.client.send("POST", key: key, query: [("uploads", "")])
            XCTAssertEqual(r.status, 200, "\(kind): \(String(decoding: r.body, as: UTF8.self))")
        }
        let now = Date().timeIntervalSince1970
        XCTAssertEqual(try store.removeStaleTemporaries(olderThan: 3600, now: now), 0, "\(kind): a fresh upload is kept")
        XCTAssertEqual(try store.removeStaleTemporaries(olderThan: 60, now: now + 7200), 1, "\(kind): the stale upload is aborted")
        XCTAssertEqual(try store.removeStaleTemporaries(olderThan: 60, now: now + 7200), 0, "\(kind): nothing is left to abort")
        XCTAssertEqual(try other.removeStaleTemporaries(olderThan: 60, now: now + 7200), 1, "\(kind): another prefix's upload was left alone")
    }

    private func config(_ s: S3TestServer, bucket: String, prefix: String) throws -> S3Config {
        guard case .s3(let loc) = try StoreLocation.parse(s.location(bucket: bucket, prefix: prefix)) else { throw XCTSkip("not s3") }
        return try S3Config.fromEnvironment(loc, environment: s.environment)
    }
}
