import Foundation
import VaultCore
import VaultCrypto
import VaultStorage

/// An open repository: the store, the unlocked master key and (once loaded) the index.
/// Reading is safe from many threads; writing goes through a `BlobWriter` session.
public final class Repository: @unchecked Sendable {
    // @unchecked: `index` is replaced only by loadIndex()/addToIndex() under `mutex`.
    public let store: BlobStore
    public let key: MasterKey
    public let config: RepositoryConfig
    public let keyName: String
    public let clock: VaultClock
    public let compressor = Compressor()
    /// Cuts files (`ChunkerParameters.data`).
    public let chunker: Chunker
    /// Cuts database dumps and copies (`ChunkerParameters.database`, same secret gear table).
    public let databaseChunker: Chunker
    let mutex = Mutex()
    private var _index = MasterIndex()
    private var _damagedIndex: [DamagedIndexFile] = []
    /// The packs found outside every readable index, once their headers were read (nil: not yet).
    var unindexedScan: UnindexedScan?
    let scanMutex = Mutex()
    private var warningHandler: (@Sendable (String) -> Void)?
    private var warned = Set<String>()

    public var index: MasterIndex { mutex.withLock { _index } }

    /// The chunker for `chunking`.
    public func chunker(for chunking: Chunking) -> Chunker {
        chunking == .database ? databaseChunker : chunker
    }

    /// Receives each warning once (a damaged index file, packs found outside the index): the
    /// executable prints them, services record them.
    public func setWarningHandler(_ handler: @escaping @Sendable (String) -> Void) {
        mutex.withLock { warningHandler = handler }
    }

    /// Passes `text` to the warning handler unless it was already passed.
    public func warn(_ text: String) {
        let handler = mutex.withLock { warned.insert(text).inserted ? warningHandler : nil }
        handler?(text)
    }

    /// Adds entries read from a pack header to the in-memory index (no index file is written).
    func addUnindexed(_ packs: [(ID, [PackEntry])]) {
        mutex.withLock { for (pack, entries) in packs { _index.add(pack: pack, entries: entries) } }
    }

    init(store: BlobStore, key: MasterKey, config: RepositoryConfig, keyName: String, clock: VaultClock) {
        self.store = store; self.key = key; self.config = config; self.keyName = keyName; self.clock = clock
        self.chunker = Chunker(seed: key.chunkerSeed)
        self.databaseChunker = Chunker(seed: key.chunkerSeed, params: .database)
    }

    /// Creates a new repository in `store` with one key for `password`; `extraKinds` are kinds of
    /// files a higher layer keeps in the repository (the site layer's logs), prepared with the others.
    /// `master` defaults to fresh random keys; `init --copy-chunker-params` passes another
    /// repository's key with a new encryption key.
    public static func initialize(store: BlobStore, password: [UInt8], kdf: KDFParameters = .standard(),
                                  clock: VaultClock, hostname: String, username: String,
                                  extraKinds: [FileKind] = [], master: MasterKey = .random()) throws -> Repository {
        guard !password.isEmpty else { throw VaultError(.invalidArgument, "an empty password is not allowed") }
        try store.createLayout(kinds: FileKind.repositoryKinds + extraKinds)
        let now = clock.now()
        let keyFile = try KeyFile.create(master: master, password: password, kdf: kdf, created: now, hostname: hostname, username: username)
        let keyBytes = try JSONEncoder().encode(keyFile)
        let keyName = sha256ID(Array(keyBytes)).hex
        try store.save(Handle(.keys, keyName), bytes: Array(keyBytes))
        let config = RepositoryConfig.make(key: master, created: now)
        let enc = JSONEncoder(); enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        // Created only if absent: of two `init`s racing on one location, one wins, the other is refused.
        guard try store.createIfAbsent(Handle(.config, ""), bytes: Array(try enc.encode(config))) else {
            throw VaultError(.repositoryExists, "a repository was created at \(store.location) meanwhile")
        }
        return Repository(store: store, key: master, config: config, keyName: keyName, clock: clock)
    }

    /// Opens a repository: checks the format version, then tries the password on every key file.
    /// Throws `.repositoryNotFound`, `.unsupportedVersion` or `.wrongPassword`.
    public static func open(store: BlobStore, password: [UInt8], clock: VaultClock) throws -> Repository {
        try open(store: store, config: try readConfig(store), password: password, clock: clock)
    }

