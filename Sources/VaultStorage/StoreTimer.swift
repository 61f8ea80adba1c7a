#if canImport(Glibc)
import Glibc
#endif
import VaultCore

/// Monotonic time and waiting, for retry backoff and rate limits: the real one sleeps, the tests'
/// one (`ManualStoreTimer`) only advances its clock and records the waits.
public protocol StoreTimer: Sendable {
    /// Monotonic seconds.
    func now() -> Double
    func sleep(seconds: Double)
}

/// The real monotonic clock; `sleep` blocks the calling thread (stores are synchronous).
public struct SystemStoreTimer: StoreTimer {
    public init() {}
    public func now() -> Double { monotonicSeconds() }
    public func sleep(seconds: Double) {
        guard seconds > 0 else { return }
        var ts = timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - Double(Int(seconds))) * 1e9))
        var left = timespec()
        while nanosleep(&ts, &left) != 0 && errno == EINTR { ts = left }
    }
}

/// A timer that never waits: `sleep` advances `now` and records the wait.
public final class ManualStoreTimer: StoreTimer, @unchecked Sendable {
    // @unchecked: `time` and `waits` are only touched under `lock`.
    private let lock = Mutex()
    private var time: Double
    private var waits: [Double] = []
    public init(start: Double = 1000) { time = start }
    public func now() -> Double { lock.withLock { time } }
    public func sleep(seconds: Double) { lock.withLock { waits.append(seconds); time += max(0, seconds) } }
    /// Moves the clock without recording a wait.
    public func advance(_ seconds: Double) { lock.withLock { time += seconds } }
    /// Every wait asked for, in order.
    public var sleeps: [Double] { lock.withLock { waits } }
}
