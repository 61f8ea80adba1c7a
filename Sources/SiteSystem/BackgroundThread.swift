#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import VaultCore

/// A joinable POSIX thread running one closure (the pipe pumps, reaper and watchdog of a process).
final class BackgroundThread: @unchecked Sendable {
    // @unchecked: `thread` is written once by start() and read by join() on the owning thread.
    private final class Box { let body: () -> Void; init(_ body: @escaping () -> Void) { self.body = body } }
    #if canImport(Glibc)
    private var thread: pthread_t = 0
    #else
    private var thread: pthread_t?
    #endif
    private var joined = false

    /// Starts `body` on a new thread; throws when the system cannot create one.
    init(_ body: @escaping () -> Void) throws {
        let box = Unmanaged.passRetained(Box(body)).toOpaque()
        let rc = pthread_create(&thread, nil, { ctx in
            let box = Unmanaged<Box>.fromOpaque(ctx!).takeRetainedValue()
            box.body()
            return nil
        }, box)
        if rc != 0 {
            Unmanaged<Box>.fromOpaque(box).release()
            joined = true
            throw VaultError.posix("cannot start", path: "a thread", errno: rc)
        }
    }

    /// Waits for the closure to return. Safe to call more than once.
    func join() {
        guard !joined else { return }
        joined = true
        #if canImport(Glibc)
        pthread_join(thread, nil)
        #else
        if let thread { pthread_join(thread, nil) }
        #endif
    }
}
