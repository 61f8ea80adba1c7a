import Foundation
import VaultCore
import VaultRepository
import VaultStorage

/// Moves the blobs of one snapshot that the target lacks, between repositories whose blob ids agree.
/// Each blob is opened with the source key, decompressed when stored compressed, its id recomputed
/// from the plaintext and compared, then its stored form (the same zstd frame) sealed under the
/// target key. Packs are read in one piece each, several at a time.
struct BlobCopier {
    let source: Repository
    let writer: BlobWriter
    let progress: (@Sendable (CopyProgress) -> Void)?
    let base: CopyProgress

    func copy(root: ID) throws {
        var needed: [ID: BlobLocation] = [:]
        var seenTrees: Set<ID> = []
        var stack = [root]
        while let tree = stack.popLast() {
            guard seenTrees.insert(tree).inserted else { continue }
            let plain = try source.loadBlob(tree)   // checks the id
            // Every tree is walked, even one the target has: an interrupted copy may have indexed a
            // tree whose blobs are in packs it never indexed, so presence of a tree proves nothing.
            if !writer.isKnown(tree) { _ = try plain.withUnsafeBytes { try writer.save(.tree, $0, id: tree) } }
            for node in try Tree.decode(plain).nodes {
                if let sub = node.subtree { stack.append(sub) }
                for blob in node.content where needed[blob] == nil && !writer.isKnown(blob) {
                    guard let loc = source.lookup(blob) ?? locateUnindexed(blob) else {
                        throw VaultError(.damaged, "blob \(blob.short) of the source is missing: run `sitevault check` on the source " +
                                         "repository; nothing of this snapshot was committed", context: ["blob": blob.hex])
                    }
                    needed[blob] = loc
                }
            }
        }
        try copyData(needed)
    }

    private func locateUnindexed(_ id: ID) -> BlobLocation? {
        _ = try? source.scanUnindexedPacks()
        return source.lookup(id)
    }

    /// Copies the blobs pack by pack: one read per pack covering the blobs needed from it.
    private func copyData(_ needed: [ID: BlobLocation]) throws {
        var byPack: [ID: [PackEntry]] = [:]
        for loc in needed.values { byPack[loc.pack, default: []].append(loc.entry) }
        let packs = byPack.map { ($0.key, $0.value.sorted { $0.offset < $1.offset }) }.sorted { $0.0 < $1.0 }
        let state = CopyState(base: base, total: needed.count)
        let workers = max(1, min(ProcessInfo.processInfo.activeProcessorCount, 4))
        let next = Counter()
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            while state.failure == nil, let i = next.take(below: packs.count) {
                do { try copyPack(packs[i].0, packs[i].1, state: state) } catch { state.fail(error) }
            }
        }
        if let failure = state.failure { throw failure }
    }

    private func copyPack(_ pack: ID, _ entries: [PackEntry], state: CopyState) throws {
        let start = Int(entries[0].offset)
        let end = entries.map { Int($0.offset) + Int($0.length) }.max()!
        let bytes = try source.store.load(Handle(.data, pack.hex), offset: start, length: end - start)
        guard bytes.count == end - start else {
            throw VaultError(.corrupt, "pack \(pack.short) of the source is truncated", context: ["pack": pack.hex])
        }
        for e in entries {
            let what = "blob \(e.id.short) in pack \(pack.short) of the source"
            let stored = try bytes.withUnsafeBytes { all in
                try source.key.open(UnsafeRawBufferPointer(rebasing: all[(Int(e.offset) - start)..<(Int(e.offset) - start + Int(e.length))]),
                                    what: what)
            }
            try stored.withUnsafeBytes { s in
                let plain = e.compressed ? try source.compressor.decompress(s, rawLength: Int(e.rawLength), what: what) : nil
                let id = plain.map { source.key.blobID($0) } ?? source.key.blobID(s)
                guard id == e.id else {
                    throw VaultError(.corrupt, "\(what) does not match its id: run `sitevault check --read-data` on the source",
                                     context: ["blob": e.id.hex, "pack": pack.hex])
                }
                try writer.saveStored(e.type, id: e.id, stored: s, rawLength: Int(e.rawLength), compressed: e.compressed)
            }
            state.done(bytes: UInt64(e.rawLength), progress: progress)
        }
    }
}
