import Crypto
import VaultCore

/// AWS Signature Version 4 for header-authenticated requests (the `Authorization` header), as
/// documented in "Authenticating Requests (AWS Signature Version 4)". Checked against AWS's
/// published examples in `S3SignerTests`.
public struct S3Signer: Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    public var accessKey: String
    /// Never printed: `description` of the store and its errors name the access key only.
    var secretKey: String
    public var region: String
    public var service: String

    public init(accessKey: String, secretKey: String, region: String, service: String = "s3") {
        self.accessKey = accessKey; self.secretKey = secretKey; self.region = region; self.service = service
    }

    /// Names the key, never the secret (also what `dump`/`print` of a value holding a signer shows).
    public var description: String { "SigV4 signer for access key \(accessKey), region \(region), service \(service)" }
    public var debugDescription: String { description }

    /// The SHA-256 of an empty payload.
    public static let emptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    public static func sha256Hex(_ bytes: UnsafeRawBufferPointer) -> String { Hex.encode(Array(SHA256.hash(data: bytes))) }

    /// The value of the `Authorization` header. `path` is the canonical (already URI-encoded) path,
    /// `query` the decoded query parameters, `headers` every header to sign (names in any case; `host`
    /// and `x-amz-date` among them), `amzDate` the `x-amz-date` value (`20150830T123600Z`).
    public func authorization(method: String, path: String, query: [(String, String)], headers: [String: String],
                              payloadHash: String, amzDate: String) -> String {
        let (request, signed) = Self.canonicalRequest(method: method, path: path, query: query, headers: headers,
                                                      payloadHash: payloadHash)
        let scope = "\(amzDate.prefix(8))/\(region)/\(service)/aws4_request"
        let toSign = "AWS4-HMAC-SHA256\n\(amzDate)\n\(scope)\n" + Hex.encode(Array(SHA256.hash(data: Array(request.utf8))))
        let signature = Hex.encode(hmac(signingKey(date: String(amzDate.prefix(8))), toSign))
        return "AWS4-HMAC-SHA256 Credential=\(accessKey)/\(scope), SignedHeaders=\(signed), Signature=\(signature)"
    }

    /// The canonical request and the list of signed header names.
    public static func canonicalRequest(method: String, path: String, query: [(String, String)], headers: [String: String],
                                        payloadHash: String) -> (String, String) {
        let q = canonicalQuery(query)
        var canon: [(String, String)] = headers.map { (k, v) in
            (k.lowercased(), v.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " "))
        }
        canon.sort { $0.0 < $1.0 }
        let signed = canon.map(\.0).joined(separator: ";")
        let headerLines = canon.map { "\($0.0):\($0.1)\n" }.joined()
        return ("\(method)\n\(path.isEmpty ? "/" : path)\n\(q)\n\(headerLines)\n\(signed)\n\(payloadHash)", signed)
    }

    /// Query parameters encoded and sorted by name (then value), joined with `&`.
    public static func canonicalQuery(_ query: [(String, String)]) -> String {
        query.map { (uriEncode($0.0, slash: true), uriEncode($0.1, slash: true)) }
            .sorted { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1 < $1.1 }
            .map { "\($0.0)=\($0.1)" }.joined(separator: "&")
    }

    /// RFC 3986 encoding as SigV4 wants it: unreserved characters stay, every other byte is `%XX`
    /// (upper-case); `/` stays unless `slash` is set.
    public static func uriEncode(_ s: String, slash: Bool) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
                out.unicodeScalars.append(UnicodeScalar(b))
            case UInt8(ascii: "/") where !slash:
                out.append("/")
            default:
                let hex = Array("0123456789ABCDEF")
                out.append("%"); out.append(hex[Int(b >> 4)]); out.append(hex[Int(b & 15)])
            }
        }
        return out
    }

    func signingKey(date: String) -> [UInt8] {
        let kDate = hmac(Array(("AWS4" + secretKey).utf8), date)
        return hmac(hmac(hmac(kDate, region), service), "aws4_request")
    }

    private func hmac(_ key: [UInt8], _ message: String) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: Array(message.utf8), using: SymmetricKey(data: key)))
    }
}
