import Foundation
import VaultCore
import VaultCrypto
import VaultRepository
import VaultStorage

/// One problem found by check, naming the file concerned.
public struct CheckProblem: Codable, Sendable {
    public var kind: String
    public var file: String
    public var message: String
}

/// The outcome of `check`: problems (damage), warnings (harmless leftovers), and the snapshots
/// whose data is affected by the damage.
public struct CheckReport: Codable, Sendable {
    public var problems: [CheckProblem] = []
    public var warnings: [CheckProblem] = []
    public var affectedSnapshots: [String] = []
    public var snapshotsChecked = 0
    public var treesChecked = 0
    public var packsChecked = 0
    public var blobsRead = 0
    public var bytesRead: UInt64 = 0
    public var readData = false
    public var ok: Bool { problems.isEmpty }
}

/// Verifies a repository: index files, pack headers against the index, every snapshot's trees
/// and, with `readData`, every byte of every pack (hash, authentication, blob ids).
public struct Checker: Sendable {
    let repository: Repository
    public init(repository: Repository) { self.repository = repository }

    public func run(readData: Bool, progress: (@Sendable (Int, Int) -> Void)? = nil) throws -> CheckReport {
        var report = CheckReport()
        report.readData = readData
        let store = repository.store
        // 0. Snapshots are listed before the index: a snapshot is saved only after its index, so
        //    a backup committing while check runs cannot look like damage.
        let snapshotNames = try store.list(.snapshots).map(\.name)
        // 1. Index files, one by one so a damaged one is named and the rest still used.
        var index = MasterIndex()
        for (name, _) in try store.list(.index) {
            do {
                let plain = try repository.loadSealed(.index, name)
                for (pack, entries) in try IndexFormat.decode(plain, name: name) { index.add(pack: pack, entries: entries) }
            } catch {
                report.problems.append(CheckProblem(kind: "index", file: "index/\(name)",
                                                    message: message(error) + "; run `sitevault repair index` to rebuild the index from the pack headers"))
            }
        }
        // 2. Packs: present, header readable and matching the index.
        let stored = Dictionary(try store.list(.data).map { ($0.name, $0.size) }, uniquingKeysWith: { a, _ in a })
        let byPack = index.entriesByPack()
        var damagedBlobs = Set<ID>()
        var damagedPacks = Set<ID>()
        func damage(_ pack: ID, _ kind: String, _ msg: String) {
            report.problems.append(CheckProblem(kind: kind, file: "data/\(pack.hex.prefix(2))/\(pack.hex)", message: msg))
            damagedPacks.insert(pack)
            for e in byPack[pack] ?? [] { damagedBlobs.insert(e.id) }
        }
        let packList = byPack.keys.sorted()
        // Headers are read `concurrentReads` at a time (one request each), then judged in order.
        let headers = inParallel(packList.filter { stored[$0.hex] != nil }) { pack in
            Result { try readHeader(pack, size: stored[pack.hex]!) }
        }
        for pack in packList {
            guard stored[pack.hex] != nil else { damage(pack, "pack-missing", "pack is missing"); continue }
            do {
                let header = try headers[pack]!.get()
                let listed = Set(header.map(\.id))
                let missing = (byPack[pack] ?? []).filter { !listed.contains($0.id) }
                if !missing.isEmpty { damage(pack, "pack-header", "pack header does not list \(missing.count) blob(s) the index places there") }
            } catch {
                damage(pack, "pack-header", message(error))
            }
            report.packsChecked += 1
        }
        // Packs in no readable index: their headers say which blobs they hold (a lost or damaged
        // index file must not make their blobs look missing, nor the packs look removable).
        var unindexed: [ID: [PackEntry]] = [:]
        let listedInIndex = Set(index.packs)   // includes packs all of whose blobs are indexed elsewhere too
        let strays = stored.keys.sorted().compactMap { name -> ID? in
            guard let pack = ID(hex: name), pack.hex == name, byPack[pack] == nil else { return nil }
            return pack
        }
        let strayHeaders = inParallel(strays) { pack in Result { try readHeader(pack, size: stored[pack.hex]!) } }
        for pack in strays {
            let name = pack.hex
            do { unindexed[pack] = try strayHeaders[pack]!.get() } catch {
                report.problems.append(CheckProblem(kind: "pack-header", file: "data/\(name.prefix(2))/\(name)",
                    message: (listedInIndex.contains(pack) ? "pack's header cannot be read" : "pack is in no index and its header cannot be read") +
                             " (\(message(error))); prune keeps it"))
            }
        }
        for (pack, entries) in unindexed.sorted(by: { $0.key < $1.key }) { index.add(pack: pack, entries: entries) }
        var usedUnindexed: [ID: Int] = [:]
        func note(_ blob: ID) {
            if let loc = index.lookup(blob), unindexed[loc.pack] != nil { usedUnindexed[loc.pack, default: 0] += 1 }
        }
        // 3. Every byte.
        if readData {
            let todo = packList.filter { !damagedPacks.contains($0) } + unindexed.keys.sorted()
            let results = ConcurrentResults<(ID, String?, [ID], Int, UInt64)>(count: todo.count)
            let work = todo.map { ($0, byPack[$0] ?? unindexed[$0] ?? []) }
            // Packs are verified by `concurrentReads` threads (a remote store's reads mostly wait
            // for the network; locally it is 2, as many as decoding needs here).
            Workers.each(work.count, threads: store.concurrentReads) { i in
                let (pack, entries) = work[i]
                results.set(i, verifyPack(pack, entries: entries))
                progress?(results.completed, todo.count)
            }
            for r in results.values {
                guard let (pack, err, bad, blobs, bytes) = r else { continue }
                report.blobsRead += blobs; report.bytesRead += bytes
                if let err {
                    report.problems.append(CheckProblem(kind: "pack-data", file: "data/\(pack.hex.prefix(2))/\(pack.hex)", message: err))
                    damagedBlobs.formUnion(bad)
                }
            }
        }
        // 4. Snapshots and their trees.
        var treeDamaged: [ID: Bool] = [:]
        var seenProblem = Set<ID>()
        func walk(_ tree: ID) -> Bool {
            if let known = treeDamaged[tree] { return known }
            treeDamaged[tree] = false
            note(tree)
            report.treesChecked += 1
            var bad = false
            if damagedBlobs.contains(tree) || index.lookup(tree) == nil {
                if seenProblem.insert(tree).inserted && index.lookup(tree) == nil {
                    report.problems.append(CheckProblem(kind: "tree-missing", file: "tree \(tree.hex)", message: "tree blob is not in any index"))
                }
                treeDamaged[tree] = true
                return true
            }
            let t: Tree
            do { t = try Tree.decode(try loadBlob(tree, index: index)) } catch {
                if seenProblem.insert(tree).inserted { report.problems.append(CheckProblem(kind: "tree", file: "tree \(tree.hex)", message: message(error))) }
                treeDamaged[tree] = true
                return true
            }
            for n in t.nodes {
                for c in n.content { note(c) }
                for c in n.content where damagedBlobs.contains(c) || index.lookup(c) == nil {
                    if index.lookup(c) == nil && seenProblem.insert(c).inserted {
                        report.problems.append(CheckProblem(kind: "blob-missing", file: "blob \(c.hex)", message: "data blob of \(n.displayName) is not in any index"))
                    }
                    bad = true
                }
                if let s = n.subtree, walk(s) { bad = true }
            }
            treeDamaged[tree] = bad
            return bad
        }
        for name in snapshotNames {
            guard let id = ID(hex: name) else {
                report.problems.append(CheckProblem(kind: "snapshot", file: "snapshots/\(name)", message: "not a valid snapshot file name"))
                continue
            }
            report.snapshotsChecked += 1
            do {
                let snap = try repository.loadSnapshot(id)
                guard let root = snap.treeID else { throw VaultError(.corrupt, "snapshot has no valid tree id") }
                if walk(root) { report.affectedSnapshots.append(name) }
            } catch {
                report.problems.append(CheckProblem(kind: "snapshot", file: "snapshots/\(name)", message: message(error)))
                report.affectedSnapshots.append(name)
            }
        }
        for (pack, entries) in unindexed.sorted(by: { $0.key < $1.key }) {
            let file = "data/\(pack.hex.prefix(2))/\(pack.hex)"
            if let used = usedUnindexed[pack] {
                report.problems.append(CheckProblem(kind: "pack-unindexed", file: file,
                    message: "pack is in no index but holds \(used) blob(s) that snapshots use (an index file was lost or damaged); " +
                             "run `sitevault repair index` to index it again — prune re-indexes it and never removes it"))
            } else if listedInIndex.contains(pack) {
                report.warnings.append(CheckProblem(kind: "pack-unreferenced", file: file,
                    message: "every blob of this pack is also indexed in another pack; prune removes it"))
            } else {
                report.warnings.append(CheckProblem(kind: "pack-unreferenced", file: file,
                    message: "pack is in no index and none of its \(entries.count) blob(s) is used by a snapshot " +
                             "(left by an interrupted backup); prune removes it"))
            }
        }
        report.affectedSnapshots.sort()
        return report
    }

