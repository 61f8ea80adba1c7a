import VaultCore

/// Shared state of the copying threads: the first failure and the progress counters.
final class CopyState: @unchecked Sendable {
    // @unchecked: every field is read and written under `mutex`.
    private let mutex = Mutex()
    private var _failure: Error?
    private var current: CopyProgress
    init(base: CopyProgress, total: Int) { current = base; current.blobsTotal = total }
    var failure: Error? { mutex.withLock { _failure } }
    func fail(_ e: Error) { mutex.withLock { if _failure == nil { _failure = e } } }
    func done(bytes: UInt64, progress: (@Sendable (CopyProgress) -> Void)?) {
        let p: CopyProgress = mutex.withLock { current.blobsDone += 1; current.bytesDone += bytes; return current }
        progress?(p)
    }
}

/// Hands out 0, 1, 2, … to several threads.
final class Counter: @unchecked Sendable {
    // @unchecked: `value` is guarded by `mutex`.
    private let mutex = Mutex()
    private var value = 0
    func take(below limit: Int) -> Int? {
        mutex.withLock { guard value < limit else { return nil }; value += 1; return value - 1 }
    }
}
