#if canImport(Glibc)
import Glibc
#endif

/// Runs `body(0)`, `body(1)`, … `body(count - 1)` on `count` threads at once and returns when all
/// have returned. Unlike `DispatchQueue.concurrentPerform`, which on Linux runs at most one
/// iteration per core at a time, every worker gets its own thread: what readers of a remote store
/// need, whose workers mostly wait for the network. The caller's thread runs `body(0)`.
public enum Workers {
    public static func run(_ count: Int, _ body: (Int) -> Void) {
        guard count > 1 else {
            if count == 1 { body(0) }
            return
        }
        withoutActuallyEscaping(body) { escaping in
            let job = WorkerJob(escaping)
            var threads: [pthread_t] = []
            var inline: [Int] = []
            for i in 1..<count {
                let ctx = Unmanaged.passRetained(WorkerStart(job, i)).toOpaque()
                var thread = pthread_t()
                let rc = pthread_create(&thread, nil, { raw in
                    let start = Unmanaged<WorkerStart>.fromOpaque(raw!).takeRetainedValue()
                    start.job.body(start.index)
                    return nil
                }, ctx)
                if rc == 0 { threads.append(thread) } else {
                    Unmanaged<WorkerStart>.fromOpaque(ctx).release()
                    inline.append(i)   // no thread to be had: run it here, after our own share
                }
            }
            escaping(0)
            for i in inline { escaping(i) }
            for t in threads { pthread_join(t, nil) }
        }
    }
}

extension Workers {
    /// Calls `body(i)` for every `i` in `0..<count`, on `threads` threads that take the next index
    /// as they become free; `stop` is asked before each index is handed out (true: no more).
    public static func each(_ count: Int, threads: Int, stop: @escaping () -> Bool = { false }, _ body: (Int) -> Void) {
        let cursor = Locked(0)
        run(min(count, max(1, threads))) { _ in
            while let i = cursor.withLock({ c -> Int? in
                guard c < count, !stop() else { return nil }
                c += 1
                return c - 1
            }) { body(i) }
        }
    }
}

/// The body shared by the threads of one `Workers.run`; it does not outlive the call (every
/// thread is joined before `run` returns).
private final class WorkerJob: @unchecked Sendable {
    // @unchecked: `body` is immutable; what it touches is the caller's to guard.
    let body: (Int) -> Void
    init(_ body: @escaping (Int) -> Void) { self.body = body }
}

private final class WorkerStart {
    let job: WorkerJob
    let index: Int
    init(_ job: WorkerJob, _ index: Int) { self.job = job; self.index = index }
}