    /// Reads and checks `config` without any key: callers use it to refuse a missing repository
    /// or an unknown format version before asking for a password.
    public static func readConfig(_ store: BlobStore) throws -> RepositoryConfig {
        let configBytes: [UInt8]
        do { configBytes = try store.load(Handle(.config, "")) } catch let e as VaultError where e.code == .notFound {
            throw VaultError(.repositoryNotFound, "no repository at \(store.location): create one with `sitevault init` or check --repo / SITEVAULT_REPOSITORY")
        }
        return try RepositoryConfig.parse(configBytes, location: store.location)
    }

    public static func open(store: BlobStore, config: RepositoryConfig, password: [UInt8], clock: VaultClock) throws -> Repository {
        let keys = try store.list(.keys).map(\.name).sorted()
        guard !keys.isEmpty else { throw VaultError(.corrupt, "\(store.location) has no key files: the repository cannot be opened") }
        // A key that fails for another reason (damaged, unknown KDF, a key left by an interrupted
        // init that wraps another master key) does not stop the search; it is reported if no key opens.
        var otherFailure: VaultError?
        for name in keys {
            do {
                let kf = try JSONDecoder().decode(KeyFile.self, from: Data(try store.load(Handle(.keys, name))))
                let master = try kf.unlock(password: password)
                try config.verify(key: master, location: store.location)
                return Repository(store: store, key: master, config: config, keyName: name, clock: clock)
            } catch let e as VaultError {
                if e.code != .wrongPassword { otherFailure = VaultError(e.code, "key file keys/\(name.prefix(8)): \(e.message)") }
            } catch {
                otherFailure = VaultError(.corrupt, "key file keys/\(name.prefix(8)) cannot be read", cause: error)
            }
        }
        if let otherFailure, otherFailure.code != .corrupt || keys.count == 1 { throw otherFailure }
        throw VaultError(.wrongPassword, "wrong password: no key of \(store.location) opens with it")
    }

    // MARK: sealed files

    /// Seals `plaintext` and stores it under the SHA-256 of the sealed bytes; returns that id.
    @discardableResult
    public func saveSealed(_ kind: FileKind, _ plaintext: [UInt8]) throws -> ID {
        let sealed = try key.seal(plaintext)
        let id = sha256ID(sealed)
        try store.save(Handle(kind, id.hex), bytes: sealed)
        return id
    }

    /// Loads and opens a sealed file, checking that its content matches its name.
    public func loadSealed(_ kind: FileKind, _ name: String) throws -> [UInt8] {
        let sealed = try store.load(Handle(kind, name))
        if kind != .locks {
            guard let want = ID(hex: name), want.hex == name else {
                throw VaultError(.corrupt, "\(kind.rawValue)/\(name) is not a valid file name for a repository file", context: ["file": "\(kind.rawValue)/\(name)"])
            }
            guard sha256ID(sealed) == want else {
                throw VaultError(.corrupt, "\(kind.rawValue)/\(name) is damaged: its content does not match its name", context: ["file": "\(kind.rawValue)/\(name)"])
            }
        }
        return try key.open(sealed, what: "\(kind.rawValue)/\(name)")
    }

    // MARK: index

    /// Loads every readable index file into memory. A damaged index file does not stop loading:
    /// it is recorded in `damagedIndexFiles` and reported once through the warning handler, and the
    /// packs it described are found again by reading their headers when a blob is not indexed
    /// (`findUnindexed`). Throws only when the `index/` folder cannot be listed.
    public func loadIndex() throws {
        var idx = MasterIndex()
        var damaged: [DamagedIndexFile] = []
        for (name, _) in try store.list(.index) {
            do {
                let plain = try loadSealed(.index, name)
                for (pack, entries) in try IndexFormat.decode(plain, name: name) { idx.add(pack: pack, entries: entries) }
                idx.files.insert(name)
            } catch {
                damaged.append(DamagedIndexFile(name: name, error: error))
            }
        }
        mutex.withLock { _index = idx; _damagedIndex = damaged; unindexedScan = nil }
        for d in damaged { warn(d.warning) }
    }

