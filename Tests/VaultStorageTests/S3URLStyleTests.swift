import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import XCTest
@testable import VaultStorage

/// Virtual-host–style requests (`bucket.host/key`) as the client builds and signs them, checked
/// against the S3 reference's examples (which are virtual-host style: examplebucket.s3.amazonaws.com,
/// 2013-05-24); path-style requests of the same objects for contrast. Nothing is sent.
final class S3URLStyleTests: XCTestCase {
    let location = StoreLocation.S3Location(secure: true, host: "s3.amazonaws.com", port: nil, bucket: "examplebucket", prefix: "")

    func client(virtual: Bool) -> S3Client {
        var c = S3Config(location: location,
                         credentials: S3Credentials(accessKey: "AKIAIOSFODNN7EXAMPLE", secretKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                                                    source: "test"),
                         wallClock: { 1_369_353_600 })   // 2013-05-24T00:00:00Z
        c.virtualHostStyle = virtual
        return S3Client(c)
    }

    /// The reference's "GET Object" example: the first 10 bytes of test.txt.
    func testVirtualHostGetObjectMatchesTheReferenceExample() throws {
        let req = try client(virtual: true).request("GET", key: "test.txt", headers: ["range": "bytes=0-9"])
        XCTAssertEqual(req.url?.absoluteString, "https://examplebucket.s3.amazonaws.com/test.txt")
        XCTAssertEqual(req.value(forHTTPHeaderField: "Authorization"),
                       "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
                       + "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
                       + "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
    }

    /// The reference's "GET Bucket (List Objects)" example: the bucket itself is `/` on its host.
    func testVirtualHostListMatchesTheReferenceExample() throws {
        let req = try client(virtual: true).request("GET", key: nil, query: [("prefix", "J"), ("max-keys", "2")])
        XCTAssertEqual(req.url?.absoluteString, "https://examplebucket.s3.amazonaws.com/?max-keys=2&prefix=J")
        XCTAssertTrue(req.value(forHTTPHeaderField: "Authorization")?
            .hasSuffix("Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7") == true)
    }

    func testPathStyleKeepsTheBucketInThePath() throws {
        let c = client(virtual: false)
        XCTAssertEqual(try c.request("GET", key: "data/ab/abcd").url?.absoluteString, "https://s3.amazonaws.com/examplebucket/data/ab/abcd")
        XCTAssertEqual(try c.request("HEAD", key: nil).url?.absoluteString, "https://s3.amazonaws.com/examplebucket")
        // Signed for the server's own host name: not the reference's signature.
        let auth = try c.request("GET", key: "test.txt", headers: ["range": "bytes=0-9"]).value(forHTTPHeaderField: "Authorization") ?? ""
        XCTAssertFalse(auth.hasSuffix("f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"), auth)
    }

    func testStyleOptionAndItsChecks() throws {
        let env = ["AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "secret"]
        XCTAssertFalse(try S3Config.fromEnvironment(location, environment: env).virtualHostStyle, "path-style is the default")
        XCTAssertTrue(try S3Config.fromEnvironment(location, environment: env.merging(["SITEVAULT_S3_URL_STYLE": "virtual"]) { $1 })
            .virtualHostStyle)
        // The control file's setting wins over the environment.
        XCTAssertFalse(try S3Config.fromEnvironment(location, environment: env.merging(["SITEVAULT_S3_URL_STYLE": "virtual"]) { $1 },
                                                    urlStyle: "path").virtualHostStyle)
        XCTAssertThrowsError(try S3Config.fromEnvironment(location, environment: env, urlStyle: "dns")) {
            XCTAssertTrue("\($0)".contains("\"path\" or \"virtual\""), "\($0)")
        }
        var ip = location
        ip.host = "127.0.0.1"
        XCTAssertThrowsError(try S3Config.virtualHostStyle("virtual", location: ip)) {
            XCTAssertTrue("\($0)".contains("need a server name"), "\($0)")
        }
        var dotted = location
        dotted.bucket = "my.bucket"
        XCTAssertThrowsError(try S3Config.virtualHostStyle("virtual", location: dotted))
        // Through the factory: the store's requests go to bucket.host.
        let store = try StoreFactory.open("s3:https://s3.example.net:9000/shop/vault", options: {
            var o = StoreOptions(); o.environment = env; o.s3URLStyle = "virtual"; return o
        }())
        let s3 = try XCTUnwrap((store as? RetryingStore)?.inner as? S3Store)
        XCTAssertEqual(try s3.client.request("GET", key: s3.key(Handle(.config, ""))).url?.absoluteString,
                       "https://shop.s3.example.net:9000/vault/config")
    }
}
