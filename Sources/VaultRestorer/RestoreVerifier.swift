#if canImport(Glibc)
import Glibc
#endif
import VaultCore
import VaultFileSystem
import VaultRepository

/// Reads back what a restore wrote and compares it with the snapshot: every file's bytes, cut
/// where the snapshot's chunks end, must hash to the snapshot's blob ids; sizes, types and
/// symlink targets must match. Finds what the restore's own checks cannot: a disk that lost or
/// changed what was written.
public struct RestoreVerifier: Sendable {
    public struct Result: Sendable {
        public var files = 0
        public var bytes: UInt64 = 0
        /// "path: what differs", at most 100.
        public var mismatches: [String] = []
        public var mismatchCount = 0
    }

    let repository: Repository
    public init(repository: Repository) { self.repository = repository }

    /// Compares the restored copy at `dir` with `tree` (the folder the restore started from).
    /// Streams like the restore: files are read back as the tree is walked, at most `concurrency`
    /// at a time, so memory does not grow with the number of files.
    public func verify(tree: ID, at dir: FilePath, concurrency: Int = 2) async throws -> Result {
        var result = Result()
        try await withThrowingTaskGroup(of: Result.self) { group in
            var inFlight = 0
            try await walk(tree, dir, &result, group: &group, inFlight: &inFlight, limit: max(1, concurrency))
            while let r = try await group.next() { merge(r, into: &result) }
        }
        return result
    }

    func merge(_ r: Result, into result: inout Result) {
        result.files += r.files; result.bytes += r.bytes; result.mismatchCount += r.mismatchCount
        result.mismatches += r.mismatches.prefix(max(0, 100 - result.mismatches.count))
    }

    func walk(_ treeID: ID, _ dir: FilePath, _ result: inout Result, group: inout ThrowingTaskGroup<Result, Error>,
              inFlight: inout Int, limit: Int) async throws {
        for node in try repository.loadTree(treeID).nodes where node.hasSafeName {
            let path = dir.appending(node.name)
            var st = stat()
            guard path.withCString({ lstat($0, &st) }) == 0 else {
                note(&result, "\(path): missing from the restored copy"); continue
            }
            let kind = st.st_mode & S_IFMT
            switch node.type {
            case .directory:
                guard kind == S_IFDIR else { note(&result, "\(path): a folder in the snapshot, not one on disk"); continue }
                if let sub = node.subtree { try await walk(sub, path, &result, group: &group, inFlight: &inFlight, limit: limit) }
            case .file:
                guard kind == S_IFREG else { note(&result, "\(path): a file in the snapshot, not one on disk"); continue }
                if inFlight >= limit, let r = try await group.next() { merge(r, into: &result); inFlight -= 1 }
                inFlight += 1
                group.addTask { self.verifyFile(path, node) }
            case .symlink:
                guard kind == S_IFLNK, (try? FileSystem.readLink(path)) == node.linkTarget else {
                    note(&result, "\(path): symlink target differs from the snapshot"); continue
                }
                result.files += 1
            default:
                result.files += 1
            }
        }
    }

    func note(_ r: inout Result, _ s: String) {
        r.mismatchCount += 1
        if r.mismatches.count < 100 { r.mismatches.append(s) }
    }

    func verifyFile(_ path: FilePath, _ node: Node) -> Result {
        var r = Result()
        let fd = path.withCString { open($0, O_RDONLY | O_NOFOLLOW | O_CLOEXEC) }
        guard fd >= 0 else { note(&r, "\(path): cannot be read back (\(String(cString: strerror(errno))))"); return r }
        defer { close(fd) }
        var buf = [UInt8](repeating: 0, count: 1 << 20)
        var offset: UInt64 = 0
        for id in node.content {
            guard let loc = repository.lookup(id) else { note(&r, "\(path): blob \(id.short) is missing from the index"); return r }
            let length = Int(loc.entry.rawLength)
            if buf.count < length { buf = [UInt8](repeating: 0, count: length) }
            var got = 0
            while got < length {
                let n = buf.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + got, length - got, off_t(offset) + off_t(got)) }
                if n < 0 { if errno == EINTR { continue }; break }
                if n == 0 { break }
                got += n
            }
            guard got == length, buf.withUnsafeBytes({ repository.key.blobID(UnsafeRawBufferPointer(rebasing: $0[0..<length])) }) == id else {
                note(&r, "\(path): content differs from the snapshot in bytes \(offset)–\(offset + UInt64(length))")
                return r
            }
            offset += UInt64(length)
        }
        var st = stat()
        if fstat(fd, &st) == 0 && UInt64(st.st_size) != offset {
            note(&r, "\(path): \(st.st_size) bytes on disk, \(offset) in the snapshot"); return r
        }
        r.files = 1; r.bytes = offset
        return r
    }
}