    /// Loads index files written since the index was loaded (by a backup that committed meanwhile).
    /// Returns true when something new was found. Damaged new files are recorded, not thrown.
    @discardableResult
    public func refreshIndex() throws -> Bool {
        let known = mutex.withLock { _index.files.union(_damagedIndex.map(\.name)) }
        let fresh = try store.list(.index).map(\.name).filter { !known.contains($0) }
        guard !fresh.isEmpty else { return false }
        var loaded: [(String, [(ID, [PackEntry])])] = []
        var damaged: [DamagedIndexFile] = []
        for name in fresh {
            do { loaded.append((name, try IndexFormat.decode(try loadSealed(.index, name), name: name))) } catch {
                damaged.append(DamagedIndexFile(name: name, error: error))
            }
        }
        mutex.withLock {
            for (name, packs) in loaded {
                for (pack, entries) in packs { _index.add(pack: pack, entries: entries) }
                _index.files.insert(name)
            }
            _damagedIndex += damaged
            if !damaged.isEmpty { unindexedScan = nil }
        }
        for d in damaged { warn(d.warning) }
        return !loaded.isEmpty
    }

    /// Index files that could not be read at the last `loadIndex`/`refreshIndex`.
    public var damagedIndexFiles: [DamagedIndexFile] { mutex.withLock { _damagedIndex } }

    /// Adds freshly written packs to the in-memory index (their index file is written by the writer).
    func addToIndex(pack: ID, entries: [PackEntry]) {
        mutex.withLock { _index.add(pack: pack, entries: entries) }
    }

    /// Where a blob is, looking further than the loaded index: a snapshot listed after our index
    /// was loaded may use blobs of a newer index file; a blob whose index file is damaged or lost
    /// is found by reading the headers of unindexed packs. Nil when it is nowhere.
    public func locate(_ id: ID) -> BlobLocation? {
        lookup(id) ?? ((try? refreshIndex()) == true ? lookup(id) : nil) ?? findUnindexed(id)
    }

    public func hasBlob(_ id: ID) -> Bool { mutex.withLock { _index.contains(id) } }
    public func lookup(_ id: ID) -> BlobLocation? { mutex.withLock { _index.lookup(id) } }

    // MARK: blobs

    /// Loads, authenticates, decompresses a blob and checks its id.
    public func loadBlob(_ id: ID) throws -> [UInt8] {
        guard let loc = locate(id) else {
            throw VaultError(.damaged, "blob \(id.short) is missing: it is in no index and in no pack header (run `sitevault check`)",
                             context: ["blob": id.hex])
        }
        let sealed = try store.load(Handle(.data, loc.pack.hex), offset: Int(loc.entry.offset), length: Int(loc.entry.length))
        return try decodeBlob(sealed, entry: loc.entry, pack: loc.pack)
    }

    /// Opens a sealed blob read from `pack` and verifies it against `entry`.
    public func decodeBlob(_ sealed: [UInt8], entry: PackEntry, pack: ID) throws -> [UInt8] {
        try sealed.withUnsafeBytes { try decodeBlob($0, entry: entry, pack: pack) }
    }

    /// The same for sealed bytes inside a larger buffer (a run of a pack): no copy of them is made.
    public func decodeBlob(_ sealed: UnsafeRawBufferPointer, entry: PackEntry, pack: ID) throws -> [UInt8] {
        let what = "blob \(entry.id.short) in pack \(pack.short)"
        let opened = try key.open(sealed, what: what)
        let plain = entry.compressed ? try opened.withUnsafeBytes { try compressor.decompress($0, rawLength: Int(entry.rawLength), what: what) } : opened
        guard key.blobID(plain) == entry.id else {
            throw VaultError(.corrupt, "\(what) does not match its id", context: ["blob": entry.id.hex, "pack": pack.hex])
        }
        return plain
    }

    public func loadTree(_ id: ID) throws -> Tree {
        try Tree.decode(try loadBlob(id))
    }

    // MARK: snapshots

    public func saveSnapshot(_ s: Snapshot) throws -> ID {
        let enc = JSONEncoder(); enc.outputFormatting = [.sortedKeys]
        return try saveSealed(.snapshots, Array(try enc.encode(s)))
    }

    public func loadSnapshot(_ id: ID) throws -> Snapshot {
        let plain = try loadSealed(.snapshots, id.hex)
        let s: Snapshot
        do { s = try JSONDecoder().decode(Snapshot.self, from: Data(plain)) } catch {
            throw VaultError(.corrupt, "snapshot \(id.short) cannot be decoded", cause: error)
        }
        guard s.version == 1 else {
            throw VaultError(.unsupportedVersion, "snapshot \(id.short) has format version \(s.version); this sitevault reads version 1 — use a newer sitevault")
        }
        return s
    }

