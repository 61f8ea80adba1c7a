#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import VaultCore
import VaultFileSystem
import VaultRepository

/// Files are written in pack order: the walk gathers file jobs into a batch (at most
/// `RestoreOptions.batchFiles` files), then every blob the batch needs is located, the packs are
/// read by `concurrency` worker threads in runs of blobs (`PackRuns`: one ranged read per run, not one
/// per blob) and each blob is written at every offset where the batch's files hold it. A file is
/// written under a temporary name and renamed into place when its last blob is written (or removed
/// when one of its blobs could not be read), so a restore that fails never leaves a partial file
/// under a real name. All-zero 64 KiB blocks are not written: files are sized with ftruncate, so
/// holes stay holes.
extension Restorer {
    /// One file of a batch being written.
    struct Pending {
        var job: FileJob
        var temp: [UInt8]
        var fd: Int32 = -1
        /// Blob occurrences still to be written; the file is finished when it reaches zero.
        var remaining = 0
        var size: off_t = 0
        var writtenEnd: off_t = 0
        var failed = false
        var done = false
    }

    /// The shared state of one batch: its files, guarded by `mutex`.
    final class Batch: @unchecked Sendable {
        // @unchecked: `files` and `fatal` are guarded by `mutex`; `targets` is written before the
        // workers start and only read by them.
        let mutex = Mutex()
        var files: [Pending]
        var fatal: Error?
        var targets: [ID: [(file: Int, offset: off_t)]] = [:]
        init(_ files: [Pending]) { self.files = files }
    }

