#if canImport(Glibc)
import Glibc
#endif
import VaultCore
import VaultFileSystem
import VaultRepository
import Dispatch

/// Reads a file, cuts it into content-defined chunks and saves each new chunk.
enum FileReader {
    static func chunks(_ path: FilePath, size: UInt64, chunker: Chunker, writer: BlobWriter, progress: BackupProgress) throws -> [ID] {
        let fd = path.withCString { open($0, O_RDONLY | O_CLOEXEC | O_NOFOLLOW) }
        guard fd >= 0 else { throw SourceError(underlying: VaultError.posix("cannot open", path: path.description, errno: errno)) }
        defer { close(fd) }
        return try chunks(fd: fd, sizeHint: size, label: path.description, chunker: chunker, writer: writer, progress: progress)
    }

    /// Reads `fd` to its end (a file or a pipe). `sizeHint` lets small files be read in one buffer.
    /// With `workers` > 1 (streams), chunks are hashed, compressed and sealed on that many threads
    /// while this one keeps reading; ids stay in order, and at most 2 × workers chunks are in flight.
    static func chunks(fd: Int32, sizeHint: UInt64?, label: String, chunker: Chunker, writer: BlobWriter, progress: BackupProgress,
                       tap: ((UnsafeRawBufferPointer) -> Void)? = nil, workers: Int = 1) throws -> [ID] {
        let pool = workers > 1 ? SavePool(writer: writer, workers: workers) : nil
        let maxChunk = chunker.params.maxSize
        // Small files are read whole; big ones (and pipes) through a window of two maximum chunks.
        let size = sizeHint ?? UInt64.max
        var capacity = size < UInt64(maxChunk) ? max(Int(size) + 1, 1) : 2 * maxChunk
        var buf = UnsafeMutableRawBufferPointer.allocate(byteCount: capacity, alignment: 16)
        defer { buf.deallocate() }
        var ids: [ID] = []
        var start = 0, filled = 0
        var eof = false
        while true {
            // Fill the window.
            while !eof && filled < capacity {
                let n = read(fd, buf.baseAddress! + filled, capacity - filled)
                if n < 0 { if errno == EINTR { continue }; throw SourceError(underlying: VaultError.posix("cannot read", path: label, errno: errno)) }
                if n == 0 { eof = true; break }
                filled += n
                progress.read(UInt64(n))
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
            let cut = chunker.cut(avail)
            let chunk = UnsafeRawBufferPointer(rebasing: avail[0..<cut])
            if let pool { try pool.submit(Array(chunk)) } else { ids.append(try writer.save(.data, chunk).id) }
            start += cut
        }
        return try pool?.finish() ?? ids
    }
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
