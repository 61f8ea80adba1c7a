import XCTest
import Foundation
import VaultTesting
import VaultCore
import VaultStorage

final class StoreLocationTests: XCTestCase {
    func testPaths() throws {
        XCTAssertEqual(try StoreLocation.parse("/srv/backup"), .local(path: "/srv/backup"))
        XCTAssertEqual(try StoreLocation.parse("repo"), .local(path: "repo"))
        XCTAssertEqual(try StoreLocation.parse("./odd:name"), .local(path: "./odd:name"))
        XCTAssertEqual(try StoreLocation.parse("/mnt/a:b/repo"), .local(path: "/mnt/a:b/repo"))
        XCTAssertEqual(try StoreLocation.parse("local:/srv/x"), .local(path: "/srv/x"))
    }

    func testS3() throws {
        guard case .s3(let a) = try StoreLocation.parse("s3:http://127.0.0.1:9000/bucket/some/prefix") else { return XCTFail("not s3") }
        XCTAssertEqual(a.secure, false); XCTAssertEqual(a.host, "127.0.0.1"); XCTAssertEqual(a.port, 9000)
        XCTAssertEqual(a.bucket, "bucket"); XCTAssertEqual(a.prefix, "some/prefix")
        guard case .s3(let b) = try StoreLocation.parse("s3:https://s3.example.com/b") else { return XCTFail("not s3") }
        XCTAssertEqual(b.secure, true); XCTAssertEqual(b.host, "s3.example.com"); XCTAssertNil(b.port)
        XCTAssertEqual(b.bucket, "b"); XCTAssertEqual(b.prefix, "")
        XCTAssertEqual(try StoreLocation.parse("s3:https://h:443/b/p/").description, "s3:https://h:443/b/p")
    }

    func testSFTP() throws {
        guard case .sftp(let a) = try StoreLocation.parse("sftp:backup@host.example:/srv/repo") else { return XCTFail("not sftp") }
        XCTAssertEqual(a.user, "backup"); XCTAssertEqual(a.host, "host.example"); XCTAssertEqual(a.path, "/srv/repo"); XCTAssertNil(a.port)
        guard case .sftp(let b) = try StoreLocation.parse("sftp:host:relative/repo") else { return XCTFail("not sftp") }
        XCTAssertNil(b.user); XCTAssertEqual(b.host, "host"); XCTAssertEqual(b.path, "relative/repo")
        guard case .sftp(let c) = try StoreLocation.parse("sftp://u@h:2222//abs/repo") else { return XCTFail("not sftp") }
        XCTAssertEqual(c.user, "u"); XCTAssertEqual(c.host, "h"); XCTAssertEqual(c.port, 2222); XCTAssertEqual(c.path, "/abs/repo")
    }

    func testRefused() {
        for bad in ["foo:bar", "s3:", "s3:bucket", "s3:http://host", "s3:http://host:0/b", "s3:http://host:x/b",
                    "sftp:", "sftp:host", "sftp:host:", "local:", "", "rest:http://h/"] {
            XCTAssertThrowsError(try StoreLocation.parse(bad), bad) {
                let e = $0 as? VaultError
                XCTAssertEqual(e?.code, .invalidArgument, bad)
                XCTAssertTrue(e?.message.contains("s3:http://host:port/bucket/prefix") == true, "\(bad): \(String(describing: e))")
            }
        }
    }

    func testFactoryOpensLocalWithoutCreatingAndRefusesRemoteForNow() throws {
        let dir = try TemporaryDirectory(prefix: "sitevault-factory")
        defer { dir.remove() }
        let store = try StoreFactory.open(dir.sub("later"))
        XCTAssertTrue(store is RetryingStore)
        XCTAssertEqual(store.location, dir.sub("later"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.sub("later")), "opening creates nothing")
        var options = StoreOptions()
        options.environment = ["AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s"]
        let s3 = try StoreFactory.open("s3:http://127.0.0.1:1/bucket/pre/fix", options: options)
        XCTAssertTrue(s3 is RetryingStore)
        XCTAssertEqual(s3.location, "s3:http://127.0.0.1:1/bucket/pre/fix")
        options.environment = ["HOME": dir.path]
        XCTAssertThrowsError(try StoreFactory.open("s3:http://127.0.0.1:1/bucket", options: options)) {
            XCTAssertTrue(($0 as? VaultError)?.message.contains("no S3 credentials") == true, "\($0)")
        }
        // SFTP opens without connecting (nothing runs until the first call).
        let sftp = try StoreFactory.open("sftp:u@h:/p")
        XCTAssertEqual(sftp.location, "sftp:u@h:/p")
    }
}
