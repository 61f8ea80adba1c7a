#if canImport(Glibc)
import Glibc
#endif
import Crypto
import Foundation
import VaultCore
import VaultCrypto

/// What a console user may do: an administrator runs actions, a read-only user only looks.
public enum ConsoleRole: String, Sendable, Codable {
    case admin
    case readOnly = "read-only"
}

/// A console user as the users file holds it: the password only as an scrypt hash.
public struct ConsoleUser: Sendable, Codable {
    public var name: String
    public var role: ConsoleRole
    public var kdf: KDFParameters
    /// base64 of the 32-byte scrypt output.
    public var hash: String
}

/// The console's users file (`users.json`, mode 0600, in the console's state folder), written by
/// `sitevault console passwd`. Throws `VaultError` when the file cannot be read or written.
public struct ConsoleUsers: Sendable {
    public var users: [ConsoleUser] = []

    public static func path(stateDir: String) -> String { stateDir + "/users.json" }

    /// The users (none when the file does not exist yet). A file readable by others is refused:
    /// its hashes would be open to guessing offline.
    public static func load(stateDir: String) throws -> ConsoleUsers {
        let p = path(stateDir: stateDir)
        var st = stat()
        guard stat(p, &st) == 0 else { return ConsoleUsers() }
        if st.st_mode & 0o077 != 0 {
            throw VaultError(.invalidArgument, "the console users file \(p) is readable by others: chmod 600 it")
        }
        guard let data = FileManager.default.contents(atPath: p) else {
            throw VaultError(.invalidArgument, "the console users file \(p) cannot be read")
        }
        do { return ConsoleUsers(users: try JSONDecoder().decode([ConsoleUser].self, from: data)) } catch {
            throw VaultError(.corrupt, "the console users file \(p) is damaged (\(error)): set the passwords again with `sitevault console passwd`")
        }
    }

    /// Adds the user or replaces its password and role.
    public mutating func set(name: String, password: [UInt8], role: ConsoleRole, kdf: KDFParameters) throws {
        let key = try kdf.derive(password: password)
        let hash = key.withUnsafeBytes { Data($0).base64EncodedString() }
        users.removeAll { $0.name == name }
        users.append(ConsoleUser(name: name, role: role, kdf: kdf, hash: hash))
    }

    /// Writes the file atomically with mode 0600 (its folder 0700).
    public func save(stateDir: String) throws {
        if mkdir(stateDir, 0o700) != 0 && errno != EEXIST { throw VaultError.posix("cannot create the console folder", path: stateDir, errno: errno) }
        let p = ConsoleUsers.path(stateDir: stateDir)
        let tmp = p + ".tmp"
        let data = try JSONEncoder().encode(users)
        unlink(tmp)
        let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw VaultError.posix("cannot write the console users file", path: tmp, errno: errno) }
        let ok = data.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) == $0.count } && fsync(fd) == 0
        close(fd)
        guard ok, rename(tmp, p) == 0 else { throw VaultError.posix("cannot write the console users file", path: p, errno: errno) }
    }

    /// The user when the password matches (compared in constant time), else nil. Costs one scrypt.
    public func verify(name: String, password: [UInt8]) -> ConsoleUser? {
        guard let u = users.first(where: { $0.name == name }) else {
            // Same cost for an unknown name, so timing does not tell which names exist.
            _ = try? (users.first?.kdf ?? KDFParameters.insecureForTests()).derive(password: password)
            return nil
        }
        guard let key = try? u.kdf.derive(password: password), let want = Data(base64Encoded: u.hash) else { return nil }
        let got = key.withUnsafeBytes { Array($0) }
        guard got.count == want.count else { return nil }
        var diff: UInt8 = 0
        for (a, b) in zip(got, want) { diff |= a ^ b }
        return diff == 0 ? u : nil
    }
}
