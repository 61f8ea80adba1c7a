import XCTest
import VaultCore
@testable import VaultCrypto

final class CryptoTests: XCTestCase {
    func testSealOpenAndTamperDetection() throws {
        let key = MasterKey.random()
        let plain = Array("attack at dawn".utf8)
        let sealed = try key.seal(plain)
        XCTAssertEqual(sealed.count, plain.count + AEAD.overhead)
        XCTAssertEqual(try key.open(sealed, what: "t"), plain)
        for i in [0, 12, sealed.count - 1] {
            var bad = sealed; bad[i] ^= 1
            XCTAssertThrowsError(try key.open(bad, what: "t")) { e in
                XCTAssertEqual((e as? VaultError)?.code, .corrupt)
            }
        }
        XCTAssertThrowsError(try MasterKey.random().open(sealed, what: "t"))
        // Two seals of the same text differ (random nonce).
        XCTAssertNotEqual(try key.seal(plain), sealed)
    }

    func testBlobIDsAreKeyed() {
        let a = MasterKey.random(), b = MasterKey.random()
        let data = Array("same content".utf8)
        XCTAssertEqual(a.blobID(data), a.blobID(data))
        XCTAssertNotEqual(a.blobID(data), b.blobID(data))
        XCTAssertNotEqual(a.blobID(data), sha256ID(data))
    }

    func testKeyFileUnlocksOnlyWithItsPassword() throws {
        let master = MasterKey.random()
        let kf = try KeyFile.create(master: master, password: Array("pw1".utf8), kdf: .insecureForTests(), created: Timestamp(nanoseconds: 0),
                                    hostname: "h", username: "u")
        let unlocked = try kf.unlock(password: Array("pw1".utf8))
        XCTAssertEqual(unlocked.blobID([1, 2, 3]), master.blobID([1, 2, 3]))
        XCTAssertThrowsError(try kf.unlock(password: Array("pw2".utf8))) { e in
            XCTAssertEqual((e as? VaultError)?.code, .wrongPassword)
        }
        let encoded = try JSONEncoder().encode(kf)
        XCTAssertFalse(String(decoding: encoded, as: UTF8.self).contains("pw1"))
    }

    func testStandardKDFCostIsAtLeastRestics() {
        let k = KDFParameters.standard()
        XCTAssertEqual(k.algorithm, "scrypt")
        XCTAssertGreaterThanOrEqual(k.n, 1 << 15)
        XCTAssertGreaterThanOrEqual(k.r, 8)
        XCTAssertGreaterThanOrEqual(k.p, 5)
    }
}
