import VaultCore
import VaultRepository
import VaultStorage

/// What `repair index` did (or would do with `dryRun`).
public struct IndexRepairReport: Codable, Sendable {
    public struct Pack: Codable, Sendable {
        public var file: String
        public var message: String
    }
    public var packsRead = 0
    public var blobsIndexed = 0
    /// Packs whose header cannot be read but which a readable old index file described: their old
    /// entries are carried into the new index (nothing readable is dropped).
    public var packsKeptFromOldIndex: [Pack] = []
    /// Packs whose header cannot be read and which no readable index file describes: left on disk,
    /// not indexed (prune keeps them; their blobs are reported missing by check).
    public var packsUnreadable: [Pack] = []
    /// Old index files that could not be read.
    public var damagedIndexFiles: [String] = []
    /// Old index entries naming packs that no longer exist (dropped).
    public var missingPacksDropped = 0
    public var indexFilesWritten: [String] = []
    public var indexFilesRemoved: [String] = []
    public var dryRun = false
}

/// Rebuilds the index from the pack headers, like restic's `repair index`: every pack's header is
/// read, new index files are written (each durable before `save` returns), and only then are the
/// old index files removed. A crash at any point leaves every blob indexed at least once.
/// The caller holds an exclusive lock; given as `lock`, it is confirmed before old files are removed.
public struct IndexRepairer: Sendable {
    let repository: Repository
    let lock: RepositoryLock?
    /// New index files hold about this many entries (a pack is never split).
    public var entriesPerFile = 50_000

    public init(repository: Repository, lock: RepositoryLock? = nil) {
        self.repository = repository; self.lock = lock
    }

    /// Throws on a storage failure; the old index files are then all still there.
    public func run(dryRun: Bool) throws -> IndexRepairReport {
        var report = IndexRepairReport()
        report.dryRun = dryRun
        let store = repository.store
        let oldFiles = try store.list(.index).map(\.name).sorted()
        var oldEntries: [ID: [PackEntry]] = [:]
        for name in oldFiles {
            do {
                for (pack, entries) in try IndexFormat.decode(try repository.loadSealed(.index, name), name: name) {
                    oldEntries[pack, default: []] += entries
                }
            } catch {
                report.damagedIndexFiles.append("index/\(name)")
            }
        }
        var packs: [(ID, [PackEntry])] = []
        var stored = Set<ID>()
        for (name, size) in try store.list(.data).sorted(by: { $0.name < $1.name }) {
            guard let pack = ID(hex: name), pack.hex == name else { continue }
            stored.insert(pack)
            let file = "data/\(name.prefix(2))/\(name)"
            do {
                let header = try repository.readPackHeader(pack, size: size)
                packs.append((pack, header))
                report.packsRead += 1
            } catch {
                let msg = (error as? VaultError)?.message ?? "\(error)"
                if let old = oldEntries[pack] {
                    packs.append((pack, unique(old)))
                    report.packsKeptFromOldIndex.append(.init(file: file, message: msg))
                } else {
                    report.packsUnreadable.append(.init(file: file, message: msg))
                }
            }
        }
        report.missingPacksDropped = oldEntries.keys.filter { !stored.contains($0) }.count
        report.blobsIndexed = packs.reduce(0) { $0 + $1.1.count }
        if dryRun { return report }

        var written = Set<String>()
        var batch: [(ID, [PackEntry])] = []
        var count = 0
        for p in packs {
            batch.append(p); count += p.1.count
            if count >= entriesPerFile {
                written.insert(try repository.saveSealed(.index, IndexFormat.encode(batch)).hex); batch = []; count = 0
            }
        }
        if !batch.isEmpty { written.insert(try repository.saveSealed(.index, IndexFormat.encode(batch)).hex) }
        report.indexFilesWritten = written.sorted()
        try lock?.ensureHeld()
        for name in oldFiles where !written.contains(name) {
            try store.remove(Handle(.index, name))
            report.indexFilesRemoved.append(name)
        }
        try repository.loadIndex()
        return report
    }

    /// One entry per blob id (a pack listed in several old index files).
    func unique(_ entries: [PackEntry]) -> [PackEntry] {
        var seen = Set<ID>()
        return entries.filter { seen.insert($0.id).inserted }.sorted { $0.offset < $1.offset }
    }
}
