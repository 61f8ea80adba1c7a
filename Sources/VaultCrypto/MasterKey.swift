import Crypto
import Foundation
import VaultCore

/// The repository's secret keys: one for authenticated encryption of every stored file and blob,
/// one for the keyed hash that names blobs, and a seed for the chunker's gear table.
/// Stored only wrapped by a password-derived key (see `KeyFile`).
public struct MasterKey: @unchecked Sendable {
    // @unchecked: SymmetricKey is an immutable value; it is only read after creation.
    public let encryption: SymmetricKey
    public let idKey: SymmetricKey
    public let chunkerSeed: [UInt8]

    public init(encryption: [UInt8], idKey: [UInt8], chunkerSeed: [UInt8]) {
        self.encryption = SymmetricKey(data: encryption)
        self.idKey = SymmetricKey(data: idKey)
        self.chunkerSeed = chunkerSeed
    }

    public static func random() -> MasterKey {
        MasterKey(encryption: randomBytes(32), idKey: randomBytes(32), chunkerSeed: randomBytes(32))
    }

    /// A new key with a fresh encryption key but this key's blob-id key and chunker seed: a repository
    /// made with it cuts files at the same places and names blobs alike, so `copy` can move blobs as
    /// they are (`init --copy-chunker-params`). The encryption key, the one that protects content, differs.
    public func withFreshEncryptionKey() -> MasterKey {
        MasterKey(encryption: randomBytes(32), idKey: idKey.withUnsafeBytes { Array($0) }, chunkerSeed: chunkerSeed)
    }

    /// True when both keys cut files alike and give equal blob ids (same chunker seed and id key).
    public func sharesChunkerParameters(with other: MasterKey) -> Bool {
        chunkerSeed == other.chunkerSeed
            && idKey.withUnsafeBytes { a in other.idKey.withUnsafeBytes { b in a.elementsEqual(b) } }
    }

    struct Serialized: Codable { var encrypt: String; var id: String; var chunker: String }

    func serialize() throws -> Data {
        let s = Serialized(encrypt: encryption.withUnsafeBytes { Data($0).base64EncodedString() },
                           id: idKey.withUnsafeBytes { Data($0).base64EncodedString() },
                           chunker: Data(chunkerSeed).base64EncodedString())
        return try JSONEncoder().encode(s)
    }

    static func deserialize(_ data: Data) throws -> MasterKey {
        let s = try JSONDecoder().decode(Serialized.self, from: data)
        guard let e = Data(base64Encoded: s.encrypt), let i = Data(base64Encoded: s.id), let c = Data(base64Encoded: s.chunker),
              e.count == 32, i.count == 32, c.count == 32 else {
            throw VaultError(.corrupt, "master key has a bad shape")
        }
        return MasterKey(encryption: Array(e), idKey: Array(i), chunkerSeed: Array(c))
    }

    /// The blob id of a plaintext: HMAC-SHA256 under the id key, so ids reveal nothing of the content.
    public func blobID(_ plaintext: UnsafeRawBufferPointer) -> ID {
        let mac = HMAC<SHA256>.authenticationCode(for: plaintext, using: idKey)
        return mac.withUnsafeBytes { ID(bytes: $0) }
    }

    public func blobID(_ plaintext: [UInt8]) -> ID {
        plaintext.withUnsafeBytes { blobID($0) }
    }

    /// A MAC over arbitrary bytes (used to authenticate the plaintext config), under a key derived
    /// from the id key for this purpose only, so it never equals a blob id.
    public func mac(_ bytes: [UInt8]) -> [UInt8] {
        let macKey = SymmetricKey(data: HMAC<SHA256>.authenticationCode(for: Array("sitevault config mac key".utf8), using: idKey))
        return Array(HMAC<SHA256>.authenticationCode(for: bytes, using: macKey))
    }

    /// Encrypts with AES-256-GCM: output is nonce (12) ‖ ciphertext ‖ tag (16).
    public func seal(_ plaintext: UnsafeRawBufferPointer) throws -> [UInt8] {
        try AEAD.seal(plaintext, key: encryption)
    }

    /// Like `seal`, without copying the result out of the `Data` the cipher produced.
    public func sealData(_ plaintext: UnsafeRawBufferPointer) throws -> Data {
        try AEAD.sealData(plaintext, key: encryption)
    }

    public func seal(_ plaintext: [UInt8]) throws -> [UInt8] {
        try plaintext.withUnsafeBytes { try seal($0) }
    }

    /// Decrypts and authenticates; throws `.corrupt` when the bytes were altered.
    public func open(_ sealed: UnsafeRawBufferPointer, what: String) throws -> [UInt8] {
        try AEAD.open(sealed, key: encryption, what: what)
    }

    public func open(_ sealed: [UInt8], what: String) throws -> [UInt8] {
        try sealed.withUnsafeBytes { try open($0, what: what) }
    }
}

/// AES-256-GCM with a random 96-bit nonce.
public enum AEAD {
    public static let overhead = 12 + 16

    public static func seal(_ plaintext: UnsafeRawBufferPointer, key: SymmetricKey) throws -> [UInt8] {
        Array(try sealData(plaintext, key: key))
    }

    public static func sealData(_ plaintext: UnsafeRawBufferPointer, key: SymmetricKey) throws -> Data {
        let box = try AES.GCM.seal(plaintext, using: key)
        guard let combined = box.combined else { throw VaultError(.io, "encryption failed") }
        return combined
    }

    public static func open(_ sealed: UnsafeRawBufferPointer, key: SymmetricKey, what: String) throws -> [UInt8] {
        guard sealed.count >= overhead else { throw VaultError(.corrupt, "\(what) is too short to be encrypted data") }
        do {
            let box = try AES.GCM.SealedBox(combined: sealed)
            return Array(try AES.GCM.open(box, using: key))
        } catch {
            throw VaultError(.corrupt, "\(what) failed authentication: it was altered or damaged")
        }
    }
}

/// Cryptographically random bytes.
public func randomBytes(_ n: Int) -> [UInt8] {
    var g = SystemRandomNumberGenerator()
    return (0..<n).map { _ in UInt8.random(in: 0...255, using: &g) }
}

/// SHA-256 of bytes, as an ID (used to name stored files by their content).
public func sha256ID(_ bytes: UnsafeRawBufferPointer) -> ID {
    SHA256.hash(data: bytes).withUnsafeBytes { ID(bytes: $0) }
}

public func sha256ID(_ bytes: [UInt8]) -> ID { bytes.withUnsafeBytes { sha256ID($0) } }

/// Incremental SHA-256 for streaming pack contents.
public struct StreamingHash {
    var h = SHA256()
    public init() {}
    public mutating func update(_ bytes: UnsafeRawBufferPointer) { h.update(bufferPointer: bytes) }
    public func finalize() -> ID { h.finalize().withUnsafeBytes { ID(bytes: $0) } }
}
