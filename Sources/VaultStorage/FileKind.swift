/// The kinds of files a repository stores; each kind lives in its own folder.
public enum FileKind: String, CaseIterable, Sendable {
    case config, keys, snapshots, index, data, locks
    /// Plain-text run logs of site backups, readable by the operator (mode 0600 like everything else).
    case logs
}
