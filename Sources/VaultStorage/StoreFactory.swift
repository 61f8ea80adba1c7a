import Foundation
import VaultCore

/// How stores are opened: the wrappers every store gets, from the global options.
public struct StoreOptions: Sendable {
    /// Upload and download limits in KiB/s (`--limit-upload`, `--limit-download`); nil is unlimited.
    public var limitUploadKiB: Int?
    public var limitDownloadKiB: Int?
    public var retry: RetryPolicy
    /// Where debug lines of store calls go (`--debug-store`, SITEVAULT_DEBUG_STORE=1); nil logs nothing.
    public var debugLog: (@Sendable (String) -> Void)?
    /// Where retries are reported (as warnings); nil reports nothing.
    public var onRetry: (@Sendable (String) -> Void)?
    public var timer: StoreTimer
    /// The command line that replaces `ssh … HOST -s sftp` for SFTP locations (SITEVAULT_SFTP_COMMAND,
    /// split by `SSHCommand.parse`, never run through a shell); nil runs the standard ssh command.
    public var sftpCommand: String?
    /// Where S3 credentials, region and timeout are read (AWS_ACCESS_KEY_ID, AWS_PROFILE…; see `S3Config.fromEnvironment`).
    public var environment: [String: String] = ProcessInfo.processInfo.environment
    /// An S3 credentials file (the control file's `s3_credentials_file`), used before the environment.
    public var s3CredentialsFile: String?
    /// "path" or "virtual" (the control file's `s3_url_style`), used before SITEVAULT_S3_URL_STYLE.
    public var s3URLStyle: String?

    public init(limitUploadKiB: Int? = nil, limitDownloadKiB: Int? = nil, retry: RetryPolicy = RetryPolicy(),
                debugLog: (@Sendable (String) -> Void)? = nil, onRetry: (@Sendable (String) -> Void)? = nil,
                timer: StoreTimer = SystemStoreTimer()) {
        self.limitUploadKiB = limitUploadKiB; self.limitDownloadKiB = limitDownloadKiB; self.retry = retry
        self.debugLog = debugLog; self.onRetry = onRetry; self.timer = timer
    }
}

extension StoreOptions {
    /// These options with an S3 credentials file (kept as they are when `file` is nil).
    public func with(s3CredentialsFile file: String?) -> StoreOptions {
        var o = self
        if let file { o.s3CredentialsFile = file }
        return o
    }
}

/// The one place where stores are made from a repository location and wrapped:
/// `Retrying(Logging(RateLimited(store)))` — each retry is logged and limited like a first call.
public enum StoreFactory {
    /// Opens the store of `location` (see `StoreLocation.parse`). Nothing is created: a missing
    /// folder is only made by `BlobStore.createLayout`. Throws `.invalidArgument` for a location
    /// that cannot be parsed, and for S3 when no credentials are found.
    public static func open(_ location: String, options: StoreOptions = StoreOptions()) throws -> BlobStore {
        try open(StoreLocation.parse(location), options: options)
    }

    public static func open(_ location: StoreLocation, options: StoreOptions = StoreOptions()) throws -> BlobStore {
        switch location {
        case .local(let path): return wrap(LocalStore(root: path), options: options)
        case .s3(let s3):
            let config = try S3Config.fromEnvironment(s3, environment: options.environment, credentialsFile: options.s3CredentialsFile,
                                                   urlStyle: options.s3URLStyle)
            return wrap(S3Store(config), options: options)
        case .sftp(let l):
            let store = try SFTPStore(l, command: try options.sftpCommand.map { try SSHCommand.parse($0) })
            return wrap(store, options: options)
        }
    }

    /// Adds the wrappers the options ask for around `base`.
    public static func wrap(_ base: BlobStore, options: StoreOptions) -> BlobStore {
        var store = base
        func bucket(_ kib: Int?) -> TokenBucket? {
            guard let kib, kib > 0 else { return nil }
            return TokenBucket(bytesPerSecond: Double(kib) * 1024, timer: options.timer)
        }
        let up = bucket(options.limitUploadKiB), down = bucket(options.limitDownloadKiB)
        if up != nil || down != nil { store = RateLimitedStore(store, upload: up, download: down) }
        if let log = options.debugLog { store = LoggingStore(store, timer: options.timer, log: log) }
        return RetryingStore(store, policy: options.retry, timer: options.timer, onRetry: options.onRetry)
    }

}
