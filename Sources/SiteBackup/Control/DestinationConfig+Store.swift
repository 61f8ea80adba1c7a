import VaultStorage

extension DestinationConfig {
    /// `base` with this destination's own settings: its `sftp_command` wins over SITEVAULT_SFTP_COMMAND.
    public func storeOptions(_ base: StoreOptions) -> StoreOptions {
        var o = base
        if let sftpCommand { o.sftpCommand = sftpCommand }
        return o
    }
}
