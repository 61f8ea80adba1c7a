#if canImport(Glibc)
import Glibc
#endif
import VaultCore
import VaultFileSystem
import VaultRepository
import Dispatch

/// What reading one file gave: its chunks, the bytes they hold, and whether the file stayed the same
/// while it was read.
struct ReadFile {
    var ids: [ID]
    /// Bytes stored (the sum of the chunks' lengths): the node's size, whatever the file did meanwhile.
    var size: UInt64
    /// The file's metadata (fstat on the open file) just before the pass that was kept.
    var info: FileInfo
    /// Size, mtime or ctime changed during both passes (or fewer or more bytes than its size were read).
    var changed: Bool
}

/// Reads a file, cuts it into content-defined chunks and saves each new chunk.
enum FileReader {
    /// Reads a regular file, comparing its fstat before and after: a file that changed while read is
    /// read once more, and when it changed again the second pass is kept and reported as changed.
    /// `afterPass` (tests) runs after each pass, before the second fstat.
    static func read(_ path: FilePath, chunker: Chunker, writer: BlobWriter, progress: BackupProgress,
                     afterPass: ((String, Int) -> Void)? = nil) throws -> ReadFile {
        let fd = path.withCString { open($0, O_RDONLY | O_CLOEXEC | O_NOFOLLOW) }
        guard fd >= 0 else { throw SourceError(underlying: VaultError.posix("cannot open", path: path.description, errno: errno)) }
        defer { close(fd) }
        var source = FileSource(fd: fd, label: path.description, seekable: true)
        for pass in 1...2 {
            let before = try fileStat(fd, path)
            source.rewind()
            let ids = try chunks(source: &source, sizeHint: UInt64(before.st_size), chunker: chunker, writer: writer,
                                 progress: progress)
            afterPass?(path.description, pass)
            let b = FileInfo(before), a = FileInfo(try fileStat(fd, path))
            // Files that report no size (procfs, sysfs) are read to their end and not taken as changed for it.
            let sizeMatches = source.position == b.size || (b.size == 0 && a.size == 0)
            let stable = b.size == a.size && b.meta.mtime == a.meta.mtime && b.meta.ctime == a.meta.ctime && sizeMatches
            if stable || pass == 2 {
                return ReadFile(ids: ids, size: source.position, info: b, changed: !stable)
            }
        }
        fatalError("unreachable")
    }

