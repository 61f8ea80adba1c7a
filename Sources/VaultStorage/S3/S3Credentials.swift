import Foundation
import VaultCore

/// An S3 access key and its secret. The secret is never part of `description`, messages or logs.
public struct S3Credentials: Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    public var accessKey: String
    var secretKey: String
    /// Where the key came from, for messages ("AWS_ACCESS_KEY_ID", "~/.aws/credentials [default]").
    public var source: String

    public init(accessKey: String, secretKey: String, source: String) {
        self.accessKey = accessKey; self.secretKey = secretKey; self.source = source
    }

    public var description: String { "access key \(accessKey) (from \(source))" }
    public var debugDescription: String { description }

    /// Finds the credentials, first found wins:
    /// 1. `file` (the control file's `s3_credentials_file`), in the `~/.aws/credentials` format;
    /// 2. `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY` in `environment`;
    /// 3. `AWS_SHARED_CREDENTIALS_FILE` or `~/.aws/credentials`.
    /// The profile is `AWS_PROFILE` (default `default`). Throws `.invalidArgument` when none is found.
    public static func resolve(environment env: [String: String], file: String? = nil) throws -> S3Credentials {
        let profile = env["AWS_PROFILE"].flatMap { $0.isEmpty ? nil : $0 } ?? "default"
        if let file {
            guard let c = try fromFile(file, profile: profile, mustExist: true) else {
                throw VaultError(.invalidArgument, "the S3 credentials file \(file) has no aws_access_key_id and "
                                 + "aws_secret_access_key under [\(profile)]")
            }
            return c
        }
        if let id = env["AWS_ACCESS_KEY_ID"], !id.isEmpty {
            guard let secret = env["AWS_SECRET_ACCESS_KEY"], !secret.isEmpty else {
                throw VaultError(.invalidArgument, "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not: set both")
            }
            return S3Credentials(accessKey: id, secretKey: secret, source: "AWS_ACCESS_KEY_ID")
        }
        let home = env["HOME"] ?? NSHomeDirectory()
        let shared = env["AWS_SHARED_CREDENTIALS_FILE"].flatMap { $0.isEmpty ? nil : $0 } ?? home + "/.aws/credentials"
        if let c = try fromFile(shared, profile: profile, mustExist: false) { return c }
        throw VaultError(.invalidArgument, "no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, put them in "
                         + "\(shared) under [\(profile)], or name a file with s3_credentials_file in the control file's [repository]")
    }

    /// Reads `[profile]`'s keys from an INI file (`aws_access_key_id = …`); nil when absent.
    static func fromFile(_ path: String, profile: String, mustExist: Bool) throws -> S3Credentials? {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            if mustExist { throw VaultError(.invalidArgument, "cannot read the S3 credentials file \(path): check that it exists and is readable") }
            return nil
        }
        var section = "", id: String?, secret: String?
        for raw in text.split(whereSeparator: \.isNewline) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("[") && line.hasSuffix("]") {
                section = String(line.dropFirst().dropLast()).trimmingCharacters(in: .whitespaces)
                if section.hasPrefix("profile ") { section = String(section.dropFirst(8)) }
                continue
            }
            guard section == profile, let eq = line.firstIndex(of: "=") else { continue }
            let key = line[..<eq].trimmingCharacters(in: .whitespaces).lowercased()
            let value = line[line.index(after: eq)...].trimmingCharacters(in: .whitespaces)
            if key == "aws_access_key_id" { id = value } else if key == "aws_secret_access_key" { secret = value }
        }
        guard let id, let secret, !id.isEmpty, !secret.isEmpty else { return nil }
        return S3Credentials(accessKey: id, secretKey: secret, source: "\(path) [\(profile)]")
    }
}
