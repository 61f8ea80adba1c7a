/// A kind of stored file; each kind lives in its own folder (or key prefix) named by `rawValue`.
/// The repository format's kinds are declared here; a higher layer may declare its own (the site
/// layer's `logs`) — stores treat every kind but `config` alike.
public struct FileKind: Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String
    public init(_ rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }

    /// The single file `config` (its handle's name is ignored).
    public static let config = FileKind("config")
    public static let keys = FileKind("keys")
    public static let snapshots = FileKind("snapshots")
    public static let index = FileKind("index")
    public static let data = FileKind("data")
    public static let locks = FileKind("locks")

    /// The kinds of the repository format, `config` first.
    public static let repositoryKinds: [FileKind] = [.config, .keys, .snapshots, .index, .data, .locks]
}

/// Where each file of a repository lives below its root, the same on every store that has
/// folders (local, SFTP): `config`, `data/XX/NAME` (XX = the name's first two characters), `KIND/NAME`.
public enum RepositoryLayout {
    public static func path(_ root: String, _ h: Handle) -> String {
        switch h.kind {
        case .config: return root + "/config"
        case .data: return root + "/data/" + String(h.name.prefix(2)) + "/" + h.name
        default: return root + "/" + h.kind.rawValue + "/" + h.name
        }
    }
}
