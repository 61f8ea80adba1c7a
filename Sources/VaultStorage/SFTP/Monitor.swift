#if canImport(Glibc)
import Glibc
#endif

/// A pthread mutex with one condition variable, for threads waiting on replies.
final class Monitor: @unchecked Sendable {
    // @unchecked: the pthread objects are only touched through these methods.
    private let m: UnsafeMutablePointer<pthread_mutex_t>
    private let c: UnsafeMutablePointer<pthread_cond_t>

    init() {
        m = .allocate(capacity: 1); m.initialize(to: pthread_mutex_t()); pthread_mutex_init(m, nil)
        c = .allocate(capacity: 1); c.initialize(to: pthread_cond_t()); pthread_cond_init(c, nil)
    }

    deinit {
        pthread_cond_destroy(c); c.deallocate()
        pthread_mutex_destroy(m); m.deallocate()
    }

    func withLock<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(m); defer { pthread_mutex_unlock(m) }
        return try body()
    }

    /// Waits for a broadcast; call with the lock held (inside `withLock`).
    func wait() { pthread_cond_wait(c, m) }

    func broadcast() { pthread_cond_broadcast(c) }
}
