import Foundation
import VaultCore

/// Turns an S3 error reply into a `VaultError` whose code classifies it (see `StoreErrorClass`)
/// and whose message names the S3 error and what to do.
enum S3Errors {
    static func error(_ r: S3Response, _ what: String, client: S3Client) -> VaultError {
        let parsed = S3XML.error(r.body)
        let code = parsed?.code ?? ""
        let message = parsed?.message ?? ""
        let where_ = "the S3 server at \(client.origin)"
        let bucket = client.config.location.bucket
        let detail = (code.isEmpty ? "HTTP \(r.status)" : "\(code), HTTP \(r.status)") + (message.isEmpty ? "" : ": \(message)")
        var ctx = ["http_status": String(r.status), "location": StoreLocation.s3(client.config.location).description]
        if !code.isEmpty { ctx["s3_code"] = code }
        func e(_ c: VaultError.Code, _ text: String) -> VaultError { VaultError(c, "\(text) (\(detail))", context: ctx) }
        let creds = client.config.credentials
        switch code {
        case "NoSuchKey": return e(.notFound, "\(what): no such object")
        case "NoSuchBucket":
            return e(.repositoryNotFound, "the bucket \"\(bucket)\" does not exist on \(where_): check the location, "
                     + "or create the repository with `sitevault init`")
        case "InvalidAccessKeyId":
            return e(.io, "\(where_) does not know the \(creds): check AWS_ACCESS_KEY_ID or the credentials file")
        case "SignatureDoesNotMatch":
            return e(.io, "\(where_) refused the secret key of the \(creds): check AWS_SECRET_ACCESS_KEY or the credentials file")
        case "AccessDenied", "AllAccessDisabled", "AccountProblem":
            return e(.io, "\(where_) denied \(what) to the \(creds): give this key read and write access to bucket \"\(bucket)\"")
        case "QuotaExceeded", "EntityTooLarge", "XMinioStorageFull", "InsufficientCapacity":
            return e(.noSpace, "the bucket \"\(bucket)\" on \(where_) is full or over its quota: free some space "
                     + "(e.g. `sitevault forget --prune`) or raise the quota (nothing committed was lost)")
        case "RequestTimeTooSkewed":
            return e(.io, "\(where_) refused \(what) because this machine's clock differs too much from the server's: set the clock")
        case "SlowDown", "RequestTimeout", "InternalError", "ServiceUnavailable", "OperationAborted":
            return e(.transient, "\(where_) could not serve \(what) now")
        default: break
        }
        switch r.status {
        case 404: return e(.notFound, "\(what): not found")
        case 403: return e(.io, "\(where_) denied \(what) to the \(creds)")
        case 500...599, 408, 429: return e(.transient, "\(where_) failed \(what)")
        default: return e(.io, "\(where_) refused \(what)")
        }
    }
}
