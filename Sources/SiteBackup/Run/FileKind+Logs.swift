import VaultStorage

extension FileKind {
    /// Plain-text run logs of site backups and drills, kept in the repository's `logs/` folder
    /// (mode 0600 like everything else) so that they travel with the backups.
    public static let logs = FileKind("logs")
}
