import VaultStorage

extension DestinationConfig {
    /// `base` with this destination's own settings: its `sftp_command` wins over
    /// SITEVAULT_SFTP_COMMAND, its `s3_credentials_file` over the AWS environment,
    /// its `s3_url_style` over SITEVAULT_S3_URL_STYLE.
    public func storeOptions(_ base: StoreOptions) -> StoreOptions {
        var o = base.with(s3CredentialsFile: s3CredentialsFile)
        if let sftpCommand { o.sftpCommand = sftpCommand }
        if let s3URLStyle { o.s3URLStyle = s3URLStyle }
        return o
    }
}
