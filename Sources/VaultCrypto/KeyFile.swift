import Crypto
import _CryptoExtras
import Foundation
import VaultCore

/// Cost parameters of the password-based key derivation, recorded in every key file.
public struct KDFParameters: Codable, Hashable, Sendable {
    public var algorithm: String
    public var n: Int
    public var r: Int
    public var p: Int
    public var salt: String

    /// restic's default cost (scrypt N=2^15, r=8, p=5): about half a second here.
    public static func standard() -> KDFParameters {
        KDFParameters(algorithm: "scrypt", n: 1 << 15, r: 8, p: 5, salt: Data(randomBytes(32)).base64EncodedString())
    }

    /// A cheap cost, allowed only through an explicit test switch.
    public static func insecureForTests() -> KDFParameters {
        KDFParameters(algorithm: "scrypt", n: 1 << 10, r: 8, p: 1, salt: Data(randomBytes(32)).base64EncodedString())
    }

    public func derive(password: [UInt8]) throws -> SymmetricKey {
        guard algorithm == "scrypt" else {
            throw VaultError(.unsupportedVersion, "key file uses key derivation \"\(algorithm)\", which this version does not know")
        }
        guard let s = Data(base64Encoded: salt), s.count >= 16 else { throw VaultError(.corrupt, "key file salt is missing or too short") }
        // Bounds keep a damaged or hostile key file from demanding unbounded memory or time
        // (2^20 × 8 × 128 B = 1 GiB at most), and from being trivially cheap.
        guard n >= 1 << 10, n <= 1 << 20, n & (n - 1) == 0, r >= 1, r <= 32, p >= 1, p <= 64, n * r <= (1 << 20) * 8 else {
            throw VaultError(.corrupt, "key file has out-of-range scrypt parameters (N=\(n), r=\(r), p=\(p))")
        }
        return try KDF.Scrypt.deriveKey(from: password, salt: s, outputByteCount: 32, rounds: n, blockSize: r, parallelism: p,
                                        maxMemory: 128 * n * r * (p + 2) + (1 << 20))
    }
}

/// A key file: the master key wrapped (AES-256-GCM) by a key derived from one password.
/// A repository can hold several, one per password.
public struct KeyFile: Codable, Sendable {
    public var version = 1
    public var created: Timestamp
    public var hostname: String
    public var username: String
    public var kdf: KDFParameters
    /// base64 of nonce ‖ ciphertext ‖ tag of the serialized master key.
    public var data: String

    public static func create(master: MasterKey, password: [UInt8], kdf: KDFParameters, created: Timestamp,
                              hostname: String, username: String) throws -> KeyFile {
        let wrapping = try kdf.derive(password: password)
        let plain = try master.serialize()
        let sealed = try plain.withUnsafeBytes { try AEAD.seal($0, key: wrapping) }
        return KeyFile(created: created, hostname: hostname, username: username, kdf: kdf,
                       data: Data(sealed).base64EncodedString())
    }

    /// Unwraps the master key; throws `.wrongPassword` when the password does not open this key.
    public func unlock(password: [UInt8]) throws -> MasterKey {
        guard version == 1 else { throw VaultError(.unsupportedVersion, "key file version \(version) is not supported by this sitevault") }
        let wrapping = try kdf.derive(password: password)
        guard let sealed = Data(base64Encoded: data) else { throw VaultError(.corrupt, "key file data is not base64") }
        let plain: [UInt8]
        do {
            plain = try sealed.withUnsafeBytes { try AEAD.open($0, key: wrapping, what: "key") }
        } catch {
            throw VaultError(.wrongPassword, "wrong password")
        }
        return try MasterKey.deserialize(Data(plain))
    }
}