    static func fileStat(_ fd: Int32, _ path: FilePath) throws -> stat {
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw SourceError(underlying: VaultError.posix("cannot stat", path: path.description, errno: errno)) }
        return st
    }

    /// Reads `fd` to its end (a pipe: the whole stream). With `workers` > 1 (streams), chunks are
    /// hashed, compressed and sealed on that many threads while this one keeps reading; ids stay in
    /// order, and at most 2 × workers chunks are in flight.
    static func chunks(fd: Int32, sizeHint: UInt64?, label: String, chunker: Chunker, writer: BlobWriter, progress: BackupProgress,
                       tap: ((UnsafeRawBufferPointer) -> Void)? = nil, workers: Int = 1) throws -> [ID] {
        var source = FileSource(fd: fd, label: label, seekable: false)
        return try chunks(source: &source, sizeHint: sizeHint, chunker: chunker, writer: writer, progress: progress, tap: tap, workers: workers)
    }

    /// Cuts what `source` gives into chunks and saves them. Small files are read in one buffer, big
    /// ones (and pipes) through a window of two maximum chunks. All-zero chunks (holes) are hashed
    /// once per length.
    static func chunks(source: inout FileSource, sizeHint: UInt64?, chunker: Chunker, writer: BlobWriter, progress: BackupProgress,
                       tap: ((UnsafeRawBufferPointer) -> Void)? = nil, workers: Int = 1) throws -> [ID] {
        let pool = workers > 1 ? SavePool(writer: writer, workers: workers) : nil
        let maxChunk = chunker.params.maxSize
        let size = sizeHint ?? UInt64.max
        var capacity = size < UInt64(maxChunk) ? max(Int(size) + 1, 1) : 2 * maxChunk
        var buf = UnsafeMutableRawBufferPointer.allocate(byteCount: capacity, alignment: 16)
        defer { buf.deallocate() }
        var ids: [ID] = []
        var zeroIDs: [Int: ID] = [:], zeroCuts: [Int: Int] = [:]
        var start = 0, filled = 0
        var eof = false
        while true {
            // Fill the window.
            while !eof && filled < capacity {
                let (n, hole) = try source.next(into: buf.baseAddress! + filled, count: capacity - filled)
                if n == 0 { eof = true; break }
                filled += n
                if hole { progress.skipped(UInt64(n)) } else { progress.read(UInt64(n)) }
                tap?(UnsafeRawBufferPointer(start: buf.baseAddress! + filled - n, count: n))
            }
            if start == filled && eof { break }
            let avail = UnsafeRawBufferPointer(rebasing: buf[start..<filled])
            if !eof && filled - start == capacity && capacity < 2 * maxChunk {
                // The file grew while being read: widen the window to the normal size.
                let bigger = UnsafeMutableRawBufferPointer.allocate(byteCount: 2 * maxChunk, alignment: 16)
                bigger.copyMemory(from: UnsafeRawBufferPointer(rebasing: buf[start..<filled]))
                buf.deallocate()
                buf = bigger; filled -= start; start = 0; capacity = 2 * maxChunk
                continue
            }
            if !eof && avail.count < maxChunk {
                // Slide the remaining bytes to the front and read more.
                memmove(buf.baseAddress!, buf.baseAddress! + start, filled - start)
                filled -= start; start = 0
                continue
            }
            // A cut depends only on the chunk's first `maxChunk` bytes: for zeros (holes) it is known.
            let head = UnsafeRawBufferPointer(rebasing: avail[0..<min(avail.count, maxChunk)])
            let zero = pool == nil && isAllZero(head)
            let cut: Int
            if zero, let known = zeroCuts[head.count] { cut = known } else { cut = chunker.cut(avail) }
            if zero { zeroCuts[head.count] = cut }
            let chunk = UnsafeRawBufferPointer(rebasing: avail[0..<cut])
            if let pool {
                try pool.submit(Array(chunk))
            } else if zero {
                let id = try zeroIDs[cut] ?? writer.save(.data, chunk).id
                zeroIDs[cut] = id
                ids.append(id)
            } else {
                ids.append(try writer.save(.data, chunk).id)
            }
            start += cut
        }
        return try pool?.finish() ?? ids
    }

    /// True when every byte is zero (memcmp against a zero block: fast in any build).
    static func isAllZero(_ b: UnsafeRawBufferPointer) -> Bool {
        guard let p = b.baseAddress else { return true }
        var off = 0
        while off < b.count {
            let n = min(zeroBlock.count, b.count - off)
            if memcmp(p + off, zeroBlock.baseAddress!, n) != 0 { return false }
            off += n
        }
        return true
    }

    /// 64 KiB of zeros, never written.
    nonisolated(unsafe) static let zeroBlock: UnsafeRawBufferPointer = {
        let b = UnsafeMutableRawBufferPointer.allocate(byteCount: 65536, alignment: 16)
        b.initializeMemory(as: UInt8.self, repeating: 0)
        return UnsafeRawBufferPointer(b)
    }()
}

/// Saves chunks on several threads, keeping their order.
final class SavePool: @unchecked Sendable {
    // @unchecked: `ids` and `failure` are guarded by `mutex`.
    let writer: BlobWriter
    let slots: DispatchSemaphore
    let group = DispatchGroup()
    let queue = DispatchQueue(label: "sitevault.save-pool", attributes: .concurrent)
    let mutex = Mutex()
    var ids: [ID?] = []
    var failure: Error?

    init(writer: BlobWriter, workers: Int) {
        self.writer = writer
        slots = DispatchSemaphore(value: 2 * workers)
    }

    func submit(_ chunk: [UInt8]) throws {
        slots.wait()
        let index: Int = try mutex.withLock {
            if let failure { slots.signal(); throw failure }
            ids.append(nil)
            return ids.count - 1
        }
        group.enter()
        queue.async { [self] in
            defer { slots.signal(); group.leave() }
            do {
                let id = try writer.save(.data, chunk).id
                mutex.withLock { ids[index] = id }
            } catch {
                mutex.withLock { if failure == nil { failure = error } }
            }
        }
    }

    func finish() throws -> [ID] {
        group.wait()
        return try mutex.withLock {
            if let failure { throw failure }
            return ids.map { $0! }
        }
    }
}
