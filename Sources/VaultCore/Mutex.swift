#if canImport(Glibc)
import Glibc
#endif

/// A pthread mutex (heap-allocated so its address is stable).
public final class Mutex: @unchecked Sendable {
    // @unchecked: the pthread mutex is only touched through lock/unlock.
    private let m: UnsafeMutablePointer<pthread_mutex_t>
    public init() { m = .allocate(capacity: 1); m.initialize(to: pthread_mutex_t()); pthread_mutex_init(m, nil) }
    deinit { pthread_mutex_destroy(m); m.deallocate() }
    public func lock() { pthread_mutex_lock(m) }
    public func unlock() { pthread_mutex_unlock(m) }
    public func withLock<T>(_ body: () throws -> T) rethrows -> T { lock(); defer { unlock() }; return try body() }
}
