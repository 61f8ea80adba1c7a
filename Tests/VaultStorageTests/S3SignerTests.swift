import XCTest
import VaultStorage

/// AWS Signature V4 against the examples AWS publishes: the signature test suite's get-vanilla and
/// post-vanilla (credentials AKIDEXAMPLE, service "service", 2015-08-30T12:36:00Z) and the S3 API
/// reference's GET object, PUT object and list examples (examplebucket, 2013-05-24).
final class S3SignerTests: XCTestCase {
    let suite = S3Signer(accessKey: "AKIDEXAMPLE", secretKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                         region: "us-east-1", service: "service")
    let s3 = S3Signer(accessKey: "AKIAIOSFODNN7EXAMPLE", secretKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", region: "us-east-1")
    let empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    func testGetVanilla() {
        let auth = suite.authorization(method: "GET", path: "/", query: [],
                                       headers: ["Host": "example.amazonaws.com", "X-Amz-Date": "20150830T123600Z"],
                                       payloadHash: empty, amzDate: "20150830T123600Z")
        XCTAssertEqual(auth, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
                       + "SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")
    }

    func testPostVanilla() {
        let auth = suite.authorization(method: "POST", path: "/", query: [],
                                       headers: ["Host": "example.amazonaws.com", "X-Amz-Date": "20150830T123600Z"],
                                       payloadHash: empty, amzDate: "20150830T123600Z")
        XCTAssertTrue(auth.hasSuffix("Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"), auth)
    }

    func testQueryIsSortedAndEncoded() {
        // get-vanilla-query-order-key-case
        let auth = suite.authorization(method: "GET", path: "/", query: [("Param2", "value2"), ("Param1", "value1")],
                                       headers: ["host": "example.amazonaws.com", "x-amz-date": "20150830T123600Z"],
                                       payloadHash: empty, amzDate: "20150830T123600Z")
        XCTAssertTrue(auth.hasSuffix("Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"), auth)
        XCTAssertEqual(S3Signer.canonicalQuery([("prefix", "a/b c"), ("continuation-token", "x+y=")]),
                       "continuation-token=x%2By%3D&prefix=a%2Fb%20c")
        XCTAssertEqual(S3Signer.uriEncode("test$file.text/ü", slash: false), "test%24file.text/%C3%BC")
    }

    /// The S3 reference's "GET Object" example: the first 10 bytes of test.txt.
    func testS3GetObjectExample() {
        let headers = ["host": "examplebucket.s3.amazonaws.com", "range": "bytes=0-9",
                       "x-amz-content-sha256": empty, "x-amz-date": "20130524T000000Z"]
        let (canonical, signed) = S3Signer.canonicalRequest(method: "GET", path: "/test.txt", query: [], headers: headers,
                                                            payloadHash: empty)
        XCTAssertEqual(signed, "host;range;x-amz-content-sha256;x-amz-date")
        XCTAssertEqual(canonical, "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n"
                       + "x-amz-content-sha256:\(empty)\nx-amz-date:20130524T000000Z\n\n"
                       + "host;range;x-amz-content-sha256;x-amz-date\n\(empty)")
        let auth = s3.authorization(method: "GET", path: "/test.txt", query: [], headers: headers, payloadHash: empty,
                                    amzDate: "20130524T000000Z")
        XCTAssertEqual(auth, "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
                       + "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
                       + "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
    }

    /// The S3 reference's "PUT Object" example: "Welcome to Amazon S3." to test$file.text.
    func testS3PutObjectExample() {
        let body = Array("Welcome to Amazon S3.".utf8)
        let hash = body.withUnsafeBytes { S3Signer.sha256Hex($0) }
        XCTAssertEqual(hash, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072")
        let headers = ["host": "examplebucket.s3.amazonaws.com", "date": "Fri, 24 May 2013 00:00:00 GMT",
                       "x-amz-storage-class": "REDUCED_REDUNDANCY", "x-amz-content-sha256": hash, "x-amz-date": "20130524T000000Z"]
        let auth = s3.authorization(method: "PUT", path: "/" + S3Signer.uriEncode("test$file.text", slash: false), query: [],
                                    headers: headers, payloadHash: hash, amzDate: "20130524T000000Z")
        XCTAssertTrue(auth.contains("SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class,"), auth)
        XCTAssertTrue(auth.hasSuffix("Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"), auth)
    }

    /// The S3 reference's "GET Bucket (List Objects)" example: max-keys=2, prefix=J.
    func testS3ListExample() {
        let headers = ["host": "examplebucket.s3.amazonaws.com", "x-amz-content-sha256": empty, "x-amz-date": "20130524T000000Z"]
        let auth = s3.authorization(method: "GET", path: "/", query: [("prefix", "J"), ("max-keys", "2")], headers: headers,
                                    payloadHash: empty, amzDate: "20130524T000000Z")
        XCTAssertTrue(auth.hasSuffix("Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"), auth)
    }

    func testSecretIsNotInDescriptions() throws {
        let c = try S3Credentials.resolve(environment: ["AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "very-secret"])
        XCTAssertFalse("\(c)".contains("very-secret"))
        XCTAssertEqual(c.accessKey, "AKID")
    }
}

/// Printing any value that holds S3 keys never shows the secret.
final class S3SecretPrintingTests: XCTestCase {
    func testDescriptionsHideTheSecret() throws {
        let secret = "s3cr3t-value-never-printed"
        let creds = try S3Credentials.resolve(environment: ["AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": secret])
        guard case .s3(let loc) = try StoreLocation.parse("s3:http://127.0.0.1:9/b/p") else { return XCTFail("not s3") }
        let config = S3Config(location: loc, credentials: creds)
        let signer = S3Signer(accessKey: "AKID", secretKey: secret, region: "us-east-1")
        for text in ["\(creds)", String(reflecting: creds), "\(config)", String(reflecting: config), "\(signer)",
                     String(reflecting: signer), "\(S3Store(config))"] {
            XCTAssertFalse(text.contains(secret), text)
        }
    }
}
