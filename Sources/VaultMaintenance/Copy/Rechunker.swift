import VaultCore
import VaultRepository

/// Copies one snapshot's trees into a repository that cuts files differently: each file's content is
/// read from the source (every blob checked against its id) and chunked again by the target's
/// chunker; each tree is rewritten with the new content ids and saved. Returns the new root tree.
final class Rechunker {
    let source: Repository
    let writer: BlobWriter
    let progress: (@Sendable (CopyProgress) -> Void)?
    private var current: CopyProgress
    /// Source tree → target tree, and source content list → target content list, within this run.
    private var trees: [ID: ID] = [:]
    private var contents: [[ID]: [ID]] = [:]

    init(source: Repository, writer: BlobWriter, progress: (@Sendable (CopyProgress) -> Void)?, base: CopyProgress) {
        self.source = source; self.writer = writer; self.progress = progress; current = base
    }

    func copy(root: ID) throws -> ID { try copyTree(root) }

    private func copyTree(_ id: ID) throws -> ID {
        if let done = trees[id] { return done }
        var tree = try source.loadTree(id)
        for i in tree.nodes.indices {
            if let sub = tree.nodes[i].subtree { tree.nodes[i].subtree = try copyTree(sub) }
            if !tree.nodes[i].content.isEmpty { tree.nodes[i].content = try copyContent(tree.nodes[i].content) }
        }
        let new = try writer.save(.tree, tree.encode()).id
        trees[id] = new
        return new
    }

    /// Streams a file's blobs through the target chunker, keeping at most about two maximum chunks.
    private func copyContent(_ blobs: [ID]) throws -> [ID] {
        if let done = contents[blobs] { return done }
        let chunker = writer.repository.chunker
        let maxSize = chunker.params.maxSize
        var buffer: [UInt8] = []
        var start = 0
        var out: [ID] = []
        func cutAll(atEnd: Bool) throws {
            while buffer.count - start >= (atEnd ? 1 : maxSize) {
                let n = buffer.withUnsafeBytes { b in chunker.cut(UnsafeRawBufferPointer(rebasing: b[start...])) }
                try buffer.withUnsafeBytes { b in
                    out.append(try writer.save(.data, UnsafeRawBufferPointer(rebasing: b[start..<(start + n)])).id)
                }
                start += n
            }
            if start > 0 { buffer.removeFirst(start); start = 0 }
        }
        for blob in blobs {
            let plain = try source.loadBlob(blob)   // checks the id
            buffer += plain
            try cutAll(atEnd: false)
            current.blobsDone += 1; current.bytesDone += UInt64(plain.count)
            progress?(current)
        }
        try cutAll(atEnd: true)
        contents[blobs] = out
        return out
    }
}