    /// All readable snapshots, oldest first. A damaged snapshot file is skipped (and named in
    /// `damaged`), so it never blocks new backups or listings; `check` reports it and prune refuses
    /// to run while one exists (see `snapshots(strict:)`).
    public func snapshots() throws -> [(id: ID, snapshot: Snapshot)] {
        try listSnapshots().good
    }

    /// Every snapshot, or an error at the first damaged snapshot file.
    public func snapshots(strict: Bool) throws -> [(id: ID, snapshot: Snapshot)] {
        let all = try listSnapshots()
        if strict, let bad = all.damaged.first { throw bad.error }
        return all.good
    }

    public func listSnapshots() throws -> (good: [(id: ID, snapshot: Snapshot)], damaged: [(name: String, error: VaultError)]) {
        var out: [(ID, Snapshot)] = []
        var damaged: [(String, VaultError)] = []
        for (name, _) in try store.list(.snapshots) {
            guard let id = ID(hex: name), id.hex == name else {
                damaged.append((name, VaultError(.corrupt, "snapshots/\(name) is not a valid snapshot file name"))); continue
            }
            do { out.append((id, try loadSnapshot(id))) } catch let e as VaultError {
                damaged.append((name, VaultError(e.code, "snapshots/\(name): \(e.message)")))
            }
        }
        return (out.sorted { ($0.1.time, $0.0) < ($1.1.time, $1.0) }, damaged.sorted { $0.0 < $1.0 })
    }

    /// Finds a snapshot by "latest", a full id or a unique hex prefix.
    public func findSnapshot(_ ref: String, host: String? = nil, paths: [String]? = nil) throws -> (id: ID, snapshot: Snapshot) {
        if ref == "latest" {
            let all = try snapshots().filter { s in (host == nil || s.snapshot.hostname == host) && (paths == nil || s.snapshot.paths == paths!) }
            guard let last = all.last else { throw VaultError(.notFound, "the repository has no snapshot yet") }
            return last
        }
        let names = try store.list(.snapshots).map(\.name).filter { $0.hasPrefix(ref.lowercased()) }
        guard !ref.isEmpty, names.count == 1, let id = ID(hex: names[0]) else {
            if names.count > 1 { throw VaultError(.invalidArgument, "snapshot prefix \(ref) is ambiguous: give more digits") }
            throw VaultError(.notFound, "no snapshot \(ref) in the repository (see `sitevault snapshots`)")
        }
        return (id, try loadSnapshot(id))
    }

    public func removeSnapshot(_ id: ID) throws {
        try store.remove(Handle(.snapshots, id.hex))
    }

    // MARK: keys

    public func listKeys() throws -> [(name: String, key: KeyFile)] {
        try store.list(.keys).map { ($0.name, try JSONDecoder().decode(KeyFile.self, from: Data(try store.load(Handle(.keys, $0.name))))) }
    }

    /// Adds a key file for another password; returns its name.
    public func addKey(password: [UInt8], kdf: KDFParameters = .standard(), hostname: String, username: String) throws -> String {
        guard !password.isEmpty else { throw VaultError(.invalidArgument, "an empty password is not allowed") }
        let kf = try KeyFile.create(master: key, password: password, kdf: kdf, created: clock.now(), hostname: hostname, username: username)
        let bytes = Array(try JSONEncoder().encode(kf))
        let name = sha256ID(bytes).hex
        try store.save(Handle(.keys, name), bytes: bytes)
        return name
    }

    /// Removes a key; refuses to remove the key in use or the last key.
    public func removeKey(_ prefix: String) throws -> String {
        let names = try store.list(.keys).map(\.name).filter { $0.hasPrefix(prefix) }
        guard names.count == 1 else { throw VaultError(.notFound, names.isEmpty ? "no key \(prefix)" : "key prefix \(prefix) is ambiguous") }
        guard names[0] != keyName else { throw VaultError(.invalidArgument, "refusing to remove the key you opened the repository with; open it with another password first") }
        try store.remove(Handle(.keys, names[0]))
        return names[0]
    }
}
