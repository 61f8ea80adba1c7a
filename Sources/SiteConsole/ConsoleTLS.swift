#if canImport(Glibc)
import Glibc
#endif
import Foundation
import HummingbirdTLS
import NIOSSL
import SiteBackup
import VaultCore

/// The console's certificate and private key (`--tls-cert`, `--tls-key`), read and checked before
/// anything starts. `load` throws `VaultError` (`.invalidArgument`) naming the file and what to do
/// when a file cannot be read or holds no PEM certificate / key, when the key is readable by others,
/// or when the key is not the certificate's.
public struct ConsoleTLS: Sendable {
    public let certificateFile: String
    public let keyFile: String
    /// The server configuration Hummingbird's TLS channel is built with.
    let configuration: TLSConfiguration

    public static func load(certificate: String, key: String) throws -> ConsoleTLS {
        let certBytes = try read(certificate, "certificate")
        let certs: [NIOSSLCertificate]
        do { certs = try NIOSSLCertificate.fromPEMBytes(certBytes) } catch { certs = [] }
        guard !certs.isEmpty else {
            throw VaultError(.invalidArgument, "the console's TLS certificate \(certificate) holds no PEM certificate "
                             + "(-----BEGIN CERTIFICATE-----): give the certificate file (its chain after it), not the key")
        }
        // The key is a secret, like the repositories' password files: refused when others can read it.
        if let why = secretFileExposure(key) {
            throw VaultError(.invalidArgument, "the console's TLS key \(key) is \(why): it is a secret; "
                             + "run `chmod 600 \(key)` (or 640 with its group, e.g. ssl-cert), then start again")
        }
        let keyBytes = try read(key, "key")
        let privateKey: NIOSSLPrivateKey
        do { privateKey = try NIOSSLPrivateKey(bytes: keyBytes, format: .pem) } catch {
            throw VaultError(.invalidArgument, "the console's TLS key \(key) holds no unencrypted PEM private key "
                             + "(-----BEGIN PRIVATE KEY-----): give the key of \(certificate), without a passphrase")
        }
        let configuration = TLSConfiguration.makeServerConfiguration(certificateChain: certs.map { .certificate($0) },
                                                                     privateKey: .privateKey(privateKey))
        // BoringSSL compares the key with the certificate's public key when the context is made.
        do { _ = try NIOSSLContext(configuration: configuration) } catch {
            throw VaultError(.invalidArgument, "the console's TLS key \(key) does not match the certificate \(certificate) "
                             + "(\(error)): give the key the certificate was issued for")
        }
        return ConsoleTLS(certificateFile: certificate, keyFile: key, configuration: configuration)
    }

    static func read(_ path: String, _ what: String) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else {
            let why = access(path, F_OK) == 0 ? "cannot be read by this user" : "does not exist"
            throw VaultError(.invalidArgument, "the console's TLS \(what) \(path) \(why): check the path given to --tls-\(what == "key" ? "key" : "cert")")
        }
        return Array(data)
    }
}