    /// Writes the files of `jobs` in pack order (see above). Throws only for a full disk (the
    /// restore cannot go on); every other problem is noted against its file.
    func writeBatch(_ jobs: [FileJob]) throws {
        guard !jobs.isEmpty else { return }
        mutex.withLock { result.peakPendingFiles = max(result.peakPendingFiles, jobs.count) }
        let batch = Batch(jobs.map { Pending(job: $0, temp: temporaryName()) })
        var byPack: [ID: [PackEntry]] = [:]
        var packOrder: [ID] = []
        for i in batch.files.indices {
            let job = batch.files[i].job
            // Always a new inode under a fresh name: nothing in the way is ever opened or followed.
            let fd = FilePath(batch.files[i].temp).withCString {
                openat(job.folder.fd, $0, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
            }
            guard fd >= 0 else {
                noteError(job.path, VaultError.posix("cannot create", path: job.path.description, errno: errno))
                batch.files[i].done = true
                job.folder.release()
                continue
            }
            batch.files[i].fd = fd
            var offset: off_t = 0
            var located: [(ID, BlobLocation, off_t)] = []
            for id in job.node.content {
                guard let loc = repository.locate(id) else {
                    noteError(job.path, VaultError(.damaged, "blob \(id.short) is missing: it is in no index and in no pack header (run `sitevault check`)",
                                                   context: ["blob": id.hex]))
                    batch.files[i].failed = true
                    break
                }
                located.append((id, loc, offset))
                offset += off_t(loc.entry.rawLength)
            }
            if batch.files[i].failed { finishFile(batch, i); continue }
            batch.files[i].size = offset
            batch.files[i].remaining = located.count
            for (id, loc, off) in located {
                batch.targets[id, default: []].append((i, off))
                if byPack[loc.pack] == nil { packOrder.append(loc.pack) }
                byPack[loc.pack, default: []].append(loc.entry)
            }
            if located.isEmpty { finishFile(batch, i) }
        }
        // The packs, by `concurrency` workers, each pack in runs of blobs.
        let packs = packOrder.map { ($0, byPack[$0] ?? []) }
        let threads = options.concurrency ?? repository.store.concurrentReads
        Workers.each(packs.count, threads: threads, stop: { batch.mutex.withLock { batch.fatal != nil } }) { p in
            let (pack, entries) = packs[p]
            do {
                try PackRuns(for: repository.store).read(repository, pack: pack, entries: entries) { entry, plain in
                    for t in batch.targets[entry.id] ?? [] { place(batch, t.file, t.offset, plain) }
                }
            } catch {
                batch.mutex.withLock { if batch.fatal == nil { batch.fatal = error } }
            }
        }
        // After a fatal error some files never got all their blobs: remove them.
        if let fatal = batch.mutex.withLock({ batch.fatal }) {
            for i in batch.files.indices where !batch.mutex.withLock({ batch.files[i].done }) {
                batch.mutex.withLock { batch.files[i].failed = true; batch.files[i].remaining = 0 }
                finishFile(batch, i)
            }
            throw fatal
        }
    }

    /// Writes one blob (or its error) into file `i` at `offset`; the file's last blob finishes it.
    private func place(_ batch: Batch, _ i: Int, _ offset: off_t, _ plain: Result<[UInt8], Error>) {
        let (fd, failed, path) = batch.mutex.withLock { (batch.files[i].fd, batch.files[i].failed, batch.files[i].job.path) }
        var end: off_t = -1
        var problem: Error?
        if !failed {
            switch plain {
            case .failure(let e): problem = e
            case .success(let bytes):
                let ok = bytes.withUnsafeBytes { buf -> Bool in
                    // Only the non-zero 64 KiB blocks: zero runs become holes (sparse files stay sparse).
                    var start = 0
                    while start < buf.count {
                        let stop = min(start + 65536, buf.count)
                        let block = UnsafeRawBufferPointer(rebasing: buf[start..<stop])
                        if !isAllZero(block) {
                            if !writeAll(fd, block, at: offset + off_t(start)) { return false }
                            end = offset + off_t(stop)
                        }
                        start = stop
                    }
                    return true
                }
                if !ok {
                    let err = VaultError.posix("cannot write", path: path.description, errno: errno)
                    if err.code == .noSpace { batch.mutex.withLock { if batch.fatal == nil { batch.fatal = err } } }
                    problem = err
                }
                progress.add(files: 0, bytes: UInt64(bytes.count))
            }
        }
        if let problem, !failed { noteError(path, problem) }
        let last = batch.mutex.withLock { () -> Bool in
            if problem != nil { batch.files[i].failed = true }
            batch.files[i].writtenEnd = max(batch.files[i].writtenEnd, end)
            batch.files[i].remaining -= 1
            return batch.files[i].remaining == 0
        }
        if last { finishFile(batch, i) }
    }

    /// A file whose blobs are all written: sized, its metadata set, renamed into place; a failed
    /// one is removed. Its folder is told either way.
    private func finishFile(_ batch: Batch, _ i: Int) {
        let f = batch.mutex.withLock { () -> Pending? in
            guard !batch.files[i].done else { return nil }
            batch.files[i].done = true
            return batch.files[i]
        }
        guard let f else { return }
        let job = f.job, dir = job.folder.fd
        defer { job.folder.release() }
        var complete = false
        defer {
            if f.fd >= 0 { close(f.fd) }
            if !complete { _ = FilePath(f.temp).withCString { unlinkat(dir, $0, 0) } }
        }
        guard !f.failed else { return }
        // Zero blocks were skipped: set the length so they read back as zeros (a sparse hole).
        if f.writtenEnd != f.size && ftruncate(f.fd, f.size) != 0 {
            noteError(job.path, VaultError.posix("cannot set size of", path: job.path.description, errno: errno)); return
        }
        applyMetadata(.fd(f.fd), job.node, shown: job.path, fresh: true)
        // renameat replaces a file or symlink in the way (never following it); a folder must go first.
        func rename() -> Int32 { FilePath(f.temp).withCString { t in FilePath(job.name).withCString { renameat(dir, t, dir, $0) } } }
        var r = rename()
        if r != 0 && (errno == EISDIR || errno == ENOTEMPTY || errno == EEXIST) {
            removeExisting(dir, job.name)
            r = rename()
        }
        guard r == 0 else { noteError(job.path, VaultError.posix("cannot rename into place", path: job.path.description, errno: errno)); return }
        complete = true
        progress.add(files: 1, bytes: 0)
        count(files: 1, bytes: UInt64(f.size))
    }

    /// Raises the soft limit of open files to the hard limit (at most 65,536), as restic does, and
    /// returns the batch size it allows (each file of a batch holds a descriptor, beside the folders).
    static func batchLimit(_ wanted: Int) -> Int {
        var lim = rlimit()
        guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &lim) == 0 else { return max(1, min(wanted, 256)) }
        let goal = min(lim.rlim_max, 65536)
        if lim.rlim_cur < goal {
            var raised = lim
            raised.rlim_cur = goal
            if setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &raised) == 0 { lim = raised }
        }
        return max(1, min(wanted, (Int(lim.rlim_cur) - 128) / 3))
    }
}