    /// `body` of every item, run by `concurrentReads` threads; the results by item.
    func inParallel<T>(_ items: [ID], _ body: (ID) -> T) -> [ID: T] {
        let out = Locked([ID: T]())
        Workers.each(items.count, threads: repository.store.concurrentReads) { i in
            let r = body(items[i])
            out.withLock { $0[items[i]] = r }
        }
        return out.current
    }

    func message(_ e: Error) -> String { (e as? VaultError)?.message ?? "\(e)" }

    func loadBlob(_ id: ID, index: MasterIndex) throws -> [UInt8] {
        guard let loc = index.lookup(id) else { throw VaultError(.damaged, "blob \(id.short) is not indexed") }
        let sealed = try repository.store.load(Handle(.data, loc.pack.hex), offset: Int(loc.entry.offset), length: Int(loc.entry.length))
        return try repository.decodeBlob(sealed, entry: loc.entry, pack: loc.pack)
    }

    /// Reads and opens a pack's header, checked against its name and size.
    func readHeader(_ pack: ID, size: Int) throws -> [PackEntry] {
        try repository.readPackHeader(pack, size: size)
    }

    /// Reads every blob of a pack (whose header `readHeader` already verified against its name and
    /// size): each must authenticate and match its id. The pack is read in runs of blobs (one
    /// ranged read per run of at most 16 MiB), so memory does not grow with the pack size and a
    /// remote store gets few requests.
    func verifyPack(_ pack: ID, entries: [PackEntry]) -> (ID, String?, [ID], Int, UInt64) {
        var bad: [ID] = []
        var bytes: UInt64 = 0
        do {
            bytes = try PackRuns(for: repository.store).read(repository, pack: pack, entries: entries) { e, r in
                if case .failure = r { bad.append(e.id) }
            }
        } catch {
            bad = entries.map(\.id)
        }
        let problem = bad.isEmpty ? nil : "\(bad.count) blob(s) fail authentication or do not match their id"
        return (pack, problem, bad, entries.count, bytes)
    }
}

/// Results written by concurrent workers, one slot each.
final class ConcurrentResults<T>: @unchecked Sendable {
    // @unchecked: slots are written under `mutex`.
    private let mutex = Mutex()
    private var slots: [T?]
    private var _completed = 0
    init(count: Int) { slots = Array(repeating: nil, count: count) }
    func set(_ i: Int, _ v: T) { mutex.withLock { slots[i] = v; _completed += 1 } }
    var values: [T?] { mutex.withLock { slots } }
    var completed: Int { mutex.withLock { _completed } }
}
