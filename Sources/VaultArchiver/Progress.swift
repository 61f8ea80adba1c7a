import VaultCore

/// Live counters of a backup, read by the caller's progress display. Thread-safe.
public final class BackupProgress: @unchecked Sendable {
    // @unchecked: all fields are guarded by `mutex`.
    private let mutex = Mutex()
    private var _files = 0
    private var _bytes: UInt64 = 0
    private var _read: UInt64 = 0
    private var _current = ""
    private var _skipped: UInt64 = 0
    private var _errors: [(path: String, message: String)] = []
    private var _changed: [String] = []

    public init() {}

    func file(done bytes: UInt64, path: String) { mutex.withLock { _files += 1; _bytes += bytes; _current = path } }
    /// Bytes actually read from files (unchanged files are not read and do not count here).
    func read(_ n: UInt64) { mutex.withLock { _bytes += n; _read += n } }
    public var bytesRead: UInt64 { mutex.withLock { _read } }
    /// Bytes of holes in sparse files, handed to the chunker as zeros without being read.
    func skipped(_ n: UInt64) { mutex.withLock { _bytes += n; _skipped += n } }
    public var bytesSkipped: UInt64 { mutex.withLock { _skipped } }
    func changed(path: String) { mutex.withLock { _changed.append(path) } }
    /// Files that changed while they were read, even on a second reading (sorted).
    public var changedFiles: [String] { mutex.withLock { _changed.sorted() } }
    /// The same, in the order they were found (callers that archive several parts drop the first ones).
    public var changedFilesInOrder: [String] { mutex.withLock { _changed } }
    func error(path: String, message: String) { mutex.withLock { _errors.append((path, message)) } }

    public var snapshot: (files: Int, bytes: UInt64, current: String, errors: Int) {
        mutex.withLock { (_files, _bytes, _current, _errors.count) }
    }
    public var errors: [(path: String, message: String)] { mutex.withLock { _errors } }
}

/// Limits how many files are read at once.
actor AsyncSemaphore {
    private var permits: Int
    private var waiters: [CheckedContinuation<Void, Never>] = []
    init(_ permits: Int) { self.permits = permits }
    func acquire() async {
        if permits > 0 { permits -= 1; return }
        await withCheckedContinuation { waiters.append($0) }
    }
    func release() {
        if waiters.isEmpty { permits += 1 } else { waiters.removeFirst().resume() }
    }
}
