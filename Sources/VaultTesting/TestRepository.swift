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

    /// A repository with its own password and the given master key (e.g. another repository's
    /// `withFreshEncryptionKey()`, as `init --copy-chunker-params` makes).
    public static func create(at path: String, password: [UInt8], master: MasterKey = .random()) throws -> Repository {
        try Repository.initialize(store: LocalStore(root: path), password: password, kdf: .insecureForTests(),
                                  clock: SystemClock(), hostname: "testhost", username: "tester", master: master)
    }

    public static func open(at path: String) throws -> Repository {
        let r = try Repository.open(store: LocalStore(root: path), password: password, clock: SystemClock())
        try r.loadIndex()
        return r
    }
}

extension TestRepository {
    /// Opens a repository made with another password, its index loaded.
    public static func open(at path: String, password: [UInt8]) throws -> Repository {
        let r = try Repository.open(store: LocalStore(root: path), password: password, clock: SystemClock())
        try r.loadIndex()
        return r
    }
}
