import Foundation
import VaultCore
import VaultCrypto

/// The plaintext `config` file: format name, version and repository id, authenticated by a MAC
/// under the master key (checked once the key is unlocked). Readers refuse an unknown version
/// before asking for the password.
public struct RepositoryConfig: Codable, Sendable {
    public static let currentVersion = 1
    public var format: String
    public var version: Int
    public var id: String
    public var created: Timestamp
    public var mac: String

    static func macInput(format: String, version: Int, id: String) -> [UInt8] {
        Array("sitevault-config\n\(format)\n\(version)\n\(id)".utf8)
    }

    public static func make(key: MasterKey, created: Timestamp) -> RepositoryConfig {
        let id = Hex.encode(randomBytes(32))
        let mac = Hex.encode(key.mac(macInput(format: "sitevault", version: currentVersion, id: id)))
        return RepositoryConfig(format: "sitevault", version: currentVersion, id: id, created: created, mac: mac)
    }

    /// Parses and checks the format and version; throws `.unsupportedVersion` for a newer format.
    public static func parse(_ bytes: [UInt8], location: String) throws -> RepositoryConfig {
        let c: RepositoryConfig
        do { c = try JSONDecoder().decode(RepositoryConfig.self, from: Data(bytes)) } catch {
            throw VaultError(.invalidFormat, "\(location)/config is not a sitevault repository configuration", cause: error)
        }
        guard c.format == "sitevault" else { throw VaultError(.invalidFormat, "\(location) is not a sitevault repository (format \"\(c.format)\")") }
        guard c.version == currentVersion else {
            throw VaultError(.unsupportedVersion, "\(location) uses repository format version \(c.version); this sitevault reads version \(currentVersion) only — use a newer sitevault")
        }
        return c
    }

    func verify(key: MasterKey, location: String) throws {
        let expect = Hex.encode(key.mac(RepositoryConfig.macInput(format: format, version: version, id: id)))
        guard expect == mac else { throw VaultError(.corrupt, "\(location)/config was altered: its MAC does not match the key") }
    }
}
