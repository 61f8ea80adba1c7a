import VaultCore
import VaultCrypto
import VaultRepository
import VaultStorage

/// Creates repositories for tests with a cheap key derivation (never used outside tests).
public enum TestRepository {
    public static let password: [UInt8] = Array("correct horse battery staple".utf8)

    public static func create(at path: String) throws -> Repository {
        try Repository.initialize(store: LocalStore(root: path), password: password, kdf: .insecureForTests(),
                                  clock: SystemClock(), hostname: "testhost", username: "tester")
    }

    public static func open(at path: String) throws -> Repository {
        let r = try Repository.open(store: LocalStore(root: path), password: password, clock: SystemClock())
        try r.loadIndex()
        return r
    }
}
