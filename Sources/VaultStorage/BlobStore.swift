import VaultCore

/// The kinds of files a repository stores; each kind lives in its own folder.
public enum FileKind: String, CaseIterable, Sendable {
    case config, keys, snapshots, index, data, locks
    /// Plain-text run logs of site backups, readable by the operator (mode 0600 like everything else).
    case logs
}

/// Names one stored file.
public struct Handle: Hashable, Sendable, CustomStringConvertible {
    public var kind: FileKind
    public var name: String
    public init(_ kind: FileKind, _ name: String) { self.kind = kind; self.name = name }
    public var description: String { kind == .config ? "config" : "\(kind.rawValue)/\(name)" }
}

/// Where a repository's files live. The contract every implementation keeps:
/// - `save` is atomic and durable: when it returns, the whole file is on stable storage under its
///   name, and a crash at any moment leaves either no file or the complete file, never a part.
///   Saving a name that exists replaces it atomically.
/// - reads see every completed `save` (read-after-write).
/// - `load` of a missing file throws `VaultError` with code `.notFound`; a full device throws `.noSpace`.
/// - `remove` of a missing file is not an error (removal may be repeated safely).
/// - `list` never returns temporary files of unfinished saves.
public protocol BlobStore: Sendable {
    /// A human description of where the store is (a path or URL), for messages.
    var location: String { get }
    func save(_ handle: Handle, bytes: UnsafeRawBufferPointer) throws
    func load(_ handle: Handle) throws -> [UInt8]
    /// Reads `length` bytes at `offset`; throws `.corrupt` if the file is shorter.
    func load(_ handle: Handle, offset: Int, length: Int) throws -> [UInt8]
    func size(_ handle: Handle) throws -> Int
    func list(_ kind: FileKind) throws -> [(name: String, size: Int)]
    func remove(_ handle: Handle) throws
    func exists(_ handle: Handle) throws -> Bool
    /// Starts a file whose name is known only once it is complete (a pack). Nothing is visible
    /// under any name until `PendingFile.commit(as:)` returns.
    func createPending(_ kind: FileKind) throws -> PendingFile
}

/// A file being written piece by piece, invisible to `list` until committed.
public protocol PendingFile: AnyObject, Sendable {
    /// Bytes appended so far.
    var size: Int { get }
    func append(_ bytes: UnsafeRawBufferPointer) throws
    /// Makes the file durable and visible under `handle`, atomically (same contract as `save`).
    func commit(as handle: Handle) throws
    /// Deletes the unfinished file. Safe to call after a failure and more than once.
    func discard()
}

extension BlobStore {
    public func save(_ handle: Handle, bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try save(handle, bytes: $0) }
    }
}
